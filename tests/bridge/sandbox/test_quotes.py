"""Quotes: what a change costs now (prorated) and at the next term, refusals as the change."""

from __future__ import annotations

import pytest

from bridge.client import UsageChange
from bridge.errors import PaymentMethodMissing, UsageNoneMatching
from tests.bridge.sandbox.harness import BillingEnv

HALF_OF_MARCH_PERIOD = "372h"  # the first starter period runs 31 days from 3 March


def started(env: BillingEnv, offer: str = "starter") -> int:
    env.client.upsert_customer("cust-1")
    env.register_card("cust-1")
    sub = env.client.create_subscription("cust-1", offer, try_start=True)
    assert sub.state_subscription == "ActiveRunning"
    return sub.id or 0


def test_increment_within_included_quantity_quotes_zero(billing: BillingEnv) -> None:
    started(billing)
    quote = billing.client.quote_usage(UsageChange("cust-1", "downloads", increment=10))
    assert (quote.amount_due, quote.is_free) == (0, True)
    assert quote.next_term is not None


def test_consumption_beyond_included_quotes_extra_units_unprorated(billing: BillingEnv) -> None:
    started(billing)
    billing.advance(HALF_OF_MARCH_PERIOD)
    quote = billing.client.quote_usage(UsageChange("cust-1", "downloads", increment=12))
    assert (quote.amount_subtotal, quote.amount_total, quote.amount_due) == (100, 120, 120)
    assert [d.quantity_billed for d in quote.details] == [2]


def test_limitation_beyond_included_quotes_prorated_extra_price(billing: BillingEnv) -> None:
    started(billing)
    billing.advance(HALF_OF_MARCH_PERIOD)
    quote = billing.client.quote_usage(UsageChange("cust-1", "seats", quantity_current=2))
    assert (quote.amount_subtotal, quote.amount_total, quote.amount_due) == (250, 300, 300)
    assert "prorated" in (quote.details[0].label_localized or "")
    assert quote.next_term is not None
    assert quote.next_term.amount_subtotal == 900 + 500  # the fee plus one extra seat, full price
    # confirming the change bills what the quote said
    billing.client.record_usage(UsageChange("cust-1", "seats", quantity_current=2))
    lines = billing.client.list_balance(reference_customer="cust-1")
    assert [line.amount_subtotal for line in lines] == [250]


def test_quote_changes_nothing(billing: BillingEnv) -> None:
    started(billing)
    billing.client.quote_usage(UsageChange("cust-1", "seats", quantity_current=4))
    usage = billing.client.get_usage("cust-1", "seats")
    assert usage is not None
    assert usage.quantity_current == 0
    assert billing.client.list_balance(reference_customer="cust-1").total_items == 0


def test_billable_quote_without_payment_method_is_refused(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.update_payment_settings("cust-1", type_payment="ExternalCheck")
    billing.client.create_subscription("cust-1", "starter", try_start=True)
    billing.admin(
        "POST", "/_sandbox/Customer/PaymentMethod", params={"ReferenceCustomer": "cust-1"}, body={}
    )
    free = billing.client.quote_usage(UsageChange("cust-1", "downloads", increment=1))
    assert free.is_free
    change = UsageChange("cust-1", "seats", quantity_current=3)
    with pytest.raises(PaymentMethodMissing) as info:
        billing.client.quote_usage(change)
    assert (info.value.status, info.value.code) == (403, "Error.Customer.PaymentSettings.Missing")
    assert billing.client.quote_usage(change, ensure_billable=False).amount_due > 0


def test_quote_for_a_feature_not_granted_is_404_none_matching(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    with pytest.raises(UsageNoneMatching) as info:
        billing.client.quote_usage(UsageChange("cust-1", "seats", increment=1))
    assert info.value.status == 404


def test_quote_subscription_and_start(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    quote = billing.client.quote_subscription("cust-1", "pro")
    assert (quote.amount_subtotal, quote.amount_total) == (2900, 3480)
    assert quote.next_term is not None
    assert quote.next_term.amount_subtotal == 2900
    assert billing.client.get_subscription("cust-1") is None  # nothing was created
    draft = billing.client.create_subscription("cust-1", "pro")
    start = billing.client.quote_start(draft.id or 0)
    assert start.amount_subtotal == 2900
    assert start.next_term is not None


def test_quote_subscription_without_payment_method(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    with pytest.raises(PaymentMethodMissing):
        billing.client.quote_subscription("cust-1", "starter")
    assert billing.client.quote_subscription("cust-1", "welcome").is_free


def test_quote_upgrade_refunds_the_unused_part_of_the_period(billing: BillingEnv) -> None:
    id_subscription = started(billing)
    billing.advance(HALF_OF_MARCH_PERIOD)
    quote = billing.client.quote_upgrade(id_subscription, "pro")
    amounts = [d.amount_subtotal for d in quote.details]
    assert amounts == [-450, 2900]
    assert quote.amount_subtotal == 2450
    assert quote.next_term is not None
    assert quote.next_term.amount_subtotal == 2900
    assert billing.client.get_subscription_by_id(id_subscription).reference_offer == "starter"
