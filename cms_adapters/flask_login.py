"""Flask-Login sites: who is logged in, read from Flask's session, in one of two modes.

**Remote** (``secret_key`` given; the bridge runs apart from the Flask app, or in front of it
without importing it): Flask's default session is a cookie (``session``) signed the way
``flask.sessions.SecureCookieSessionInterface`` signs it: itsdangerous ``URLSafeTimedSerializer``,
salt ``cookie-session``, HMAC key derivation, SHA-1. This module checks it with ``secret_key``
(then each of ``fallback_secret_keys``, as Flask's ``SECRET_KEY_FALLBACKS``), refuses it once older
than ``max_age`` (set it to the app's ``PERMANENT_SESSION_LIFETIME``; Flask's default is 31 days),
and reads Flask-Login's ``_user_id``; that user must still be in the users table (``user_table``,
``database_url`` and the column settings of ``cms_adapters.sql.UserTable``) and, with
``active_column``, be active. No Flask import: the JSON decoding Flask's session needs here
(``TaggedJSONSerializer`` tags) is done below.

**In process** (``app`` given: a Flask app or ``"module:app"``; the bridge wraps that app in the
same process): the request is opened as the app itself would open it (``app.request_context`` →
``app.session_interface.open_session``, so any session interface works, server-side ones
included) and the user is loaded with the app's own ``user_loader``; ``is_active`` is honoured.
Profiles come from the loader's user objects (``email_attribute``, ``name_attribute``...);
``iter_users`` reads the users table when one is mapped, else calls ``users_query``.

Both modes honour Flask-Login's ``session_protection = "strong"`` (a session used from another
address or browser is nobody, as Flask-Login does for non-permanent sessions) and, when asked
(``remember_cookie = true``; always in process), its remember-me cookie.

**Logout limitation (cookie sessions).** Flask-Login's ``logout_user`` removes ``_user_id`` from the
session and Flask sends the browser a new cookie. The old cookie is not revoked: it stays validly
signed until ``max_age``, so anyone who kept a copy is still that user, for Flask as for the bridge.
Only a shorter ``PERMANENT_SESSION_LIFETIME`` / ``max_age``, rotating ``SECRET_KEY``, deactivating
the user (``active_column``) or a server-side session interface (in process) shortens that window.
The remember-me cookie has no date at all: it is valid until the secret key changes.

What this module does not do: import Flask at module import time (only the in-process path
imports it, lazily), or write sessions.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
import importlib
import io
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from bridge.config import parse_duration
from cms_adapters.base import Environ, IdentityUnavailable, SiteUser, UserId
from cms_adapters.signed_cookie import MAX_COOKIE_LENGTH, cookie_value
from cms_adapters.sql import MAX_ID_LENGTH, UserTable, create_engine, to_datetime

log = logging.getLogger(__name__)

FLASK_SESSION_SALT = "cookie-session"
FLASK_SESSION_LIFETIME = 31 * 86400
REMEMBER_COOKIE_NAME = "remember_token"
PROTECTION_MODES = ("basic", "strong")
_TAGS = frozenset({" t", " b", " m", " u", " d", " di"})


class _SessionJSON:
    """JSON the way Flask's ``TaggedJSONSerializer`` writes it, read back only as far as needed."""

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes) -> Any:
        data = json.loads(text)
        if isinstance(data, dict) and len(data) == 1 and " di" in data:
            inner = data[" di"]  # a one-key session whose key looked like a tag: {"<key>__": v}
            if isinstance(inner, dict) and len(inner) == 1:
                key = next(iter(inner))
                data = {key[:-2]: inner[key]}
        return data


def tagged_text(value: object) -> str | None:
    """A session value that Flask may have tagged (UUID, bytes, Markup), as text; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        tag, inner = next(iter(value.items()))
        if tag in _TAGS and isinstance(inner, str):
            try:
                if tag == " u":
                    return str(uuid.UUID(hex=inner))
                if tag == " b":
                    return base64.b64decode(inner, validate=True).decode("utf-8")
                if tag == " m":
                    return inner
            except (ValueError, binascii.Error):
                return None
    return None


def session_user_id(session: Mapping[str, Any]) -> str | None:
    """Flask-Login's ``_user_id`` of a session, when it is a plausible id."""
    user = tagged_text(session.get("_user_id"))
    if not user or len(user) > MAX_ID_LENGTH:
        return None
    return user


