"""The unit of work of the billing rules: one write transaction at one instant (``Tx``).

Every rule (``billing``, ``subscriptions``, ``usages``, ``quoting``) is a function of a ``Tx``: the
connection inside ``store.write()``, the catalog, and ``now`` read once from the sandbox clock, so
one API call sees one instant. Events raised during the transaction go to the ``events`` table in
the same transaction: they exist if and only if the change happened (the webhook outbox).

Also here: small typed readers of rows the rules share (customers, subscriptions, features).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.sandbox.catalog import Catalog, OfferDef, Segment
from bridge.sandbox.errors import ApiError, not_found

Row = sqlite3.Row

ACTIVE_STATES = (
    "ActiveRunning",
    "ActiveDelayedUpgrade",
    "ActiveDelayedTermination",
    "ActiveDelayedSuspension",
)
SUSPENDED_STATES = ("SuspendedAgent", "SuspendedNoPaymentInfo", "SuspendedPaymentDue")
UNPAID_INVOICE_STATES = ("ProblemAuto", "ProblemOverdue")


def status_of(state: str) -> str:
    """``ActiveRunning`` → ``Active`` (the reference groups states by prefix)."""
    for status in ("Draft", "Active", "Suspended", "Ended", "Deleted"):
        if state.startswith(status):
            return status
    raise ValueError(f"unknown subscription state {state!r}")


@dataclass
class Tx:
    conn: sqlite3.Connection
    catalog: Catalog
    now: datetime

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return list(self.conn.execute(sql, params).fetchall())

    def insert(self, sql: str, params: tuple[Any, ...]) -> int:
        cursor = self.conn.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def customer_by_reference(conn: sqlite3.Connection, segment: Segment, reference: str) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT * FROM customers WHERE segment = ? AND reference = ?",
        (segment.reference, reference),
    ).fetchone()
    return row


def customer_by_id(conn: sqlite3.Connection, id_customer: int) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT * FROM customers WHERE id = ?", (id_customer,)
    ).fetchone()
    return row


def require_customer(conn: sqlite3.Connection, segment: Segment, reference: str) -> Row:
    row = customer_by_reference(conn, segment, reference)
    if row is None:
        raise not_found("Customer", f"No customer with ReferenceCustomer {reference!r}")
    return row


def require_accessible_customer(conn: sqlite3.Connection, segment: Segment, reference: str) -> Row:
    """Like ``require_customer`` but 403 Unaccessible, as the address and settings calls answer."""
    row = customer_by_reference(conn, segment, reference)
    if row is None:
        raise ApiError(403, "Error.Api.Customer.Unaccessible", "You cannot access that Customer")
    return row


def subscription_by_id(conn: sqlite3.Connection, id_subscription: int) -> Row | None:
    row: Row | None = conn.execute(
        "SELECT * FROM subscriptions WHERE id = ? AND state != 'Deleted'", (id_subscription,)
    ).fetchone()
    return row


def require_subscription(conn: sqlite3.Connection, id_subscription: int) -> Row:
    row = subscription_by_id(conn, id_subscription)
    if row is None:
        raise not_found("Subscription", f"No subscription with Id {id_subscription}")
    return row


def features_of(conn: sqlite3.Connection, id_subscription: int) -> list[Row]:
    return list(
        conn.execute(
            "SELECT * FROM subscription_features WHERE subscription_id = ? ORDER BY rowid",
            (id_subscription,),
        ).fetchall()
    )


def terms_of(subscription: Row) -> dict[str, Any]:
    terms: dict[str, Any] = json.loads(subscription["terms"])
    return terms


def offer_of(catalog: Catalog, subscription: Row) -> OfferDef | None:
    return catalog.offer(subscription["offer"])


def segment_of(catalog: Catalog, customer: Row) -> Segment:
    segment = catalog.segment(customer["segment"])
    if segment is None:  # the catalog lost a segment the database still uses
        raise ApiError(500, "Error.Api.Catalog.SegmentMissing", "Segment missing from catalog")
    return segment


def has_payment_method(customer: Row) -> bool:
    return customer["type_payment"] not in (None, "", "Free")


def count_unpaid(conn: sqlite3.Connection, id_customer: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM invoices WHERE customer_id = ? AND state LIKE 'Problem%'",
        (id_customer,),
    ).fetchone()
    return int(row[0])
