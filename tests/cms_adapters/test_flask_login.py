"""The flask_login adapter, both modes, against a real Flask-Login site (``flask_site.py``).

Sessions are made by the site itself: a test client posts to its ``/login`` view and the
``Set-Cookie`` it answers is what the adapter sees. Logging out goes through ``/logout``.

Logged out, for a cookie session: Flask-Login's ``logout_user`` removes ``_user_id`` and Flask
sends a new cookie (here: deletes it, the session being empty). The contract's "logged-out
session" is therefore the cookie the browser holds after ``/logout`` (``logout`` below rewrites
the session to it). The old cookie is *not* revoked, for Flask as for the bridge:
``test_a_replayed_cookie_outlives_logout_as_it_does_for_flask`` pins that documented limitation.
"""

from __future__ import annotations

import hashlib
import sys
import time
import types
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
import sqlalchemy as sa
from flask.sessions import session_json_serializer
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from bridge.config import AdapterConfig
from bridge.errors import ConfigError
from cms_adapters.base import IdentityUnavailable, MemoisedIdentity
from cms_adapters.flask_login import FlaskLoginAdapter, session_identifier, tagged_text
from tests.cms_adapters.contract import AdapterContract, request
from tests.cms_adapters.flask_site import PASSWORD, FlaskSite, make_site
from tests.services import require_postgres

SECRET = "flask-site-secret-key-0123456789"
OLD_SECRET = "flask-site-old-secret-key-987654"
LIFETIME = timedelta(hours=2)
Environ = dict[str, Any]


def set_cookie(response: Any, name: str) -> str | None:
    """The value ``response`` sets for cookie ``name``: '' when it deletes it, None if untouched."""
    for header in response.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            return "" if morsel["max-age"] == "0" or not morsel.value else morsel.value
    return None


def cookies(**values: str) -> Environ:
    header = "; ".join(f"{k}={v}" for k, v in values.items() if v)
    return {"HTTP_COOKIE": header} if header else {}


def flask_serializer(
    secret: str, signer: type[TimestampSigner] = TimestampSigner, serializer: Any = None
) -> URLSafeTimedSerializer:
    """Flask's own session signing (flask/sessions.py), with an injectable signer and payload."""
    return URLSafeTimedSerializer(
        secret,
        salt="cookie-session",
        serializer=serializer or session_json_serializer,
        signer=signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )


class _Raw:
    """A payload serializer that writes text as is: signed junk, for bad-input cases."""

    @staticmethod
    def dumps(value: Any) -> str:
        return str(value)

    @staticmethod
    def loads(value: Any) -> Any:
        return value


def signed_at(timestamp: int) -> type[TimestampSigner]:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return Signer


def site_url(kind: str, tmp_path: Any) -> str:
    if kind == "postgres":
        return require_postgres()
    return f"sqlite:///{tmp_path / 'site.db'}"


