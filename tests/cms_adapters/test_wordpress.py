"""The WordPress adapter: WordPress's own login cookie and user tables, on SQLite and MariaDB."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from bridge.config import AdapterConfig
from bridge.errors import ConfigError
from cms_adapters import registry
from cms_adapters import wordpress as wordpress_module
from cms_adapters.base import Adapter, IdentityUnavailable, MemoisedIdentity
from cms_adapters.wordpress import WordPressAdapter, php_cookie, session_is_live
from tests.cms_adapters.contract import AdapterContract, request
from tests.cms_adapters.wordpress_fixtures import (
    GARBAGE_IDS,
    LOGGED_IN_KEY,
    LOGGED_IN_SALT,
    NOW,
    PHP_VECTOR_SCRIPT,
    SITE_URL,
    TWO_DAYS,
    VECTOR,
    WordPressWorld,
    create_session,
    dump_sessions,
    garbage_cases,
    load_sessions,
    setcookie_value,
    unique_prefix,
    verifier,
    wordpress_database,
    wp_generate_auth_cookie,
    wp_hash,
    wp_salt_logged_in,
)
from tests.services import require_mariadb, require_wordpress_php


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.services)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WordPressWorld]:
    """A WordPress user store on each database WordPress runs on."""
    url = f"sqlite:///{tmp_path / 'wordpress.db'}" if request.param == "sqlite" else None
    url = url or require_mariadb()
    prefix = unique_prefix()
    with wordpress_database(url, prefix) as engine:
        yield WordPressWorld(engine, prefix)


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[WordPressWorld]:
    prefix = unique_prefix()
    with wordpress_database(f"sqlite:///{tmp_path / 'wordpress.db'}", prefix) as engine:
        yield WordPressWorld(engine, prefix)


class TestContractOnSQLite(AdapterContract):
    @pytest.fixture
    def world(self, tmp_path: Path) -> Iterator[WordPressWorld]:
        prefix = unique_prefix()
        with wordpress_database(f"sqlite:///{tmp_path / 'wp.db'}", prefix) as engine:
            yield WordPressWorld(engine, prefix)


@pytest.mark.services
class TestContractOnMariaDB(AdapterContract):
    @pytest.fixture
    def world(self) -> Iterator[WordPressWorld]:
        url = require_mariadb()
        prefix = unique_prefix()
        with wordpress_database(url, prefix) as engine:
            yield WordPressWorld(engine, prefix)


# --- the generator against WordPress's own PHP --------------------------------------------------


def test_generator_matches_the_vectors_wordpress_computed() -> None:
    salt = wp_salt_logged_in(LOGGED_IN_KEY, LOGGED_IN_SALT)
    assert wp_hash("data", salt) == VECTOR["wp_hash_of_data"]
    cookie = wp_generate_auth_cookie(
        str(VECTOR["user_login"]),
        str(VECTOR["user_pass"]),
        int(str(VECTOR["expiration"])),
        str(VECTOR["token"]),
        key=LOGGED_IN_KEY,
        salt=LOGGED_IN_SALT,
    )
    assert cookie == VECTOR["cookie"]
    assert setcookie_value(cookie) == VECTOR["set_cookie_value"]
    meta = create_session(
        None,
        str(VECTOR["token"]),
        int(str(VECTOR["expiration"])),
        login=int(str(VECTOR["login"])),
        ip=str(VECTOR["ip"]),
        ua=str(VECTOR["ua"]),
    )
    assert meta == VECTOR["session_tokens"]


@pytest.mark.services
def test_generator_matches_wordpress_php_when_installed(tmp_path: Path) -> None:
    php, wordpress = require_wordpress_php()
    script = tmp_path / "vectors.php"
    script.write_text(PHP_VECTOR_SCRIPT.replace("/usr/share/wordpress/", f"{wordpress}/"))
    out = json.loads(subprocess.run([php, str(script)], capture_output=True, check=True).stdout)
    assert out["validates"] == VECTOR["user_id"]  # WordPress accepts its own cookie
    for key in ("cookiehash", "wp_hash_of_data", "token", "cookie", "set_cookie_value"):
        assert out[key] == VECTOR[key], key
    meta = create_session(
        None,
        out["token"],
        int(str(VECTOR["expiration"])),
        login=out["login"],
        ip=str(VECTOR["ip"]),
        ua=str(VECTOR["ua"]),
    )
    assert meta == out["session_tokens"]


def test_adapter_accepts_the_cookie_wordpress_made(sqlite_world: WordPressWorld) -> None:
    world = sqlite_world
    world.sql(
        "INSERT INTO wp_users (ID, user_login, user_pass, user_email, user_registered,"
        " display_name) VALUES (7, :login, :pw, 'ada@example.com', '2026-11-22 00:00:00', 'Ada')",
        login=VECTOR["user_login"],
        pw=VECTOR["user_pass"],
    )
    world.add_meta("7", "session_tokens", str(VECTOR["session_tokens"]))
    assert world.adapter.cookie_name == f"wordpress_logged_in_{VECTOR['cookiehash']}"
    as_sent = {"HTTP_COOKIE": f"{world.adapter.cookie_name}={VECTOR['set_cookie_value']}"}
    assert world.adapter.identify(request(as_sent)) == "7"
    unencoded = {"HTTP_COOKIE": f"{world.adapter.cookie_name}={VECTOR['cookie']}"}
    assert world.adapter.identify(request(unencoded)) == "7"
    world.now = int(str(VECTOR["expiration"])) + 1
    assert world.adapter.identify(request(as_sent)) is None


def test_cookie_name_follows_the_site_url_or_the_given_cookie_hash(
    sqlite_world: WordPressWorld,
) -> None:
    hashed = f"wordpress_logged_in_{VECTOR['cookiehash']}"
    assert sqlite_world.make_adapter(site_url=f"{SITE_URL}/").cookie_name == hashed
    explicit = sqlite_world.make_adapter(site_url=None, cookie_hash="abc123")
    assert explicit.cookie_name == "wordpress_logged_in_abc123"


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", GARBAGE_IDS)
def test_bad_cookies_are_nobody(any_world: WordPressWorld, case: str) -> None:
    cases = garbage_cases(any_world)
    assert tuple(cases) == GARBAGE_IDS
    assert any_world.adapter.identify(request(cases[case])) is None


@pytest.mark.parametrize(
    "meta",
    [
        "not serialized",
        'a:1:{s:64:"',
        's:5:"hello";',
        "i:42;",
        "b:0;",
        'a:1:{s:3:"abc";i:1;}',
        'O:8:"stdClass":0:{}',
        "a:99999999:{}",
    ],
    ids=[
        "garbage-text",
        "truncated",
        "a-string",
        "an-integer",
        "false",
        "other-tokens-only",
        "an-object",
        "absurd-count",
    ],
)
def test_corrupt_session_tokens_are_nobody(sqlite_world: WordPressWorld, meta: str) -> None:
    user = sqlite_world.create_user(email="ada@example.com", name="Ada")
    session = sqlite_world.login(user)
    sqlite_world.set_meta(user, "session_tokens", meta)
    assert sqlite_world.adapter.identify(request(session)) is None


@pytest.mark.parametrize(
    ("session", "live"),
    [
        ({b"expiration": NOW}, True),
        ({b"expiration": NOW - 1}, False),
        (NOW + 60, True),  # before WordPress 4.0.1 a session was just its expiration
        (NOW - 60, False),
        ({b"expiration": str(NOW + 60).encode()}, True),
        ({b"expiration": b"later"}, False),
        ({b"login": NOW}, False),
        ({}, False),
        ("a string", False),
    ],
    ids=[
        "expires-this-second",
        "expired-a-second-ago",
        "legacy-integer-live",
        "legacy-integer-expired",
        "numeric-string-expiration",
        "text-expiration",
        "no-expiration",
        "empty-session",
        "not-an-array",
    ],
)
def test_session_token_validity(session: Any, live: bool) -> None:
    meta = dump_sessions({verifier("tok").encode(): session})
    assert session_is_live(meta, "tok", NOW) is live
    assert session_is_live(meta, "another", NOW) is False


def test_a_database_error_is_logged_and_is_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no WordPress tables
    world = WordPressWorld.__new__(WordPressWorld)
    world.engine, world.prefix, world.now = empty, "wp_", NOW
    adapter = world.make_adapter()
    cookie = wp_generate_auth_cookie(
        "ada", "$P$Babcdefghijklmnop", NOW + 60, "t" * 43, key=LOGGED_IN_KEY, salt=LOGGED_IN_SALT
    )
    with (
        caplog.at_level(logging.WARNING, logger="cms_adapters.wordpress"),
        pytest.raises(IdentityUnavailable),  # the gate answers 503, not "sign in"
    ):
        adapter.identify(request(world.environ_for(cookie)))
    assert "cannot check a login cookie" in caplog.text
    with pytest.raises(SQLAlchemyError):  # a sync must not take an outage for deleted users
        adapter.get_user("1")


# --- WordPress's rules, one by one ----------------------------------------------------------------


def test_the_cookie_is_valid_up_to_its_expiration_second(any_world: WordPressWorld) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada")
    expiration = NOW + 100
    session = any_world.environ_for(any_world.cookie_for(user, expiration=expiration))
    any_world.now = expiration
    assert any_world.adapter.identify(request(session)) == user
    any_world.now = expiration + 1
    assert any_world.adapter.identify(request(session)) is None


@pytest.mark.parametrize(
    ("method", "path", "late", "identified"),
    [
        ("GET", "/", 1800, False),
        ("POST", "/wp-comments-post.php", 1800, True),
        ("GET", "/wp-admin/admin-ajax.php", 1800, True),
        ("POST", "/", 3601, False),
    ],
    ids=["get-after-expiry", "post-in-grace-hour", "ajax-in-grace-hour", "post-after-grace-hour"],
)
def test_post_and_ajax_get_wordpress_grace_hour(
    sqlite_world: WordPressWorld, method: str, path: str, late: int, identified: bool
) -> None:
    user = sqlite_world.create_user(email="ada@example.com", name="Ada")
    cookie = sqlite_world.cookie_for(user, expiration=NOW, session_expiration=NOW + 7200)
    sqlite_world.now = NOW + late
    env = request(sqlite_world.environ_for(cookie)) | {"REQUEST_METHOD": method, "PATH_INFO": path}
    assert (sqlite_world.adapter.identify(env) == user) is identified


def test_an_expired_session_token_is_nobody_even_with_a_live_cookie(
    any_world: WordPressWorld,
) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada")
    cookie = any_world.cookie_for(user, expiration=NOW + TWO_DAYS, session_expiration=NOW + 10)
    any_world.now = NOW + 11
    assert any_world.adapter.identify(request(any_world.environ_for(cookie))) is None


def test_logout_ends_one_session_and_log_out_everywhere_ends_all(
    any_world: WordPressWorld,
) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada")
    laptop, phone = any_world.login(user), any_world.login(user)
    any_world.logout(laptop)
    assert any_world.adapter.identify(request(laptop)) is None
    assert any_world.adapter.identify(request(phone)) == user
    any_world.set_meta(user, "session_tokens", None)  # WP_Session_Tokens::destroy_all
    assert any_world.adapter.identify(request(phone)) is None


def test_a_password_change_ends_every_session(any_world: WordPressWorld) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada")
    session = any_world.login(user)
    any_world.sql("UPDATE wp_users SET user_pass = :p WHERE ID = :i", p="$P$Bnewpasshash", i=user)
    assert any_world.adapter.identify(request(session)) is None


def test_another_users_name_in_a_cookie_is_nobody(any_world: WordPressWorld) -> None:
    ada = any_world.create_user(email="ada@example.com", name="Ada")
    any_world.create_user(email="bob@example.com", name="Bob")
    _, expiration, token, mac = any_world.cookie_in(any_world.login(ada)).split("|")
    forged = any_world.environ_for(f"bob@example.com|{expiration}|{token}|{mac}")
    assert any_world.adapter.identify(request(forged)) is None


@pytest.mark.parametrize(
    "login",
    ["Ada Lovelace", "o'brien+tag@example.com", "zoé", "a%7Cb"],
    ids=["space", "quote-and-plus", "non-ascii", "literal-percent"],
)
def test_logins_wordpress_allows_survive_the_cookie_encoding(
    any_world: WordPressWorld, login: str
) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada", login=login)
    assert any_world.adapter.identify(request(any_world.login(user))) == user


def test_cookies_signed_with_other_keys_are_nobody(sqlite_world: WordPressWorld) -> None:
    user = sqlite_world.create_user(email="ada@example.com", name="Ada")
    session = sqlite_world.login(user)
    other = sqlite_world.make_adapter(logged_in_salt="another site's salt")
    assert other.identify(request(session)) is None
    assert sqlite_world.adapter.identify(request(session)) == user


def test_cookie_header_is_read_as_php_reads_it(sqlite_world: WordPressWorld) -> None:
    user = sqlite_world.create_user(email="ada@example.com", name="Ada")
    value = setcookie_value(sqlite_world.cookie_for(user))
    name = sqlite_world.cookie_name
    first_wins = {"HTTP_COOKIE": f"{name}=stale; {name}={value}"}
    assert sqlite_world.adapter.identify(request(first_wins)) is None
    mangled = {"HTTP_COOKIE": f"a=1;{name.replace('_in_', '_in.')}={value}"}
    assert sqlite_world.adapter.identify(request(mangled)) == user
    assert php_cookie(f"x=1;  {name}=a+b%7C", name) == "a+b%7C"
    zoe = sqlite_world.create_user(email="zoe@example.com", name="Zoé", login="zoé")
    utf8_unencoded = sqlite_world.cookie_for(zoe).encode().decode("latin-1")  # WSGI's latin-1
    assert (
        sqlite_world.adapter.identify(request({"HTTP_COOKIE": f"{name}={utf8_unencoded}"})) == zoe
    )


def test_identities_are_memoised_per_cookie(sqlite_world: WordPressWorld) -> None:
    user = sqlite_world.create_user(email="ada@example.com", name="Ada")
    session = sqlite_world.login(user)
    memo = MemoisedIdentity(sqlite_world.adapter, ttl=30, timer=lambda: sqlite_world.now)
    assert memo.identify(request(session)) == user
    sqlite_world.logout(session)
    assert memo.identify(request(session)) == user  # revocation is honoured after the TTL
    sqlite_world.now += 31
    assert memo.identify(request(session)) is None


# --- users ----------------------------------------------------------------------------------------


def test_profile_fields_come_from_wp_users_and_the_locale_meta(any_world: WordPressWorld) -> None:
    registered = datetime(2024, 2, 29, 13, 45, 7, tzinfo=UTC)
    user = any_world.create_user(
        email="zoe@example.com", name="Zoé Ça", language="fr", registered=registered
    )
    found = any_world.adapter.get_user(user)
    assert found is not None
    assert (found.id, found.email, found.name, found.language) == (
        user,
        "zoe@example.com",
        "Zoé Ça",
        "fr_FR",
    )
    assert found.registered_at == registered
    default_locale = any_world.create_user(email="bob@example.com", name="Bob")
    assert any_world.adapter.get_user(default_locale).language is None  # type: ignore[union-attr]


def test_a_zero_registration_date_is_unknown(any_world: WordPressWorld) -> None:
    user = any_world.create_user(email="old@example.com", name="Old")
    any_world.sql(
        "UPDATE wp_users SET user_registered = '0000-00-00 00:00:00' WHERE ID = :i", i=user
    )
    found = any_world.adapter.get_user(user)
    assert found is not None
    assert found.registered_at is None


@pytest.mark.parametrize("user_id", ["", "abc", "-1", "1.0", chr(0x661), "9" * 40])
def test_get_user_of_a_malformed_id_is_none(sqlite_world: WordPressWorld, user_id: str) -> None:
    sqlite_world.create_user(email="ada@example.com", name="Ada")
    assert sqlite_world.adapter.get_user(user_id) is None


def test_iter_users_pages_by_id_and_streams(
    any_world: WordPressWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wordpress_module, "BATCH_SIZE", 3)
    adapter = any_world.make_adapter()
    ids = [any_world.create_user(email=f"u{i}@example.com", name=f"U{i}") for i in range(10)]
    queries: list[tuple[str, Any]] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        queries.append((statement, parameters))

    event.listen(any_world.engine, "before_cursor_execute", count)
    try:
        users = adapter.iter_users()
        first = next(users)
        assert len(queries) == 1, "the first user comes before the other batches are read"
        rest = list(users)
    finally:
        event.remove(any_world.engine, "before_cursor_execute", count)
    assert [first.id] + [u.id for u in rest] == ids
    assert len(queries) == 4  # 3 + 3 + 3 + 1
    # keyset pages: each query starts after the last id of the previous page, none skips rows
    for (statement, parameters), after in zip(queries, [0, ids[2], ids[5], ids[8]], strict=True):
        assert 'ID" >' in statement or "ID` >" in statement
        values = parameters.values() if isinstance(parameters, dict) else parameters
        assert int(after) in tuple(values)


def test_iter_users_since_keeps_users_registered_from_then(any_world: WordPressWorld) -> None:
    day = datetime(2025, 1, 1, tzinfo=UTC)
    old = any_world.create_user(email="old@example.com", name="Old", registered=day)
    new = any_world.create_user(
        email="new@example.com", name="New", registered=day + timedelta(days=2)
    )
    since = day + timedelta(days=1)
    assert [u.id for u in any_world.adapter.iter_users(since=since)] == [new]
    naive_utc = since.replace(tzinfo=None)
    assert [u.id for u in any_world.adapter.iter_users(since=naive_utc)] == [new]
    paris = (day + timedelta(days=2)).astimezone(timezone(timedelta(hours=1)))
    assert [u.id for u in any_world.adapter.iter_users(since=paris)] == [new]
    assert [u.id for u in any_world.adapter.iter_users()] == [old, new]


def test_multisite_reads_users_at_the_network_prefix(any_world: WordPressWorld) -> None:
    user = any_world.create_user(email="ada@example.com", name="Ada", language="de")
    session = any_world.login(user)
    site_two = any_world.make_adapter(
        table_prefix=f"{any_world.prefix}2_", users_prefix=any_world.prefix
    )
    assert site_two.identify(request(session)) == user
    assert site_two.get_user(user).language == "de_DE"  # type: ignore[union-attr]
    wrong = any_world.make_adapter(table_prefix=f"{any_world.prefix}2_")
    with pytest.raises(IdentityUnavailable):  # no such tables: an outage (503), not "sign in"
        wrong.identify(request(session))


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"logged_in_key": ""}, "logged_in_key is required"),
        ({"logged_in_salt": "put your unique phrase here"}, "placeholder"),
        ({"cookie_hash": "abc"}, "site_url"),
        ({"site_url": None}, "site_url"),
        ({"database_url": "sqlite://"}, "database_url"),
    ],
    ids=["no-key", "placeholder-salt", "site-url-and-cookie-hash", "neither", "url-and-engine"],
)
def test_settings_are_checked(
    sqlite_world: WordPressWorld, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sqlite_world.make_adapter(**overrides)


def test_registry_builds_it_with_secrets_from_the_environment(tmp_path: Path) -> None:
    config = AdapterConfig(
        kind="wordpress", options={"site_url": SITE_URL, "table_prefix": "blog_"}
    )
    env = {
        "BRIDGE_WORDPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'wp.db'}",
        "WORDPRESS_LOGGED_IN_KEY": LOGGED_IN_KEY,
        "WORDPRESS_LOGGED_IN_SALT": LOGGED_IN_SALT,
    }
    adapter = registry.build_adapter(config, env=env)
    assert isinstance(adapter, WordPressAdapter)
    assert isinstance(adapter, Adapter)
    assert adapter.users_prefix == "blog_"
    assert adapter.engine.pool._pre_ping  # type: ignore[attr-defined]
    assert adapter.engine.hide_parameters
    with pytest.raises(ConfigError, match="logged_in_key"):
        registry.build_adapter(config, env={"BRIDGE_WORDPRESS_DATABASE_URL": "sqlite://"})
    typo = AdapterConfig(kind="wordpress", options={"site_ulr": SITE_URL})
    with pytest.raises(ConfigError) as caught:
        registry.build_adapter(typo, env=env)
    assert "site_url" in caught.value.problems[0].hint


def test_sessions_keep_other_users_tokens_when_rewritten() -> None:
    # the generator's own rule (WordPress drops expired sessions when it rewrites the meta)
    first = create_session(None, "a", NOW + 10, login=NOW)
    both = create_session(first, "b", NOW + 10, login=NOW)
    assert set(load_sessions(both)) == {verifier("a").encode(), verifier("b").encode()}
    later = create_session(both, "c", NOW + 100, login=NOW + 50)
    assert set(load_sessions(later)) == {verifier("c").encode()}
