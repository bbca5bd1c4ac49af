"""WordPress: the logged-in user from ``wordpress_logged_in_<COOKIEHASH>``, users from ``wp_users``.

The cookie is checked the way ``wp_validate_auth_cookie`` (``wp-includes/pluggable.php``) checks it
for the ``logged_in`` scheme, so a request is a user exactly when WordPress would say so:

1. the value is read as PHP fills ``$_COOKIE`` (first cookie of that name wins; the value is
   percent-decoded, ``+`` kept), then split on ``|`` into exactly
   ``username|expiration|token|hmac``;
2. the expiration is not in the past (POST and ``admin-ajax.php`` requests get WordPress's one-hour
   grace period);
3. the user is found by ``user_login``; with ``frag`` = characters 8 to 11 of its ``user_pass``,
   ``key = HMAC-MD5(LOGGED_IN_KEY + LOGGED_IN_SALT, "username|frag|expiration|token")`` and the
   cookie's hmac must equal ``HMAC-SHA256(key, "username|expiration|token")`` (constant time); a
   password change therefore logs every session out;
4. ``sha256(token)`` is a key of the user's ``session_tokens`` meta (PHP-serialized) whose
   ``expiration`` is not in the past: logging out, "log out everywhere" and session expiry revoke
   the cookie as they do in WordPress.

Anything malformed (field counts, non-numeric expirations, values over 4 KiB, invalid UTF-8,
unknown users, corrupt meta) is nobody, never an exception; a database error while identifying is
logged and is nobody too. ``get_user`` and ``iter_users`` (bulk sync) do raise database errors: a
sync must not mistake an outage for deleted users.

Settings (``[adapter] kind = "wordpress"``): ``database_url`` (or env
``BRIDGE_WORDPRESS_DATABASE_URL``), ``site_url`` or ``cookie_hash``, ``logged_in_key`` and
``logged_in_salt`` (or env ``WORDPRESS_LOGGED_IN_KEY`` / ``WORDPRESS_LOGGED_IN_SALT``),
``table_prefix`` (``wp_``), ``users_prefix`` (multisite: the network's base prefix).

What this module does not do: write to WordPress, check capabilities or roles, read the
``wordpress_`` / ``wordpress_sec_`` admin cookies, or honour plugins that replace the session
token manager (``session_token_manager`` filter) or the ``salt`` filter.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import phpserialize
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from cms_adapters.base import Environ, IdentityUnavailable, SiteUser, UserId

log = logging.getLogger(__name__)

MAX_COOKIE_LENGTH = 4096
MAX_LOGIN_LENGTH = 60  # wp_users.user_login is varchar(60)
POST_GRACE_SECONDS = 3600  # wp_validate_auth_cookie: HOUR_IN_SECONDS for POST and Ajax
BATCH_SIZE = 500
PLACEHOLDER_SECRET = "put your unique phrase here"  # noqa: S105 (wp-config-sample.php's text)
_WP_DATETIME = "%Y-%m-%d %H:%M:%S"


def cookie_hash(site_url: str) -> str:
    """WordPress's COOKIEHASH: md5 of the ``siteurl`` option (stored without a trailing slash)."""
    return hashlib.md5(site_url.rstrip("/").encode(), usedforsecurity=False).hexdigest()


def php_cookie(header: str, name: str) -> str | None:
    """The raw value PHP would put in ``$_COOKIE[name]``, before its percent-decoding.

    PHP splits on ``;`` only, strips spaces before names, turns ``.`` and `` `` in names into
    ``_``, keeps the first of duplicate names and never strips quotes.
    """
    for part in header.split(";"):
        raw_name, equals, value = part.lstrip().partition("=")
        if equals and raw_name.replace(".", "_").replace(" ", "_") == name:
            return value
    return None


@dataclass(frozen=True)
class AuthCookie:
    """The four fields of a WordPress auth cookie, not yet verified."""

    username: str
    expiration: int
    expiration_text: str  # the hmac covers the text as sent
    token: str
    hmac: str

    @classmethod
    def parse(cls, raw: str) -> AuthCookie | None:
        """Decode ``raw`` (WSGI latin-1 text) as PHP does and split it, or None if malformed."""
        if len(raw) > MAX_COOKIE_LENGTH:
            return None
        try:
            text = unquote_to_bytes(raw.encode("latin-1")).decode("utf-8")
        except UnicodeError:
            return None
        fields = text.split("|")
        if len(fields) != 4:
            return None
        username, expiration, token, mac = fields
        if not username or len(username) > MAX_LOGIN_LENGTH or not username.isprintable():
            return None
        if not (expiration.isascii() and expiration.isdigit() and len(expiration) <= 18):
            return None
        return cls(username, int(expiration), expiration, token, mac)


