"""The bridge's own endpoints: fresh hosted links at click time, safe returns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from middleware.http import safe_next
from tests.middleware.billing_double import SiteUnderGate


@pytest.fixture
def world() -> Iterator[SiteUnderGate]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        w = SiteUnderGate(rsps)
        w.billing.member("user-alice", "premium-articles")
        yield w


@pytest.mark.parametrize(
    ("endpoint", "location"),
    [
        ("portal", "https://pay.example/portal/user-alice"),
        ("payment", "https://pay.example/register/user-alice"),
        ("offers", "https://pay.example/offers/user-alice"),
        ("subscribe/offer-pro", "https://pay.example/subscribe/user-alice/offer-pro"),
    ],
)
def test_links_are_fetched_fresh_and_never_cached(world, endpoint, location) -> None:
    first = world.get(f"/_billing/{endpoint}", user="alice")
    second = world.get(f"/_billing/{endpoint}", user="alice")
    assert first.status_code == 303
    assert first.headers["Location"] == location
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    customer_reads = [c for c in world.billing.calls if c.endswith("/v1/Customer")]
    assert len(customer_reads) == 2, "each click fetches its own link"
    assert second.headers["Location"] == location


def test_subscribe_upserts_the_customer_with_the_offer(world) -> None:
    world.get("/_billing/subscribe/offer-pro", user="newbie")
    assert world.billing.upserts[-1]["ReferenceCustomer"] == "user-newbie"
    assert world.billing.upserts[-1]["ReferenceOffer"] == "offer-pro"


def test_restart_goes_to_the_suspended_subscriptions_restart_link(world) -> None:
    world.billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    response = world.get("/_billing/restart", user="bob")
    assert response.headers["Location"] == "https://pay.example/restart/user-bob"


def test_restart_without_anything_to_restart_opens_the_portal(world) -> None:
    world.billing.accounts["user-alice"].subscription = None
    response = world.get("/_billing/restart", user="alice")
    assert response.headers["Location"] == "https://pay.example/portal/user-alice"


def test_anonymous_click_goes_to_login_and_comes_back(world) -> None:
    response = world.get("/_billing/portal")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/_billing/portal"
    assert world.billing.calls == []


def test_billing_down_at_click_time_is_a_503_page(world) -> None:
    world.billing.down = True
    response = world.get("/_billing/portal", user="alice")
    assert response.status_code == 503
    assert b"Billing is temporarily unavailable" in response.data


def test_return_rereads_rights_and_goes_back(world) -> None:
    world.billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    assert world.get("/premium/x", user="bob").status_code == 402
    world.billing.member("user-bob", "premium-articles")  # the user restarted on the hosted page
    response = world.get("/_billing/return?from=restart&outcome=paid&next=/premium/x", user="bob")
    assert response.status_code == 303
    assert response.headers["Location"] == "/premium/x"
    assert world.get("/premium/x", user="bob").status_code == 200


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example",
        "/\\evil.example",
        "http://evil.example",
        "http:evil",
        "javascript:alert(1)",
        "https:/evil",
        "/ok\r\nSet-Cookie: x=1",
        "",
        "evil",
    ],
)
def test_open_redirects_fall_back_to_home(world, evil) -> None:
    assert safe_next(evil) == "/"


def test_local_next_is_kept() -> None:
    assert safe_next("/premium/x?y=1#z") == "/premium/x?y=1#z"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/_billing/nope", 404),
        ("/_billing/subscribe/a%3Bb", 404),
        ("/_billing/subscribe/" + "x" * 51, 404),
        ("/_billing/../premium/x", 404),
    ],
)
def test_unknown_or_malformed_endpoints(world, path, status) -> None:
    response = world.get(path, user="alice")
    assert response.status_code == status
    assert b"member-only" not in response.data


def test_endpoints_are_get_only(world) -> None:
    response = world.get("/_billing/portal", user="alice", method="POST")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_a_non_ascii_next_is_sent_percent_encoded_not_as_a_500(world) -> None:
    assert safe_next("/café?q=ü") == "/caf%C3%A9?q=%C3%BC"
    response = world.get("/_billing/return?next=/%E2%82%AC", user="alice")
    assert response.status_code == 303
    assert response.headers["Location"] == "/%E2%82%AC"


def test_try_again_after_an_outage_repeats_the_same_subscription(world) -> None:
    world.billing.down = True
    response = world.get("/_billing/subscribe/offer-pro?next=/pricing", user="alice")
    assert response.status_code == 503
    assert b'href="/_billing/subscribe/offer-pro?next=/pricing"' in response.data