class FlaskWorld:
    """The CMS side of the contract: a real Flask-Login site, users, browsers."""

    def __init__(self, site: FlaskSite, adapter: FlaskLoginAdapter) -> None:
        self.site = site
        self.adapter = adapter
        self.emails: dict[str, str] = {}
        self.browsers: dict[str, FlaskClient] = {}

    def create_user(self, *, email: str, name: str, language: str | None = None) -> str:
        user = self.site.add_user(email=email, name=name, language=language)
        self.emails[user] = email
        return user

    def browser_login(self, user_id: str, **form: str) -> tuple[FlaskClient, str]:
        browser = self.site.app.test_client()
        response = browser.post(
            "/login", data={"email": self.emails[user_id], "password": PASSWORD, **form}
        )
        assert response.status_code == 200, response.text
        value = set_cookie(response, "session")
        assert value, "the login view sets the session cookie"
        return browser, value

    def login(self, user_id: str) -> Environ:
        browser, value = self.browser_login(user_id)
        self.browsers[value] = browser
        return cookies(session=value)

    def logout(self, session: Environ) -> None:
        value = session["HTTP_COOKIE"].removeprefix("session=")
        response = self.browsers[value].post("/logout")
        assert response.status_code == 200
        after = set_cookie(response, "session")
        assert after is not None, "logout rewrites the session cookie"
        session.clear()  # what the browser holds now
        session.update(cookies(session=after))

    def session_data(self, value: str) -> dict[str, Any]:
        data: dict[str, Any] = flask_serializer(SECRET).loads(value)
        return data

    def expired(self, user_id: str) -> Environ:
        _, value = self.browser_login(user_id)
        too_old = int(time.time() - LIFETIME.total_seconds() - 60)
        data = self.session_data(value)
        old = flask_serializer(SECRET, signed_at(too_old)).dumps(data)
        return cookies(session=old)

    def tampered(self, session: Environ) -> Environ:
        value = session["HTTP_COOKIE"].removeprefix("session=")
        payload, timestamp, signature = value.rsplit(".", 2)  # a compressed payload starts with "."
        middle = len(payload) // 2
        flipped = "A" if payload[middle] != "A" else "B"
        payload = payload[:middle] + flipped + payload[middle + 1 :]
        return cookies(session=f"{payload}.{timestamp}.{signature}")

    def garbage(self) -> list[Environ]:
        good = flask_serializer(SECRET)
        raw = flask_serializer(SECRET, serializer=_Raw)
        return [
            cookies(session="onefield"),
            cookies(session="two.fields"),
            cookies(session="a.b.c.d.e"),
            cookies(session="eyJfdXNlcl9pZCI6IjEifQ.!!notatimestamp.sig"),
            cookies(session="x" * 5000),
            {"HTTP_COOKIE": "session=caf\xe9\xff.abc.def"},  # latin-1 text of invalid UTF-8
            {"HTTP_COOKIE": "session=\u20ac\u20ac.abc.def"},  # not even latin-1
            cookies(session=raw.dumps("not json {")),
            cookies(session=raw.dumps("[1, 2, 3]")),
            cookies(session=good.dumps({"_user_id": ["1"]})),
            cookies(session=good.dumps({"_user_id": {"nested": "1"}})),
            cookies(session=good.dumps({"_user_id": "9" * 300})),
            cookies(session=good.dumps({"_user_id": "1 OR 1=1"})),
            cookies(session=good.dumps({"_user_id": "987654321"})),
            cookies(session=good.dumps({})),
            cookies(session=URLSafeTimedSerializer("another-app-key-000000000000").dumps({})),
        ]

    def update_user(self, user_id: str, **fields: str) -> None:
        self.site.update_user(user_id, **fields)

    def delete_user(self, user_id: str) -> None:
        self.site.delete_user(user_id)

    def missing_id(self) -> str:
        return "987654321"


def remote_adapter(site: FlaskSite, url: str, **options: Any) -> FlaskLoginAdapter:
    settings: dict[str, Any] = {
        "secret_key": SECRET,
        "max_age": LIFETIME.total_seconds(),
        "database_url": url,
        "user_table": site.table,
        "name_column": "name",
        "language_column": "language",
        "registered_column": "registered_at",
        "active_column": "active",
        "page_size": 7,
    }
    settings.update(options)
    return FlaskLoginAdapter(**settings)


@pytest.fixture
def site_factory(tmp_path: Any) -> Iterator[Any]:
    made: list[FlaskSite] = []

    def factory(kind: str = "sqlite", **options: Any) -> tuple[FlaskSite, str]:
        url = site_url(kind, tmp_path)
        table = f"fl_users_{uuid.uuid4().hex[:10]}"
        options.setdefault("lifetime", LIFETIME)
        site = make_site(url, table=table, secret_key=SECRET, **options)
        made.append(site)
        return site, url

    yield factory
    for site in made:
        site.drop()


class TestRemoteContract(AdapterContract):
    @pytest.fixture(params=["sqlite", "postgres"])
    def world(self, request: pytest.FixtureRequest, site_factory: Any) -> FlaskWorld:
        site, url = site_factory(request.param)
        return FlaskWorld(site, remote_adapter(site, url))


class TestInProcessContract(AdapterContract):
    @pytest.fixture
    def world(self, site_factory: Any) -> FlaskWorld:
        site, _ = site_factory()
        adapter = FlaskLoginAdapter(app=site.app, users_query=site.users_query, page_size=7)
        return FlaskWorld(site, adapter)


@pytest.fixture(params=["remote", "in-process"])
def world(request: pytest.FixtureRequest, site_factory: Any) -> FlaskWorld:
    site, url = site_factory()
    if request.param == "remote":
        return FlaskWorld(site, remote_adapter(site, url))
    return FlaskWorld(site, FlaskLoginAdapter(app=site.app, users_query=site.users_query))


def test_a_replayed_cookie_outlives_logout_as_it_does_for_flask(world: FlaskWorld) -> None:
    # The documented limitation of cookie sessions, pinned: the app accepts the old cookie too.
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    kept = dict(session)  # a copy someone kept before logout
    world.logout(session)
    assert world.adapter.identify(request(session)) is None
    assert world.adapter.identify(request(kept)) == user
    replay = world.site.app.test_client()
    replay.set_cookie("session", kept["HTTP_COOKIE"].removeprefix("session="))
    assert replay.get("/me").text == user


def test_the_app_itself_refuses_the_expired_cookie(world: FlaskWorld) -> None:
    user = world.create_user(email="ada@example.com", name="Ada")
    browser = world.site.app.test_client()
    browser.set_cookie("session", world.expired(user)["HTTP_COOKIE"].removeprefix("session="))
    assert browser.get("/me").text == "anonymous"


