"""What the hosted pages show: subscriptions, usage, invoices, offers and quotes, in words.

Read-only helpers turning rows into plain dicts for the templates. Quotes run the quoting rules of
``/v1/Quoting/...`` (``api_quoting``) in a savepoint that is rolled back, so the page shows what
the workflow will bill.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bridge.models import parse_datetime
from bridge.sandbox import pricing, subscriptions
from bridge.sandbox.api_quoting import _quote_subscription
from bridge.sandbox.catalog import Catalog, OfferDef
from bridge.sandbox.ledger import Row, Tx, features_of, offer_of, segment_of, terms_of
from bridge.sandbox.periods import money, recurrence_label
from bridge.sandbox.store import from_db, must_date
from bridge.sandbox.subscriptions import NewSubscription, payer_of

Json = dict[str, Any]

_INVOICE_WORDS = {
    "Paid": "Paid",
    "DueToProcess": "Being processed",
    "DueOffline": "Awaiting offline payment",
    "ProblemAuto": "Payment failed",
    "ProblemOverdue": "Overdue",
    "Void": "Cancelled",
    "Uncollectible": "Uncollectible",
    "Draft": "Draft",
}
_PAYMENT_WORDS = {
    "ExternalBank": "Bank transfer (offline)",
    "ExternalCash": "Cash (offline)",
    "ExternalCheck": "Cheque (offline)",
    "ExternalOther": "Offline payment",
}
_PRIORITY = {"Active": 0, "Suspended": 1, "Draft": 2, "Ended": 3}


def day(value: str | datetime | None) -> str:
    """``2025-04-03`` → ``3 April 2025`` (empty when there is no date)."""
    when = from_db(value) if isinstance(value, str) else value
    if when is None:
        return ""
    return f"{when.day} {when:%B %Y}"


def invoice_words(state: str) -> str:
    return _INVOICE_WORDS.get(state, state)


def tone(state: str) -> str:
    """A CSS badge class for a subscription or invoice state."""
    if state in ("Paid", "ActiveRunning"):
        return "ok"
    if state.startswith(("Problem", "Suspended")):
        return "bad"
    if state.startswith(("Ended", "Void")):
        return "muted"
    return "warn"


def state_words(sub: Row) -> str:
    state: str = sub["state"]
    if state == "ActiveRunning":
        return "Active"
    if state == "ActiveDelayedTermination":
        return f"Active, ends on {day(sub['date_term'] or sub['date_period_end'])}"
    if state == "ActiveDelayedUpgrade":
        return f"Active, changes offer on {day(sub['date_period_end'])}"
    if state == "ActiveDelayedSuspension":
        return "Active, to be suspended at the end of the period"
    if state == "SuspendedPaymentDue":
        return "Suspended: a payment is due"
    if state == "SuspendedNoPaymentInfo":
        return "Suspended: a payment method is needed"
    if state == "SuspendedAgent":
        return "Suspended by the site"
    if state == "DraftDelayedStart":
        return f"Starts on {day(sub['date_start'])}"
    if state == "DraftDelayedUpgrade":
        return f"Starts on {day(sub['date_start'])} (offer change)"
    if state.startswith("Draft"):
        return "Not started: waiting for payment"
    if state == "EndedUpgrade":
        return "Ended (offer changed)"
    if state == "EndedTerminated":
        return "Terminated"
    if state == "EndedComplete":
        return "Completed"
    return state


def payment_label(customer: Row) -> str | None:
    kind = customer["type_payment"]
    if kind == "Card" and customer["card_number"]:
        return f"Card •••• {customer['card_number'][-4:]}"
    if kind in _PAYMENT_WORDS:
        return _PAYMENT_WORDS[kind]
    return None


def current_subscriptions(conn: Any, customer: Row) -> list[Row]:
    """The customer's subscriptions that are not over, most relevant first."""
    rows = conn.execute(
        "SELECT * FROM subscriptions WHERE customer_id = ? AND state NOT LIKE 'Ended%'"
        " AND state != 'Deleted' ORDER BY id DESC",
        (customer["id"],),
    ).fetchall()
    return sorted(rows, key=lambda r: (_PRIORITY.get(_status(r["state"]), 9), -r["id"]))


