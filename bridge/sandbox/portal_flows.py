"""What the hosted pages change: subscribe, upgrade, register, restart, pay, terminate.

Every workflow is one sandbox transaction that calls the same rules as the API (``subscriptions``,
``billing``), so the same webhooks fire and the same invoices are produced. One thing the hosted
pages add: a payment the customer makes on the page must succeed. When a card is declined during
the workflow (an invoice of the payer ends ``Problem*``), ``Declined`` is raised inside the
transaction, which rolls everything back: nothing started, no card saved, no event.

Each workflow returns an ``Outcome``: what the post-workflow redirect reports (``from``,
``outcome``, ``refo``, ``idsub``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from bridge.sandbox import events, subscriptions
from bridge.sandbox.billing import pay_invoice, set_payment_method
from bridge.sandbox.catalog import OfferDef
from bridge.sandbox.errors import PAYMENT_MISSING, ApiError, state_conflict
from bridge.sandbox.ledger import Row, Tx, customer_by_id
from bridge.sandbox.subscriptions import NewSubscription, payer_of
from bridge.sandbox.views import ADDRESS_FIELDS

OFFLINE_PAYMENT = "ExternalBank"
UNPAID_STATES = ("ProblemAuto", "ProblemOverdue", "DueOffline")
DRAFTS_WAITING_FOR_PAYMENT = ("DraftAgent", "DraftCustomer")


class Declined(Exception):
    """The card was declined: the workflow's transaction is rolled back."""


@dataclass(frozen=True)
class Payment:
    """What the customer entered: a card number, "pay offline", or nothing (use what is on file)."""

    card_number: str | None = None
    offline: bool = False


@dataclass(frozen=True)
class Contact:
    name: str | None
    address: Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    origin: str  # ``from``
    outcome: str
    reference_offer: str | None = None
    id_subscription: int | None = None


def _last_invoice_id(tx: Tx, customer: Row) -> int:
    row = tx.one(
        "SELECT COALESCE(MAX(id), 0) FROM invoices WHERE customer_id = ?", (customer["id"],)
    )
    return int(row[0]) if row else 0


def _new_invoices(tx: Tx, customer: Row, after: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM invoices WHERE customer_id = ? AND id > ? ORDER BY id",
        (customer["id"], after),
    )


def _outcome_of(invoices: list[Row]) -> str:
    """``paid`` / ``pending`` (offline) / ``nocharge``; a failed charge never gets here."""
    if any(i["state"].startswith("Problem") for i in invoices):
        raise Declined
    if any(i["state"] == "DueOffline" for i in invoices):
        return "pending"
    return "paid" if invoices else "nocharge"


def save_contact(tx: Tx, customer: Row, contact: Contact) -> Row:
    """The name and billing address typed on the page (the email is never changed by the pages)."""
    changes = {k: v for k, v in contact.address.items() if k in ADDRESS_FIELDS}
    if contact.name is not None and contact.name != customer["name"]:
        tx.conn.execute(
            "UPDATE customers SET name = ? WHERE id = ?", (contact.name, customer["id"])
        )
    if changes:
        stored = json.loads(customer["address"])
        if any(stored.get(k) != v for k, v in changes.items()):
            stored.update(changes)
            tx.conn.execute(
                "UPDATE customers SET address = ? WHERE id = ?",
                (json.dumps(stored), customer["id"]),
            )
            fresh = customer_by_id(tx.conn, customer["id"])
            assert fresh is not None
            events.emit(tx, "CustomerBillingAddressUpdated", fresh)
    fresh = customer_by_id(tx.conn, customer["id"])
    assert fresh is not None
    return fresh


def apply_payment(tx: Tx, payer: Row, payment: Payment) -> Row:
    """Register the card (or offline payment) entered on the page; nothing entered: unchanged."""
    if payment.card_number:
        return set_payment_method(tx, payer, card_number=payment.card_number, type_payment=None)
    if payment.offline:
        return set_payment_method(tx, payer, card_number=None, type_payment=OFFLINE_PAYMENT)
    return payer


def _own(tx: Tx, customer: Row, id_subscription: int) -> Row:
    sub = tx.one(
        "SELECT * FROM subscriptions WHERE id = ? AND customer_id = ? AND state != 'Deleted'",
        (id_subscription, customer["id"]),
    )
    if sub is None:
        raise ApiError(404, "Error.Api.Subscription.NotFound", "No such subscription")
    return sub


def subscribe(
    tx: Tx,
    customer: Row,
    *,
    offer: OfferDef | None,
    id_subscription: int | None,
    contact: Contact,
    payment: Payment,
) -> Outcome:
    """Create (from ``offer``) or take (the draft ``id_subscription``) a subscription; start it."""
    customer = save_contact(tx, customer, contact)
    if id_subscription is not None:
        sub = _own(tx, customer, id_subscription)
        if not sub["state"].startswith("Draft"):
            raise state_conflict("This subscription has already started")
    else:
        assert offer is not None
        sub = subscriptions.create(tx, customer, NewSubscription(offer=offer))
        sub = subscriptions.update(tx, sub, state="DraftCustomer")  # created by the customer
    payer = payer_of(tx, sub)
    apply_payment(tx, payer, payment)
    before = _last_invoice_id(tx, payer)
    sub = subscriptions.start(tx, sub)
    outcome = _outcome_of(_new_invoices(tx, payer, before))
    return Outcome("subscribe", outcome, sub["offer"], sub["id"])


