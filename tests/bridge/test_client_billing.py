"""ProAbonoClient, money: invoices, balance, balance lines and billing a customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.errors import PaymentMethodMissing
from bridge.models import BalanceLine, Invoice
from tests.bridge import payloads
from tests.bridge.fake_billing import FakeBilling, Route, ids, items_of, model, page_of

CREDIT_NOTE = payloads.invoice(
    Id=549014,
    FullNumber="S-3.00000034",
    AmountSubtotal=-109500,
    AmountTotal=-131400,
    Status="Paid",
    StateInvoice="Paid",
    TypeCredit="Refund",
    Reason="Duplicate charge",
)

BALANCE = payloads.page(
    [payloads.balance_line(), payloads.balance_line(AmountSubtotal=39900, AmountTotal=47880)],
    Computations={"AmountSubtotal": 89900, "AmountTotal": 107880},
)

ROUTES = [
    Route(
        name="list_invoices",
        call=lambda c: c.list_invoices(),
        method="GET",
        path="/v1/Invoices",
        query={"Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.invoice(), CREDIT_NOTE], size_page=100),
        expect=page_of(Invoice),
        segment="query",
    ),
    Route(
        name="list_invoices",
        variant="of-one-subscription-page-2",
        call=lambda c: c.list_invoices(
            reference_customer="cust-42", id_subscription=140960, page=2, size_page=1
        ),
        method="GET",
        path="/v1/Invoices",
        query={
            "ReferenceCustomer": "cust-42",
            "IdSubscription": "140960",
            "Page": "2",
            "SizePage": "1",
        },
        answer=payloads.page([CREDIT_NOTE], page=2, size_page=1, total=2),
        expect=page_of(Invoice),
        segment="query",
    ),
    Route(
        name="iter_invoices",
        call=lambda c: list(c.iter_invoices(reference_customer="cust-42")),
        method="GET",
        path="/v1/Invoices",
        query={"ReferenceCustomer": "cust-42", "Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.invoice(), CREDIT_NOTE], size_page=100),
        expect=items_of(Invoice),
        segment="query",
    ),
    Route(
        name="get_invoice",
        call=lambda c: c.get_invoice(549013),
        method="GET",
        path="/v1/Invoice/549013",
        answer=payloads.invoice(),
        expect=model(Invoice),
    ),
    Route(
        name="get_invoice_by_number",
        call=lambda c: c.get_invoice_by_number("S-3.00000033"),
        method="GET",
        path="/v1/Invoice",
        query={"FullNumber": "S-3.00000033"},
        answer=payloads.invoice(),
        expect=model(Invoice),
        segment="query",
    ),
    Route(
        name="list_balance",
        call=lambda c: c.list_balance(),
        method="GET",
        path="/v1/Balance",
        query={"Page": "1", "SizePage": "100"},
        answer=BALANCE,
        expect=page_of(BalanceLine),
    ),
    Route(
        name="list_balance",
        variant="merged-for-one-feature",
        call=lambda c: c.list_balance(
            reference_customer="cust-42",
            id_subscription=140960,
            reference_feature="feat-users",
            merged=True,
            page=1,
            size_page=50,
        ),
        method="GET",
        path="/v1/Balance",
        query={
            "ReferenceCustomer": "cust-42",
            "IdSubscription": "140960",
            "ReferenceFeature": "feat-users",
            "Merged": "true",
            "Page": "1",
            "SizePage": "50",
        },
        answer=BALANCE,
        expect=page_of(BalanceLine),
    ),
    Route(
        name="add_balance_line",
        call=lambda c: c.add_balance_line("cust-42", 60000),
        method="POST",
        path="/v1/BalanceLine",
        body={"ReferenceCustomer": "cust-42", "Amount": 60000},
        status=201,
        answer=payloads.balance_line(),
        expect=model(BalanceLine),
    ),
    Route(
        name="add_balance_line",
        variant="a-dated-credit-with-every-field",
        call=lambda c: c.add_balance_line(
            "cust-42",
            -1500,
            label="Goodwill",
            quantity=3,
            type_line="CreditPromotion",
            key_charge="Service",
            id_subscription=140960,
            date=datetime(2025, 2, 1, 8, 0, tzinfo=UTC),
            ensure_billable=False,
        ),
        method="POST",
        path="/v1/BalanceLine",
        query={"EnsureBillable": "false"},
        body={
            "ReferenceCustomer": "cust-42",
            "IdSubscription": 140960,
            "Amount": -1500,
            "TypeLine": "CreditPromotion",
            "KeyCharge": "Service",
            "Label": "Goodwill",
            "Quantity": 3,
            "Date": "2025-02-01T08:00:00.00Z",
        },
        status=201,
        answer=payloads.balance_line(AmountSubtotal=-1250, AmountTotal=-1500),
        expect=model(BalanceLine),
    ),
    Route(
        name="bill_customer",
        call=lambda c: c.bill_customer("cust-42"),
        method="POST",
        path="/v1/Billing/Customer",
        body={"ReferenceCustomer": "cust-42"},
        answer=payloads.invoice(),
        expect=model(Invoice),
    ),
    Route(
        name="bill_customer",
        variant="a-period-offline-with-a-note",
        call=lambda c: c.bill_customer(
            "cust-42",
            ensure_billable=True,
            date_start=datetime(2025, 1, 1, tzinfo=UTC),
            date_end=datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC),
            force_offline=True,
            note_localized="Thank you",
        ),
        method="POST",
        path="/v1/Billing/Customer",
        body={
            "ReferenceCustomer": "cust-42",
            "EnsureBillable": True,
            "DateStart": "2025-01-01T00:00:00.00Z",
            "DateEnd": "2025-01-31T23:59:59.00Z",
            "ForceOffline": True,
            "NoteLocalized": "Thank you",
        },
        answer=payloads.invoice(NoteLocalized="Thank you"),
        expect=model(Invoice),
    ),
]


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@pytest.mark.parametrize("route", ROUTES, ids=ids(ROUTES))
def test_request_on_the_wire_and_parsed_answer(billing: FakeBilling, route: Route) -> None:
    billing.check(route)


def test_invoices_and_credit_notes_are_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Invoices", payloads.page([payloads.invoice(), CREDIT_NOTE]))

    debit, credit = billing.client.list_invoices()

    assert (debit.id, debit.amount_total, debit.type_credit) == (549013, 131400, None)
    assert debit.date_payment_limit == datetime(2025, 3, 14, 10, 10, 44, tzinfo=UTC)
    pdf = debit.links.get("insite-related-invoice")
    assert pdf is not None
    assert pdf.type == "application/pdf"
    assert pdf.href == "https://demo-eur.proabono.com/portal-inv-pdf/Pq3Zr8"
    assert (credit.amount_total, credit.type_credit, credit.reason) == (
        -131400,
        "Refund",
        "Duplicate charge",
    )


def test_no_invoice_is_a_204_and_an_empty_page(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Invoices", None, status=204)

    page = billing.client.list_invoices(reference_customer="cust-42")

    assert (page.items, page.total_items, page.has_next) == ((), 0, False)


def test_the_balance_keeps_its_computations(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Balance", BALANCE)

    balance = billing.client.list_balance(reference_customer="cust-42")

    assert balance.computations == {"AmountSubtotal": 89900, "AmountTotal": 107880}
    assert [line.amount_total for line in balance] == [60000, 47880]
    assert (balance.total_items, balance.count) == (2, 2)
    assert balance.items[0].date_move == datetime(2025, 2, 12, 10, 10, 44, tzinfo=UTC)


@pytest.mark.parametrize("amount", [15.5, 1500.0, "1500", True], ids=repr)
def test_a_balance_amount_must_be_integer_cents(amount: Any) -> None:
    with FakeBilling() as fake, pytest.raises(ValueError, match="cents"):
        fake.client.add_balance_line("cust-42", amount)
    assert fake.sent() == []


def test_billing_a_customer_without_payment_settings_is_refused(billing: FakeBilling) -> None:
    missing = payloads.error("Error.Customer.PaymentSettings.Missing", "No payment settings")
    billing.reply("POST", "/v1/Billing/Customer", missing, status=403)

    with pytest.raises(PaymentMethodMissing):
        billing.client.bill_customer("cust-42", force_offline=True)
    assert billing.outcomes() == [403]