def test_deactivated_users_are_nobody(world: FlaskWorld) -> None:
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    world.site.update_user(user, active=False)
    assert world.adapter.identify(request(session)) is None


def test_remember_me_cookie_logs_in_once_the_session_is_gone(site_factory: Any) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url, remember_cookie=True))
    user = world.create_user(email="ada@example.com", name="Ada")
    browser = site.app.test_client()
    response = browser.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD, "remember": "1"}
    )
    token = set_cookie(response, "remember_token")
    assert token
    # the browser was closed: the session cookie is gone, the remember-me cookie is not
    assert world.adapter.identify(request(cookies(remember_token=token))) == user
    in_process = FlaskLoginAdapter(app=site.app)
    assert in_process.identify(request(cookies(remember_token=token))) == user
    forged = token.rsplit("|", 1)[0] + "|" + "0" * 128
    assert world.adapter.identify(request(cookies(remember_token=forged))) is None
    assert in_process.identify(request(cookies(remember_token=forged))) is None
    # not asked for in remote mode: ignored
    plain = remote_adapter(site, url)
    assert plain.identify(request(cookies(remember_token=token))) is None


@pytest.mark.parametrize("mode", ["remote", "in-process"])
def test_strong_session_protection_refuses_another_browser(site_factory: Any, mode: str) -> None:
    site, url = site_factory(session_protection="strong")
    adapter = (
        remote_adapter(site, url, session_protection="strong")
        if mode == "remote"
        else FlaskLoginAdapter(app=site.app)
    )
    world = FlaskWorld(site, adapter)
    user = world.create_user(email="ada@example.com", name="Ada")
    browser = site.app.test_client()
    agent = {"User-Agent": "Firefox/140"}
    response = browser.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD}, headers=agent
    )
    session = cookies(session=set_cookie(response, "session") or "")
    same = {**session, "HTTP_USER_AGENT": "Firefox/140"}
    other = {**session, "HTTP_USER_AGENT": "curl/8"}
    assert adapter.identify(request(same)) == user
    assert adapter.identify(request(other)) is None
    assert adapter.credential(request(same)) != adapter.credential(request(other))


def test_session_identifier_is_flask_logins() -> None:
    from flask import Flask
    from flask_login.utils import _create_identifier

    app = Flask(__name__)
    headers = {"User-Agent": "Mozilla/5.0 (caf\u00e9)", "X-Forwarded-For": "203.0.113.9, 10.0.0.1"}
    for extra in ({}, headers):
        with app.test_request_context("/", headers=extra, environ_base={"REMOTE_ADDR": "10.1.1.1"}):
            from flask import request as flask_request

            assert session_identifier(flask_request.environ) == _create_identifier()


def test_rotated_secret_keys_keep_old_sessions(site_factory: Any) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url))
    user = world.create_user(email="ada@example.com", name="Ada")
    old = cookies(session=flask_serializer(OLD_SECRET).dumps({"_user_id": user, "_fresh": True}))
    assert world.adapter.identify(request(old)) is None
    rotated = remote_adapter(site, url, fallback_secret_keys=[OLD_SECRET])
    assert rotated.identify(request(old)) == user
    assert rotated.identify(request(world.login(user))) == user


def test_a_session_cookie_set_by_the_app_after_rotation_is_accepted(site_factory: Any) -> None:
    site, url = site_factory(fallback_keys=[OLD_SECRET])
    world = FlaskWorld(site, remote_adapter(site, url, fallback_secret_keys=[OLD_SECRET]))
    user = world.create_user(email="ada@example.com", name="Ada")
    assert world.adapter.identify(request(world.login(user))) == user


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("42", "42"),
        (42, "42"),
        ({" u": "12345678123456781234567812345678"}, "12345678-1234-5678-1234-567812345678"),
        ({" b": "NDI="}, "42"),
        ({" b": "not base64!"}, None),
        ({" t": ["4", "2"]}, None),
        (True, None),
        (None, None),
        ([], None),
    ],
    ids=[
        "text",
        "number",
        "uuid-tag",
        "bytes-tag",
        "bad-bytes-tag",
        "tuple-tag",
        "bool",
        "null",
        "list",
    ],
)
def test_tagged_user_ids(stored: Any, expected: str | None) -> None:
    assert tagged_text(stored) == expected


def test_a_one_key_session_flask_escaped_is_read(site_factory: Any) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url))
    user = world.create_user(email="ada@example.com", name="Ada")
    value = flask_serializer(SECRET).dumps({"_user_id": user})
    assert world.adapter.identify(request(cookies(session=value))) == user
    # Flask wraps a one-key dict whose key looks like a tag; such a session has no user
    escaped = flask_serializer(SECRET).dumps({" t": "x"})
    assert world.adapter.identify(request(cookies(session=escaped))) is None


