"""The generic sql adapter on SQLite, PostgreSQL and MariaDB: a CMS's users and sessions tables.

Each test creates its own tables (unique names) shaped like a typical PHP CMS's: an integer user
id, display name and locale columns, a session table keyed by the cookie's session id with an
expiry time. The CMS side (login = insert a session row, logout = delete it) is plain SQL here,
as the CMS itself would do it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from bridge.config import AdapterConfig
from bridge.errors import ConfigError
from cms_adapters.base import IdentityUnavailable
from cms_adapters.sql import SqlAdapter, to_datetime
from tests.cms_adapters.contract import AdapterContract, request
from tests.services import require_mariadb, require_postgres

SECRET = "site-cookie-secret-0123456789abcdef"
Environ = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def database_url(kind: str, tmp_path: Any) -> str:
    if kind == "postgres":
        return require_postgres()
    if kind == "mariadb":
        return require_mariadb()
    return f"sqlite:///{tmp_path / 'cms.db'}"


class Cms:
    """A CMS's tables, created under unique names and dropped afterwards."""

    def __init__(self, url: str, *, expires_as_int: bool = False) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.engine = sa.create_engine(url)
        self.metadata = sa.MetaData()
        self.users = sa.Table(
            f"cms_users_{suffix}",
            self.metadata,
            sa.Column("uid", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("mail", sa.String(255)),
            sa.Column("display_name", sa.String(255)),
            sa.Column("locale", sa.String(16)),
            sa.Column("created", sa.DateTime),
            sa.Column("changed", sa.DateTime),
            sa.Column("status", sa.Boolean, default=True),
            sa.Column("plan_code", sa.String(32)),
        )
        self.sessions = sa.Table(
            f"cms_sessions_{suffix}",
            self.metadata,
            sa.Column("sid", sa.String(128), primary_key=True),
            sa.Column("uid", sa.Integer),
            sa.Column("expires", sa.Integer if expires_as_int else sa.DateTime),
        )
        self.expires_as_int = expires_as_int
        self.metadata.create_all(self.engine)

    def settings(self, url: str) -> dict[str, Any]:
        return {
            "database_url": url,
            "user_table": self.users.name,
            "id_column": "uid",
            "email_column": "mail",
            "name_column": "display_name",
            "language_column": "locale",
            "registered_column": "created",
            "updated_column": "changed",
            "active_column": "status",
            "extra_columns": {"plan": "plan_code"},
            "page_size": 7,
        }

    def session_settings(self) -> dict[str, Any]:
        return {
            "cookie_name": "SID",
            "session_table": self.sessions.name,
            "session_id_column": "sid",
            "session_user_column": "uid",
            "session_expires_column": "expires",
        }

    def execute(self, statement: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(statement)

    def add_user(self, **values: Any) -> str:
        now = utcnow()
        values = {"created": now, "changed": now, "status": True, **values}
        result = self.execute(self.users.insert().values(**values))
        return str(result.inserted_primary_key[0])

    def add_session(self, user_id: str, *, expires_in: timedelta, sid: str | None = None) -> str:
        sid = sid or secrets.token_urlsafe(32)
        expires: Any = utcnow() + expires_in
        if self.expires_as_int:
            expires = int(expires.replace(tzinfo=UTC).timestamp())
        self.execute(self.sessions.insert().values(sid=sid, uid=int(user_id), expires=expires))
        return sid

    def drop(self) -> None:
        self.metadata.drop_all(self.engine)
        self.engine.dispose()


class SessionTableWorld:
    def __init__(self, cms: Cms, adapter: SqlAdapter) -> None:
        self.cms = cms
        self.adapter = adapter

    def create_user(self, *, email: str, name: str, language: str | None = None) -> str:
        return self.cms.add_user(mail=email, display_name=name, locale=language)

    def login(self, user_id: str) -> Environ:
        sid = self.cms.add_session(user_id, expires_in=timedelta(hours=1))
        return {"HTTP_COOKIE": f"theme=dark; SID={sid}"}

    def sid(self, session: Environ) -> str:
        return str(session["HTTP_COOKIE"]).rsplit("SID=", 1)[1]

    def logout(self, session: Environ) -> None:
        table = self.cms.sessions
        self.cms.execute(table.delete().where(table.c.sid == self.sid(session)))

    def expired(self, user_id: str) -> Environ:
        sid = self.cms.add_session(user_id, expires_in=-timedelta(minutes=1))
        return {"HTTP_COOKIE": f"SID={sid}"}

    def tampered(self, session: Environ) -> Environ:
        sid = self.sid(session)
        flipped = ("B" if sid[5] == "A" else "A").join((sid[:5], sid[6:]))
        return {"HTTP_COOKIE": f"SID={flipped}"}

    def garbage(self) -> list[Environ]:
        return [
            {"HTTP_COOKIE": "SID="},
            {"HTTP_COOKIE": "SID=has spaces in it"},
            {"HTTP_COOKIE": "SID=" + "a" * 5000},
            {"HTTP_COOKIE": "SID=caf\xe9\xff"},  # latin-1 text of invalid UTF-8
            {"HTTP_COOKIE": "SID=\u20ac"},
            {"HTTP_COOKIE": "SID=x'; DROP TABLE users; --"},
            {"HTTP_COOKIE": "SID=a\x00b"},
            {"HTTP_COOKIE": 'SID="quoted"'},
            {"HTTP_COOKIE": "SID=1|2|3|4|5"},
            {"HTTP_COOKIE": "SID=%00%ff"},
        ]

    def update_user(self, user_id: str, **fields: str) -> None:
        names = {"email": "mail", "name": "display_name", "language": "locale"}
        values = {names[k]: v for k, v in fields.items()}
        users = self.cms.users
        self.cms.execute(users.update().where(users.c.uid == int(user_id)).values(**values))

    def delete_user(self, user_id: str) -> None:
        users = self.cms.users
        self.cms.execute(users.delete().where(users.c.uid == int(user_id)))

    def missing_id(self) -> str:
        return "987654321"


class SignedCookieWorld(SessionTableWorld):
    """The site sets ``bridge_user`` (signed) at login and deletes it at logout."""

    def login(self, user_id: str) -> Environ:
        assert self.adapter.signed is not None
        return {"HTTP_COOKIE": f"bridge_user={self.adapter.signed.sign(user_id)}"}

    def logout(self, session: Environ) -> None:
        # A signed cookie is revoked by deleting it from the browser: what the browser holds
        # now is no cookie. A copy kept elsewhere stays valid until max_age (documented).
        session.pop("HTTP_COOKIE")

    def expired(self, user_id: str) -> Environ:
        class Earlier(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - 7200

        value = Earlier(SECRET, salt="proabono-bridge.user").sign(user_id).decode()
        return {"HTTP_COOKIE": f"bridge_user={value}"}

    def tampered(self, session: Environ) -> Environ:
        value = str(session["HTTP_COOKIE"]).removeprefix("bridge_user=")
        user, rest = value.split(".", 1)
        return {"HTTP_COOKIE": f"bridge_user={int(user) + 1}.{rest}"}

    def garbage(self) -> list[Environ]:
        signer = TimestampSigner(SECRET, salt="proabono-bridge.user")
        return [
            {"HTTP_COOKIE": "bridge_user=42"},
            {"HTTP_COOKIE": "bridge_user=42.x"},
            {"HTTP_COOKIE": "bridge_user=42.notatime.sig"},
            {"HTTP_COOKIE": "bridge_user=" + "4" * 5000},
            {"HTTP_COOKIE": "bridge_user=caf\xe9.\xff.x"},
            {"HTTP_COOKIE": f"bridge_user={signer.sign('987654321').decode()}"},
            {"HTTP_COOKIE": f"bridge_user={signer.sign('not-a-number').decode()}"},
            {"HTTP_COOKIE": f"bridge_user={signer.sign('9' * 40).decode()}"},
        ]


@pytest.fixture
def cms_factory(tmp_path: Any) -> Iterator[Callable[..., tuple[Cms, str]]]:
    made: list[Cms] = []

    def factory(kind: str = "sqlite", **options: Any) -> tuple[Cms, str]:
        url = database_url(kind, tmp_path)
        cms = Cms(url, **options)
        made.append(cms)
        return cms, url

    yield factory
    for cms in made:
        cms.drop()


def session_adapter(cms: Cms, url: str, **options: Any) -> SqlAdapter:
    return SqlAdapter(**{**cms.settings(url), **cms.session_settings(), **options})


class TestSessionTableContract(AdapterContract):
    @pytest.fixture(params=["sqlite", "postgres", "mariadb"])
    def world(self, request: pytest.FixtureRequest, cms_factory: Any) -> SessionTableWorld:
        cms, url = cms_factory(request.param)
        return SessionTableWorld(cms, session_adapter(cms, url))


class TestSignedCookieContract(AdapterContract):
    @pytest.fixture
    def world(self, cms_factory: Any) -> SignedCookieWorld:
        cms, url = cms_factory()
        adapter = SqlAdapter(**cms.settings(url), secret_key=SECRET, max_age=3600)
        return SignedCookieWorld(cms, adapter)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def world(request: pytest.FixtureRequest, cms_factory: Any) -> SessionTableWorld:
    cms, url = cms_factory(request.param)
    return SessionTableWorld(cms, session_adapter(cms, url))


def test_profile_carries_the_mapped_extra_columns(world: SessionTableWorld) -> None:
    user = world.cms.add_user(mail="ada@example.com", display_name="Ada", plan_code="gold")
    found = world.adapter.get_user(user)
    assert found is not None
    assert found.extra == {"plan": "gold"}
    assert found.registered_at is not None
    assert found.registered_at.tzinfo is not None


def test_deactivated_users_are_nobody_but_still_synced(world: SessionTableWorld) -> None:
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    users = world.cms.users
    world.cms.execute(users.update().where(users.c.uid == int(user)).values(status=False))
    assert world.adapter.identify(request(session)) is None
    assert world.adapter.get_user(user) is not None


def test_iter_users_pages_by_key(world: SessionTableWorld) -> None:
    ids = [world.create_user(email=f"u{i}@example.com", name=f"U{i}") for i in range(15)]
    statements: list[str] = []
    engine = world.adapter.users.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert [u.id for u in world.adapter.iter_users()] == ids
    pages = [s for s in statements if "LIMIT" in s.upper()]
    assert len(pages) == 3  # 7 + 7 + 1 rows: never the whole table at once


def test_iter_users_since_uses_the_change_column(world: SessionTableWorld) -> None:
    old = world.create_user(email="old@example.com", name="Old")
    fresh = world.create_user(email="new@example.com", name="New")
    users = world.cms.users
    long_ago = utcnow() - timedelta(days=30)
    world.cms.execute(users.update().where(users.c.uid == int(old)).values(changed=long_ago))
    since = datetime.now(UTC) - timedelta(days=1)
    assert [u.id for u in world.adapter.iter_users(since=since)] == [fresh]


def test_database_errors_in_identify_are_an_outage_and_not_leaked(
    world: SessionTableWorld, caplog: pytest.LogCaptureFixture
) -> None:
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    sid = world.sid(session)
    world.cms.sessions.drop(world.cms.engine)
    with pytest.raises(IdentityUnavailable) as caught:  # the gate answers 503, not "sign in"
        world.adapter.identify(request(session))
    assert "cannot be read" in caplog.text
    assert sid not in caplog.text
    assert sid not in str(caught.value)
    world.cms.sessions.create(world.cms.engine)


def test_an_unreachable_database_is_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    adapter = SqlAdapter(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        user_table="users",
        session_table="sessions",
        cookie_name="SID",
    )
    with pytest.raises(IdentityUnavailable):
        adapter.identify(request({"HTTP_COOKIE": "SID=abcdef"}))
    assert "abcdef" not in caplog.text


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_lifetime_after_last_activity_in_unix_seconds(cms_factory: Any, kind: str) -> None:
    # Laravel/Drupal shape: an integer "last activity" column and a lifetime in the config
    cms, url = cms_factory(kind, expires_as_int=True)
    adapter = session_adapter(cms, url, session_lifetime="2h")
    world = SessionTableWorld(cms, adapter)
    user = world.create_user(email="ada@example.com", name="Ada")
    recent = cms.add_session(user, expires_in=-timedelta(hours=1))
    stale = cms.add_session(user, expires_in=-timedelta(hours=3))
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={recent}"})) == user
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={stale}"})) is None


def test_sessions_stored_as_hashes(cms_factory: Any) -> None:
    cms, url = cms_factory()
    adapter = session_adapter(cms, url, session_id_hash="sha256")
    user = cms.add_user(mail="ada@example.com", display_name="Ada")
    token = secrets.token_urlsafe(32)
    cms.add_session(
        user, expires_in=timedelta(hours=1), sid=hashlib.sha256(token.encode()).hexdigest()
    )
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={token}"})) == user
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={digest}"})) is None


def test_session_ids_match_exactly_whatever_the_collation(world: SessionTableWorld) -> None:
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    sid = world.sid(session)
    assert world.adapter.identify(request(session)) == user
    assert world.adapter.identify(request({"HTTP_COOKIE": f"SID={sid.swapcase()}"})) is None
    assert world.adapter.identify(request({"HTTP_COOKIE": f"SID={sid}%20"})) is None


def test_a_session_row_without_expiry_is_refused(cms_factory: Any) -> None:
    cms, url = cms_factory()
    adapter = session_adapter(cms, url)
    user = cms.add_user(mail="ada@example.com", display_name="Ada")
    cms.execute(cms.sessions.insert().values(sid="no-expiry-session", uid=int(user), expires=None))
    assert adapter.identify(request({"HTTP_COOKIE": "SID=no-expiry-session"})) is None


def test_the_clock_is_injected(cms_factory: Any) -> None:
    cms, url = cms_factory()
    now = [datetime.now(UTC)]
    adapter = session_adapter(cms, url, clock=lambda: now[0])
    user = cms.add_user(mail="ada@example.com", display_name="Ada")
    sid = cms.add_session(user, expires_in=timedelta(minutes=10))
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={sid}"})) == user
    now[0] += timedelta(minutes=11)
    assert adapter.identify(request({"HTTP_COOKIE": f"SID={sid}"})) is None


def test_a_missing_column_is_a_clear_error(cms_factory: Any) -> None:
    cms, url = cms_factory()
    adapter = SqlAdapter(**{**cms.settings(url), "name_column": "nmae"}, secret_key=SECRET)
    with pytest.raises(ValueError, match="no column nmae"):
        adapter.get_user("1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1767225600, datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
        ("", None),
        (None, None),
        (10**20, None),
    ],
    ids=["naive-datetime", "unix-seconds", "iso-text", "mysql-zero-date", "empty", "null", "huge"],
)
def test_time_values(value: object, expected: datetime | None) -> None:
    assert to_datetime(value) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user_table": "u"}, "database_url"),
        ({"database_url": "sqlite://", "user_table": "u"}, "give session_table"),
        ({"database_url": "sqlite://", "user_table": "u", "session_table": "s"}, "cookie_name"),
        ({"database_url": "sqlite://", "session_table": "s", "cookie_name": "c"}, "user_table"),
        (
            {
                "database_url": "sqlite://",
                "user_table": "u",
                "session_table": "s",
                "cookie_name": "c",
                "session_id_hash": "crc32",
            },
            "session_id_hash",
        ),
        (
            {
                "database_url": "sqlite://",
                "user_table": "u",
                "session_table": "s",
                "cookie_name": "c",
                "session_lifetime": 60,
            },
            "session_expires_column",
        ),
        (
            {
                "database_url": "sqlite://",
                "user_table": "u",
                "secret_key": SECRET,
                "max_age": "soon",
            },
            "duration",
        ),
    ],
    ids=[
        "no-url",
        "no-identification",
        "no-cookie-name",
        "no-user-table",
        "unknown-hash",
        "lifetime-without-column",
        "bad-max-age",
    ],
)
def test_settings_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SqlAdapter(**options)


def test_a_session_table_wins_over_a_secret_from_the_environment(world: SessionTableWorld) -> None:
    cms = world.cms
    url = str(cms.engine.url.render_as_string(hide_password=False))
    adapter = session_adapter(cms, url, secret_key=SECRET)
    assert adapter.sessions is not None
    assert adapter.signed is None
    user = world.create_user(email="ada@example.com", name="Ada")
    assert adapter.identify(request(world.login(user))) == user


def test_registry_builds_it_when_registered(tmp_path: Any) -> None:
    from cms_adapters import registry

    if "sql" not in registry.adapter_kinds():
        pytest.skip("sql is not in cms_adapters/registry.py yet (lines in the report)")
    config = AdapterConfig(
        kind="sql",
        options={
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "user_table": "users",
            "max_age": "1h",
        },
    )
    adapter = registry.build_adapter(config, env={"BRIDGE_COOKIE_SECRET": SECRET})
    assert isinstance(adapter, SqlAdapter)
    assert adapter.signed is not None
    assert adapter.signed.max_age == 3600
    with pytest.raises(ConfigError):
        registry.build_adapter(AdapterConfig(kind="sql", options={"user_tabel": "u"}), env={})