def active_subscription(conn: Any, customer: Row) -> Row | None:
    for row in current_subscriptions(conn, customer):
        if row["state"].startswith("Active"):
            return row
    return None


def _status(state: str) -> str:
    for status in _PRIORITY:
        if state.startswith(status):
            return status
    return state


def usage_lines(conn: Any, sub: Row, catalog: Catalog) -> list[Json]:
    """``3 of 10 downloads used`` and the like, one per visible feature of ``sub``."""
    lines = []
    for row in features_of(conn, sub["id"]):
        feature = catalog.feature(row["feature"])
        if feature is None or not feature.visible:
            continue
        title = feature.title
        noun = title.lower()
        included, current = row["quantity_included"], row["quantity_current"]
        ratio: float | None = None
        if feature.type == "OnOff":
            text = "Included" if row["is_enabled"] else "Not included"
        elif included is None:
            text = f"Unlimited ({current} used)" if feature.type == "Consumption" else "Unlimited"
        elif feature.type == "Consumption":
            text = f"{current} of {included} {noun} used"
            ratio = min(1.0, current / included) if included else 1.0
        else:
            text = f"{current} of {included} {noun} in use"
            ratio = min(1.0, current / included) if included else 1.0
        lines.append({"title": title, "text": text, "ratio": ratio})
    return lines


def subscription_card(conn: Any, sub: Row, catalog: Catalog, now: datetime) -> Json:
    offer = offer_of(catalog, sub)
    terms = terms_of(sub)
    currency = offer.segment.currency if offer else "EUR"
    trial_left = None
    if sub["is_trial"] and sub["date_period_end"]:
        seconds = (must_date(sub["date_period_end"]) - now).total_seconds()
        trial_left = max(0, math.ceil(seconds / 86400))
    return {
        "id": sub["id"],
        "offer": sub["offer"],
        "title": sub["title"] or (offer.name if offer else sub["offer"]),
        "state": sub["state"],
        "words": state_words(sub),
        "tone": tone(sub["state"]),
        "price": recurrence_label(
            int(terms.get("AmountRecurrence") or 0),
            currency,
            int(terms.get("DurationRecurrence") or 1),
            str(terms.get("UnitRecurrence") or "Month"),
        ),
        "period_end": day(sub["date_period_end"]),
        "trial_left": trial_left,
        "usage": usage_lines(conn, sub, catalog),
        "can_terminate": sub["state"] in ("ActiveRunning", "ActiveDelayedUpgrade"),
        "can_restart": sub["state"].startswith("Suspended")
        or sub["state"] == "ActiveDelayedTermination",
        "can_upgrade": sub["state"] in ("ActiveRunning", "ActiveDelayedUpgrade"),
        "is_draft": sub["state"] in ("DraftAgent", "DraftCustomer"),
    }


def invoice_row(invoice: Row, currency: str) -> Json:
    return {
        "id": invoice["id"],
        "number": invoice["full_number"],
        "date": day(invoice["date_issue"]),
        "amount": money(int(invoice["amount_total"]), currency),
        "state": invoice["state"],
        "words": invoice_words(invoice["state"]),
        "tone": tone(invoice["state"]),
        "payable": invoice["state"].startswith(("Problem", "Due")),
    }


