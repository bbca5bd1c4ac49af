"""Django's logged-in user read from its database, for a bridge that runs apart from Django.

``identify`` does what ``django.contrib.auth.get_user`` does, through SQLAlchemy Core and the
stdlib: the session row must exist and not be past its ``expire_date``; its data must carry a
valid signature by ``SECRET_KEY`` (or a fallback); the user it names must exist and be active; and
the session's ``_auth_user_hash`` must match the user's current password hash. Logging out deletes
the row, changing the password changes the hash: both revoke.

Assumed of the site (Django's defaults): the ``db`` or ``cached_db`` session engine, the JSON
session serializer, ``USE_TZ = True`` and an integer user primary key. A user table without
``first_name`` / ``last_name`` / ``date_joined`` columns is not supported in this mode.

What this module does not do: import Django (the in-process mode, ``in_process``, does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from cms_adapters.base import Environ, IdentityUnavailable, SiteUser, UserId
from cms_adapters.django import session_data

log = logging.getLogger("bridge.adapters.django")

MAX_PK = 2**63 - 1


def engine_for(database_url: str) -> Engine:
    """An engine for ``database_url`` that never puts query parameters (session keys) in errors;
    a plain ``postgresql://`` means psycopg 3 (the ``postgres`` extra), not psycopg2."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _table(qualified: str, *columns: sa.ColumnClause[Any]) -> sa.TableClause:
    schema, _, name = qualified.rpartition(".")
    return sa.table(name, *columns, schema=schema or None)


def user_pk(user_id: object) -> int | None:
    """The integer primary key an id string stands for, or None (never a database error)."""
    if not isinstance(user_id, str) or not user_id.isascii() or not user_id.isdigit():
        return None
    if len(user_id) > 19:
        return None
    pk = int(user_id)
    return pk if 0 < pk <= MAX_PK else None


class RemoteDjangoAdapter:
    """See the module docstring. ``clock`` returns the time (seconds) sessions expire against."""

    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    batch_size = 500

    def __init__(
        self,
        *,
        database_url: str,
        secret_key: str,
        fallback_secret_keys: Sequence[str] = (),
        session_cookie_name: str = "sessionid",
        session_table: str = "django_session",
        user_table: str = "auth_user",
        language_field: str | None = None,
    ) -> None:
        if not database_url:
            raise ValueError(
                "database_url is required in remote mode (or env BRIDGE_DJANGO_DATABASE_URL)"
            )
        if not secret_key:
            raise ValueError("secret_key is required in remote mode (or env DJANGO_SECRET_KEY)")
        self.engine = engine_for(database_url)
        self.secrets = (secret_key, *fallback_secret_keys)
        self.cookie_name = session_cookie_name
        self.language_field = language_field
        self.clock: Callable[[], float] = time.time
        self.sessions = _table(
            session_table,
            sa.column("session_key", sa.String),
            sa.column("session_data", sa.Text),
            sa.column("expire_date", sa.DateTime(timezone=True)),
        )
        columns: list[sa.ColumnClause[Any]] = [
            sa.column("id", sa.BigInteger),
            sa.column("password", sa.String),
            sa.column("is_active", sa.Boolean),
            sa.column("username", sa.String),
            sa.column("email", sa.String),
            sa.column("first_name", sa.String),
            sa.column("last_name", sa.String),
            sa.column("date_joined", sa.DateTime(timezone=True)),
        ]
        if language_field:
            columns.append(sa.column(language_field, sa.String))
        self.users = _table(user_table, *columns)
        self._profile = sa.select(*self.users.c[:8])
        if language_field:
            self._profile = self._profile.add_columns(
                self.users.c[language_field].label("language")
            )

    # --- identify ---------------------------------------------------------------------------

    def credential(self, environ: Environ) -> str | None:
        return session_data.session_key(environ, self.cookie_name)

    def identify(self, environ: Environ) -> UserId | None:
        key = self.credential(environ)
        if key is None:
            return None
        try:
            return self._identify(key)
        except (ValueError, TypeError, OverflowError) as exc:
            # Unreadable session data is nobody, never a 500; the message may quote the cookie.
            log.warning("django session check failed: %s", type(exc).__name__)
            return None
        except sa.exc.SQLAlchemyError as exc:
            log.warning("django session store cannot be read: %s", type(exc).__name__)
            raise IdentityUnavailable("the Django database cannot be read") from exc

    def _identify(self, key: str) -> UserId | None:
        query = sa.select(self.sessions.c.session_data, self.sessions.c.expire_date).where(
            self.sessions.c.session_key == key
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
            if row is None or not _in_future(row.expire_date, self.clock()):
                return None
            data = session_data.loads(row.session_data, self.secrets)
            if data is None or not isinstance(data.get(session_data.BACKEND_SESSION_KEY), str):
                return None
            pk = user_pk(data.get(session_data.SESSION_KEY))
            if pk is None:
                return None
            user = connection.execute(
                sa.select(self.users.c.password, self.users.c.is_active).where(
                    self.users.c.id == pk
                )
            ).first()
        if user is None or not user.is_active:
            return None
        session_hash = data.get(session_data.HASH_SESSION_KEY)
        if not session_data.auth_hash_matches(session_hash, user.password or "", self.secrets):
            return None
        return str(pk)

    # --- users ------------------------------------------------------------------------------

    def get_user(self, user_id: UserId) -> SiteUser | None:
        pk = user_pk(user_id)
        if pk is None:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(self._profile.where(self.users.c.id == pk)).first()
        return None if row is None else self._site_user(row)

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        """Every user in id order, ``batch_size`` rows per query (keyset, no open cursor)."""
        query = self._profile.order_by(self.users.c.id).limit(self.batch_size)
        if since is not None:
            query = query.where(self.users.c.date_joined >= self._bind_time(since))
        last = 0
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(query.where(self.users.c.id > last)).all()
            for row in rows:
                yield self._site_user(row)
            if len(rows) < self.batch_size:
                return
            last = rows[-1].id

    def _site_user(self, row: sa.Row[Any]) -> SiteUser:
        full_name = f"{row.first_name or ''} {row.last_name or ''}".strip()
        language = row.language if self.language_field else None
        return SiteUser(
            id=str(row.id),
            email=row.email or None,
            name=full_name or row.username,
            language=str(language) if language else None,
            registered_at=_utc(row.date_joined),
        )

    def _bind_time(self, moment: datetime) -> datetime:
        """Django stores UTC: aware for PostgreSQL, naive UTC text/values elsewhere."""
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return aware if self.engine.dialect.name == "postgresql" else aware.replace(tzinfo=None)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _in_future(moment: datetime | None, now: float) -> bool:
    aware = _utc(moment)
    return aware is not None and aware.timestamp() > now
