"""Subscription lifecycle actions: create, start/restart, suspend, terminate, upgrade, term.

States follow the reference exactly (``Draft*``, ``Active*``, ``Suspended*``, ``Ended*``):

* create → ``DraftAgent`` (``DraftDelayedStart`` with a future ``DateStart``); ``TryStart`` starts
  it at once when that needs no payment, or when the customer can pay;
* ``start``: Draft → ``ActiveRunning`` (first period invoiced), Suspended → ``ActiveRunning``
  ("restart": arrears must be paid, a payment method is needed when the period must be billed),
  ``ActiveDelayedTermination`` → ``ActiveRunning`` (the scheduled termination is cancelled);
* ``suspend`` → ``SuspendedAgent``; ``terminate`` → ``ActiveDelayedTermination`` (end of term) or
  ``EndedTerminated``; ``upgrade`` → old ``EndedUpgrade``, new one started (or, not immediate,
  old ``ActiveDelayedUpgrade`` and new ``DraftDelayedUpgrade`` until the term);
* what time makes happen (renewals, trial ends...) is ``renewals``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.sandbox import events
from bridge.sandbox.billing import Line, add_line, ensure_billable, invoice_due
from bridge.sandbox.catalog import OfferDef
from bridge.sandbox.errors import ApiError, capping_reached, payment_missing, state_conflict
from bridge.sandbox.ledger import (
    ACTIVE_STATES,
    SUSPENDED_STATES,
    Row,
    Tx,
    count_unpaid,
    customer_by_id,
    features_of,
    has_payment_method,
    require_subscription,
    terms_of,
)
from bridge.sandbox.pricing import (
    first_period,
    recurrence_end,
    renewal_lines,
    start_lines,
    upgrade_lines,
)
from bridge.sandbox.store import must_date, to_db

TERM_FIELDS = (
    "AmountUpFront",
    "AmountTrial",
    "DurationTrial",
    "UnitTrial",
    "AmountRecurrence",
    "DurationRecurrence",
    "UnitRecurrence",
    "CountRecurrences",
    "CountMinRecurrences",
    "AmountTermination",
)


@dataclass(frozen=True)
class FeatureOverride:
    reference: str
    quantity_current: int | None = None
    quantity_included: int | None = None
    is_enabled: bool | None = None
    is_included: bool | None = None


@dataclass(frozen=True)
class NewSubscription:
    offer: OfferDef
    buyer: Row | None = None
    date_start: datetime | None = None
    title: str | None = None
    terms: Mapping[str, Any] = field(default_factory=dict)
    features: Sequence[FeatureOverride] = ()
    metadata: Mapping[str, Any] | None = None


def offer_terms(offer: OfferDef) -> dict[str, Any]:
    return {
        "AmountUpFront": offer.amount_up_front,
        "AmountTrial": offer.amount_trial,
        "DurationTrial": offer.duration_trial,
        "UnitTrial": offer.unit_trial,
        "AmountRecurrence": offer.amount_recurrence,
        "DurationRecurrence": offer.duration_recurrence,
        "UnitRecurrence": offer.unit_recurrence,
        "CountRecurrences": offer.count_recurrences,
        "CountMinRecurrences": offer.count_min_recurrences,
        "AmountTermination": offer.amount_termination,
    }


def reload(tx: Tx, id_subscription: int) -> Row:
    return require_subscription(tx.conn, id_subscription)


def update(tx: Tx, sub: Row, **values: Any) -> Row:
    values["date_update"] = to_db(tx.now)
    assignments = ", ".join(f"{name} = ?" for name in values)
    tx.conn.execute(
        f"UPDATE subscriptions SET {assignments} WHERE id = ?",  # noqa: S608 - names are ours
        (*values.values(), sub["id"]),
    )
    return reload(tx, sub["id"])


def customer_of(tx: Tx, sub: Row) -> Row:
    customer = customer_by_id(tx.conn, sub["customer_id"])
    assert customer is not None
    return customer


def payer_of(tx: Tx, sub: Row) -> Row:
    """Who pays: the buyer when there is one, else the customer."""
    buyer = customer_by_id(tx.conn, sub["buyer_id"]) if sub["buyer_id"] else None
    return buyer or customer_of(tx, sub)


# --- creation -----------------------------------------------------------------------------


def create(tx: Tx, customer: Row, request: NewSubscription) -> Row:
    if customer["status"] != "Enabled":
        raise ApiError(403, "Error.Customer.Suspended", "This customer is suspended")
    terms = offer_terms(request.offer)
    terms.update({k: v for k, v in request.terms.items() if k in TERM_FIELDS})
    delayed = request.date_start is not None and request.date_start > tx.now
    id_subscription = tx.insert(
        "INSERT INTO subscriptions(customer_id, buyer_id, offer, state, terms, title, metadata,"
        " date_created, date_start, date_update) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            customer["id"],
            request.buyer["id"] if request.buyer is not None else None,
            request.offer.reference,
            "DraftDelayedStart" if delayed else "DraftAgent",
            json.dumps(terms),
            request.title,
            json.dumps(dict(request.metadata)) if request.metadata is not None else None,
            to_db(tx.now),
            to_db(request.date_start),
            to_db(tx.now),
        ),
    )
    _grant_features(tx, id_subscription, request.offer, request.features)
    return reload(tx, id_subscription)


def _grant_features(
    tx: Tx, id_subscription: int, offer: OfferDef, overrides: Sequence[FeatureOverride]
) -> None:
    rows: dict[str, list[Any]] = {}
    for item in offer.features:
        on_off = item.feature.type == "OnOff"
        rows[item.feature.reference] = [
            int(item.included) if on_off else None,
            int(item.enabled) if on_off else None,
            None if on_off else item.quantity,
            0,
        ]
    for override in overrides:
        feature = tx.catalog.feature(override.reference)
        assert feature is not None  # checked by the API layer
        on_off = feature.type == "OnOff"
        row = rows.setdefault(
            override.reference, [0 if on_off else None, 0 if on_off else None, None, 0]
        )
        if not on_off and override.reference not in {f.feature.reference for f in offer.features}:
            row[2] = 0
        if override.is_included is not None:
            row[0] = int(override.is_included)
        if override.is_enabled is not None:
            row[1] = int(override.is_enabled)
        if override.quantity_included is not None:
            row[2] = override.quantity_included
        if override.quantity_current is not None:
            row[3] = override.quantity_current
    for reference, (included, enabled, quantity, current) in rows.items():
        tx.conn.execute(
            "INSERT INTO subscription_features(subscription_id, feature, is_included,"
            " is_enabled, quantity_included, quantity_current) VALUES (?,?,?,?,?,?)",
            (id_subscription, reference, included, enabled, quantity, current),
        )


def bill(tx: Tx, sub: Row, lines: Sequence[Line]) -> Row | None:
    payer = payer_of(tx, sub)
    for line in lines:
        add_line(tx, payer, line)
    return invoice_due(tx, payer, subscription_id=sub["id"])


# --- start / restart ----------------------------------------------------------------------


def start(
    tx: Tx,
    sub: Row,
    *,
    ensure: bool | None = None,
    migration: bool = False,
    strict: bool = True,
) -> Row:
    """Start a Draft, restart a Suspended one, or cancel a scheduled termination.

    ``strict=False`` (``TryStart``) leaves the subscription as it is instead of refusing.
    """
    state = sub["state"]
    if state.startswith("Draft"):
        return _start_draft(tx, sub, ensure=ensure, migration=migration, strict=strict)
    if state in SUSPENDED_STATES:
        return _restart(tx, sub, ensure=ensure)
    if state == "ActiveDelayedTermination":
        sub = update(tx, sub, state="ActiveRunning", state_after_term=None, date_term=None)
        events.emit(tx, "SubscriptionRestarted", customer_of(tx, sub), subscription=sub)
        return sub
    if state.startswith("Active"):
        return sub
    raise state_conflict(f"A subscription in state {state} cannot be started")


def _start_draft(tx: Tx, sub: Row, *, ensure: bool | None, migration: bool, strict: bool) -> Row:
    at = tx.now
    lines, end, trial = start_lines(tx, sub, at)
    amount = sum(line.amount for line in lines)
    payer = payer_of(tx, sub)
    if payer["status"] != "Enabled":
        if not strict:
            return sub
        raise ApiError(403, "Error.Customer.Suspended", "This customer is suspended")
    if not migration:
        try:
            ensure_billable(tx, payer, amount, ensure)
        except ApiError:
            if strict:
                raise
            return sub
    sub = update(
        tx,
        sub,
        state="ActiveRunning",
        date_start=to_db(at),
        date_period_start=to_db(at),
        date_period_end=to_db(end),
        is_trial=int(trial),
        count_periods=0 if trial else 1,
    )
    if not migration:
        bill(tx, sub, lines)
    events.emit(tx, "SubscriptionStarted", customer_of(tx, sub), subscription=sub)
    return sub


def _restart(tx: Tx, sub: Row, *, ensure: bool | None) -> Row:
    payer = payer_of(tx, sub)
    segment_max = tx.catalog.segment(payer["segment"])
    limit = segment_max.max_unpaid_invoices if segment_max else 1
    if count_unpaid(tx.conn, payer["id"]) >= limit or (
        sub["state"] == "SuspendedPaymentDue" and count_unpaid(tx.conn, payer["id"]) > 0
    ):
        raise capping_reached()
    at = tx.now
    period_end = must_date(sub["date_period_end"])
    if at >= period_end:
        terms = terms_of(sub)
        end = recurrence_end(terms, at)
        lines = renewal_lines(tx, sub, at, end)
        amount = sum(line.amount for line in lines)
        if amount > 0 and not has_payment_method(payer) and ensure is not False:
            raise payment_missing()
        ensure_billable(tx, payer, amount, ensure)
        sub = update(
            tx,
            sub,
            state="ActiveRunning",
            date_period_start=to_db(at),
            date_period_end=to_db(end),
            is_trial=0,
            count_periods=sub["count_periods"] + 1,
        )
        reset_consumption(tx, sub)
        bill(tx, sub, lines)
    else:
        if sub["state"] == "SuspendedNoPaymentInfo" and not has_payment_method(payer):
            raise payment_missing()
        sub = update(tx, sub, state="ActiveRunning")
    events.emit(tx, "SubscriptionRestarted", customer_of(tx, sub), subscription=sub)
    return sub


# --- suspend / terminate / term -----------------------------------------------------------


def suspend(tx: Tx, sub: Row) -> Row:
    if sub["state"] == "SuspendedAgent":
        return sub
    if sub["state"] not in (*ACTIVE_STATES, *SUSPENDED_STATES):
        raise state_conflict(f"A subscription in state {sub['state']} cannot be suspended")
    sub = update(tx, sub, state="SuspendedAgent", state_after_term=None)
    events.emit(tx, "SubscriptionSuspendedAgent", customer_of(tx, sub), subscription=sub)
    return sub


def terminate(tx: Tx, sub: Row, *, immediate: bool, date_termination: datetime | None) -> Row:
    state = sub["state"]
    if state.startswith("Ended") or state == "Deleted":
        raise state_conflict(f"A subscription in state {state} cannot be terminated")
    at = date_termination
    if state.startswith(("Draft", "Suspended")) or (at is not None and at <= tx.now):
        immediate = True
    if immediate:
        sub = update(
            tx, sub, state="EndedTerminated", state_after_term=None, date_end=to_db(tx.now)
        )
        events.emit(tx, "SubscriptionTerminated", customer_of(tx, sub), subscription=sub)
        return sub
    sub = update(
        tx,
        sub,
        state="ActiveDelayedTermination",
        state_after_term="EndedTerminated",
        date_term=to_db(at or must_date(sub["date_period_end"])),
    )
    events.emit(tx, "SubscriptionTerminatedAtRenewal", customer_of(tx, sub), subscription=sub)
    return sub


def set_date_term(tx: Tx, sub: Row, date_term: datetime) -> Row:
    if not sub["state"].startswith(("Active", "Suspended")):
        raise state_conflict(f"A subscription in state {sub['state']} has no term to move")
    if date_term <= tx.now:
        raise ApiError(422, "Error.Api.Validation.Invalid", "DateTerm must be in the future")
    sub = update(tx, sub, date_period_end=to_db(date_term), date_term=to_db(date_term))
    events.emit(tx, "SubscriptionDateTermUpdated", customer_of(tx, sub), subscription=sub)
    return sub


# --- upgrade ------------------------------------------------------------------------------


def carried_stock(tx: Tx, old: Row, offer: OfferDef) -> list[FeatureOverride]:
    """Limitation quantities (seats...) move to the new offer; consumption starts afresh."""
    carried = []
    for row in features_of(tx.conn, old["id"]):
        granted = offer.feature(row["feature"])
        if granted is not None and granted.feature.type == "Limitation":
            carried.append(
                FeatureOverride(row["feature"], quantity_current=row["quantity_current"])
            )
    return carried


def upgrade(
    tx: Tx,
    old: Row,
    offer: OfferDef,
    *,
    immediate: bool,
    ensure: bool | None,
) -> Row:
    if old["state"] not in ACTIVE_STATES and old["state"] not in SUSPENDED_STATES:
        raise state_conflict(f"A subscription in state {old['state']} cannot be upgraded")
    customer = customer_of(tx, old)
    new = create(tx, customer, NewSubscription(offer=offer, features=carried_stock(tx, old, offer)))
    new = update(tx, new, buyer_id=old["buyer_id"], upgrade_from=old["id"])
    if not immediate and old["state"] in ACTIVE_STATES:
        old = update(tx, old, state="ActiveDelayedUpgrade", state_after_term="EndedUpgrade")
        new = update(tx, new, state="DraftDelayedUpgrade", date_start=old["date_period_end"])
        events.emit(tx, "SubscriptionUpdated", customer, subscription=old)
        return new
    lines = upgrade_lines(tx, old, new, tx.now)
    ensure_billable(tx, payer_of(tx, new), sum(line.amount for line in lines), ensure)
    old = update(tx, old, state="EndedUpgrade", state_after_term=None, date_end=to_db(tx.now))
    end, trial = first_period(terms_of(new), tx.now)
    new = update(
        tx,
        new,
        state="ActiveRunning",
        date_start=to_db(tx.now),
        date_period_start=to_db(tx.now),
        date_period_end=to_db(end),
        is_trial=int(trial),
        count_periods=0 if trial else 1,
    )
    bill(tx, new, lines)
    events.emit(tx, "SubscriptionTerminatedForUpgrade", customer, subscription=old)
    events.emit(tx, "SubscriptionUpgraded", customer, subscription=new)
    return new


def reset_consumption(tx: Tx, sub: Row) -> None:
    consumption = [f.reference for f in tx.catalog.features if f.type == "Consumption"]
    tx.conn.execute(
        "UPDATE subscription_features SET quantity_current = 0"
        " WHERE subscription_id = ? AND feature IN (SELECT value FROM json_each(?))",
        (sub["id"], json.dumps(consumption)),
    )