def test_database_errors_are_an_outage_and_not_leaked(
    site_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url))
    user = world.create_user(email="ada@example.com", name="Ada")
    session = world.login(user)
    broken = remote_adapter(site, url, user_table="no_such_table")
    with pytest.raises(IdentityUnavailable) as caught:  # the gate answers 503, not "sign in"
        broken.identify(request(session))
    value = session["HTTP_COOKIE"].removeprefix("session=")
    assert value not in caplog.text
    assert value not in str(caught.value)


def test_the_in_process_request_is_not_touched(site_factory: Any) -> None:
    site, _ = site_factory()
    world = FlaskWorld(site, FlaskLoginAdapter(app=site.app))
    user = world.create_user(email="ada@example.com", name="Ada")
    environ = request(world.login(user))
    before = dict(environ)
    assert world.adapter.identify(environ) == user
    assert environ == before


def test_in_process_app_given_as_module_colon_name(
    site_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, _ = site_factory()
    module = types.ModuleType("bridge_test_flask_site")
    module.app = site.app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    world = FlaskWorld(site, FlaskLoginAdapter(app="bridge_test_flask_site:app"))
    user = world.create_user(email="ada@example.com", name="Ada")
    assert world.adapter.identify(request(world.login(user))) == user


def test_in_process_without_a_user_listing_says_how_to_add_one(site_factory: Any) -> None:
    site, _ = site_factory()
    with pytest.raises(NotImplementedError, match="users_query"):
        FlaskLoginAdapter(app=site.app).iter_users()


def test_memo_in_front_of_the_adapter(site_factory: Any) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url))
    user = world.create_user(email="ada@example.com", name="Ada")
    now = [0.0]
    memo = MemoisedIdentity(world.adapter, ttl=30, timer=lambda: now[0])
    session = world.login(user)
    assert memo.identify(request(session)) == user
    world.delete_user(user)
    assert memo.identify(request(session)) == user  # revocation honoured within the TTL...
    now[0] = 31
    assert memo.identify(request(session)) is None  # ...not later


def test_flask_is_not_imported_by_the_module() -> None:
    import subprocess

    code = (
        "import sys, cms_adapters.flask_login, cms_adapters.sql; "
        "assert 'flask' not in sys.modules and 'flask_login' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "secret_key"),
        ({"secret_key": SECRET}, "users table"),
        ({"secret_key": SECRET, "user_table": "users"}, "database_url"),
        (
            {
                "secret_key": SECRET,
                "user_table": "u",
                "database_url": "sqlite://",
                "session_protection": "paranoid",
            },
            "session_protection",
        ),
        (
            {"secret_key": SECRET, "user_table": "u", "database_url": "sqlite://", "max_age": "1x"},
            "duration",
        ),
    ],
    ids=["nothing", "no-table", "no-url", "bad-protection", "bad-max-age"],
)
def test_settings_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlaskLoginAdapter(**options)


def test_in_process_wins_over_a_secret_from_the_environment(site_factory: Any) -> None:
    site, _ = site_factory()
    adapter = FlaskLoginAdapter(app=site.app, secret_key=SECRET)
    assert adapter.remote is None
    world = FlaskWorld(site, adapter)
    user = world.create_user(email="ada@example.com", name="Ada")
    assert adapter.identify(request(world.login(user))) == user


def test_registry_builds_it_when_registered() -> None:
    from cms_adapters import registry

    if "flask_login" not in registry.adapter_kinds():
        pytest.skip("flask_login is not in cms_adapters/registry.py yet (lines in the report)")
    config = AdapterConfig(
        kind="flask_login",
        options={"user_table": "users", "database_url": "sqlite://", "max_age": "2h"},
    )
    adapter = registry.build_adapter(config, env={"BRIDGE_FLASK_SECRET_KEY": SECRET})
    assert isinstance(adapter, FlaskLoginAdapter)
    assert adapter.remote is not None
    assert adapter.remote.max_age == 7200
    with pytest.raises(ConfigError):
        registry.build_adapter(AdapterConfig(kind="flask_login"), env={})


def test_users_table_is_read_without_loading_it_whole(site_factory: Any) -> None:
    site, url = site_factory()
    world = FlaskWorld(site, remote_adapter(site, url, page_size=3))
    ids = [world.create_user(email=f"u{i}@example.com", name=f"U{i}") for i in range(10)]
    statements: list[str] = []
    engine = world.adapter.users.engine  # type: ignore[union-attr]
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert [u.id for u in world.adapter.iter_users()] == ids
    selects = [s for s in statements if "LIMIT" in s.upper()]
    assert len(selects) == 4  # 3 + 3 + 3 + 1
