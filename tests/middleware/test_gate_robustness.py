"""The gate under pressure: generated path spellings, concurrency, long outages, odd methods."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.middleware.billing_double import (
    MEMBER_CONTENT,
    PATH_ONLY_RULES,
    RULES,
    SITE_KINDS,
    SiteUnderGate,
    site_under_gate,
)


@pytest.fixture(params=SITE_KINDS)
def world(request: pytest.FixtureRequest) -> Iterator[SiteUnderGate]:
    with site_under_gate(request.param) as w:
        yield w


@pytest.fixture(
    params=[(kind, rules) for kind in SITE_KINDS for rules in ("all-rules", "path-only-rules")],
    ids="-".join,
)
def gated(request: pytest.FixtureRequest) -> Iterator[SiteUnderGate]:
    """The site under either rule set (the gate routes path-only rule sets by a faster way)."""
    kind, rules = request.param
    with site_under_gate(kind, rule=RULES if rules == "all-rules" else PATH_ONLY_RULES) as w:
        assert w.gate.rules.path_only is (rules == "path-only-rules")
        yield w


# --- generated spellings of /premium/<slug> -------------------------------------------------------

SEPARATORS = st.sampled_from(["/", "//", "/./", "/%2F", "/%2f", "\\", "/x/../", "/;p=1/"])


def encode_some(text: str, mask: list[bool]) -> str:
    return "".join(
        quote(char, safe="") if flip and char.isalnum() else char
        for char, flip in zip(text, mask, strict=False)
    )


@st.composite
def premium_spellings(draw: st.DrawFn) -> str:
    word = "premium"
    mask = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    slug = draw(st.text(alphabet="abcdefxyz0123456789-", min_size=1, max_size=12))
    lead = draw(st.sampled_from(["/", "//", "/./", "/free/../", "/a/b/../../"]))
    tail = draw(st.sampled_from(["", ";jsessionid=1", "/", "?x=1", "#frag"]))
    return lead.replace("\\", "/") + encode_some(word, mask) + draw(SEPARATORS) + slug + tail


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=premium_spellings())
def test_no_generated_spelling_returns_member_content_to_a_non_member(gated, path) -> None:
    response = gated.get(path, user="bob")
    assert MEMBER_CONTENT not in response.data, path
    assert response.status_code in (400, 402, 404), path


# --- methods -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "PUT", "DELETE", "HEAD"])
def test_every_method_is_gated_when_the_rule_lists_none(gated, method) -> None:
    response = gated.get("/premium/x", user="bob", method=method)
    assert response.status_code == 402
    assert MEMBER_CONTENT not in response.data


def test_range_from_a_non_member_gets_no_member_bytes(gated) -> None:
    response = gated.get("/premium/x", user="bob", Range="bytes=0-10")
    assert response.status_code == 402
    assert MEMBER_CONTENT not in response.data
    assert "Content-Range" not in response.headers


@pytest.mark.parametrize("path", ["/premium/x", "/downloads/a", "/pro/x", "/members-only/x"])
def test_every_gated_response_is_private_or_no_store_and_varies_on_cookie(gated, path) -> None:
    for user in (None, "alice", "bob"):
        response = gated.get(path, user=user)
        cache_control = response.headers.get("Cache-Control", "")
        assert "private" in cache_control or cache_control == "no-store", (path, user)
        assert "public" not in cache_control
        assert "Cookie" in response.headers.get("Vary", ""), (path, user)


# --- outages -------------------------------------------------------------------------------------


def test_known_user_is_denied_once_the_snapshot_is_older_than_stale_ttl(world) -> None:
    assert world.get("/premium/x", user="alice").status_code == 200
    world.billing.down = True
    world.clock.advance(3000)
    assert world.get("/premium/x", user="alice").status_code == 200
    world.clock.advance(700)  # 3700 s > stale_ttl (1 h)
    response = world.get("/premium/x", user="alice")
    assert response.status_code == 503
    assert MEMBER_CONTENT not in response.data


def test_errors_are_not_cached_recovery_is_immediate(world) -> None:
    world.billing.down = True
    assert world.get("/premium/x", user="alice").status_code == 503
    world.billing.down = False
    assert world.get("/premium/x", user="alice").status_code == 200


# --- concurrency ---------------------------------------------------------------------------------


def test_fifty_concurrent_requests_for_a_cold_user_make_one_usages_fetch(world) -> None:
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    lock = threading.Lock()

    def request() -> None:
        barrier.wait()
        status = world.get("/premium/x", user="alice").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=request) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 50
    assert world.billing.calls.count("GET /v1/Usages") == 1


def test_a_form_body_cannot_smuggle_a_gated_query_route(world) -> None:
    response = world.client.post(
        "/?feed=",
        data={"feed": "rss2"},
        headers={"X-Remote-User": "bob"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 402
    body_only = world.client.post(
        "/",
        data={"feed": "rss2"},
        headers={"X-Remote-User": "bob"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert body_only.status_code == 402
    assert MEMBER_CONTENT not in body_only.data


def test_the_form_body_read_for_matching_is_given_back_whole_to_the_site() -> None:
    import io

    from middleware.gate import with_form_body

    body = b"feed=rss2&comment=" + b"x" * 5000
    environ = {
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert with_form_body(environ, "a=1").startswith("a=1&feed=rss2&comment=")
    assert environ["wsgi.input"].read() == body


def test_a_user_store_outage_with_an_offer_choice_pending_is_not_a_500(world) -> None:
    from cms_adapters.base import MemoisedIdentity

    class Down:
        def credential(self, environ):  # type: ignore[no-untyped-def]
            return "session"

        def identify(self, environ):  # type: ignore[no-untyped-def]
            raise RuntimeError("the users database is down")

    world.gate.identity = MemoisedIdentity(Down())  # type: ignore[arg-type]
    offers = world.gate.offers
    assert offers is not None
    cookie = offers.remember("pro")[1].split(";")[0].split("=", 1)[1]
    world.client.set_cookie("bridge_offer", cookie, domain="localhost")
    assert world.get("/free/page").status_code == 200
    assert world.get("/premium/x").status_code == 503


def test_a_user_store_outage_is_a_503_and_recovery_is_immediate(world) -> None:
    from cms_adapters.base import IdentityUnavailable, MemoisedIdentity

    class Flaky:
        down = True

        def credential(self, environ):  # type: ignore[no-untyped-def]
            return environ.get("HTTP_X_REMOTE_USER")

        def identify(self, environ):  # type: ignore[no-untyped-def]
            if self.down:
                raise IdentityUnavailable("the users database cannot be read")
            return environ.get("HTTP_X_REMOTE_USER")

    flaky = Flaky()
    world.gate.identity = MemoisedIdentity(flaky)  # type: ignore[arg-type]
    response = world.get("/premium/x", user="alice")
    assert response.status_code == 503, "a member is not asked to sign in because a DB is down"
    assert MEMBER_CONTENT not in response.data
    flaky.down = False
    assert world.get("/premium/x", user="alice").status_code == 200, "nothing was memoised"
