"""Calendar and money arithmetic of the billing model: periods, prorating, taxes, price labels.

What this module does not do: decide when a period starts or ends (``billing``).
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

UNITS = ("Day", "Week", "Month", "Year")

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF "}


def add_period(start: datetime, duration: int, unit: str) -> datetime:
    """``start`` plus ``duration`` units; months and years keep the day (clamped to month end)."""
    if unit == "Day":
        return start + timedelta(days=duration)
    if unit == "Week":
        return start + timedelta(weeks=duration)
    if unit in ("Month", "Year"):
        months = duration * (12 if unit == "Year" else 1)
        index = start.month - 1 + months
        year, month = start.year + index // 12, index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)
    raise ValueError(f"unknown period unit {unit!r}")


def fraction_left(start: datetime, end: datetime, now: datetime) -> float:
    """Share of the period ``[start, end)`` still ahead of ``now`` (0..1)."""
    total = (end - start).total_seconds()
    if total <= 0:
        return 0.0
    left = (end - max(now, start)).total_seconds()
    return min(1.0, max(0.0, left / total))


def prorate(amount: int, start: datetime, end: datetime, now: datetime) -> int:
    return round_half_up(amount * fraction_left(start, end, now))


def round_half_up(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def with_tax(subtotal: int, tax_percent: float) -> int:
    return subtotal + round_half_up(subtotal * tax_percent / 100)


def money(amount: int, currency: str) -> str:
    """``1900`` EUR → ``€19.00``; negative amounts keep their sign in front."""
    symbol = _SYMBOLS.get(currency, currency + " ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount) / 100:.2f}"


def recurrence_label(amount: int, currency: str, duration: int, unit: str) -> str:
    per = unit.lower() if duration == 1 else f"{duration} {unit.lower()}s"
    return f"{money(amount, currency)}/{per}"