def offer_card(offer: OfferDef) -> Json:
    currency = offer.segment.currency
    trial = None
    if offer.duration_trial:
        unit = (offer.unit_trial or "Day").lower()
        plural = "" if offer.duration_trial == 1 else "s"
        price = "free" if not offer.amount_trial else money(offer.amount_trial, currency)
        trial = f"{offer.duration_trial} {unit}{plural} trial, {price}"
    features = []
    for item in offer.features:
        if not item.feature.visible:
            continue
        if item.feature.type == "OnOff":
            if item.enabled or item.included:
                features.append(item.feature.title)
        elif item.quantity is None:
            features.append(f"Unlimited {item.feature.title.lower()}")
        else:
            noun = item.feature.title.lower()
            if item.quantity == 1 and noun.endswith("s"):
                noun = noun[:-1]
            features.append(f"{item.quantity} {noun}")
    return {
        "reference": offer.reference,
        "name": offer.name,
        "description": offer.description,
        "price": recurrence_label(
            offer.amount_recurrence, currency, offer.duration_recurrence, offer.unit_recurrence
        )
        if offer.amount_recurrence
        else "Free",
        "up_front": money(offer.amount_up_front, currency) if offer.amount_up_front else None,
        "trial": trial,
        "features": features,
        "is_priced": offer.is_priced,
    }


def visible_offers(catalog: Catalog, customer: Row) -> list[OfferDef]:
    segment = segment_of(catalog, customer)
    return [o for o in catalog.offers if o.visible and o.segment == segment]


def _simple(quote: Json) -> Json:
    next_term = quote.get("NextTerm") or {}
    return {
        "due_now": quote["PricingLocalized"],
        "due_amount": quote["AmountTotalDue"],
        "lines": [
            {"label": d["LabelLocalized"], "amount": money(d["AmountTotal"], quote["Currency"])}
            for d in quote["Details"]
        ],
        "next_amount": next_term.get("PricingLocalized"),
        "next_date": day(parse_datetime(start))
        if (start := next_term.get("DatePeriodStart"))
        else "",
    }


def quote_offer(tx: Tx, customer: Row, offer: OfferDef) -> Json:
    """``/v1/Quoting/Subscription``: what subscribing to ``offer`` costs now and next term."""
    segment = segment_of(tx.catalog, customer)

    def build() -> tuple[list[Any], Row]:
        sub = subscriptions.create(tx, customer, NewSubscription(offer=offer))
        return pricing.start_lines(tx, sub, tx.now)[0], sub

    return _simple(_quote_subscription(tx, customer, segment, build, False))


def quote_draft(tx: Tx, sub: Row) -> Json:
    """``/v1/Quoting/Subscription/{id}/Start`` for a draft."""
    payer = payer_of(tx, sub)
    segment = segment_of(tx.catalog, payer)

    def build() -> tuple[list[Any], Row]:
        return pricing.start_lines(tx, sub, tx.now)[0], sub

    return _simple(_quote_subscription(tx, payer, segment, build, False))


def quote_restart(tx: Tx, sub: Row) -> Json:
    """``/v1/Quoting/Subscription/{id}/Start`` for a suspended one (arrears are shown apart)."""
    payer = payer_of(tx, sub)
    segment = segment_of(tx.catalog, payer)

    def build() -> tuple[list[Any], Row]:
        ended = sub["date_period_end"] and must_date(sub["date_period_end"]) <= tx.now
        if sub["state"].startswith("Suspended") and ended:
            end = pricing.recurrence_end(terms_of(sub), tx.now)
            return pricing.renewal_lines(tx, sub, tx.now, end), sub
        return [], sub

    return _simple(_quote_subscription(tx, payer, segment, build, False))


def quote_upgrade(tx: Tx, old: Row, offer: OfferDef) -> Json:
    """``/v1/Quoting/Subscription/{id}/Upgrade``."""
    payer = payer_of(tx, old)
    segment = segment_of(tx.catalog, payer)
    customer = subscriptions.customer_of(tx, old)

    def build() -> tuple[list[Any], Row]:
        carried = subscriptions.carried_stock(tx, old, offer)
        new = subscriptions.create(tx, customer, NewSubscription(offer=offer, features=carried))
        return pricing.upgrade_lines(tx, old, new, tx.now), new

    return _simple(_quote_subscription(tx, payer, segment, build, False))
