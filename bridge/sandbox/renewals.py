"""What time makes happen, in time order: renewals, trial ends, terms, delayed starts, overdue.

``run_due(tx)`` applies everything due up to ``tx.now``, one step at a time at the instant it was
due (a 62-day jump renews a monthly subscription twice, each at its own date):

* a renewal bills the new period (fee, extra Limitation units and paid options, and the balance);
  consumption counters reset; a failed charge past ``max_unpaid_invoices`` suspends the
  subscription (``SuspendedPaymentDue``); nothing to charge with suspends it
  (``SuspendedNoPaymentInfo``); the end of a trial is just the first paid renewal;
* a scheduled termination or upgrade takes effect at its term; ``CountRecurrences`` reached ends it
  (``EndedComplete``); a delayed start starts; offline invoices past their limit become overdue.

``next_due`` is the cheap check the service runs before each API call.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge.sandbox import events
from bridge.sandbox.billing import overdue_invoices
from bridge.sandbox.ledger import Row, Tx, count_unpaid, has_payment_method, terms_of
from bridge.sandbox.pricing import recurrence_end, renewal_lines
from bridge.sandbox.store import from_db, to_db
from bridge.sandbox.subscriptions import (
    bill,
    customer_of,
    payer_of,
    reload,
    reset_consumption,
    start,
    update,
)

MAX_STEPS_PER_CATCH_UP = 10_000


def next_due(tx_or_conn: Any) -> str | None:
    """The earliest instant at which something is due (DB text), or None."""
    conn = tx_or_conn.conn if isinstance(tx_or_conn, Tx) else tx_or_conn
    row = conn.execute(
        "SELECT MIN(due) FROM (SELECT due FROM subscriptions_due UNION ALL"
        " SELECT date_payment_limit AS due FROM invoices WHERE state = 'DueOffline')"
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def run_due(tx: Tx) -> int:
    """Apply everything due up to ``tx.now``, in time order; returns the number of steps."""
    steps = 0
    last: tuple[int, str] | None = None
    while steps < MAX_STEPS_PER_CATCH_UP:
        row = tx.one(
            "SELECT id, due FROM subscriptions_due WHERE due <= ? ORDER BY due, id LIMIT 1",
            (to_db(tx.now),),
        )
        invoice_due_at = tx.one(
            "SELECT MIN(date_payment_limit) FROM invoices WHERE state = 'DueOffline'"
            " AND date_payment_limit <= ?",
            (to_db(tx.now),),
        )
        overdue_at = from_db(invoice_due_at[0]) if invoice_due_at else None
        if row is None and overdue_at is None:
            break
        steps += 1
        at = from_db(row["due"]) if row is not None else None
        if overdue_at is not None and (at is None or overdue_at <= at):
            overdue_invoices(dataclasses.replace(tx, now=overdue_at), overdue_at)
            continue
        assert at is not None
        assert row is not None
        if last == (row["id"], row["due"]):  # a step that changed nothing would loop forever
            raise RuntimeError(f"subscription {row['id']} is stuck at {row['due']}")
        last = (row["id"], row["due"])
        _step(dataclasses.replace(tx, now=at), reload(tx, row["id"]))
    return steps


def _step(tx: Tx, sub: Row) -> None:
    state = sub["state"]
    if state == "DraftDelayedStart":
        started = start(tx, sub, strict=False)
        if started["state"] == "DraftDelayedStart":
            update(tx, started, state="DraftAgent")
        return
    customer = customer_of(tx, sub)
    term = from_db(sub["date_term"])
    if state == "ActiveDelayedTermination" and term is not None and term <= tx.now:
        sub = update(
            tx, sub, state="EndedTerminated", state_after_term=None, date_end=to_db(tx.now)
        )
        events.emit(tx, "SubscriptionTerminated", customer, subscription=sub)
        return
    if state == "ActiveDelayedUpgrade":
        update(tx, sub, state="EndedUpgrade", state_after_term=None, date_end=to_db(tx.now))
        events.emit(tx, "SubscriptionTerminatedForUpgrade", customer, subscription=sub)
        successor = tx.one(
            "SELECT * FROM subscriptions WHERE upgrade_from = ? AND state = 'DraftDelayedUpgrade'",
            (sub["id"],),
        )
        if successor is not None:
            new = start(tx, successor, strict=False)
            if new["state"].startswith("Active"):
                events.emit(tx, "SubscriptionUpgraded", customer, subscription=new)
            else:
                update(tx, new, state="DraftAgent")
        return
    terms = terms_of(sub)
    count = terms.get("CountRecurrences")
    if count is not None and not sub["is_trial"] and sub["count_periods"] >= int(count):
        sub = update(tx, sub, state="EndedComplete", date_end=to_db(tx.now))
        events.emit(tx, "SubscriptionHistory", customer, subscription=sub)
        return
    _renew(tx, sub)


def _renew(tx: Tx, sub: Row) -> None:
    customer = customer_of(tx, sub)
    payer = payer_of(tx, sub)
    at = tx.now
    end = recurrence_end(terms_of(sub), at)
    lines = renewal_lines(tx, sub, at, end)
    amount = sum(line.amount for line in lines)
    if amount > 0 and not has_payment_method(payer):
        sub = update(
            tx, sub, state="SuspendedNoPaymentInfo", date_period_start=to_db(at), is_trial=0
        )
        events.emit(tx, "SubscriptionSuspendedPaymentInfoMissing", customer, subscription=sub)
        return
    sub = update(
        tx,
        sub,
        date_period_start=to_db(at),
        date_period_end=to_db(end),
        # a term moved with DateTerm is consumed by this renewal; a termination date is kept
        date_term=sub["date_term"] if sub["state"] == "ActiveDelayedTermination" else None,
        is_trial=0,
        count_periods=sub["count_periods"] + 1,
    )
    reset_consumption(tx, sub)
    invoice = bill(tx, sub, lines)
    segment = tx.catalog.segment(payer["segment"])
    limit = segment.max_unpaid_invoices if segment else 1
    if (
        invoice is not None
        and invoice["state"].startswith("Problem")
        and count_unpaid(tx.conn, payer["id"]) >= limit
    ):
        sub = update(tx, sub, state="SuspendedPaymentDue")
        events.emit(tx, "SubscriptionSuspendedPaymentDue", customer, subscription=sub)
        return
    events.emit(tx, "SubscriptionRenewed", customer, subscription=sub)
