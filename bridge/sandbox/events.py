"""Webhook events, written to the ``events`` table inside the transaction that caused them.

The envelope follows the reference: ``Id`` (unique, ``trg_...``), ``IdBusiness``, ``IdSegment``,
``ReferenceSegment``, ``DateTrigger``, ``TypeTrigger`` and the resource blocks of the event's family
(``Customer`` always; subscription events add ``CustomerBuyer``, ``Offer`` and ``Subscription``,
except ``SubscriptionDateTermUpdated``; invoice events add ``InvoiceDebit``; payment-method events
add ``GatewayPermission``). Delivery is ``webhooks``' business, never the API request's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from bridge.sandbox.ledger import Row, Tx, customer_by_id, segment_of, status_of, terms_of
from bridge.sandbox.store import to_db
from bridge.sandbox.views import clean, date

ID_BUSINESS = 1


def _customer_block(customer: Row) -> dict[str, Any]:
    return {
        "Id": customer["id"],
        "ReferenceCustomer": customer["reference"],
        "Name": customer["name"],
        "Email": customer["email"],
        "Language": customer["language"],
        "Status": customer["status"],
    }


def _gateway_block(customer: Row) -> dict[str, Any] | None:
    kind = customer["type_payment"]
    if kind is None:
        return None
    card = customer["card_number"]
    return {
        "Id": customer["id"],
        "StatePermission": "Enabled",
        "TypePayment": kind,
        "TypeGateway": "CardDummy" if kind == "Card" else "Offline",
        "NameDisplay": f"****-****-****-{card[-4:]}" if card else kind,
    }


def emit(
    tx: Tx,
    type_trigger: str,
    customer: Row,
    *,
    subscription: Row | None = None,
    invoice: Row | None = None,
) -> str:
    """Record one event; returns its ``Id``. Rows are re-read so blocks show the final state."""
    fresh = customer_by_id(tx.conn, customer["id"]) or customer
    segment = segment_of(tx.catalog, fresh)
    body: dict[str, Any] = {
        "Id": f"trg_{uuid.uuid4().hex}",
        "IdBusiness": ID_BUSINESS,
        "IdSegment": segment.id,
        "ReferenceSegment": segment.reference,
        "Currency": segment.currency,
        "DateTrigger": date(tx.now),
        "TypeTrigger": type_trigger,
        "Customer": _customer_block(fresh),
    }
    if subscription is not None and type_trigger != "SubscriptionDateTermUpdated":
        sub = tx.one("SELECT * FROM subscriptions WHERE id = ?", (subscription["id"],))
        sub = sub or subscription
        buyer = customer_by_id(tx.conn, sub["buyer_id"]) if sub["buyer_id"] else fresh
        offer = tx.catalog.offer(sub["offer"])
        terms = terms_of(sub)
        body["CustomerBuyer"] = _customer_block(buyer or fresh)
        if offer is not None:
            body["Offer"] = {
                "Id": offer.id,
                "IdSegment": segment.id,
                "ReferenceOffer": offer.reference,
                "StateLife": "Ok",
                "IsVisible": offer.visible,
                "IsPriced": offer.is_priced,
                "Name": offer.name,
                "AmountRecurrence": offer.amount_recurrence,
                "DurationRecurrence": offer.duration_recurrence,
                "UnitRecurrence": offer.unit_recurrence,
            }
        body["Subscription"] = {
            "Id": sub["id"],
            "Status": status_of(sub["state"]),
            "StateSubscription": sub["state"],
            "DateStart": date(sub["date_start"]),
            "AmountRecurrence": terms.get("AmountRecurrence"),
            "DurationRecurrence": terms.get("DurationRecurrence"),
            "UnitRecurrence": terms.get("UnitRecurrence"),
        }
    if invoice is not None:
        inv = tx.one("SELECT * FROM invoices WHERE id = ?", (invoice["id"],)) or invoice
        state = inv["state"]
        body["InvoiceDebit"] = {
            "Id": inv["id"],
            "FullNumber": inv["full_number"],
            "Status": next(s for s in ("Due", "Paid", "Problem", "Void") if state.startswith(s)),
            "StateInvoice": state,
            "DateIssue": date(inv["date_issue"]),
            "DatePayment": date(inv["date_payment"]),
            "TypePayment": inv["type_payment"],
            "AmountSubtotal": inv["amount_subtotal"],
            "AmountTotal": inv["amount_total"],
        }
    if type_trigger.startswith(("CustomerPaymentMethod", "CustomerCharging", "GatewayPermission")):
        body["GatewayPermission"] = _gateway_block(fresh)
    body = clean(body)
    tx.insert(
        "INSERT INTO events(id, type, body, date_trigger) VALUES (?, ?, ?, ?)",
        (body["Id"], type_trigger, json.dumps(body), to_db(tx.now)),
    )
    return str(body["Id"])
