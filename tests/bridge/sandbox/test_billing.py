"""Invoices, balance lines, billing a customer, capping, and offline payments."""

from __future__ import annotations

import pytest

from bridge.client import UsageChange
from bridge.errors import BillingNotFound, CappingReached, PaymentMethodMissing
from tests.bridge.sandbox.harness import BillingEnv


def test_no_invoices_is_204(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    status, body = billing.client.request(
        "GET", "/v1/Invoices", params={"ReferenceCustomer": "cust-1"}, idempotent=True
    )
    assert (status, body) == (204, None)


def test_invoice_by_id_and_number_with_links(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    billing.client.create_subscription("cust-1", "starter", try_start=True)
    (invoice,) = billing.client.list_invoices(reference_customer="cust-1").items
    assert (invoice.status, invoice.state_invoice, invoice.type_payment) == ("Paid", "Paid", "Card")
    assert invoice.full_number is not None
    by_number = billing.client.get_invoice_by_number(invoice.full_number)
    by_id = billing.client.get_invoice(invoice.id or 0)
    assert by_number.id == by_id.id == invoice.id
    pdf = by_id.links.get("insite-related-invoice")
    assert pdf is not None
    assert (pdf.type, bool(pdf.href)) == ("application/pdf", True)
    assert by_id.links.get("insite-charge") is None  # paid: nothing to charge
    with pytest.raises(BillingNotFound):
        billing.client.get_invoice_by_number("S-1.99999999")


def test_failed_charge_invoice_offers_a_charge_link(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1", "4000000000000002")
    billing.client.create_subscription("cust-1", "starter", try_start=True)
    (invoice,) = billing.client.list_invoices(reference_customer="cust-1").items
    assert invoice.state_invoice == "ProblemAuto"
    assert invoice.links.get("insite-charge") is not None


def test_balance_line_then_bill_customer(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    line = billing.client.add_balance_line("cust-1", 1500, label="Setup", quantity=1)
    assert (line.amount_subtotal, line.amount_total, line.state_move) == (1500, 1800, "Due")
    balance = billing.client.list_balance(reference_customer="cust-1")
    assert balance.computations == {"AmountSubtotal": 1500, "AmountTotal": 1800}
    with pytest.raises(PaymentMethodMissing):
        billing.client.bill_customer("cust-1", force_offline=True)
    billing.client.update_payment_settings("cust-1", type_payment="ExternalBank")
    invoice = billing.client.bill_customer("cust-1")
    assert (invoice.state_invoice, invoice.amount_total) == ("DueOffline", 1800)
    assert billing.client.list_balance(reference_customer="cust-1").total_items == 0


def test_balance_line_answers_201(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    status, _ = billing.client.request(
        "POST",
        "/v1/BalanceLine",
        body={"ReferenceCustomer": "cust-1", "Amount": -500, "Label": "Goodwill"},
        idempotent=False,
    )
    assert status == 201


def test_unpaid_invoices_cap_billable_changes(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1", "4000000000000002")
    billing.client.create_subscription("cust-1", "starter", try_start=True)  # invoice fails
    draft = billing.client.create_subscription("cust-1", "pro")
    with pytest.raises(CappingReached) as info:
        billing.client.start_subscription(draft.id or 0)
    assert (info.value.status, info.value.code) == (403, "Error.Customer.Billing.CappingReached")
    with pytest.raises(CappingReached):
        billing.client.record_usage(UsageChange("cust-1", "seats", quantity_current=3))
    billing.client.record_usage(UsageChange("cust-1", "downloads", increment=1))  # free: allowed


def test_offline_invoice_becomes_overdue_after_the_payment_days(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.update_payment_settings("cust-1", type_payment="ExternalCheck")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    (invoice,) = billing.client.list_invoices(reference_customer="cust-1").items
    assert invoice.state_invoice == "DueOffline"
    billing.advance("31d")  # renewal: a second offline invoice; the first one is overdue
    states = sorted(
        i.state_invoice or "" for i in billing.client.list_invoices(reference_customer="cust-1")
    )
    assert states == ["DueOffline", "ProblemOverdue"]
    billing.pay_arrears("cust-1")
    states = {i.state_invoice for i in billing.client.list_invoices(reference_customer="cust-1")}
    assert states == {"Paid"}
    assert billing.client.get_subscription_by_id(sub.id or 0).state_subscription == "ActiveRunning"
