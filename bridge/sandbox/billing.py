"""Money: balance lines, invoices, charging with test cards and manual payment types, refusals.

A billable change adds ``Due`` balance lines; ``invoice_due`` turns a customer's due lines into one
invoice (when their sum is positive) and charges it with the customer's payment method:

=====================  ===================================================================
payment method         outcome of a charge
=====================  ===================================================================
card 4242424242424242  ``Paid`` (any Luhn-valid number but the declining ones succeeds)
card 4000000000000002  ``ProblemAuto`` (declined; counts as unpaid)
External* (manual)     ``DueOffline``; ``ProblemOverdue`` once ``payment_days`` have passed
none                   the change is refused first (``Error.Customer.PaymentSettings.Missing``)
=====================  ===================================================================

``ensure_billable`` is the one gate for every billable change: no payment method → 403
``Error.Customer.PaymentSettings.Missing``; ``max_unpaid_invoices`` unpaid → 403
``Error.Customer.Billing.CappingReached``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.sandbox import events
from bridge.sandbox.errors import ApiError, capping_reached, invalid, payment_missing
from bridge.sandbox.ledger import (
    Row,
    Tx,
    count_unpaid,
    customer_by_id,
    has_payment_method,
    segment_of,
)
from bridge.sandbox.periods import with_tax
from bridge.sandbox.store import to_db

SUCCEEDING_CARD = "4242424242424242"
DECLINING_CARDS = frozenset({"4000000000000002", "4000000000009995"})
MANUAL_PAYMENT_TYPES = ("ExternalBank", "ExternalCash", "ExternalCheck", "ExternalOther")


@dataclass(frozen=True)
class Line:
    """A balance line to add (cents before tax; negative = credit)."""

    label: str
    amount: int
    type_line: str
    subscription_id: int | None = None
    feature: str | None = None
    quantity: int | None = None
    key_charge: str | None = None
    date_move: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def ensure_billable(tx: Tx, customer: Row, amount: int, ensure: bool | None) -> None:
    """Refuse a change costing ``amount`` the customer cannot be billed for.

    ``ensure`` is the reference's ``EnsureBillable``: None = check when a fee is involved,
    True = always check, False = never check.
    """
    if ensure is False:
        return
    if (ensure or amount > 0) and not has_payment_method(customer):
        raise payment_missing()
    segment = segment_of(tx.catalog, customer)
    if amount > 0 and count_unpaid(tx.conn, customer["id"]) >= segment.max_unpaid_invoices:
        raise capping_reached()


def add_line(tx: Tx, customer: Row, line: Line, state_move: str = "Due") -> int:
    segment = segment_of(tx.catalog, customer)
    return tx.insert(
        "INSERT INTO balance_lines(customer_id, subscription_id, feature, label, amount_subtotal,"
        " amount_total, quantity, state_move, type_line, key_charge, date_move,"
        " date_period_start, date_period_end) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            customer["id"],
            line.subscription_id,
            line.feature,
            line.label,
            line.amount,
            with_tax(line.amount, segment.tax_percent),
            line.quantity,
            state_move,
            line.type_line,
            line.key_charge,
            to_db(line.date_move or (None if line.period_start else tx.now)),
            to_db(line.period_start),
            to_db(line.period_end),
        ),
    )


def invoice_due(tx: Tx, customer: Row, *, subscription_id: int | None = None) -> Row | None:
    """Invoice every due line of the customer (and charge it); None when nothing is owed."""
    lines = tx.all(
        "SELECT * FROM balance_lines WHERE customer_id = ? AND state_move = 'Due' ORDER BY id",
        (customer["id"],),
    )
    subtotal = sum(int(line["amount_subtotal"]) for line in lines)
    if not lines or subtotal <= 0:
        return None
    segment = segment_of(tx.catalog, customer)
    number = tx.one(
        "SELECT COUNT(*) FROM invoices i JOIN customers c ON c.id = i.customer_id "
        "WHERE c.segment = ?",
        (segment.reference,),
    )
    full_number = f"S-{segment.id}.{int(number[0]) + 1 if number else 1:08d}"
    invoice_id = tx.insert(
        "INSERT INTO invoices(customer_id, subscription_id, full_number, amount_subtotal,"
        " amount_total, state, date_issue, date_update) VALUES (?,?,?,?,?, 'DueToProcess', ?, ?)",
        (
            customer["id"],
            subscription_id,
            full_number,
            subtotal,
            with_tax(subtotal, segment.tax_percent),
            to_db(tx.now),
            to_db(tx.now),
        ),
    )
    tx.conn.execute(
        "UPDATE balance_lines SET state_move = 'Billed', invoice_id = ? "
        "WHERE customer_id = ? AND state_move = 'Due'",
        (invoice_id, customer["id"]),
    )
    invoice = tx.one("SELECT * FROM invoices WHERE id = ?", (invoice_id,))
    assert invoice is not None
    return charge(tx, invoice, issuing=True)


def charge(tx: Tx, invoice: Row, *, issuing: bool = False) -> Row:
    """Try to collect ``invoice`` with its customer's current payment method."""
    customer = customer_by_id(tx.conn, invoice["customer_id"])
    assert customer is not None
    kind = customer["type_payment"]
    now = to_db(tx.now)
    if kind == "Card":
        if issuing:
            events.emit(tx, "InvoiceDebitIssuedPaymentAuto", customer, invoice=invoice)
        declined = customer["card_number"] in DECLINING_CARDS
        state = "ProblemAuto" if declined else "Paid"
        tx.conn.execute(
            "UPDATE invoices SET state = ?, type_payment = 'Card', date_update = ?,"
            " date_payment = ? WHERE id = ?",
            (state, now, None if declined else now, invoice["id"]),
        )
        trigger = "InvoiceDebitPaymentAutoFailed" if declined else "InvoiceDebitPaid"
        events.emit(tx, trigger, customer, invoice=invoice)
        events.emit(
            tx,
            "CustomerChargingFailed" if declined else "CustomerChargingSucceeded",
            customer,
        )
    elif issuing or invoice["state"] in ("DueToProcess", "ProblemAuto"):
        segment = segment_of(tx.catalog, customer)
        limit = tx.now + timedelta(days=segment.payment_days)
        tx.conn.execute(
            "UPDATE invoices SET state = 'DueOffline', type_payment = ?, date_update = ?,"
            " date_payment_limit = ? WHERE id = ?",
            (kind, now, to_db(limit), invoice["id"]),
        )
        events.emit(tx, "InvoiceDebitIssuedPaymentOffline", customer, invoice=invoice)
    fresh = tx.one("SELECT * FROM invoices WHERE id = ?", (invoice["id"],))
    assert fresh is not None
    return fresh