def expected_hmac(cookie: AuthCookie, user_pass: str, salt: bytes) -> str:
    """The hmac WordPress puts in a ``logged_in`` cookie for this user, expiration and token."""
    fragment = user_pass[8:12]
    message = f"{cookie.username}|{fragment}|{cookie.expiration_text}|{cookie.token}"
    key = hmac.new(salt, message.encode(), hashlib.md5).hexdigest()
    signed = f"{cookie.username}|{cookie.expiration_text}|{cookie.token}"
    return hmac.new(key.encode(), signed.encode(), hashlib.sha256).hexdigest()


def session_is_live(session_tokens: str | bytes | None, token: str, now: float) -> bool:
    """Whether ``token`` is a live session in a ``session_tokens`` meta value (never raises)."""
    if not session_tokens:
        return False
    raw = session_tokens.encode("utf-8") if isinstance(session_tokens, str) else session_tokens
    try:
        sessions = phpserialize.loads(raw, object_hook=phpserialize.phpobject)
    except Exception:  # corrupt or hostile meta is no session, whatever the parser trips on
        return False
    if not isinstance(sessions, dict):
        return False
    session = sessions.get(hashlib.sha256(token.encode()).hexdigest().encode())
    if isinstance(session, int):  # sessions stored before WordPress 4.0.1: just the expiration
        expiration: object = session
    elif isinstance(session, dict):
        expiration = session.get(b"expiration")
    else:
        return False
    if isinstance(expiration, bytes):
        try:
            expiration = float(expiration)
        except ValueError:
            return False
    return isinstance(expiration, int | float) and expiration >= now


class WordPressDatetime(TypeDecorator[datetime]):
    """``datetime`` columns as WordPress writes them: UTC text ``YYYY-MM-DD HH:MM:SS``.

    Bound as that text on every dialect (so SQLite compares like with like); read back as an aware
    UTC datetime, with MySQL's zero date ``0000-00-00 00:00:00`` as None.
    """

    impl = String(19)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return str(value.strftime(_WP_DATETIME))

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC)
        try:
            return datetime.strptime(str(value)[:19], _WP_DATETIME).replace(tzinfo=UTC)
        except ValueError:
            return None


def user_tables(users_prefix: str) -> tuple[Table, Table]:
    """The columns of ``<prefix>users`` and ``<prefix>usermeta`` this adapter reads."""
    metadata = MetaData()
    users = Table(
        f"{users_prefix}users",
        metadata,
        Column("ID", BigInteger, primary_key=True),
        Column("user_login", String(60)),
        Column("user_pass", String(255)),
        Column("user_email", String(100)),
        Column("user_registered", WordPressDatetime()),
        Column("display_name", String(250)),
    )
    usermeta = Table(
        f"{users_prefix}usermeta",
        metadata,
        Column("umeta_id", BigInteger, primary_key=True),
        Column("user_id", BigInteger),
        Column("meta_key", String(255)),
        Column("meta_value", Text),
    )
    return users, usermeta


