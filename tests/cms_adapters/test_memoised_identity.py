"""MemoisedIdentity: one check per credential per ttl, and none per repeated Cookie header."""

from __future__ import annotations

from typing import Any

from cms_adapters.base import MAX_SOURCE_MEMO, MemoisedIdentity
from cms_adapters.signed_cookie import SignedCookieAdapter


class Timer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingAdapter(SignedCookieAdapter):
    def __init__(self) -> None:
        super().__init__(secret_key="k" * 32)
        self.credentials = 0
        self.checks = 0

    def credential(self, environ: Any) -> str | None:
        self.credentials += 1
        return super().credential(environ)

    def identify(self, environ: Any) -> str | None:
        self.checks += 1
        return super().identify(environ)


def request(cookie: str) -> dict[str, Any]:
    return {"HTTP_COOKIE": cookie}


def test_a_repeated_cookie_header_is_answered_without_parsing_it() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter, ttl=30, timer=Timer())
    header = f"theme=dark; bridge_user={adapter.sign('42')}"

    assert memo.identify(request(header)) == "42"
    first = (adapter.credentials, adapter.checks)

    assert [memo.identify(request(header)) for _ in range(4)] == ["42"] * 4
    assert (adapter.credentials, adapter.checks) == first, "neither parsed nor checked again"


def test_another_cookie_changing_reuses_the_credential_check() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter, ttl=30, timer=Timer())
    cookie = adapter.sign("42")

    assert memo.identify(request(f"visit=1; bridge_user={cookie}")) == "42"
    assert memo.identify(request(f"visit=2; bridge_user={cookie}")) == "42"
    assert adapter.checks == 1, "the credential did not change: no second signature check"


def test_the_header_memo_expires_with_the_credential() -> None:
    adapter = CountingAdapter()
    timer = Timer()
    memo = MemoisedIdentity(adapter, ttl=30, timer=timer)
    header = f"bridge_user={adapter.sign('42')}"
    memo.identify(request(header))

    timer.now += 31
    assert memo.identify(request(header)) == "42"
    assert adapter.checks == 2, "after the ttl the credential is checked again"


def test_a_forged_cookie_is_memoised_as_nobody_and_forget_clears_everything() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter, ttl=30, timer=Timer())
    forged = request("bridge_user=42.AAAAAA.forged-signature")

    assert memo.identify(forged) is None
    assert memo.identify(forged) is None
    assert adapter.checks == 1
    memo.forget()
    assert memo.identify(forged) is None
    assert adapter.checks == 2


def test_an_oversized_header_is_checked_through_the_credential_memo_only() -> None:
    adapter = CountingAdapter()
    memo = MemoisedIdentity(adapter, ttl=30, timer=Timer())
    header = f"filler={'x' * MAX_SOURCE_MEMO}; bridge_user={adapter.sign('42')}"

    assert memo.identify(request(header)) == "42"
    parsed = adapter.credentials
    assert memo.identify(request(header)) == "42"
    assert adapter.credentials == parsed + 1, "a huge header is not kept as a memo key"
    assert adapter.checks == 1


def test_an_adapter_without_a_single_source_is_memoised_per_credential() -> None:
    class Plain:
        checks = 0

        def credential(self, environ: Any) -> str | None:
            return environ.get("HTTP_X_USER")

        def identify(self, environ: Any) -> str | None:
            self.checks += 1
            return environ.get("HTTP_X_USER")

    adapter = Plain()
    memo = MemoisedIdentity(adapter, ttl=30, timer=Timer())  # type: ignore[arg-type]

    assert memo.identify({"HTTP_X_USER": "7"}) == "7"
    assert memo.identify({"HTTP_X_USER": "7"}) == "7"
    assert memo.identify({"HTTP_X_USER": "8"}) == "8"
    assert adapter.checks == 2
