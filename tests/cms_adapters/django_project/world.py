"""The contract's CMS-side operations, done the way a Django site does them: users created with
the model manager, sessions opened by POSTing to Django's ``LoginView`` (with the CSRF token the
form carries) and closed by POSTing to ``LogoutView``. Imports Django: child processes only."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from cms_adapters.base import Adapter
from cms_adapters.django import session_data

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)
Environ = dict[str, Any]


def cookie(session_key: str, name: str | None = None) -> Environ:
    return {"HTTP_COOKIE": f"csrftoken=abc; {name or settings.SESSION_COOKIE_NAME}={session_key}"}


def csrf_token(client: Client, url: str = "/accounts/login/") -> str:
    page = client.get(url)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert found, page.content
    return found.group(1)


class DjangoWorld:
    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.model = get_user_model()
        self.clients: dict[str, Client] = {}

    # --- users ----------------------------------------------------------------------------------

    def create_user(self, *, email: str, name: str, language: str | None = None) -> str:
        first, _, last = name.partition(" ")
        user = self.model.objects.create_user(
            username=f"member{next(_numbers)}",
            email=email,
            password=PASSWORD,
            first_name=first,
            last_name=last,
            language=language or "",
        )
        return str(user.pk)

    def update_user(self, user_id: str, **fields: str) -> None:
        user = self.model.objects.get(pk=user_id)
        if "name" in fields:
            user.first_name, _, user.last_name = fields.pop("name").partition(" ")
        for field, value in fields.items():
            setattr(user, field, value)
        user.save()

    def delete_user(self, user_id: str) -> None:
        self.model.objects.filter(pk=user_id).delete()

    def missing_id(self) -> str:
        last = self.model.objects.order_by("-pk").first()
        return str((last.pk if last else 0) + 1000)

    # --- sessions -------------------------------------------------------------------------------

    def login(self, user_id: str) -> Environ:
        """POST the credentials to Django's login view, CSRF token and all."""
        client = Client(enforce_csrf_checks=True)
        username = self.model.objects.get(pk=user_id).get_username()
        response = client.post(
            "/accounts/login/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(client)},
        )
        assert response.status_code == 302, response.content
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.clients[key] = client
        return cookie(key)

    def session_key(self, session: Environ) -> str:
        found = session_data.session_key(session, settings.SESSION_COOKIE_NAME)
        assert found
        return found

    def logout(self, session: Environ) -> None:
        client = self.clients[self.session_key(session)]
        token = csrf_token(client)
        response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302, response.content

    def expired(self, user_id: str) -> Environ:
        session = self.login(user_id)
        past = timezone.now() - timedelta(minutes=1)
        Session.objects.filter(session_key=self.session_key(session)).update(expire_date=past)
        return session

    def tampered(self, session: Environ) -> Environ:
        """Stored data rewritten to name another user, the signature left as it was."""
        row = Session.objects.get(session_key=self.session_key(session))
        decoded = row.get_decoded()
        decoded["_auth_user_id"] = str(int(decoded["_auth_user_id"]) + 1)
        forged_payload = session_data.dumps(decoded, "not the site's key").rsplit(":", 2)[0]
        _, timestamp, signature = row.session_data.rsplit(":", 2)
        row.session_data = f"{forged_payload}:{timestamp}:{signature}"
        row.save()
        return session

    def stored_session(self, data: dict[str, Any], secret: str | None = None) -> Environ:
        """A session row with ``data`` signed by ``secret`` (default: the site's key)."""
        key = f"garbage{next(_numbers):025d}"
        Session.objects.create(
            session_key=key,
            session_data=session_data.dumps(data, secret or settings.SECRET_KEY),
            expire_date=timezone.now() + timedelta(days=1),
        )
        return cookie(key)

    def garbage(self) -> list[Environ]:
        name = settings.SESSION_COOKIE_NAME
        backend = "django.contrib.auth.backends.ModelBackend"
        raw = [
            f"{name}=",
            f"{name}=short",
            f"{name}={'a' * 100_000}",
            f"{name}=\xff\xfe\xc3(" + "a" * 30,  # latin-1 text of bytes that are not UTF-8
            f"{name}=abcdefgh\x00ijklmnop",
            f"{name}=a:b:c:d:e:f:g:h:i",
            f"{name}=" + "z" * 32,  # a well-formed key no session has
            f"{name}='; DROP TABLE django_session; --",
            f"{name}",
            f'{name}="{"0" * 32}"',
        ]
        cases: list[Environ] = [{"HTTP_COOKIE": value} for value in raw]
        cases.append({"HTTP_COOKIE": b"sessionid=abcdefghijkl"})
        stored: list[dict[str, Any]] = [
            {"_auth_user_id": "abc", "_auth_user_backend": backend, "_auth_user_hash": "x"},
            {"_auth_user_id": "9" * 40, "_auth_user_backend": backend, "_auth_user_hash": "x"},
            {"_auth_user_id": "-1", "_auth_user_backend": backend, "_auth_user_hash": "x"},
            {"_auth_user_id": ["1"], "_auth_user_backend": backend},
            {"_auth_user_id": "1"},
        ]
        cases += [self.stored_session(data) for data in stored]
        for text in ("no colon at all", "a:b:c", "é:1:" + "x" * 43, ".!!!:0:abc"):
            key = f"garbage{next(_numbers):025d}"
            Session.objects.create(
                session_key=key,
                session_data=text,
                expire_date=timezone.now() + timedelta(days=1),
            )
            cases.append(cookie(key))
        return cases
