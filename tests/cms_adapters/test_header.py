"""The trusted-header adapter and the identity memo every adapter sits behind."""

from __future__ import annotations

from typing import Any

import pytest

from cms_adapters.base import MemoisedIdentity, SiteUser
from cms_adapters.header import HeaderAdapter


def environ(user: str | None = "alice", addr: str = "10.0.0.5", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {"REMOTE_ADDR": addr}
    if user is not None:
        env["HTTP_X_REMOTE_USER"] = user
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def test_trusted_proxy_address() -> None:
    adapter = HeaderAdapter(trusted_proxies=["10.0.0.0/24"])
    assert adapter.identify(environ()) == "alice"
    assert adapter.identify(environ(addr="10.0.1.5")) is None
    assert adapter.identify(environ(addr="not-an-ip")) is None


def test_shared_secret_from_anywhere() -> None:
    adapter = HeaderAdapter(shared_secret="s3cret-value")
    ok = environ(addr="198.51.100.7", **{"X-Bridge-Proxy-Secret": "s3cret-value"})
    assert adapter.identify(ok) == "alice"
    wrong = environ(addr="198.51.100.7", **{"X-Bridge-Proxy-Secret": "guess"})
    assert adapter.identify(wrong) is None


def test_nothing_configured_trusts_nobody() -> None:
    assert HeaderAdapter().identify(environ(addr="127.0.0.1")) is None


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "x" * 201, "ali\x01ce", "caf\xe9"],  # latin-1 byte that is not UTF-8
    ids=["empty", "blank", "huge", "control", "bad-utf8"],
)
def test_bad_header_values_are_nobody(bad: str) -> None:
    assert HeaderAdapter(trusted_proxies=["10.0.0.5"]).identify(environ(bad)) is None


def test_utf8_user_names() -> None:
    name = "zoé".encode().decode("latin-1")  # how WSGI carries UTF-8 header bytes
    assert HeaderAdapter(trusted_proxies=["10.0.0.5"]).identify(environ(name)) == "zoé"


def test_profile_headers_feed_get_user() -> None:
    adapter = HeaderAdapter(
        trusted_proxies=["10.0.0.5"], email_header="X-Remote-Email", name_header="X-Remote-Name"
    )
    adapter.identify(environ(**{"X-Remote-Email": "a@example.com", "X-Remote-Name": "Alice"}))
    assert adapter.get_user("alice") == SiteUser(id="alice", email="a@example.com", name="Alice")
    assert adapter.get_user("nobody") is None
    assert list(adapter.iter_users()) == []


class CountingAdapter(HeaderAdapter):
    def __init__(self) -> None:
        super().__init__(trusted_proxies=["10.0.0.5"])
        self.checks = 0

    def identify(self, environ: Any) -> str | None:
        self.checks += 1
        return super().identify(environ)


def test_identity_is_memoised_per_credential_for_ttl() -> None:
    now = [0.0]
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter, ttl=30, timer=lambda: now[0])
    for _ in range(10):
        assert memo.identify(environ()) == "alice"
    assert adapter.checks == 1
    assert memo.identify(environ("bob")) == "bob"
    assert adapter.checks == 2
    now[0] = 31.0
    memo.identify(environ())
    assert adapter.checks == 3


def test_requests_without_credential_cost_nothing() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter)
    assert memo.identify(environ(user=None)) is None
    assert adapter.checks == 0


def test_memo_key_includes_the_proxy_address() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter)
    assert memo.identify(environ()) == "alice"
    assert memo.identify(environ(addr="203.0.113.1")) is None, "a forged header from elsewhere"


def test_fingerprint_changes_with_synced_fields() -> None:
    base = SiteUser(id="1", email="a@x", name="A", language="en")
    assert base.fingerprint == SiteUser(id="1", email="a@x", name="A", language="en").fingerprint
    assert base.fingerprint != SiteUser(id="1", email="b@x", name="A", language="en").fingerprint
    assert (
        base.fingerprint != SiteUser(id="1", email="a@x", name="A", extra={"plan": "x"}).fingerprint
    )