def session_identifier(environ: Environ) -> str:
    """Flask-Login's ``_create_identifier()`` for this request (address and user agent)."""
    address: bytes | None = None
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if forwarded is not None:
        address = str(forwarded).encode("utf-8", "surrogateescape").split(b",")[0].strip()
    agent = environ.get("HTTP_USER_AGENT")
    agent_bytes = None if agent is None else str(agent).encode("utf-8", "surrogateescape")
    base = f"{address!r}|{agent_bytes!r}" if address is not None else f"None|{agent_bytes!r}"
    return hashlib.sha512(base.encode("utf-8", "surrogateescape")).hexdigest()


def protection_failed(session: Mapping[str, Any], environ: Environ, mode: str | None) -> bool:
    """True when Flask-Login's ``strong`` session protection would drop this session."""
    if mode != "strong" or not session or session.get("_permanent"):
        return False
    return bool(session.get("_id") != session_identifier(environ))


def remember_user_id(value: str, secret_key: str | bytes) -> str | None:
    """The user id of a Flask-Login remember-me cookie (``<id>|<HMAC-SHA512 hex>``), if genuine."""
    payload, _, digest = value.rpartition("|")
    if not payload or len(payload) > MAX_ID_LENGTH:
        return None
    try:
        key = secret_key.encode("latin-1") if isinstance(secret_key, str) else secret_key
        expected = hmac.new(key, payload.encode("utf-8"), hashlib.sha512).hexdigest()
        genuine = hmac.compare_digest(expected.encode(), digest.encode("ascii"))
    except UnicodeError:
        return None
    return payload if genuine else None