def upgrade(
    tx: Tx, customer: Row, id_subscription: int, offer: OfferDef, payment: Payment
) -> Outcome:
    old = _own(tx, customer, id_subscription)
    if offer.reference == old["offer"]:
        raise ApiError(409, "Error.Api.Subscription.SameOffer", "You already have this offer")
    payer = payer_of(tx, old)
    apply_payment(tx, payer, payment)
    before = _last_invoice_id(tx, payer)
    new = subscriptions.upgrade(tx, old, offer, immediate=True, ensure=None)
    outcome = _outcome_of(_new_invoices(tx, payer, before))
    return Outcome("upgrade", outcome, new["offer"], new["id"])


def register(tx: Tx, customer: Row, contact: Contact, payment: Payment) -> Outcome:
    """Save contact details and the payment method, then start the drafts waiting for payment.

    As ProAbono does, registering a payment method starts the customer's Draft subscriptions
    (``DraftAgent``/``DraftCustomer``) that could not start without one; delayed drafts wait for
    their date. The redirect reports the first started one (``from=subscribe``), else
    ``from=portal&outcome=registered``.
    """
    customer = save_contact(tx, customer, contact)
    customer = apply_payment(tx, customer, payment)
    drafts = tx.all(
        "SELECT * FROM subscriptions WHERE customer_id = ? AND state IN (?, ?) ORDER BY id",
        (customer["id"], *DRAFTS_WAITING_FOR_PAYMENT),
    )
    started: Row | None = None
    invoices: list[Row] = []
    for draft in drafts:
        payer = payer_of(tx, draft)
        before = _last_invoice_id(tx, payer)
        sub = subscriptions.start(tx, draft, strict=False)
        invoices += _new_invoices(tx, payer, before)
        if sub["state"].startswith("Active") and started is None:
            started = sub
    outcome = _outcome_of(invoices)
    if started is None:
        return Outcome("portal", "registered")
    return Outcome("subscribe", outcome, started["offer"], started["id"])


def unpaid_invoices(conn: sqlite3.Connection, payer: Row) -> list[Row]:
    rows = conn.execute(
        "SELECT * FROM invoices WHERE customer_id = ? AND state IN (?, ?, ?) ORDER BY id",
        (payer["id"], *UNPAID_STATES),
    ).fetchall()
    return list(rows)


def _pay(tx: Tx, invoice: Row) -> Row:
    """Collect ``invoice`` by card (the pages take card payments only: an offline payment is
    recorded by the site owner, not declared by the customer)."""
    payer = customer_by_id(tx.conn, invoice["customer_id"])
    assert payer is not None
    if payer["type_payment"] != "Card":
        raise ApiError(403, PAYMENT_MISSING, "Enter a card to pay what is due")
    paid = pay_invoice(tx, invoice)
    if paid["state"] != "Paid":
        raise Declined
    return paid


def restart(tx: Tx, customer: Row, id_subscription: int, payment: Payment) -> Outcome:
    """Pay the arrears (card entered or on file), then restart the subscription."""
    sub = _own(tx, customer, id_subscription)
    payer = payer_of(tx, sub)
    payer = apply_payment(tx, payer, payment)
    paid = [_pay(tx, invoice) for invoice in unpaid_invoices(tx.conn, payer)]
    before = _last_invoice_id(tx, payer)
    sub = subscriptions.start(tx, sub)
    outcome = _outcome_of(_new_invoices(tx, payer, before))
    if paid and outcome == "nocharge":
        outcome = "paid"
    return Outcome("restart", outcome, sub["offer"], sub["id"])


def charge(tx: Tx, customer: Row, id_invoice: int, payment: Payment) -> Outcome:
    invoice = tx.one(
        "SELECT * FROM invoices WHERE id = ? AND customer_id = ?", (id_invoice, customer["id"])
    )
    if invoice is None:
        raise ApiError(404, "Error.Api.Invoice.NotFound", "No such invoice")
    if invoice["state"] == "Paid":
        return Outcome("invoice", "paid", id_subscription=invoice["subscription_id"])
    apply_payment(tx, customer, payment)
    invoice = _pay(tx, invoice)
    return Outcome("invoice", "paid", id_subscription=invoice["subscription_id"])


def terminate(tx: Tx, customer: Row, id_subscription: int) -> Outcome:
    """Terminate at the end of the term (``ActiveDelayedTermination``)."""
    sub = _own(tx, customer, id_subscription)
    if not sub["state"].startswith("Active"):
        raise state_conflict("Only a running subscription can be terminated here")
    sub = subscriptions.terminate(tx, sub, immediate=False, date_termination=None)
    return Outcome("terminate", "nocharge", sub["offer"], sub["id"])