class WordPressAdapter:
    """Recognises WordPress's logged-in user and reads WordPress users (MariaDB/MySQL or SQLite).

    Secure defaults: no key, salt or cookie name is guessed; a missing one is a configuration
    error. ``clock`` (seconds since the epoch) is injectable for expiry tests.
    """

    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    def __init__(
        self,
        *,
        database_url: str | None = None,
        engine: Engine | None = None,
        site_url: str | None = None,
        cookie_hash: str | None = None,
        logged_in_key: str = "",
        logged_in_salt: str = "",
        table_prefix: str = "wp_",
        users_prefix: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (database_url is None) == (engine is None):
            raise ValueError("give database_url (a SQLAlchemy URL) or engine, not both or neither")
        if (site_url is None) == (cookie_hash is None):
            raise ValueError(
                "give site_url (WordPress Address, e.g. https://blog.example.com) "
                "or cookie_hash (the COOKIEHASH constant), not both or neither"
            )
        for name, secret in (("logged_in_key", logged_in_key), ("logged_in_salt", logged_in_salt)):
            if not secret:
                raise ValueError(f"{name} is required: copy it from wp-config.php")
            if secret == PLACEHOLDER_SECRET:
                raise ValueError(
                    f"{name} is wp-config-sample.php's placeholder; WordPress then uses the "
                    f"generated '{name}' site option: copy that value from the options table"
                )
        # hide_parameters: a logged database error must not carry the cookie's username
        self.engine = engine or create_engine(
            str(database_url), pool_pre_ping=True, pool_recycle=3600, hide_parameters=True
        )
        self.cookie_name = "wordpress_logged_in_" + (
            cookie_hash if cookie_hash is not None else _cookie_hash_of(site_url)
        )
        self.table_prefix = table_prefix
        self.users_prefix = table_prefix if users_prefix is None else users_prefix
        self.clock = clock
        self._batch_size = BATCH_SIZE
        self._salt = (logged_in_key + logged_in_salt).encode()

        users, meta = user_tables(self.users_prefix)
        self._login_query = (
            select(users.c.ID, users.c.user_pass)
            .where(users.c.user_login == bindparam("login"))
            .limit(1)
        )
        self._sessions_query = (
            select(meta.c.meta_value)
            .where(meta.c.user_id == bindparam("user_id"), meta.c.meta_key == "session_tokens")
            .order_by(meta.c.umeta_id)
            .limit(1)
        )
        locale = (
            select(meta.c.meta_value)
            .where(meta.c.user_id == users.c.ID, meta.c.meta_key == "locale")
            .order_by(meta.c.umeta_id)
            .limit(1)
            .scalar_subquery()
        )
        profile = select(
            users.c.ID,
            users.c.user_email,
            users.c.display_name,
            users.c.user_registered,
            locale.label("locale"),
        )
        self._user_query = profile.where(users.c.ID == bindparam("user_id"))  # noqa: SIM300
        page = profile.where(users.c.ID > bindparam("after")).order_by(users.c.ID)  # noqa: SIM300
        self._page_query = page.limit(self._batch_size)
        self._page_since_query = page.where(
            users.c.user_registered >= bindparam("since", type_=WordPressDatetime())
        ).limit(self._batch_size)

    def credential(self, environ: Environ) -> str | None:
        header = environ.get("HTTP_COOKIE")
        if not header:
            return None
        value = php_cookie(str(header), self.cookie_name)
        if not value or len(value) > MAX_COOKIE_LENGTH:
            return None
        return value

    def identify(self, environ: Environ) -> UserId | None:
        raw = self.credential(environ)
        cookie = AuthCookie.parse(raw) if raw is not None else None
        if cookie is None:
            return None
        now = self.clock()
        grace = POST_GRACE_SECONDS if _is_post_or_ajax(environ) else 0
        if cookie.expiration + grace < now:
            return None
        try:
            with self.engine.connect() as connection:
                user = connection.execute(self._login_query, {"login": cookie.username}).first()
                if user is None:
                    return None
                mac = expected_hmac(cookie, str(user.user_pass), self._salt)
                if not hmac.compare_digest(mac.encode(), cookie.hmac.encode()):
                    return None
                sessions = connection.execute(self._sessions_query, {"user_id": user.ID}).scalar()
        except SQLAlchemyError as exc:
            log.warning("wordpress: cannot check a login cookie (%s): %s", type(exc).__name__, exc)
            raise IdentityUnavailable("the WordPress database cannot be read") from exc
        if not session_is_live(sessions, cookie.token, now):
            return None
        return str(user.ID)

    def get_user(self, user_id: UserId) -> SiteUser | None:
        if not (user_id.isascii() and user_id.isdigit()) or len(user_id) > 20:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(self._user_query, {"user_id": int(user_id)}).first()
        return _site_user(row) if row is not None else None

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        """Every user in ID order, ``BATCH_SIZE`` rows per query (keyset pagination).

        ``since`` keeps users registered at or after it (naive datetimes are taken as UTC, as
        WordPress stores ``user_registered``). Each batch uses its own short-lived connection, so
        a slow consumer holds no connection between batches.
        """
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return self._pages(since)

    def _pages(self, since: datetime | None) -> Iterator[SiteUser]:
        query = self._page_query if since is None else self._page_since_query
        after = 0
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(query, {"after": after, "since": since}).all()
            for row in rows:
                yield _site_user(row)
            if len(rows) < self._batch_size:
                return
            after = int(rows[-1].ID)


def _cookie_hash_of(site_url: str | None) -> str:
    return cookie_hash(site_url or "")


def _is_post_or_ajax(environ: Environ) -> bool:
    if environ.get("REQUEST_METHOD") == "POST":
        return True
    path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
    return path.endswith("/admin-ajax.php")


def _site_user(row: Any) -> SiteUser:
    """A row of the profile query (``Row`` generics differ between SQLAlchemy 2.0 and 2.1)."""
    return SiteUser(
        id=str(row.ID),
        email=row.user_email or None,
        name=row.display_name or None,
        language=row.locale or None,
        registered_at=row.user_registered,
    )
