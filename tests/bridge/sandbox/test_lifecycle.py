"""Subscription lifecycles, driven only through the API and the sandbox clock."""

from __future__ import annotations

import pytest

from bridge.errors import BillingConflict, CappingReached, PaymentMethodMissing
from tests.bridge.sandbox.harness import BillingEnv

DECLINING_CARD = "4000000000000002"


def usages(env: BillingEnv, customer: str) -> dict[str, object]:
    return {u.reference_feature: u for u in env.client.get_usages(customer)}


def test_welcome_offer_starts_without_payment(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1", email="ada@example.com")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    assert (sub.status, sub.state_subscription) == ("Active", "ActiveRunning")
    assert "premium-articles" in usages(billing, "cust-1")
    assert billing.client.list_invoices(reference_customer="cust-1").total_items == 0


def test_without_try_start_a_subscription_is_a_draft_granting_nothing(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome")
    assert (sub.status, sub.state_subscription) == ("Draft", "DraftAgent")
    assert sub.links.get("insite-subscribe") is not None
    assert billing.client.get_usages("cust-1") == []


def test_paid_offer_without_payment_method_stays_draft(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    assert sub.state_subscription == "DraftAgent"
    assert sub.is_customer_billable is False
    assert billing.client.get_usages("cust-1") == []
    with pytest.raises(PaymentMethodMissing):
        billing.client.start_subscription(sub.id or 0)


def test_paid_offer_with_card_starts_and_is_invoiced(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    assert sub.state_subscription == "ActiveRunning"
    invoices = billing.client.list_invoices(reference_customer="cust-1").items
    assert [(i.state_invoice, i.amount_subtotal, i.amount_total) for i in invoices] == [
        ("Paid", 900, 1080)
    ]


def test_renewal_with_declining_card_suspends_payment_due_then_restarts(
    billing: BillingEnv,
) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = client.create_subscription("cust-1", "starter", try_start=True)
    billing.register_card("cust-1", DECLINING_CARD)

    billing.advance("31d")

    suspended = client.get_subscription_by_id(sub.id or 0)
    assert (suspended.status, suspended.state_subscription) == ("Suspended", "SuspendedPaymentDue")
    assert suspended.is_payment_capping_reached is True
    assert suspended.links.get("insite-restart") is not None
    assert client.get_usages("cust-1") == []  # a suspended subscription grants nothing
    states = sorted(
        i.state_invoice or "" for i in client.list_invoices(reference_customer="cust-1")
    )
    assert states == ["Paid", "ProblemAuto"]

    with pytest.raises(CappingReached):  # arrears first
        client.start_subscription(sub.id or 0)
    billing.register_card("cust-1")
    billing.pay_arrears("cust-1")
    restarted = client.start_subscription(sub.id or 0)
    assert restarted.state_subscription == "ActiveRunning"
    assert "premium-articles" in usages(billing, "cust-1")
    assert [e["TypeTrigger"] for e in billing.events("SubscriptionRestarted")] == [
        "SubscriptionRestarted"
    ]


def test_renewal_without_payment_method_suspends_no_payment_info(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "pro-trial", try_start=True)
    assert (sub.state_subscription, sub.is_trial) == ("ActiveRunning", True)

    billing.advance("8d")  # the 7-day trial ends; nothing to charge the first month with

    after = billing.client.get_subscription_by_id(sub.id or 0)
    assert after.state_subscription == "SuspendedNoPaymentInfo"
    assert after.links.get("insite-restart") is not None
    with pytest.raises(PaymentMethodMissing):
        billing.client.start_subscription(sub.id or 0)
    billing.register_card("cust-1")
    restarted = billing.client.start_subscription(sub.id or 0)
    assert (restarted.state_subscription, restarted.is_trial) == ("ActiveRunning", False)
    paid = billing.client.list_invoices(reference_customer="cust-1").items
    assert [(i.state_invoice, i.amount_subtotal) for i in paid] == [("Paid", 2900)]


def test_successful_renewal_starts_a_new_paid_period(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    billing.advance("31d")
    renewed = billing.client.get_subscription_by_id(sub.id or 0)
    assert renewed.state_subscription == "ActiveRunning"
    assert renewed.date_period_start == sub.date_period_end
    invoices = billing.client.list_invoices(reference_customer="cust-1").items
    assert [i.state_invoice for i in invoices] == ["Paid", "Paid"]


def test_welcome_offer_ends_complete_after_its_single_period(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    billing.advance("15d")
    ended = billing.client.get_subscription_by_id(sub.id or 0)
    assert (ended.status, ended.state_subscription) == ("Ended", "EndedComplete")
    assert billing.client.get_usages("cust-1") == []  # an ended subscription's rights disappear


def test_consumption_resets_at_period_end_and_limitation_does_not(billing: BillingEnv) -> None:
    from bridge.client import UsageChange

    client = billing.client
    client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    client.create_subscription("cust-1", "starter", try_start=True)
    client.record_usage(UsageChange("cust-1", "downloads", increment=4))
    client.record_usage(UsageChange("cust-1", "seats", quantity_current=1))
    before = usages(billing, "cust-1")
    assert before["downloads"].quantity_current == 4  # type: ignore[attr-defined]

    billing.advance("31d")

    after = usages(billing, "cust-1")
    assert after["downloads"].quantity_current == 0  # type: ignore[attr-defined]
    assert after["seats"].quantity_current == 1  # type: ignore[attr-defined]


def test_upgrade_ends_the_old_subscription_and_starts_the_new_one(billing: BillingEnv) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    old = client.create_subscription("cust-1", "starter", try_start=True)
    new = client.upgrade_subscription(old.id or 0, "pro")
    assert (new.reference_offer, new.state_subscription) == ("pro", "ActiveRunning")
    assert new.id != old.id
    ended = client.get_subscription_by_id(old.id or 0)
    assert ended.state_subscription == "EndedUpgrade"
    assert usages(billing, "cust-1")["downloads"].quantity_included == 100  # type: ignore[attr-defined]
    current = client.get_subscription("cust-1")
    assert current is not None
    assert current.id == new.id


def test_upgrade_from_free_offer_needs_a_payment_method(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    with pytest.raises(PaymentMethodMissing):
        billing.client.upgrade_subscription(sub.id or 0, "starter")
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "ActiveRunning"


def test_termination_at_end_of_term_then_ended(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    delayed = billing.client.terminate_subscription(sub.id or 0)
    assert delayed.state_subscription == "ActiveDelayedTermination"
    assert (delayed.status_after_term, delayed.state_subscription_after_term) == (
        "Ended",
        "EndedTerminated",
    )
    assert delayed.links.get("insite-restart") is not None
    assert "premium-articles" in usages(billing, "cust-1")  # rights until the term
    billing.advance("31d")
    assert (
        billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "EndedTerminated"
    )
    assert billing.client.get_usages("cust-1") == []
    assert len(billing.client.list_invoices(reference_customer="cust-1").items) == 1  # no renewal


def test_immediate_termination_is_final(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    ended = billing.client.terminate_subscription(sub.id or 0, immediate=True)
    assert ended.state_subscription == "EndedTerminated"
    with pytest.raises(BillingConflict):
        billing.client.start_subscription(sub.id or 0)


def test_suspension_and_restart_by_the_agent(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    sub = billing.client.create_subscription("cust-1", "welcome", try_start=True)
    suspended = billing.client.suspend_subscription(sub.id or 0)
    assert (suspended.status, suspended.state_subscription) == ("Suspended", "SuspendedAgent")
    assert billing.client.get_usages("cust-1") == []
    assert billing.client.start_subscription(sub.id or 0).state_subscription == "ActiveRunning"


def test_date_term_moves_the_renewal(billing: BillingEnv) -> None:
    from datetime import timedelta

    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    term = billing.now() + timedelta(days=3)
    moved = billing.client.set_subscription_date_term(sub.id or 0, term)
    assert moved.date_term is not None
    assert abs((moved.date_term - term).total_seconds()) < 0.01
    billing.advance("4d")
    renewed = billing.client.get_subscription_by_id(sub.id or 0)
    assert renewed.date_period_start is not None
    assert abs((renewed.date_period_start - term).total_seconds()) < 0.01


def test_a_suspended_subscription_does_not_renew_and_restart_bills_a_new_period(
    billing: BillingEnv,
) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    billing.client.suspend_subscription(sub.id or 0)
    billing.advance("45d")
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "SuspendedAgent"
    assert len(billing.client.list_invoices(reference_customer="cust-1").items) == 1
    restarted = billing.client.start_subscription(sub.id or 0)
    assert restarted.state_subscription == "ActiveRunning"
    assert restarted.date_period_start is not None
    assert abs((restarted.date_period_start - billing.now()).total_seconds()) < 0.01
    assert [i.state_invoice for i in billing.client.list_invoices(reference_customer="cust-1")] == [
        "Paid",
        "Paid",
    ]