def record_offline_payment(tx: Tx, invoice: Row) -> Row:
    """A manual payment was received (what a site owner marks in the BackOffice)."""
    customer = customer_by_id(tx.conn, invoice["customer_id"])
    assert customer is not None
    tx.conn.execute(
        "UPDATE invoices SET state = 'Paid', date_payment = ?, date_update = ? WHERE id = ?",
        (to_db(tx.now), to_db(tx.now), invoice["id"]),
    )
    events.emit(tx, "InvoiceDebitPaid", customer, invoice=invoice)
    fresh = tx.one("SELECT * FROM invoices WHERE id = ?", (invoice["id"],))
    assert fresh is not None
    return fresh


def pay_invoice(tx: Tx, invoice: Row) -> Row:
    """Collect one due or failed invoice: charge the card, or record a manual payment."""
    if invoice["state"] == "Paid":
        return invoice
    if invoice["state"].startswith(("Void", "Uncollectible")):
        raise ApiError(409, "Error.Api.Invoice.StateInvalid", "This invoice cannot be paid")
    customer = customer_by_id(tx.conn, invoice["customer_id"])
    assert customer is not None
    if not has_payment_method(customer):
        raise payment_missing()
    if customer["type_payment"] == "Card":
        return charge(tx, invoice)
    return record_offline_payment(tx, invoice)


def set_payment_method(
    tx: Tx, customer: Row, *, card_number: str | None, type_payment: str | None
) -> Row:
    """Register a test card or a manual type (``type_payment=None`` and no card removes it)."""
    if card_number is not None:
        number = card_number.replace(" ", "").replace("-", "")
        if not luhn_valid(number):
            raise invalid("CardNumber", "Not a valid card number (use 4242424242424242)")
        kind: str | None = "Card"
        stored: str | None = number
    elif type_payment is not None:
        if type_payment not in MANUAL_PAYMENT_TYPES:
            raise invalid(
                "TypePayment", "TypePayment must be one of " + ", ".join(MANUAL_PAYMENT_TYPES)
            )
        kind, stored = type_payment, None
    else:
        kind, stored = None, None
    tx.conn.execute(
        "UPDATE customers SET type_payment = ?, card_number = ? WHERE id = ?",
        (kind, stored, customer["id"]),
    )
    fresh = customer_by_id(tx.conn, customer["id"])
    assert fresh is not None
    events.emit(tx, "CustomerPaymentMethodUpdated", fresh)
    return fresh


def overdue_invoices(tx: Tx, at: datetime) -> int:
    """Offline invoices past their payment limit become ``ProblemOverdue``."""
    rows = tx.all(
        "SELECT * FROM invoices WHERE state = 'DueOffline' AND date_payment_limit <= ?",
        (to_db(at),),
    )
    for invoice in rows:
        tx.conn.execute(
            "UPDATE invoices SET state = 'ProblemOverdue', date_update = ? WHERE id = ?",
            (to_db(at), invoice["id"]),
        )
        customer = customer_by_id(tx.conn, invoice["customer_id"])
        assert customer is not None
        events.emit(tx, "InvoiceDebitOverdue", customer, invoice=invoice)
    return len(rows)
