"""The billing client's retry policy, as pure functions of their inputs (clock and jitter injected).

Which failures are retried, and for which calls:

======================  ================  =====================================================
failure                 retried for       why
======================  ================  =====================================================
connect error           every call        the request never reached the service
429 Too Many Requests   every call        the service refused it before doing anything
408, 5xx (not 501/505)  idempotent calls  the service may have done the work: only a call that
read timeout            idempotent calls  can be replayed safely (GET, upsert, absolute quantity)
any other status        never             a 4xx will not change by asking again
======================  ================  =====================================================

Waits use capped exponential backoff with full jitter (``uniform(0, min(cap, base * 2**n))``), and a
``Retry-After`` header from a 429/503 is honoured when it fits in what is left of the wait budget;
when it does not, the call fails at once instead of holding a request thread hostage.

What this module does not do: send requests or sleep (``bridge.client`` does both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import Enum


class Failure(Enum):
    """A transport failure, as opposed to an HTTP answer."""

    CONNECT = "connect"  # refused, DNS, TLS handshake, connect timeout: nothing was sent
    READ_TIMEOUT = "read-timeout"  # sent, but no answer in time: the work may have happened


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries. ``retries`` counts attempts after the first."""

    retries: int = 2
    base_delay: float = 0.25
    max_delay: float = 4.0
    budget: float = 15.0  # total seconds a call may spend waiting between attempts

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay < 0 or self.max_delay < 0 or self.budget < 0:
            raise ValueError("retry settings must not be negative")


NEVER_RETRIED_5XX = frozenset({501, 505})


def is_retryable(
    *, idempotent: bool, status: int | None = None, failure: Failure | None = None
) -> bool:
    """Whether this outcome may be retried at all (before counting attempts or budget)."""
    if failure is Failure.CONNECT:
        return True
    if failure is Failure.READ_TIMEOUT:
        return idempotent
    if status is None:
        return False
    if status == 429:
        return True
    if status == 408 or (500 <= status <= 599 and status not in NEVER_RETRIED_5XX):
        return idempotent
    return False


def backoff_delay(attempt: int, policy: RetryPolicy, jitter: Callable[[], float]) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): full jitter under a cap."""
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    fraction = min(max(float(jitter()), 0.0), 1.0)
    return ceiling * fraction


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def next_delay(
    *,
    attempt: int,
    policy: RetryPolicy,
    waited: float,
    idempotent: bool,
    status: int | None = None,
    failure: Failure | None = None,
    retry_after: float | None = None,
    jitter: Callable[[], float],
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up.

    ``attempt`` is the number of the attempt that just failed (1 for the first), ``waited`` the
    seconds already spent waiting in this call.
    """
    if not is_retryable(idempotent=idempotent, status=status, failure=failure):
        return None
    if attempt > policy.retries:
        return None
    left = policy.budget - waited
    if retry_after is not None:
        return retry_after if retry_after <= left else None
    delay = backoff_delay(attempt, policy, jitter)
    return delay if delay <= left else None
