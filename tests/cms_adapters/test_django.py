"""The Django adapter, both modes, on SQLite and PostgreSQL, against a real Django project.

The contract and the Django-specific cases live in ``django_project/suite_adapter.py``; each run
here gets a fresh database and its own process (Django's settings are configured once per
process, and the rest of this suite must not see them). The pure parts (session format, cookie
parsing, settings) are tested here directly: they import no Django.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import AdapterConfig
from cms_adapters.base import IdentityUnavailable
from cms_adapters.django import django_adapter, session_data
from cms_adapters.django.remote import RemoteDjangoAdapter, user_pk
from tests.cms_adapters.django_project.harness import DATABASES, run_suite

MODES = {"in_process": "TestInProcess", "remote": "TestRemote"}


@pytest.mark.services
@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("mode", list(MODES))
def test_adapter_contract(mode: str, database: str, tmp_path: Path) -> None:
    counts = run_suite("suite_adapter.py", database, tmp_path, "-k", MODES[mode])
    assert counts["passed"] >= 30, counts
    assert not counts.get("skipped"), counts


@pytest.mark.parametrize("engine", ["cached_db", "cache", "file", "signed_cookies"])
def test_in_process_with_any_session_engine(engine: str, tmp_path: Path) -> None:
    counts = run_suite(
        "suite_adapter.py",
        "sqlite",
        tmp_path,
        "-k",
        "TestAnyEngine",
        BRIDGE_TEST_DJANGO_SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}",
    )
    assert counts["passed"] >= 4, counts


def test_importing_the_adapter_imports_no_django_nor_sqlalchemy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cms_adapters.django;"
        "bad = ('django', 'sqlalchemy');"
        "sys.exit(any(m.split('.')[0] in bad for m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sessionid=abcdefgh12345678", "abcdefgh12345678"),
        ("a=1; sessionid=abcdefgh12345678; b=2", "abcdefgh12345678"),
        ('sessionid="abcdefgh12345678"', "abcdefgh12345678"),
        ("sessionid=first1234; sessionid=second123", "second123"),
        ("xsessionid=abcdefgh12345678", None),
        ("sessionid=short", None),
        ("sessionid=" + "a" * 5000, None),
        ("sessionid=abc defgh12345678", None),
        ("sessionid=abcdefgh\x0012345678", None),
        ("sessionid=abcdéfgh12345678", None),
        ("sessionid", None),
        ("", None),
    ],
    ids=[
        "plain",
        "among-others",
        "quoted",
        "last-wins",
        "other-name",
        "too-short",
        "huge",
        "space",
        "nul",
        "non-ascii",
        "no-value",
        "empty",
    ],
)
def test_session_cookie(header: str, expected: str | None) -> None:
    assert session_data.session_key({"HTTP_COOKIE": header}, "sessionid") == expected


def test_session_data_round_trip_and_forgery() -> None:
    data = {"_auth_user_id": "7", "_auth_user_hash": "h", "big": "x" * 300}
    encoded = session_data.dumps(data, "key-1")
    assert encoded.startswith(".")  # compressed, as Django does when it pays
    assert session_data.loads(encoded, ["key-0", "key-1"]) == data
    assert session_data.loads(encoded, ["key-2"]) is None
    payload, timestamp, signature = encoded.rsplit(":", 2)
    assert session_data.loads(f"{payload}x:{timestamp}:{signature}", ["key-1"]) is None
    assert session_data.loads(f"{payload}:{timestamp}:{signature[:-1]}", ["key-1"]) is None


@pytest.mark.parametrize(
    "value", ["", "nocolon", "::", "a:b:c", "é:é:é", "x" * 10_000, None, b"a:b:c"]
)
def test_session_data_garbage_is_none(value: Any) -> None:
    assert session_data.loads(value, ["key"]) is None


#: Vectors printed by Django 5.2 itself: ``AbstractBaseUser._get_session_auth_hash(secret=...)``
#: and ``signing.dumps(..., salt="django.contrib.sessions.SessionStore", compress=True)``.
DJANGO_PASSWORD = "md5$salt$0123456789abcdef0123456789abcdef"
DJANGO_AUTH_HASH = "69f0c931a284ebfdec41593afcb3a94d42ad890b022474667de2fc7be98d84c8"
DJANGO_SESSION = (
    ".eJyrVopPLC3JiC8tTi2Kz0xRslIyV9JBFstILM4AimYo1QIATcQO1Q:1r31eq:"
    "2HEylAThADUg1MnfK6WcGKDAwSju1F5PmpPeXvhabgw"
)


def test_django_vectors() -> None:
    assert session_data.session_auth_hash(DJANGO_PASSWORD, "secret") == DJANGO_AUTH_HASH
    expected = {"_auth_user_id": "7", "_auth_user_hash": "h"}
    assert session_data.loads(DJANGO_SESSION, ["secret"]) == expected
    assert session_data.loads(DJANGO_SESSION, ["Secret"]) is None


def test_auth_hash_matches_any_secret_and_nothing_else() -> None:
    assert session_data.auth_hash_matches(DJANGO_AUTH_HASH, DJANGO_PASSWORD, ["old", "secret"])
    assert not session_data.auth_hash_matches(DJANGO_AUTH_HASH, DJANGO_PASSWORD, ["old"])
    assert not session_data.auth_hash_matches(DJANGO_AUTH_HASH, "", ["secret"])
    for bad in ("", None, "é", DJANGO_AUTH_HASH[:-1], 42):
        assert not session_data.auth_hash_matches(bad, DJANGO_PASSWORD, ["secret"])


@pytest.mark.parametrize(
    ("value", "pk"),
    [
        ("1", 1),
        ("42", 42),
        ("0", None),
        ("-1", None),
        ("1.5", None),
        ("٣", None),
        ("9" * 19, None),
        (str(2**63 - 1), 2**63 - 1),
        ("", None),
        (None, None),
    ],
)
def test_user_pk(value: Any, pk: int | None) -> None:
    assert user_pk(value) == pk


def test_remote_settings_from_adapter_config(tmp_path: Path) -> None:
    """What ``[adapter]`` options become, as the registry passes them."""
    options = AdapterConfig(
        kind="django",
        options={
            "mode": "remote",
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "secret_key": "k" * 50,
            "session_table": "site.sessions",
            "user_table": "people",
        },
    ).options
    adapter = django_adapter(**options)
    assert isinstance(adapter, RemoteDjangoAdapter)
    assert adapter.sessions.schema == "site"
    assert adapter.sessions.name == "sessions"
    assert adapter.users.name == "people"
    assert adapter.cookie_name == "sessionid"
    with pytest.raises(IdentityUnavailable):  # no such table: an outage, not "nobody"
        adapter.identify({"HTTP_COOKIE": "sessionid=abcdefgh12345678"})


def test_registry_builds_it_when_registered(tmp_path: Path) -> None:
    from bridge.errors import ConfigError
    from cms_adapters import registry
    from cms_adapters.django import InProcessDjangoAdapter

    if "django" not in registry.FACTORIES:
        pytest.skip("django is not in cms_adapters/registry.py yet (lines in the report)")
    env = {
        "DJANGO_SECRET_KEY": "k" * 50,
        "BRIDGE_DJANGO_DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}",
    }
    remote = registry.build_adapter(
        AdapterConfig(kind="django", options={"mode": "remote"}), env=env
    )
    assert isinstance(remote, RemoteDjangoAdapter)
    assert remote.secrets == ("k" * 50,)
    in_process = registry.build_adapter(AdapterConfig(kind="django"), env=env)
    assert isinstance(in_process, InProcessDjangoAdapter)
    with pytest.raises(ConfigError):
        registry.build_adapter(AdapterConfig(kind="django", options={"mode": "elsewhere"}), env={})
    with pytest.raises(ConfigError):
        registry.build_adapter(AdapterConfig(kind="django", options={"user_tabel": "u"}), env={})
