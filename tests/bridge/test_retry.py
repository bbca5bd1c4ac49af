"""The retry policy, table-driven over every HTTP status and both transport failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.retry import (
    Failure,
    RetryPolicy,
    backoff_delay,
    is_retryable,
    next_delay,
    parse_retry_after,
)

# The policy as the module docstring promises it, written out independently of the code.
RETRIED_FOR_EVERY_CALL = {429}
RETRIED_WHEN_IDEMPOTENT = {408} | (set(range(500, 600)) - {501, 505})

STATUSES = list(range(200, 600))


def expected(status: int, idempotent: bool) -> bool:
    if status in RETRIED_FOR_EVERY_CALL:
        return True
    return idempotent and status in RETRIED_WHEN_IDEMPOTENT


@pytest.mark.parametrize("status", STATUSES, ids=[f"HTTP{s}" for s in STATUSES])
@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "not-idempotent"])
def test_status_table(status: int, idempotent: bool) -> None:
    assert is_retryable(idempotent=idempotent, status=status) is expected(status, idempotent)


@pytest.mark.parametrize(
    ("failure", "idempotent", "retried"),
    [
        (Failure.CONNECT, True, True),
        (Failure.CONNECT, False, True),
        (Failure.READ_TIMEOUT, True, True),
        (Failure.READ_TIMEOUT, False, False),
    ],
    ids=["connect-get", "connect-post", "read-timeout-get", "read-timeout-increment"],
)
def test_transport_failures(failure: Failure, idempotent: bool, retried: bool) -> None:
    assert is_retryable(idempotent=idempotent, failure=failure) is retried


def test_success_and_client_errors_are_never_retried_whatever_the_method() -> None:
    never = [s for s in STATUSES if s < 400 or (400 <= s < 500 and s not in {408, 429})]
    assert never, "the table must cover 2xx, 3xx and 4xx"
    for status in never:
        assert not is_retryable(idempotent=True, status=status), status


POLICY = RetryPolicy(retries=3, base_delay=0.5, max_delay=3.0, budget=10.0)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)],
    ids=["1st", "2nd", "3rd", "capped", "far-capped"],
)
def test_backoff_is_exponential_capped_and_jittered(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, POLICY, lambda: 1.0) == pytest.approx(ceiling)
    assert backoff_delay(attempt, POLICY, lambda: 0.0) == 0.0
    assert backoff_delay(attempt, POLICY, lambda: 0.25) == pytest.approx(ceiling * 0.25)


def test_jitter_outside_unit_interval_cannot_exceed_the_cap() -> None:
    assert backoff_delay(10, POLICY, lambda: 7.0) == pytest.approx(3.0)
    assert backoff_delay(10, POLICY, lambda: -1.0) == 0.0


def test_gives_up_after_the_configured_retries() -> None:
    delays = [
        next_delay(
            attempt=n, policy=POLICY, waited=0, idempotent=True, status=503, jitter=lambda: 1
        )
        for n in (1, 2, 3, 4)
    ]
    assert delays == [0.5, 1.0, 2.0, None]


def test_zero_retries_means_one_attempt() -> None:
    policy = RetryPolicy(retries=0)
    assert (
        next_delay(
            attempt=1, policy=policy, waited=0, idempotent=True, status=503, jitter=lambda: 1
        )
        is None
    )


def test_budget_stops_waiting_before_it_is_exceeded() -> None:
    policy = RetryPolicy(retries=5, base_delay=2.0, max_delay=8.0, budget=5.0)
    assert (
        next_delay(
            attempt=2, policy=policy, waited=0.5, idempotent=True, status=502, jitter=lambda: 1
        )
        == 4.0
    )
    assert (
        next_delay(
            attempt=2, policy=policy, waited=1.5, idempotent=True, status=502, jitter=lambda: 1
        )
        is None
    )


def test_retry_after_is_honoured_within_the_budget_and_fails_fast_beyond() -> None:
    kwargs = {"policy": POLICY, "idempotent": False, "status": 429, "jitter": lambda: 0.0}
    assert next_delay(attempt=1, waited=0, retry_after=7.0, **kwargs) == 7.0
    assert next_delay(attempt=1, waited=4.0, retry_after=7.0, **kwargs) is None
    assert next_delay(attempt=1, waited=0, retry_after=60.0, **kwargs) is None


def test_retry_after_does_not_make_a_non_retryable_answer_retryable() -> None:
    assert (
        next_delay(
            attempt=1,
            policy=POLICY,
            waited=0,
            idempotent=False,
            status=503,
            retry_after=1.0,
            jitter=lambda: 0,
        )
        is None
    )


NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("Sat, 21 Nov 2026 12:00:30 GMT", 30.0),
        ("Sat, 21 Nov 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "seconds",
        "padded",
        "http-date",
        "date-in-past",
        "garbage",
        "negative",
        "empty",
        "absent",
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(retries=-1)