class FlaskSessionCookie:
    """Flask's signed cookie session, read only, with key rotation and a maximum age."""

    def __init__(
        self,
        secret_key: str,
        *,
        fallback_secret_keys: Iterable[str] = (),
        salt: str = FLASK_SESSION_SALT,
        max_age: float = FLASK_SESSION_LIFETIME,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key is required: the Flask app's SECRET_KEY")
        self.max_age = int(max_age)
        self._serializer = URLSafeTimedSerializer(
            [*fallback_secret_keys, secret_key],  # the current key last, as Flask does
            salt=salt,
            serializer=_SessionJSON,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
        )

    def loads(self, value: str) -> dict[str, Any] | None:
        """The session data of a cookie value (WSGI latin-1 text), or None if not genuine."""
        if len(value) > MAX_COOKIE_LENGTH:
            return None
        try:
            data = self._serializer.loads(value.encode("latin-1"), max_age=self.max_age)
        except (BadData, UnicodeError):
            return None
        return data if isinstance(data, dict) else None


def _import(spec: str) -> Any:
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ValueError(f"expected 'module:attribute', got {spec!r}")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _request_environ(environ: Environ) -> dict[str, Any]:
    """A copy of the request's environ complete enough for Flask, with the body left alone."""
    env = dict(environ)
    env.pop("werkzeug.request", None)
    env.setdefault("REQUEST_METHOD", "GET")
    env.setdefault("SCRIPT_NAME", "")
    env.setdefault("PATH_INFO", "/")
    env.setdefault("SERVER_NAME", "localhost")
    env.setdefault("SERVER_PORT", "80")
    env.setdefault("SERVER_PROTOCOL", "HTTP/1.1")
    env.setdefault("wsgi.url_scheme", "http")
    env.setdefault("wsgi.errors", sys.stderr)
    env["wsgi.input"] = io.BytesIO()
    env["CONTENT_LENGTH"] = "0"
    return env


class FlaskLoginAdapter:
    """``[adapter] kind = "flask_login"``; remote with ``secret_key``, in process with ``app``."""

    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    def __init__(
        self,
        *,
        app: Any = None,
        secret_key: str | None = None,
        fallback_secret_keys: Iterable[str] = (),
        cookie_name: str = "session",
        salt: str = FLASK_SESSION_SALT,
        max_age: float | str = FLASK_SESSION_LIFETIME,
        session_protection: str | None = "basic",
        remember_cookie: bool = False,
        remember_cookie_name: str = REMEMBER_COOKIE_NAME,
        database_url: str | None = None,
        engine: sa.Engine | None = None,
        user_table: str | None = None,
        schema: str | None = None,
        id_column: str = "id",
        email_column: str | None = "email",
        name_column: str | None = None,
        language_column: str | None = None,
        registered_column: str | None = None,
        updated_column: str | None = None,
        active_column: str | None = None,
        extra_columns: Mapping[str, str] | None = None,
        page_size: int = 500,
        email_attribute: str = "email",
        name_attribute: str | None = "name",
        language_attribute: str | None = "language",
        registered_attribute: str | None = "registered_at",
        users_query: Callable[..., Iterable[Any]] | str | None = None,
    ) -> None:
        if app is None and not secret_key:
            raise ValueError(
                "give secret_key (remote: the bridge checks Flask's session cookie; env "
                "BRIDGE_FLASK_SECRET_KEY) or app (in process: 'module:app', the wrapped Flask app)"
            )
        if app is not None:  # in process wins over a secret_key that may come from the environment
            secret_key = None
        if session_protection not in (None, "", *PROTECTION_MODES):
            raise ValueError("session_protection must be 'basic', 'strong' or empty")
        self.users: UserTable | None = None
        if user_table:
            if engine is None:
                if not database_url:
                    raise ValueError("database_url is required with user_table")
                engine = create_engine(database_url)
            self.users = UserTable(
                engine,
                table=user_table,
                schema=schema,
                id_column=id_column,
                email_column=email_column,
                name_column=name_column,
                language_column=language_column,
                registered_column=registered_column,
                updated_column=updated_column,
                active_column=active_column,
                extra_columns=extra_columns,
                page_size=page_size,
            )
        self.page_size = page_size
        self._app_spec = app
        self._users_query = users_query
        self._attributes = (email_attribute, name_attribute, language_attribute)
        self._registered_attribute = registered_attribute
        self.remote: FlaskSessionCookie | None = None
        self.cookie_name = cookie_name
        self.remember_cookie_name: str | None = remember_cookie_name if remember_cookie else None
        self.session_protection = session_protection or None
        self._secret_key = secret_key
        if secret_key is not None:
            if self.users is None:
                raise ValueError(
                    "remote mode needs the users table (user_table, database_url) to tell "
                    "deleted users from live ones"
                )
            self.remote = FlaskSessionCookie(
                secret_key,
                fallback_secret_keys=fallback_secret_keys,
                salt=salt,
                max_age=parse_duration(max_age),
            )

    # -- the Flask app (in-process mode) ----------------------------------------------------

    @property
    def app(self) -> Any:
        if isinstance(self._app_spec, str):
            self._app_spec = _import(self._app_spec)
        return self._app_spec

    def _names(self) -> tuple[str, str | None, str | None]:
        """(session cookie, remember cookie, protection mode) as the app configures them."""
        if self.remote is not None:
            return self.cookie_name, self.remember_cookie_name, self.session_protection
        config = self.app.config
        manager = getattr(self.app, "login_manager", None)
        mode = config.get("SESSION_PROTECTION", getattr(manager, "session_protection", None))
        remember = config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE_NAME)
        return str(config["SESSION_COOKIE_NAME"]), str(remember), mode

    # -- the protocol ------------------------------------------------------------------------

    def credential(self, environ: Environ) -> str | None:
        header = environ.get("HTTP_COOKIE")
        if not header:
            return None
        try:  # WSGI header text is latin-1; anything else is not a real request
            str(header).encode("latin-1")
        except UnicodeError:
            return None
        session_name, remember_name, mode = self._names()
        parts = [cookie_value(str(header), session_name) or ""]
        if remember_name:
            parts.append(cookie_value(str(header), remember_name) or "")
        if not any(parts) or any(len(p) > MAX_COOKIE_LENGTH for p in parts):
            return None
        if mode == "strong":  # one cookie seen from two browsers must not share a memo entry
            parts.append(session_identifier(environ)[:32])
        return "\x00".join(parts)

    def identify(self, environ: Environ) -> UserId | None:
        if self.credential(environ) is None:
            return None
        try:
            if self.remote is not None:
                return self._identify_remote(environ)
            # in a fresh contextvars context: whatever Flask pushes (even half) dies with it
            return contextvars.copy_context().run(self._identify_in_process, environ)
        except ValueError as exc:
            log.warning("flask_login adapter: identification failed, anonymous: %s", exc)
            return None
        except SQLAlchemyError as exc:
            log.warning("flask_login adapter: the users database cannot be read: %s", exc)
            raise IdentityUnavailable("the users database cannot be read") from exc
        except Exception as exc:  # the app's own loader may raise anything; never a 500
            # the class only: the message may quote the app's SQL and the id from the cookie
            log.warning(
                "flask_login adapter: the app's user loader failed (%s), anonymous",
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return None

    def _identify_remote(self, environ: Environ) -> UserId | None:
        assert self.remote is not None
        assert self.users is not None
        header = str(environ.get("HTTP_COOKIE", ""))
        value = cookie_value(header, self.cookie_name)
        session = (self.remote.loads(value) if value else None) or {}
        if protection_failed(session, environ, self.session_protection):
            return None
        user = session_user_id(session)
        if user is None and self.remember_cookie_name and session.get("_remember") != "clear":
            remember = cookie_value(header, self.remember_cookie_name)
            if remember and self._secret_key and len(remember) <= MAX_COOKIE_LENGTH:
                user = remember_user_id(remember, self._secret_key)
        return None if user is None else self.users.active_id(user)

    def _identify_in_process(self, environ: Environ) -> UserId | None:
        app = self.app
        manager = app.login_manager
        with app.request_context(_request_environ(environ)) as ctx:
            session = ctx.session  # opened by app.session_interface.open_session(app, request)
            if manager._session_protection_failed():
                return None
            user = None
            user_id = session.get("_user_id")
            if user_id is not None and manager._user_callback is not None:
                user = manager._user_callback(user_id)
            _, remember_name, _ = self._names()
            remember = ctx.request.cookies.get(remember_name)
            if user is None and remember and session.get("_remember") != "clear":
                remembered = remember_user_id(remember, app.config["SECRET_KEY"])
                if remembered is not None and manager._user_callback is not None:
                    user = manager._user_callback(remembered)
            if user is None or not getattr(user, "is_active", True):
                return None
            return str(user.get_id())

    def get_user(self, user_id: UserId) -> SiteUser | None:
        if self.remote is not None:
            assert self.users is not None
            return self.users.get(user_id)
        if not user_id or len(user_id) > MAX_ID_LENGTH:
            return None
        app = self.app
        try:
            with app.app_context():
                user = app.login_manager._user_callback(user_id)
                return None if user is None else self._site_user(user)
        except Exception as exc:
            log.warning(
                "flask_login adapter: the app's user loader failed (%s)",
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return None

    def _site_user(self, user: Any) -> SiteUser:
        def text(attribute: str | None) -> str | None:
            value = getattr(user, attribute, None) if attribute else None
            return None if value is None else str(value)

        email, name, language = self._attributes
        registered = self._registered_attribute
        return SiteUser(
            id=str(user.get_id()),
            email=text(email),
            name=text(name),
            language=text(language),
            registered_at=to_datetime(getattr(user, registered, None)) if registered else None,
        )

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        if self.users is not None:
            return self.users.iter_users(since)
        if self._users_query is None:
            raise NotImplementedError(
                "flask_login in process lists users from a users table (user_table, database_url) "
                "or users_query = 'module:function' (see docs/adapters/flask_login.md)"
            )
        return self._query_users(since)

    def _query_users(self, since: datetime | None) -> Iterator[SiteUser]:
        query = self._users_query
        if isinstance(query, str):
            query = _import(query)
        assert callable(query)
        after: str | None = None
        while True:
            with self.app.app_context():  # one short context per page, none held across yields
                page = [
                    self._site_user(u)
                    for u in query(after=after, limit=self.page_size, since=since)
                ]
            if len(page) > self.page_size:
                raise ValueError(f"users_query returned more than limit={self.page_size} users")
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1].id
