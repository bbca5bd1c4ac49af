"""Invoices, balance and billing endpoints: ``Invoices``, ``Invoice``, ``Balance``,
``BalanceLine``, ``Billing/Customer``.

``GET /v1/Invoices`` answers 204 when there is none; ``GET /v1/Balance`` lists the lines not yet
invoiced with their ``Computations``; ``POST /v1/Billing/Customer`` invoices the balance now and
refuses with ``Error.Customer.PaymentSettings.Missing`` when no payment settings are registered
(``ForceOffline`` does not waive it).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Response

from bridge.sandbox.api import Args, envelope, json_response, link_maker, paginate, sandbox
from bridge.sandbox.billing import Line, add_line, ensure_billable, invoice_due
from bridge.sandbox.errors import ApiError, not_found, payment_missing
from bridge.sandbox.ledger import (
    Row,
    customer_by_id,
    has_payment_method,
    require_customer,
    require_subscription,
    segment_of,
)
from bridge.sandbox.periods import money, with_tax
from bridge.sandbox.views import balance_line_json, invoice_json

bp = Blueprint("sandbox_billing", __name__)


def render_invoice(conn: sqlite3.Connection, invoice: Row) -> Any:
    customer = customer_by_id(conn, invoice["customer_id"])
    assert customer is not None
    segment = segment_of(sandbox().catalog, customer)
    return invoice_json(invoice, customer, segment, link_maker().invoice(invoice, customer))


@bp.get("/v1/invoices")
def list_invoices() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer")
    id_customer = args.integer("IdCustomer")
    id_subscription = args.integer("IdSubscription")
    page, size = args.page()
    segment = args.segment()
    sql = "SELECT i.* FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE c.segment = ?"
    params: list[Any] = [segment.reference]
    for column, value in (
        ("c.reference", reference),
        ("c.id", id_customer),
        ("i.subscription_id", id_subscription),
    ):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    service = sandbox()
    service.catch_up()
    with service.store.read() as conn:
        rows = conn.execute(sql + " ORDER BY i.id DESC", params).fetchall()
        items = [render_invoice(conn, r) for r in paginate(rows, page, size)]
    return envelope(items, len(rows), page, size, service.now(), empty_is_204=True)


@bp.get("/v1/invoice")
def get_invoice_by_number() -> Response:
    args = Args()
    number = args.text("FullNumber", required=True, max_length=50)
    args.segment()
    with sandbox().store.read() as conn:
        row = conn.execute("SELECT * FROM invoices WHERE full_number = ?", (number,)).fetchone()
        if row is None:
            raise not_found("Invoice", f"No invoice numbered {number!r}")
        return json_response(render_invoice(conn, row))


@bp.get("/v1/invoice/<int:id_invoice>")
def get_invoice(id_invoice: int) -> Response:
    with sandbox().store.read() as conn:
        row = conn.execute("SELECT * FROM invoices WHERE id = ?", (id_invoice,)).fetchone()
        if row is None:
            raise not_found("Invoice", f"No invoice with Id {id_invoice}")
        return json_response(render_invoice(conn, row))


@bp.get("/v1/balance")
def list_balance() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer")
    id_customer = args.integer("IdCustomer")
    id_subscription = args.integer("IdSubscription")
    feature = args.reference("ReferenceFeature")
    args.flag("Merged")
    page, size = args.page()
    segment = args.segment()
    sql = (
        "SELECT l.* FROM balance_lines l JOIN customers c ON c.id = l.customer_id"
        " WHERE c.segment = ? AND l.state_move = 'Due'"
    )
    params: list[Any] = [segment.reference]
    for column, value in (
        ("c.reference", reference),
        ("c.id", id_customer),
        ("l.subscription_id", id_subscription),
        ("l.feature", feature),
    ):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    service = sandbox()
    with service.store.read() as conn:
        rows = conn.execute(sql + " ORDER BY l.id", params).fetchall()
        items = []
        for line in paginate(rows, page, size):
            customer = customer_by_id(conn, line["customer_id"])
            assert customer is not None
            items.append(balance_line_json(line, customer, segment, service.catalog))
    subtotal = sum(int(r["amount_subtotal"]) for r in rows)
    computations = {
        "AmountSubtotal": subtotal,
        "AmountTotal": with_tax(subtotal, segment.tax_percent),
    }
    return envelope(
        items, len(rows), page, size, service.now(), extra={"Computations": computations}
    )


@bp.post("/v1/balanceline")
def add_balance_line() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    amount = args.integer("Amount", required=True)
    id_subscription = args.integer("IdSubscription")
    label = args.text("Label", max_length=200)
    quantity = args.integer("Quantity", minimum=0)
    type_line = args.text("TypeLine", max_length=50)
    key_charge = args.text("KeyCharge", max_length=50)
    when = args.when("Date")
    start = args.when("DatePeriodStart")
    end = args.when("DatePeriodEnd")
    ensure = args.flag("EnsureBillable")
    if (start is None) != (end is None):
        args.fail("DatePeriodEnd", "DatePeriodStart and DatePeriodEnd go together")
    segment = args.segment()
    assert reference is not None
    assert amount is not None
    service = sandbox()
    with service.transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        if id_subscription is not None:
            sub = require_subscription(tx.conn, id_subscription)
            if sub["customer_id"] != customer["id"]:
                raise not_found("Subscription", "That subscription is not this customer's")
        ensure_billable(tx, customer, amount, ensure if ensure is not None else False)
        line_id = add_line(
            tx,
            customer,
            Line(
                label=label or "Manual line",
                amount=amount,
                type_line=type_line or "Manual",
                subscription_id=id_subscription,
                quantity=quantity,
                key_charge=key_charge,
                date_move=when,
                period_start=start,
                period_end=end,
            ),
        )
        line = tx.one("SELECT * FROM balance_lines WHERE id = ?", (line_id,))
        assert line is not None
        body = balance_line_json(line, customer, segment, service.catalog)
    return json_response(body, 201)


@bp.post("/v1/billing/customer")
def bill_customer() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    ensure = args.flag("EnsureBillable")
    args.when("DateStart")
    args.when("DateEnd")
    args.flag("ForceOffline")
    note = args.text("NoteLocalized", max_length=500)
    segment = args.segment()
    assert reference is not None
    service = sandbox()
    with service.transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        if not has_payment_method(customer):
            raise payment_missing()
        due = tx.one(
            "SELECT COALESCE(SUM(amount_subtotal), 0) FROM balance_lines"
            " WHERE customer_id = ? AND state_move = 'Due'",
            (customer["id"],),
        )
        ensure_billable(tx, customer, int(due[0]) if due else 0, ensure)
        invoice = invoice_due(tx, customer)
        if invoice is None:
            raise ApiError(409, "Error.Billing.NothingToBill", "The customer's balance is empty")
        if note:
            tx.conn.execute("UPDATE invoices SET note = ? WHERE id = ?", (note, invoice["id"]))
            invoice = tx.one("SELECT * FROM invoices WHERE id = ?", (invoice["id"],))
            assert invoice is not None
        body = render_invoice(tx.conn, invoice)
    return json_response(body)


@bp.post("/v1/quoting/balanceline")
def quote_balance_line() -> Response:
    """What adding a balance line would cost (the contract's BalanceLineQuote, changes nothing)."""
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    amount = args.integer("Amount", required=True)
    label = args.text("Label", max_length=200)
    quantity = args.integer("Quantity", minimum=0)
    ensure = args.flag("EnsureBillable")
    segment = args.segment()
    assert reference is not None
    assert amount is not None
    service = sandbox()
    with service.transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        ensure_billable(tx, customer, amount, ensure)
    total = with_tax(amount, segment.tax_percent)
    return json_response(
        {
            "ReferenceCustomer": customer["reference"],
            "LabelLocalized": label or "Manual line",
            "Currency": segment.currency,
            "QuantityBilled": quantity,
            "AmountSubtotal": amount,
            "AmountTotal": total,
            "AmountTotalDue": max(0, total),
            "PricingLocalized": money(total, segment.currency),
        }
    )
