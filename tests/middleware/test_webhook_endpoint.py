"""``POST /_billing/webhook``: a verified notification makes the next request see new rights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from bridge.webhooks import signature_for
from tests.middleware.billing_double import BASE, SiteUnderGate

SECRET = "whsec-test-0123456789"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SiteUnderGate]:
    billing = {
        "url": BASE,
        "agent_key": "a",
        "api_key": "k",
        "retries": 0,
        "webhook_secret": SECRET,
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield SiteUnderGate(rsps, billing=billing, state={"path": str(tmp_path / "state.db")})


def post(world: SiteUnderGate, body: dict[str, object], *, signature: str | None = None):
    key = "wh-1"
    return world.client.post(
        "/_billing/webhook",
        data=json.dumps(body),
        content_type="application/json",
        headers={
            "x-proabono-key": key,
            "x-proabono-signature": signature or signature_for(key, SECRET),
        },
    )


def suspended(notification_id: str = "trg_1") -> dict[str, object]:
    return {
        "Id": notification_id,
        "TypeTrigger": "SubscriptionSuspendedPaymentDue",
        "Customer": {"ReferenceCustomer": "user-alice"},
    }


def test_a_suspension_webhook_takes_effect_on_the_next_request(world) -> None:
    world.billing.member("user-alice", "premium-articles")
    assert world.get("/premium/x", user="alice").status_code == 200
    world.billing.subscribed("user-alice", "Suspended", "SuspendedPaymentDue")
    response = post(world, suspended())
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    denied = world.get("/premium/x", user="alice")
    assert denied.status_code == 402
    assert b'data-reason="suspended"' in denied.data


def test_a_forged_webhook_changes_nothing(world) -> None:
    world.billing.member("user-alice", "premium-articles")
    world.get("/premium/x", user="alice")
    calls = world.billing.billing_calls()
    assert post(world, suspended(), signature="forged").status_code == 401
    world.get("/premium/x", user="alice")
    assert world.billing.billing_calls() == calls, "no re-read: the snapshot was not touched"


def test_redelivery_is_acknowledged_once(world) -> None:
    world.billing.member("user-alice", "premium-articles")
    assert json.loads(post(world, suspended()).data)["outcome"].endswith("rights re-read")
    assert json.loads(post(world, suspended()).data)["outcome"] == "duplicate ignored"


def test_get_is_not_allowed(world) -> None:
    response = world.get("/_billing/webhook")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_without_a_secret_the_endpoint_is_closed(tmp_path: Path) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        world = SiteUnderGate(rsps, state={"path": str(tmp_path / "state.db")})
        assert post(world, suspended()).status_code == 503
