"""Subscription reads and parameters: current, by id, lists, links per state, query or body."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.errors import BillingNotFound
from tests.bridge.sandbox.harness import BillingEnv, advance_base


def test_current_subscription_prefers_the_running_one(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    assert billing.client.get_subscription("cust-1") is None  # 404 → None
    running = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    billing.client.create_subscription("cust-1", "starter")  # a newer draft
    current = billing.client.get_subscription("cust-1")
    assert current is not None
    assert current.id == running.id
    only_drafts = billing.client.get_subscription("cust-1", reference_offer="starter")
    assert only_drafts is not None
    assert only_drafts.state_subscription == "DraftAgent"
    with pytest.raises(BillingNotFound):
        billing.client.get_subscription_by_id(1)


def test_subscriptions_list_pages_and_is_204_when_empty(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    status, body = billing.client.request(
        "GET", "/v1/Subscriptions", params={"ReferenceCustomer": "cust-1"}, idempotent=True
    )
    assert (status, body) == (204, None)
    for _ in range(3):
        billing.client.create_subscription("cust-1", "welcome")
    page = billing.client.list_subscriptions(reference_customer="cust-1", size_page=2)
    assert (len(page.items), page.total_items) == (2, 3)
    next_link = page.links.get("next")
    assert next_link is not None
    assert "Page=2" in (next_link.href or "")
    assert (
        len(list(billing.client.iter_subscriptions(reference_customer="cust-1", size_page=2))) == 3
    )
    assert billing.client.list_subscriptions(ignore_features=True).items[0].features == ()


def test_links_follow_the_state(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    draft = billing.client.create_subscription("cust-1", "welcome")
    assert {"self", "insite-home", "insite-related-subscription", "insite-subscribe"} <= set(
        draft.links.rels()
    )
    assert draft.links.get("self").href == f"/v1/Subscription/{draft.id}"  # type: ignore[union-attr]
    running = billing.client.start_subscription(draft.id or 0)
    assert running.links.get("insite-upgrade") is not None
    assert running.links.get("insite-subscribe") is None
    assert running.links.get("insite-restart") is None
    assert running.links.get("hosted-related-subscription") is not None
    ended = billing.client.terminate_subscription(draft.id or 0, immediate=True)
    assert {"insite-upgrade", "insite-restart", "insite-subscribe"}.isdisjoint(ended.links.rels())


def test_action_parameters_are_read_from_the_body_too(billing: BillingEnv) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    _, created = client.request(
        "POST",
        "/v1/Subscription",
        body={"ReferenceCustomer": "cust-1", "ReferenceOffer": "starter", "TryStart": True},
        idempotent=False,
    )
    assert created["StateSubscription"] == "ActiveRunning"
    path = f"/v1/Subscription/{created['Id']}"
    _, upgraded = client.request(
        "POST", path + "/Upgrade", body={"ReferenceOffer": "pro"}, idempotent=False
    )
    assert upgraded["ReferenceOffer"] == "pro"
    _, ended = client.request(
        "POST",
        f"/v1/Subscription/{upgraded['Id']}/Termination",
        body={"Immediate": True},
        idempotent=False,
    )
    assert ended["StateSubscription"] == "EndedTerminated"


def test_termination_at_a_given_date(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    when = billing.now() + timedelta(days=10)
    scheduled = billing.client.terminate_subscription(sub.id or 0, date_termination=when)
    assert scheduled.state_subscription == "ActiveDelayedTermination"
    billing.advance("9d")
    assert billing.client.get_subscription_by_id(sub.id or 0).status == "Active"
    billing.advance("2d")
    assert (
        billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "EndedTerminated"
    )


def test_restart_cancels_a_scheduled_termination(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    billing.client.terminate_subscription(sub.id or 0)
    kept = billing.client.start_subscription(sub.id or 0)
    assert (kept.state_subscription, kept.state_subscription_after_term) == ("ActiveRunning", None)
    billing.advance("31d")
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "ActiveRunning"


def test_upgrade_at_end_of_term(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    old = billing.client.create_subscription("cust-1", "starter", try_start=True)
    new = billing.client.upgrade_subscription(old.id or 0, "pro", immediate=False)
    assert new.state_subscription == "DraftDelayedUpgrade"
    assert billing.client.get_subscription_by_id(old.id or 0).state_subscription == (
        "ActiveDelayedUpgrade"
    )
    billing.advance("31d")
    assert billing.client.get_subscription_by_id(old.id or 0).state_subscription == "EndedUpgrade"
    assert billing.client.get_subscription_by_id(new.id or 0).state_subscription == "ActiveRunning"
    assert [e["TypeTrigger"] for e in billing.events("SubscriptionUpgraded")] == [
        "SubscriptionUpgraded"
    ]


def test_trial_ends_into_a_paid_period(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "pro-trial", try_start=True)
    assert (sub.is_trial, sub.count_days_trial) == (True, 7)
    assert billing.client.list_invoices(reference_customer="cust-1").total_items == 0
    billing.advance("7d")
    paid = billing.client.get_subscription_by_id(sub.id or 0)
    assert (paid.state_subscription, paid.is_trial) == ("ActiveRunning", False)
    (invoice,) = billing.client.list_invoices(reference_customer="cust-1").items
    assert (invoice.state_invoice, invoice.amount_subtotal) == ("Paid", 2900)


def test_delayed_start_starts_when_its_date_comes(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription(
        "cust-1", "welcome", date_start=billing.now() + timedelta(days=2)
    )
    assert sub.state_subscription == "DraftDelayedStart"
    assert sub.links.get("insite-register") is not None
    billing.advance("3d")
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "ActiveRunning"


def test_time_passing_alone_is_applied_before_the_next_answer(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    advance_base(billing.app, "15d")  # real time passing, no admin call
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "EndedComplete"


def test_clock_admin_endpoint(billing: BillingEnv) -> None:
    before = billing.admin("GET", "/_sandbox/Clock")
    after = billing.advance("1d")
    assert before["OffsetSeconds"] == 0
    assert billing.admin("GET", "/_sandbox/Clock")["OffsetSeconds"] == 86400
    assert after["Now"] > before["Now"]


def test_customer_by_internal_id(billing: BillingEnv) -> None:
    created = billing.client.upsert_customer("cust-1", name="Ada").customer
    status, body = billing.client.request("GET", f"/v1/Customer/{created.id}", idempotent=True)
    assert (status, body["ReferenceCustomer"]) == (200, "cust-1")
