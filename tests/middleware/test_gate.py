"""The gate in front of a site: who gets member content, what others get, what caches see."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses

from tests.middleware.billing_double import (
    CACHE_BACKENDS,
    MEMBER_CONTENT,
    SITE_KINDS,
    SiteUnderGate,
    environ_seen,
    shared_cache,
)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture(params=[(k, c) for k in SITE_KINDS for c in CACHE_BACKENDS], ids="-".join)
def world(request: pytest.FixtureRequest, mock: responses.RequestsMock) -> Iterator[SiteUnderGate]:
    kind, cache = request.param
    w = SiteUnderGate(mock, kind=kind, shared=shared_cache(cache))
    w.billing.member("user-alice", "premium-articles", downloads=(10, 3))
    yield w
    w.close()


def test_ungated_paths_pass_untouched_without_any_billing_call(world) -> None:
    response = world.get("/free/article", user="alice")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=600, s-maxage=3600"
    assert world.billing.billing_calls() == 0


def test_member_gets_the_page_marked_private(world) -> None:
    response = world.get("/premium/article", user="alice")
    assert response.status_code == 200
    assert MEMBER_CONTENT in response.data
    cache_control = response.headers["Cache-Control"]
    assert "private" in cache_control
    assert "public" not in cache_control
    assert "s-maxage" not in cache_control
    assert "max-age=600" in cache_control
    assert "Cookie" in response.headers["Vary"]
    assert "Surrogate-Control" not in response.headers


def test_a_warm_cache_makes_no_billing_call(world) -> None:
    world.get("/premium/a", user="alice")
    calls = world.billing.billing_calls()
    assert calls == 2  # usages + subscription, once
    for _ in range(50):
        assert world.get("/premium/a", user="alice").status_code == 200
    assert world.billing.billing_calls() == calls


def test_anonymous_visitor_is_asked_to_sign_in(world) -> None:
    response = world.get("/premium/article?x=1")
    assert response.status_code == 402
    assert MEMBER_CONTENT not in response.data
    assert b'href="/login?next=/premium/article%3Fx%3D1"' in response.data
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers["Vary"]


def test_api_clients_get_json_402_with_reason_and_links(world) -> None:
    response = world.get("/premium/article", Accept="application/json")
    assert response.status_code == 402
    payload = json.loads(response.data)
    assert payload["error"] == "login_required"
    assert payload["links"]["login"].startswith("https://site.example/login?next=")
    xhr = world.get("/premium/x", user="bob", **{"X-Requested-With": "XMLHttpRequest"})
    assert json.loads(xhr.data)["error"] == "no_subscription"


@pytest.mark.parametrize(
    ("setup", "reason", "action"),
    [
        (lambda b: None, "no_subscription", "/_billing/offers"),
        (lambda b: b.member("user-bob", "other-feature"), "feature_missing", "/_billing/offers"),
        (
            lambda b: b.subscribed("user-bob", "Suspended", "SuspendedPaymentDue"),
            "suspended",
            "/_billing/restart",
        ),
        (
            lambda b: b.subscribed("user-bob", "Suspended", "SuspendedNoPaymentInfo"),
            "payment_method_missing",
            "/_billing/payment",
        ),
        (
            lambda b: b.subscribed("user-bob", "Draft", "DraftAgent"),
            "payment_method_missing",
            "/_billing/payment",
        ),
    ],
    ids=["never-subscribed", "other-plan", "suspended", "no-payment-info", "draft"],
)
def test_the_call_to_action_fits_the_reason(world, setup, reason, action) -> None:
    setup(world.billing)
    response = world.get("/premium/article", user="bob")
    assert response.status_code == 402
    assert f'data-reason="{reason}"'.encode() in response.data
    assert f'href="{action}?next=/premium/article"'.encode() in response.data
    assert MEMBER_CONTENT not in response.data


def test_quota(world) -> None:
    assert world.get("/downloads/report.pdf", user="alice").status_code == 200
    world.billing.member("user-carol", downloads=(10, 10))
    response = world.get("/downloads/report.pdf", user="carol")
    assert response.status_code == 402
    assert b'data-reason="quota_exhausted"' in response.data
    world.billing.member("user-dan", downloads=(0, None))  # absent QuantityCurrent: unlimited
    assert world.get("/downloads/report.pdf", user="dan").status_code == 200


def test_deny_404_and_redirect(world) -> None:
    assert world.get("/members-only/x", user="bob").status_code == 404
    response = world.get("/pro/tool", user="alice")
    assert response.status_code == 303
    assert response.headers["Location"] == "/pricing"
    assert response.headers["Cache-Control"] == "no-store"


PATH_TRICKS = [
    "//premium/x",
    "/./premium/x",
    "/free/../premium/x",
    "/%70remium/x",
    "/premium%2Fx",
    "/premium/x;jsessionid=1",
    "/premium//x",
    "/?feed=rss2",
    "/index.php?feed=atom",
]


@pytest.mark.parametrize("path", PATH_TRICKS, ids=PATH_TRICKS)
def test_no_spelling_of_a_gated_path_leaks(world, path) -> None:
    response = world.get(path, user="bob")
    assert response.status_code == 402
    assert MEMBER_CONTENT not in response.data


@pytest.mark.parametrize("path", ["/%00/premium", "/premium/%ff", "/../premium/x"])
def test_paths_without_canonical_form_are_refused(world, path) -> None:
    response = world.get(path, user="alice")
    assert response.status_code == 400
    assert MEMBER_CONTENT not in response.data


def test_head_gets_the_same_status_and_headers_without_body(world) -> None:
    get = world.get("/premium/x")
    head = world.get("/premium/x", method="HEAD")
    assert head.status_code == get.status_code == 402
    assert head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_method_override_cannot_smuggle_a_gated_get(world) -> None:
    response = world.get(
        "/api/items", user="bob", method="POST", **{"X-HTTP-Method-Override": "GET"}
    )
    assert response.status_code == 402


def test_api_rule_covers_head(world) -> None:
    assert world.get("/api/items", method="HEAD").status_code == 402


def test_outage_for_a_never_seen_user_is_a_503_never_a_500_nor_no_subscription(world) -> None:
    world.billing.down = True
    response = world.get("/premium/x", user="alice")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert b'data-reason="billing_unavailable"' in response.data
    assert b"no_subscription" not in response.data


def test_outage_serves_the_last_known_rights(world) -> None:
    assert world.get("/premium/x", user="alice").status_code == 200
    world.billing.down = True
    world.clock.advance(600)  # past the 5 minute ttl, within the 1 hour stale_ttl
    response = world.get("/premium/x", user="alice")
    assert response.status_code == 200
    assert MEMBER_CONTENT in response.data


def test_outage_allow_rule_lets_users_in_without_conditional_headers(world) -> None:
    world.billing.down = True
    response = world.get(
        "/news/today", user="alice", **{"If-None-Match": '"v1"', "Range": "bytes=0-5"}
    )
    assert response.status_code == 200
    assert "HTTP_IF_NONE_MATCH" not in environ_seen[-1]
    assert "HTTP_RANGE" not in environ_seen[-1]
    assert world.get("/news/today").status_code == 402  # anonymous still signs in


def test_denied_users_never_get_a_304_of_member_bytes(world) -> None:
    response = world.get("/premium/x", user="bob", **{"If-None-Match": '"v1"'})
    assert response.status_code == 402
    assert environ_seen == []


def test_forged_identity_header_from_an_untrusted_address_is_nobody(world) -> None:
    response = world.client.open(
        "/premium/x",
        headers={"X-Remote-User": "alice"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 402
    assert b'data-reason="login_required"' in response.data


def test_decision_is_recorded_in_the_environ(world) -> None:
    world.get("/premium/x", user="alice")
    # the site saw the request, with the decision attached
    decision = environ_seen[-1]["bridge.decision"]
    assert decision.allowed
    assert decision.customer == "user-alice"
    assert decision.rule == "rule[0] /premium/**"
