"""Webhooks out: validation handshake, signed deliveries, retries until 200, unique Ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.sandbox.service import WebhookTarget
from bridge.sandbox.webhooks import backoff
from tests.bridge.sandbox.harness import BillingEnv, WebhookReceiver, billing_env, webhook_receiver

KEY = "wh-key-1"
SECRET = "wh-secret-1"


def reference_check(headers: dict[str, str], secret: str) -> bool:
    """The reference's check, as a site would write it."""
    key = headers["x-proabono-key"]
    expected = base64.b64encode(hashlib.sha256((key + secret).encode()).digest()).decode()
    return hmac.compare_digest(expected, headers["x-proabono-signature"])


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[tuple[BillingEnv, WebhookReceiver]]:
    with webhook_receiver() as (url, receiver):
        target = WebhookTarget(url=url, key=KEY, secret=SECRET)
        with billing_env("in-process", tmp_path / "b.db", webhooks=[target]) as env:
            yield env, receiver


def test_nothing_is_sent_inside_the_api_request(
    hooked: tuple[BillingEnv, WebhookReceiver],
) -> None:
    env, receiver = hooked
    env.client.upsert_customer("cust-1")
    assert receiver.received == []
    assert [e["TypeTrigger"] for e in env.events()] == ["CustomerAdded"]


def test_handshake_first_then_signed_events(hooked: tuple[BillingEnv, WebhookReceiver]) -> None:
    env, receiver = hooked
    env.webhooks.deliver_due()  # first sight of the target: handshake only
    env.client.upsert_customer("cust-1", name="Ada")
    env.client.create_subscription("cust-1", "welcome", try_start=True)
    delivered = env.webhooks.deliver_due()

    handshake_headers, handshake = receiver.received[0]
    assert "TypeTrigger" not in handshake
    assert handshake["Code"]
    assert reference_check(handshake_headers, SECRET)
    assert delivered == 2
    events = receiver.events()
    assert [e["TypeTrigger"] for e in events] == ["CustomerAdded", "SubscriptionStarted"]
    for headers, _ in receiver.received:
        assert reference_check(headers, SECRET)
        assert not reference_check(headers, "another-secret")
    added, started = events
    assert added["Customer"]["ReferenceCustomer"] == "cust-1"
    assert added["Id"] != started["Id"]
    assert set(started) >= {
        "Id",
        "IdBusiness",
        "IdSegment",
        "ReferenceSegment",
        "DateTrigger",
        "TypeTrigger",
        "Customer",
        "CustomerBuyer",
        "Offer",
        "Subscription",
    }
    assert started["Subscription"]["StateSubscription"] == "ActiveRunning"
    assert started["Offer"]["ReferenceOffer"] == "welcome"
    assert env.webhooks.deliver_due() == 0  # delivered once


def test_events_wait_for_validation(hooked: tuple[BillingEnv, WebhookReceiver]) -> None:
    env, receiver = hooked
    receiver.statuses = [500]  # the handshake fails once
    env.webhooks.deliver_due()
    env.client.upsert_customer("cust-1")
    assert env.webhooks.deliver_due() == 0  # not validated, and the handshake waits its backoff
    assert len(receiver.received) == 1
    assert env.webhooks.deliver_due(env.now() + backoff(1)) == 1
    assert [e["TypeTrigger"] for e in receiver.events()] == ["CustomerAdded"]


def test_failed_deliveries_are_retried_with_backoff_until_200(
    hooked: tuple[BillingEnv, WebhookReceiver],
) -> None:
    env, receiver = hooked
    env.webhooks.deliver_due()
    env.client.upsert_customer("cust-1")
    receiver.statuses = [500, 302]  # a redirect is not a delivery either
    now = env.now()
    assert env.webhooks.deliver_due(now) == 0
    assert env.webhooks.deliver_due(now + timedelta(seconds=5)) == 0  # backoff not over
    assert env.webhooks.deliver_due(now + backoff(1)) == 0  # second attempt: 302
    assert env.webhooks.deliver_due(now + backoff(1) + backoff(2)) == 1
    ids = [e["Id"] for e in receiver.events()]
    assert len(ids) == 3
    assert len(set(ids)) == 1  # the same event, retried
    assert env.webhooks.deliver_due(now + timedelta(days=1)) == 0


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff(n) for n in range(1, 12)]
    assert waits == sorted(waits)
    assert waits[0] == timedelta(seconds=10)
    assert waits[-1] == timedelta(hours=1)


def test_lifecycle_events_carry_their_blocks(hooked: tuple[BillingEnv, WebhookReceiver]) -> None:
    env, receiver = hooked
    env.webhooks.deliver_due()
    env.client.upsert_customer("cust-1")
    env.register_card("cust-1")
    sub = env.client.create_subscription("cust-1", "starter", try_start=True)
    env.register_card("cust-1", "4000000000000002")
    env.advance("31d")
    env.client.set_subscription_date_term(sub.id or 0, env.now() + timedelta(days=3))
    while env.webhooks.deliver_due(env.now() + timedelta(days=1)):
        pass
    by_type = {e["TypeTrigger"]: e for e in receiver.events()}
    assert {
        "CustomerAdded",
        "CustomerPaymentMethodUpdated",
        "SubscriptionStarted",
        "InvoiceDebitPaid",
        "InvoiceDebitPaymentAutoFailed",
        "SubscriptionSuspendedPaymentDue",
        "SubscriptionDateTermUpdated",
    } <= set(by_type)
    assert by_type["InvoiceDebitPaid"]["InvoiceDebit"]["AmountTotal"] == 1080
    assert "GatewayPermission" in by_type["CustomerPaymentMethodUpdated"]
    suspended = by_type["SubscriptionSuspendedPaymentDue"]["Subscription"]
    assert suspended["StateSubscription"] == "SuspendedPaymentDue"
    assert "Subscription" not in by_type["SubscriptionDateTermUpdated"]  # Customer only
    ids = [e["Id"] for e in receiver.events()]
    assert len(ids) == len(set(ids))


def test_worker_thread_delivers_and_stops(tmp_path: Path) -> None:
    with webhook_receiver() as (url, receiver):
        target = WebhookTarget(url=url, key=KEY, secret=SECRET)
        with billing_env("in-process", tmp_path / "b.db", webhooks=[target]) as env:
            env.webhooks.interval = 0.01
            env.webhooks.start()
            assert receiver.arrived.wait(10)  # the handshake
            receiver.arrived.clear()
            env.client.upsert_customer("cust-1")
            for _ in range(500):
                if receiver.events():
                    break
                receiver.arrived.wait(0.02)
                receiver.arrived.clear()
            env.webhooks.stop()
            assert [e["TypeTrigger"] for e in receiver.events()] == ["CustomerAdded"]
            assert env.webhooks._thread is None


def test_triggers_filter_what_a_target_receives(tmp_path: Path) -> None:
    with webhook_receiver() as (url, receiver):
        target = WebhookTarget(
            url=url, key=KEY, secret=SECRET, triggers=frozenset({"SubscriptionStarted"})
        )
        with billing_env("in-process", tmp_path / "b.db", webhooks=[target]) as env:
            env.webhooks.deliver_due()
            env.client.upsert_customer("cust-1")
            env.client.create_subscription("cust-1", "welcome", try_start=True)
            env.webhooks.deliver_due()
            assert [e["TypeTrigger"] for e in receiver.events()] == ["SubscriptionStarted"]
