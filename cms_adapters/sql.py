"""Users of any CMS read through SQL, and the ``sql`` adapter built on them.

``UserTable`` maps one users table (id / email / name / language / registered / updated / active
columns, plus extra columns) onto ``SiteUser`` with SQLAlchemy Core, on SQLite, PostgreSQL and
MariaDB/MySQL. The table is reflected once, on first use (so building the adapter needs no
database), and only the mapped columns are read. ``iter_users`` pages by key (``id > last``, in id
order, ``page_size`` rows per query, one short connection per page): a million users never sit in
memory and no connection is held while the caller works.

``SqlAdapter`` (``[adapter] kind = "sql"``) identifies the request in one of two ways:

* **session table**: the site keeps sessions in a table; the cookie ``cookie_name`` carries the
  session id (``session_id_hash = "sha256"`` when the table stores a hash of it). A row whose
  ``session_expires_column`` is in the past (or NULL) is refused; with ``session_lifetime`` that
  column is read as "last activity" (Laravel's ``last_activity``, Drupal's ``timestamp``) and the
  row lives ``session_lifetime`` seconds after it. Deleting the row (logout) revokes at once.
* **signed cookie**: the site sets a cookie signed with ``secret_key`` at login
  (``SignedCookieAdapter`` checks it); the user must still exist.

Either way the user must still exist and, with ``active_column``, be active. Date columns may be
DATETIME/TIMESTAMP (naive values are UTC), integers (Unix seconds) or ISO-8601 text.

Errors: in ``identify`` a database error is logged (without parameters: engines are created with
``hide_parameters``) and the request is anonymous; ``get_user`` and ``iter_users`` raise
``sqlalchemy.exc.SQLAlchemyError`` when the database is down (a sync must retry, not skip users),
and return None / nothing for ids that cannot exist.

What this module does not do: parse any CMS's own cookie format (one module per CMS).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bridge.config import parse_duration
from cms_adapters.base import Environ, IdentityUnavailable, SiteUser, UserId
from cms_adapters.signed_cookie import MAX_COOKIE_LENGTH, SignedCookieAdapter, cookie_credential

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 255
_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_COOKIE_LENGTH}}}")  # printable ASCII, no spaces
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_FALSE_TEXT = frozenset({"", "0", "f", "false", "n", "no", "off", "inactive", "disabled"})
SESSION_HASHES = ("sha256", "sha1", "md5")


def create_engine(database_url: str) -> sa.Engine:
    """An engine for ``database_url`` that never puts query parameters (cookies) in errors."""
    return sa.create_engine(database_url, pool_pre_ping=True, hide_parameters=True)


def _python_type(column: sa.Column[Any]) -> type | None:
    try:
        kind: type = column.type.python_type
    except NotImplementedError:
        return None
    return kind


def to_datetime(value: object) -> datetime | None:
    """A database time value (datetime, Unix seconds, ISO text) as an aware UTC datetime."""
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value.strip():
            moment = datetime.fromisoformat(value.strip())
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def column_time(column: sa.Column[Any], moment: datetime) -> object:
    """``moment`` as ``column`` stores times, for comparisons in SQL."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    kind = _python_type(column)
    if kind is int or kind is float:
        return int(moment.timestamp())
    if kind is str:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(column.type, sa.DateTime) and column.type.timezone:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def is_active(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def coerce_key(column: sa.Column[Any], value: str) -> object | None:
    """``value`` (from a cookie or a caller) as a key of ``column``, or None if it cannot be one."""
    if not value or len(value) > MAX_ID_LENGTH or "\x00" in value:
        return None
    if _python_type(column) is int:
        return int(value) if _INTEGER.fullmatch(value) else None
    return value


class UserTable:
    """One users table, read with SQLAlchemy Core (see the module docstring)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        table: str,
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
    ) -> None:
        if not table:
            raise ValueError("user_table is required: the table that holds the site's users")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.engine = engine
        self.name = table
        self.schema = schema
        self.page_size = page_size
        self._fields: dict[str, str | None] = {
            "id": id_column,
            "email": email_column,
            "name": name_column,
            "language": language_column,
            "registered": registered_column,
            "updated": updated_column,
            "active": active_column,
        }
        self._extra = dict(extra_columns or {})
        self._id_name = id_column
        self._table: sa.Table | None = None
        self._lock = threading.Lock()

    def table(self) -> sa.Table:
        """The table, reflected once (only the mapped columns)."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    wanted = {c for c in self._fields.values() if c} | set(self._extra.values())
                    table = sa.Table(
                        self.name,
                        sa.MetaData(),
                        schema=self.schema,
                        autoload_with=self.engine,
                        include_columns=sorted(wanted),
                    )
                    missing = sorted(wanted - set(table.c.keys()))
                    if missing:
                        raise ValueError(f"table {self.name!r} has no column {', '.join(missing)}")
                    self._table = table
        return self._table

    def _column(self, field: str) -> sa.Column[Any] | None:
        name = self._fields[field]
        return self.table().c[name] if name else None

    def _id(self) -> sa.Column[Any]:
        column = self._column("id")
        assert column is not None
        return column

    def _select(self) -> sa.Select[Any]:
        table = self.table()
        names = {c for c in self._fields.values() if c} | set(self._extra.values())
        return sa.select(*(table.c[n] for n in sorted(names)))

    def _user(self, row: sa.Row[Any]) -> SiteUser:
        values = row._mapping

        def text(field: str) -> str | None:
            name = self._fields[field]
            value = values[name] if name else None
            return None if value is None else str(value)

        registered = self._fields["registered"]
        extra = {
            key: str(values[column])
            for key, column in self._extra.items()
            if values[column] is not None
        }
        return SiteUser(
            id=str(values[self._id_name]),
            email=text("email"),
            name=text("name"),
            language=text("language"),
            registered_at=to_datetime(values[registered]) if registered else None,
            extra=extra,
        )

    def _row(self, user_id: UserId) -> sa.Row[Any] | None:
        key = coerce_key(self._id(), user_id)
        if key is None:
            return None
        with self.engine.connect() as conn:
            return conn.execute(self._select().where(self._id() == key).limit(1)).first()

    def get(self, user_id: UserId) -> SiteUser | None:
        row = self._row(user_id)
        return None if row is None else self._user(row)

    def active_id(self, user_id: UserId) -> UserId | None:
        """``user_id`` as the table spells it, if that user exists and is active."""
        row = self._row(user_id)
        if row is None:
            return None
        active = self._fields["active"]
        if active and not is_active(row._mapping[active]):
            return None
        return str(row._mapping[self._id_name])

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        """Every user (changed or registered at or after ``since``), in id order, page by page."""
        query = self._select().order_by(self._id()).limit(self.page_size)
        changed = self._column("updated") if self._fields["updated"] else self._column("registered")
        if since is not None and changed is not None:
            query = query.where(changed >= column_time(changed, since))
        last: object = None
        while True:
            page = query if last is None else query.where(self._id() > last)
            with self.engine.connect() as conn:
                rows = conn.execute(page).all()
            for row in rows:
                yield self._user(row)
            if len(rows) < self.page_size:
                return
            last = rows[-1]._mapping[self._id_name]


class SessionTable:
    """A site's session table: session id → user id, refused once expired."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        table: str,
        schema: str | None = None,
        id_column: str = "id",
        user_column: str = "user_id",
        expires_column: str | None = None,
        lifetime: float | None = None,
        id_hash: str | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        if id_hash is not None and id_hash not in SESSION_HASHES:
            raise ValueError(f"session_id_hash must be one of {', '.join(SESSION_HASHES)}")
        if lifetime is not None and not expires_column:
            raise ValueError("session_lifetime needs session_expires_column (the last activity)")
        self.engine = engine
        self.name = table
        self.schema = schema
        self._columns = (id_column, user_column, expires_column)
        self.lifetime = lifetime
        self.id_hash = id_hash
        self.clock = clock
        self._table: sa.Table | None = None
        self._lock = threading.Lock()

    def table(self) -> sa.Table:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    wanted = {c for c in self._columns if c}
                    table = sa.Table(
                        self.name,
                        sa.MetaData(),
                        schema=self.schema,
                        autoload_with=self.engine,
                        include_columns=sorted(wanted),
                    )
                    missing = sorted(wanted - set(table.c.keys()))
                    if missing:
                        raise ValueError(f"table {self.name!r} has no column {', '.join(missing)}")
                    self._table = table
        return self._table

    def user_of(self, token: str) -> str | None:
        """The user id of the live session ``token``, or None."""
        if not _TOKEN.fullmatch(token):
            return None
        if self.id_hash is not None:
            token = hashlib.new(self.id_hash, token.encode("ascii")).hexdigest()
        table = self.table()
        id_name, user_name, expires_name = self._columns
        session_id = table.c[id_name]
        query = sa.select(session_id, table.c[user_name]).where(session_id == token).limit(1)
        if expires_name:
            expires = table.c[expires_name]
            now = self.clock()
            if self.lifetime is not None:
                now -= timedelta(seconds=self.lifetime)
            query = query.where(expires.is_not(None), expires > column_time(expires, now))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        # MySQL/MariaDB collations compare case-insensitively and ignore trailing spaces: the row
        # must hold exactly this id, or a guess would only need the right letters in any case
        if row is None or row[1] is None or not hmac.compare_digest(str(row[0]), token):
            return None
        return str(row[1])


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlAdapter:
    """``[adapter] kind = "sql"``: a users table plus a session table or a signed cookie."""

    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    def __init__(
        self,
        *,
        database_url: str | None = None,
        engine: sa.Engine | None = None,
        user_table: str = "",
        schema: str | None = None,
        id_column: str = "id",
        email_column: str | None = "email",
        name_column: str | None = None,
        language_column: str | None = None,
        registered_column: str | None = None,
        updated_column: str | None = None,
        active_column: str | None = None,
        extra_columns: Mapping[str, str] | None = None,
        cookie_name: str | None = None,
        session_table: str | None = None,
        session_id_column: str = "id",
        session_user_column: str = "user_id",
        session_expires_column: str | None = None,
        session_lifetime: float | str | None = None,
        session_id_hash: str | None = None,
        secret_key: str | None = None,
        salt: str = "proabono-bridge.user",
        max_age: float | str = 14 * 86400,
        page_size: int = 500,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if engine is None:
            if not database_url:
                raise ValueError("database_url is required (e.g. 'sqlite:////srv/site/site.db')")
            engine = create_engine(database_url)
        if not session_table and not secret_key:
            raise ValueError(
                "give session_table (sessions kept in a table) or secret_key (a signed cookie "
                "the site sets; env BRIDGE_COOKIE_SECRET) to identify requests"
            )
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
        self.sessions: SessionTable | None = None
        self.signed: SignedCookieAdapter | None = None
        if session_table:  # wins over a secret_key that may come from the environment
            if not cookie_name:
                raise ValueError("cookie_name is required with session_table (e.g. 'PHPSESSID')")
            self.cookie_name = cookie_name
            self.sessions = SessionTable(
                engine,
                table=session_table,
                schema=schema,
                id_column=session_id_column,
                user_column=session_user_column,
                expires_column=session_expires_column,
                lifetime=None if session_lifetime is None else parse_duration(session_lifetime),
                id_hash=session_id_hash,
                clock=clock,
            )
        else:
            assert secret_key is not None
            self.cookie_name = cookie_name or "bridge_user"
            self.signed = SignedCookieAdapter(
                secret_key=secret_key,
                cookie_name=self.cookie_name,
                salt=salt,
                max_age=int(parse_duration(max_age)),
            )

    def credential(self, environ: Environ) -> str | None:
        return cookie_credential(environ, self.cookie_name)

    def identify(self, environ: Environ) -> UserId | None:
        try:
            if self.signed is not None:
                user = self.signed.identify(environ)
            else:
                token = self.credential(environ)
                assert self.sessions is not None
                user = None if token is None else self.sessions.user_of(token)
            return None if user is None else self.users.active_id(user)
        except ValueError as exc:
            log.warning("sql adapter: identification failed, request is anonymous: %s", exc)
            return None
        except SQLAlchemyError as exc:
            log.warning("sql adapter: the users database cannot be read: %s", exc)
            raise IdentityUnavailable("the users database cannot be read") from exc

    def get_user(self, user_id: UserId) -> SiteUser | None:
        return self.users.get(user_id)

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        return self.users.iter_users(since)
