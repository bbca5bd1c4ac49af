"""The signed-cookie adapter: only cookies the site signed, and only while they are young."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from bridge.config import AdapterConfig
from bridge.errors import ConfigError
from cms_adapters.registry import build_adapter
from cms_adapters.signed_cookie import SignedCookieAdapter, cookie_value

SECRET = "site-secret-for-tests-0123456789"


def environ(cookie: str | None) -> dict[str, str]:
    return {"HTTP_COOKIE": cookie} if cookie is not None else {}


@pytest.fixture
def adapter() -> SignedCookieAdapter:
    return SignedCookieAdapter(secret_key=SECRET, max_age=3600)


def test_a_cookie_signed_by_the_site_identifies_the_user(adapter) -> None:
    value = adapter.sign("42")
    assert adapter.identify(environ(f"theme=dark; bridge_user={value}; other=1")) == "42"


def test_another_implementation_of_the_signer_is_accepted(adapter) -> None:
    # what a site in another language computes: the same itsdangerous TimestampSigner scheme
    value = TimestampSigner(SECRET, salt="proabono-bridge.user").sign("7").decode()
    assert adapter.identify(environ(f"bridge_user={value}")) == "7"


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        "bridge_user=",
        "bridge_user=42",
        "bridge_user=42.AAAA.BBBB",
        "bridge_user_other=x",
        "bridge_user=" + "A" * 5000,
        "bridge_user=4\udcff2.x.y",
    ],
    ids=[
        "no-header",
        "empty",
        "empty-value",
        "unsigned",
        "forged",
        "other-name",
        "huge",
        "bad-utf8",
    ],
)
def test_anything_else_is_nobody(adapter, cookie) -> None:
    assert adapter.identify(environ(cookie)) is None


def test_tampered_and_foreign_signatures_are_nobody(adapter) -> None:
    value = adapter.sign("42")
    assert adapter.identify(environ(f"bridge_user={value.replace('42', '43', 1)}")) is None
    other = SignedCookieAdapter(secret_key="another-site-secret-000000").sign("42")
    assert adapter.identify(environ(f"bridge_user={other}")) is None


def test_expired_cookies_are_nobody() -> None:
    signer = TimestampSigner(SECRET, salt="proabono-bridge.user")
    old = signer.sign("42").decode()
    adapter = SignedCookieAdapter(secret_key=SECRET, max_age=3600)
    assert adapter.identify(environ(f"bridge_user={old}")) == "42"

    class Later(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) + 7200

    adapter._signer = Later(SECRET, salt="proabono-bridge.user")  # the clock moved on two hours
    assert adapter.identify(environ(f"bridge_user={old}")) is None


def test_quoted_cookie_values() -> None:
    assert cookie_value('a=1; bridge_user="x.y.z"', "bridge_user") == "x.y.z"


def test_registry_builds_it_with_the_secret_from_the_environment() -> None:
    config = AdapterConfig(kind="signed_cookie", options={"max_age": 60})
    adapter = build_adapter(config, env={"BRIDGE_COOKIE_SECRET": SECRET})
    assert isinstance(adapter, SignedCookieAdapter)
    assert adapter.max_age == 60


def test_registry_reports_unknown_options_with_a_suggestion() -> None:
    config = AdapterConfig(kind="signed_cookie", options={"cookie_nmae": "x", "secret_key": SECRET})
    with pytest.raises(ConfigError) as caught:
        build_adapter(config, env={})
    assert caught.value.problems[0].key == "adapter.cookie_nmae"
    assert "cookie_name" in caught.value.problems[0].hint


def test_registry_names_the_available_adapters_for_an_unknown_kind() -> None:
    with pytest.raises(ConfigError) as caught:
        build_adapter(AdapterConfig(kind="joomla"), env={})
    problem = caught.value.problems[0]
    assert problem.message == "unknown adapter 'joomla'"
    assert "wordpress" in problem.hint
    assert "signed_cookie" in problem.hint


def test_registry_refuses_a_missing_secret() -> None:
    with pytest.raises(ConfigError, match="secret_key"):
        build_adapter(AdapterConfig(kind="signed_cookie"), env={})
