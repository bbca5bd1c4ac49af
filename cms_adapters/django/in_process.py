"""Django's logged-in user, asked of Django itself: the bridge wraps Django's WSGI app.

``identify`` loads the session with the configured ``SESSION_ENGINE`` (database, cache, file,
signed cookies... whatever the site uses, with its own expiry rules) and checks it the way
``django.contrib.auth.get_user`` does: the backend must still be in ``AUTHENTICATION_BACKENDS``,
the backend must return the user (``ModelBackend`` refuses inactive users), and the session's
``_auth_user_hash`` must match ``user.get_session_auth_hash()`` (or a ``SECRET_KEY_FALLBACKS``
one). Unlike ``get_user`` it never writes: no ``flush()`` of a bad session, no key rotation,
which belong to Django's own request. On top of Django, an inactive user is nobody here even with
``AllowAllUsersModelBackend`` (a paid feature is not for a disabled account).

Django is imported inside the methods, so importing this module needs no Django, and the bridge's
other parts never do. Database connections are treated as Django's request cycle treats them:
``close_old_connections()`` after each check.

What this module does not do: read Django's tables itself (``remote`` does, for a bridge that
runs apart from Django).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cms_adapters.base import Environ, SiteUser, UserId
from cms_adapters.django import session_data

log = logging.getLogger("bridge.adapters.django")


def _django_ready() -> None:
    """``django.setup()`` when a command line tool (``proabono-bridge sync``) runs us outside a
    Django process: ``DJANGO_SETTINGS_MODULE`` must then name the site's settings."""
    from django.apps import apps  # type: ignore[import-untyped]

    if not apps.ready:
        import django  # type: ignore[import-untyped]

        django.setup()


class InProcessDjangoAdapter:
    """See the module docstring."""

    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    batch_size = 500

    def __init__(
        self, *, session_cookie_name: str | None = None, language_field: str | None = None
    ) -> None:
        self._cookie_name = session_cookie_name
        self.language_field = language_field
        self._store: Any = None

    @property
    def cookie_name(self) -> str:
        if self._cookie_name is None:
            from django.conf import settings  # type: ignore[import-untyped]

            self._cookie_name = str(settings.SESSION_COOKIE_NAME)
        return self._cookie_name

    # --- identify ---------------------------------------------------------------------------

    def credential(self, environ: Environ) -> str | None:
        return session_data.session_key(environ, self.cookie_name)

    def identify(self, environ: Environ) -> UserId | None:
        key = self.credential(environ)
        if key is None:
            return None
        from django.db import close_old_connections  # type: ignore[import-untyped]

        try:
            return self._identify(key)
        except Exception as exc:  # a broken session is nobody, never a 500
            log.warning("django session check failed: %s", type(exc).__name__)
            return None
        finally:
            close_old_connections()

    def _identify(self, key: str) -> UserId | None:
        from django.conf import settings
        from django.contrib import auth  # type: ignore[import-untyped]
        from django.utils.crypto import constant_time_compare  # type: ignore[import-untyped]

        session = self._session_store()(key)
        user_key = session.get(auth.SESSION_KEY)
        backend_path = session.get(auth.BACKEND_SESSION_KEY)
        if user_key is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
            return None
        user_id = auth.get_user_model()._meta.pk.to_python(user_key)
        user = auth.load_backend(backend_path).get_user(user_id)
        if user is None or getattr(user, "is_active", True) is False:
            return None
        if hasattr(user, "get_session_auth_hash"):
            session_hash = session.get(auth.HASH_SESSION_KEY)
            if not session_hash or not isinstance(session_hash, str):
                return None
            hashes = [user.get_session_auth_hash()]
            hashes += list(getattr(user, "get_session_auth_fallback_hash", list)())
            if not any(constant_time_compare(session_hash, h) for h in hashes):
                return None
        return str(user.pk)

    def _session_store(self) -> Any:
        if self._store is None:
            from importlib import import_module

            from django.conf import settings

            _django_ready()
            self._store = import_module(settings.SESSION_ENGINE).SessionStore
        return self._store

    # --- users ------------------------------------------------------------------------------

    def get_user(self, user_id: UserId) -> SiteUser | None:
        _django_ready()
        from django.contrib.auth import get_user_model  # type: ignore[import-untyped]

        model = get_user_model()
        pk = _pk(model, user_id)
        if pk is None:
            return None
        user = model._default_manager.filter(pk=pk).first()
        return None if user is None else self._site_user(user)

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        """Every user in primary key order, ``batch_size`` per query (keyset, no open cursor)."""
        _django_ready()
        from django.contrib.auth import get_user_model

        model = get_user_model()
        users = model._default_manager.order_by("pk")
        if since is not None and _has_field(model, "date_joined"):
            users = users.filter(date_joined__gte=_django_time(since))
        batch = list(users[: self.batch_size])
        while batch:
            for user in batch:
                yield self._site_user(user)
            if len(batch) < self.batch_size:
                return
            batch = list(users.filter(pk__gt=batch[-1].pk)[: self.batch_size])

    def _site_user(self, user: Any) -> SiteUser:
        full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        email_field = user.get_email_field_name() if hasattr(user, "get_email_field_name") else ""
        language = getattr(user, self.language_field, None) if self.language_field else None
        joined = getattr(user, "date_joined", None)
        if isinstance(joined, datetime) and joined.tzinfo is not None:
            joined = joined.astimezone(UTC)
        return SiteUser(
            id=str(user.pk),
            email=(getattr(user, email_field, None) if email_field else None) or None,
            name=(full_name or "").strip() or user.get_username(),
            language=str(language) if language else None,
            registered_at=joined if isinstance(joined, datetime) else None,
        )


def _pk(model: Any, user_id: object) -> Any:
    """The primary key value ``user_id`` stands for, or None when it cannot be one."""
    from django.core.exceptions import ValidationError  # type: ignore[import-untyped]

    if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
        return None
    try:
        pk = model._meta.pk.to_python(user_id)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None
    if isinstance(pk, int) and not 0 < pk < 2**63:
        return None
    return pk


def _has_field(model: Any, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _django_time(moment: datetime) -> datetime:
    """``moment`` as Django's ``USE_TZ`` wants it (naive ``since`` is taken as UTC)."""
    from django.conf import settings
    from django.utils import timezone  # type: ignore[import-untyped]

    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware if settings.USE_TZ else timezone.make_naive(aware)
