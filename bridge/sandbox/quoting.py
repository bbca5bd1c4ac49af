"""Quotes: what a change would cost now, and at the next term, without changing anything.

The shape is the contract's ``Quote`` (``AmountTotalDue``, ``AmountSubtotal``, ``AmountTotal``,
``PricingLocalized``, ``DatePeriodStart``/``End``, ``Details``, ``NextTerm``) plus ``Currency`` and
the ``Id*``/``Reference*`` fields of the integrated-purchasing guide. Every quote runs the same
rules as the change itself (``usages.effect``, ``subscriptions.start_lines``...), so a quote and
the invoice that follows agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridge.sandbox.billing import Line
from bridge.sandbox.catalog import Segment
from bridge.sandbox.ledger import Row
from bridge.sandbox.periods import money, with_tax
from bridge.sandbox.views import Json, date


def detail(line: Line, segment: Segment) -> Json:
    total = with_tax(line.amount, segment.tax_percent)
    return {
        "IdSubscription": line.subscription_id,
        "LabelLocalized": line.label,
        "AmountTotalDue": total,
        "DatePeriodStart": date(line.period_start),
        "DatePeriodEnd": date(line.period_end),
        "DateMove": date(line.date_move),
        "QuantityReported": line.quantity,
        "QuantityBilled": line.quantity,
        "AmountSubtotal": line.amount,
        "AmountTotal": total,
    }


def quote(
    lines: Sequence[Line],
    segment: Segment,
    customer: Row,
    *,
    subscription_id: int | None,
    period: tuple[datetime | None, datetime | None],
    next_term: Json | None = None,
    label: str = "Amount due",
) -> Json:
    subtotal = sum(line.amount for line in lines)
    total = with_tax(subtotal, segment.tax_percent)
    return {
        "IdSubscription": subscription_id,
        "IdCustomer": customer["id"],
        "IdSegment": segment.id,
        "ReferenceCustomer": customer["reference"],
        "ReferenceSegment": segment.reference,
        "LabelLocalized": label,
        "Currency": segment.currency,
        "IsCustomerBillable": customer["type_payment"] not in (None, "", "Free"),
        "AmountTotalDue": max(0, total),
        "PricingLocalized": money(max(0, total), segment.currency),
        "DatePeriodStart": date(period[0]),
        "DatePeriodEnd": date(period[1]),
        "AmountSubtotal": subtotal,
        "AmountTotal": total,
        "Details": [detail(line, segment) for line in lines],
        "NextTerm": next_term,
    }


def next_term(
    lines: Sequence[Line], segment: Segment, period: tuple[datetime | None, datetime | None]
) -> Json:
    subtotal = sum(line.amount for line in lines)
    total = with_tax(subtotal, segment.tax_percent)
    return {
        "LabelLocalized": "Next term",
        "AmountTotalDue": total,
        "PricingLocalized": money(total, segment.currency),
        "DatePeriodStart": date(period[0]),
        "DatePeriodEnd": date(period[1]),
        "AmountSubtotal": subtotal,
        "AmountTotal": total,
        "Details": [detail(line, segment) for line in lines],
    }
