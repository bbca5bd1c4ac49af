"""Rights: what a customer's started subscriptions grant (``Usages``) and how usage changes.

Rules (the reference's): only ``Active*`` subscriptions of an ``Enabled`` customer grant rights
(a Draft grants nothing, a Suspended or Ended one's features disappear); across several
subscriptions an OnOff feature is enabled when any enables it, quantities are summed, and an
unlimited one (no ``QuantityIncluded``) makes the total unlimited, shown by leaving
``QuantityCurrent`` out. Consumption counters are reset at each period (``renewals``); Limitation
quantities persist.

A change beyond what is included costs the feature's extra-unit price (Limitation and paid OnOff
options prorated to the end of the period, Consumption units not), which needs a payment method.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.sandbox.billing import Line, add_line
from bridge.sandbox.catalog import Catalog, Segment
from bridge.sandbox.errors import ApiError, invalid, usage_none_matching
from bridge.sandbox.ledger import Row, Tx
from bridge.sandbox.periods import prorate
from bridge.sandbox.store import must_date
from bridge.sandbox.views import Json, date


@dataclass(frozen=True)
class UsageChange:
    feature: str
    increment: int | None = None
    quantity_current: int | None = None
    is_enabled: bool | None = None
    id_subscription: int | None = None
    date_stamp: datetime | None = None


@dataclass(frozen=True)
class Effect:
    """What applying a change to one subscription's feature would do."""

    subscription: Row
    row: Row
    type_feature: str
    new_current: int
    new_enabled: int | None
    lines: list[Line]


def rights(
    conn: Any, customer: Row, *, feature: str | None = None, id_subscription: int | None = None
) -> list[Row]:
    sql = (
        "SELECT f.*, s.date_period_start, s.date_period_end, s.id AS sid"
        " FROM subscription_features f JOIN subscriptions s ON s.id = f.subscription_id"
        " WHERE s.customer_id = ? AND s.state LIKE 'Active%'"
    )
    if customer["status"] != "Enabled":  # a suspended customer (fraud, security) has no rights
        return []
    params: list[Any] = [customer["id"]]
    if feature is not None:
        sql += " AND f.feature = ?"
        params.append(feature)
    if id_subscription is not None:
        sql += " AND s.id = ?"
        params.append(id_subscription)
    return list(conn.execute(sql + " ORDER BY s.id", params).fetchall())


def aggregate(rows: list[Row], customer: Row, segment: Segment, catalog: Catalog) -> list[Json]:
    """One Usage per feature, in catalog order, summed over the subscriptions."""
    by_feature: dict[str, list[Row]] = {}
    for row in rows:
        by_feature.setdefault(row["feature"], []).append(row)
    order = {f.reference: index for index, f in enumerate(catalog.features)}
    usages = []
    for reference in sorted(by_feature, key=lambda r: (order.get(r, len(order)), r)):
        group = by_feature[reference]
        feature = catalog.feature(reference)
        kind = feature.type if feature else "Limitation"
        first = min(group, key=lambda r: r["date_period_end"] or "")
        body: Json = {
            "IdSegment": segment.id,
            "IdFeature": feature.id if feature else None,
            "IdCustomer": customer["id"],
            "IdSubscription": group[0]["sid"],
            "ReferenceSegment": segment.reference,
            "ReferenceFeature": reference,
            "ReferenceCustomer": customer["reference"],
            "TypeFeature": kind,
            "DatePeriodStart": date(first["date_period_start"]),
            "DatePeriodEnd": date(first["date_period_end"]),
        }
        if kind == "OnOff":
            body["IsIncluded"] = any(r["is_included"] for r in group)
            body["IsEnabled"] = any(r["is_enabled"] for r in group)
        elif all(r["quantity_included"] is not None for r in group):
            body["QuantityIncluded"] = sum(r["quantity_included"] for r in group)
            body["QuantityCurrent"] = sum(r["quantity_current"] for r in group)
        usages.append(body)
    return usages


def effect(tx: Tx, customer: Row, change: UsageChange, *, missing_status: int) -> Effect:
    """Resolve the subscription a change applies to and what it costs; changes nothing."""
    feature = tx.catalog.feature(change.feature)
    if feature is None:
        raise usage_none_matching(missing_status)
    candidates = rights(
        tx.conn, customer, feature=change.feature, id_subscription=change.id_subscription
    )
    if not candidates:
        raise usage_none_matching(missing_status)
    row = candidates[0]
    subscription = tx.one("SELECT * FROM subscriptions WHERE id = ?", (row["sid"],))
    assert subscription is not None
    offer = tx.catalog.offer(subscription["offer"])
    granted = offer.feature(change.feature) if offer else None
    price = granted.extra_price if granted else None
    start = must_date(subscription["date_period_start"])
    end = must_date(subscription["date_period_end"])
    at = tx.now
    lines: list[Line] = []
    if feature.type == "OnOff":
        if change.is_enabled is None:
            raise invalid("IsEnabled", f"{change.feature} is an OnOff feature: send IsEnabled")
        enabled = int(change.is_enabled)
        if enabled and not row["is_enabled"] and not row["is_included"] and price:
            lines.append(
                Line(
                    f"Feature - prorated adjustment - {feature.title}",
                    prorate(price, start, end, at),
                    "AutoFeatureProrata",
                    subscription["id"],
                    change.feature,
                    1,
                    period_start=at,
                    period_end=end,
                )
            )
        return Effect(subscription, row, feature.type, row["quantity_current"], enabled, lines)
    if change.is_enabled is not None:
        raise invalid("IsEnabled", f"{change.feature} is a quantity: send Increment or Quantity")
    old = int(row["quantity_current"])
    new = old + change.increment if change.increment is not None else change.quantity_current
    assert new is not None
    if new < 0:
        raise invalid("QuantityCurrent", "A usage quantity cannot go below zero")
    included = row["quantity_included"]
    if included is not None and price:
        extra = max(0, new - included) - max(0, old - included)
        if extra > 0:
            prorated = feature.type == "Limitation"
            amount = prorate(price * extra, start, end, at) if prorated else price * extra
            label = "prorated adjustment - " if prorated else ""
            lines.append(
                Line(
                    f"Feature - {label}{feature.title}",
                    amount,
                    "AutoFeatureProrata" if prorated else "AutoFeatureNotProratable",
                    subscription["id"],
                    change.feature,
                    extra,
                    date_move=None if prorated else change.date_stamp or at,
                    period_start=at if prorated else None,
                    period_end=end if prorated else None,
                )
            )
    return Effect(subscription, row, feature.type, new, row["is_enabled"], lines)


def apply(tx: Tx, customer: Row, found: Effect) -> None:
    tx.conn.execute(
        "UPDATE subscription_features SET quantity_current = ?, is_enabled = ?"
        " WHERE subscription_id = ? AND feature = ?",
        (found.new_current, found.new_enabled, found.subscription["id"], found.row["feature"]),
    )
    payer = customer
    if found.subscription["buyer_id"]:
        buyer = tx.one("SELECT * FROM customers WHERE id = ?", (found.subscription["buyer_id"],))
        payer = buyer or customer
    for line in found.lines:
        add_line(tx, payer, line)


def check_stamp(stamp: datetime | None, now: datetime, target: str) -> ApiError | None:
    """``DateStamp`` is required and may not be in the future (a little clock skew is allowed)."""
    if stamp is None:
        return invalid(target, "DateStamp is required", "Error.Api.Validation.Required")
    if (stamp - now).total_seconds() > 120:
        return invalid(target, "DateStamp cannot be in the future", "Error.Api.Usage.DateInFuture")
    return None
