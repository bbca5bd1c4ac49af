"""What a subscription costs: first periods, renewals, extra units, upgrade refunds.

Pure pricing over the current rows: every function returns ``billing.Line``s and changes nothing,
so the rules that bill a change (``subscriptions``, ``renewals``) and the quotes that announce it
(``api_usages``) cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bridge.sandbox.billing import Line
from bridge.sandbox.ledger import Row, Tx, features_of, terms_of
from bridge.sandbox.periods import add_period, prorate
from bridge.sandbox.store import must_date


def first_period(terms: Mapping[str, Any], start: datetime) -> tuple[datetime, bool]:
    """End of the first period from ``start``, and whether it is a trial."""
    if terms.get("DurationTrial"):
        return add_period(start, int(terms["DurationTrial"]), terms.get("UnitTrial") or "Day"), True
    return recurrence_end(terms, start), False


def recurrence_end(terms: Mapping[str, Any], start: datetime) -> datetime:
    return add_period(
        start, int(terms.get("DurationRecurrence") or 1), terms.get("UnitRecurrence") or "Month"
    )


def feature_extras(
    tx: Tx, sub: Row, start: datetime, end: datetime, *, prorated_from: datetime | None
) -> list[Line]:
    """Charges for Limitation units and paid OnOff options beyond what the offer includes."""
    offer = tx.catalog.offer(sub["offer"])
    lines: list[Line] = []
    if offer is None:
        return lines
    for row in features_of(tx.conn, sub["id"]):
        granted = offer.feature(row["feature"])
        if granted is None or not granted.extra_price:
            continue
        kind = granted.feature.type
        if kind == "Limitation" and row["quantity_included"] is not None:
            units = max(0, row["quantity_current"] - row["quantity_included"])
        elif kind == "OnOff":
            units = 1 if row["is_enabled"] and not row["is_included"] else 0
        else:
            continue
        if units == 0:
            continue
        amount = granted.extra_price * units
        if prorated_from is not None:
            amount = prorate(amount, start, end, prorated_from)
        lines.append(
            Line(
                label=f"Feature - {granted.feature.title}",
                amount=amount,
                type_line="AutoFeatureProratable",
                subscription_id=sub["id"],
                feature=row["feature"],
                quantity=units,
                period_start=start,
                period_end=end,
            )
        )
    return lines


def start_lines(tx: Tx, sub: Row, at: datetime) -> tuple[list[Line], datetime, bool]:
    """What starting ``sub`` at ``at`` costs, the end of its first period, and trial or not."""
    terms = terms_of(sub)
    end, trial = first_period(terms, at)
    lines: list[Line] = []
    if terms.get("AmountUpFront"):
        lines.append(
            Line(
                "Subscription - up-front fee",
                int(terms["AmountUpFront"]),
                "AutoSubscriptionUpfront",
                sub["id"],
                date_move=at,
            )
        )
    amount = int((terms.get("AmountTrial") if trial else terms.get("AmountRecurrence")) or 0)
    if amount:
        lines.append(
            Line(
                "Subscription - trial" if trial else "Subscription - recurring fee",
                amount,
                "AutoSubscriptionTrial" if trial else "AutoSubscriptionRecurrence",
                sub["id"],
                period_start=at,
                period_end=end,
            )
        )
    if not trial:
        lines += feature_extras(tx, sub, at, end, prorated_from=None)
    return lines, end, trial


def renewal_lines(tx: Tx, sub: Row, start: datetime, end: datetime) -> list[Line]:
    amount = int(terms_of(sub).get("AmountRecurrence") or 0)
    lines = []
    if amount:
        lines.append(
            Line(
                "Subscription - recurring fee",
                amount,
                "AutoSubscriptionRecurrence",
                sub["id"],
                period_start=start,
                period_end=end,
            )
        )
    return lines + feature_extras(tx, sub, start, end, prorated_from=None)


def upgrade_lines(tx: Tx, old: Row, new: Row, at: datetime) -> list[Line]:
    """The refund of the unused part of the old period, then what the new one costs at ``at``."""
    lines: list[Line] = []
    if old["state"].startswith("Active") and not old["is_trial"] and old["date_period_end"]:
        start, end = must_date(old["date_period_start"]), must_date(old["date_period_end"])
        refund = prorate(int(terms_of(old).get("AmountRecurrence") or 0), start, end, at)
        if refund:
            lines.append(
                Line(
                    "Refund on recurring flat fee",
                    -refund,
                    "AutoSubscriptionRecurrenceProrata",
                    old["id"],
                    period_start=at,
                    period_end=end,
                )
            )
    lines += start_lines(tx, new, at)[0]
    return lines
