"""The billing model's entitlement rules, from Usages and the current Subscription to a verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.entitlements import Reason, aggregate_rights, build_state
from bridge.models import Subscription, Usage

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T0 = NOW.timestamp()


def usage(feature: str, kind: str, **fields: Any) -> Usage:
    data = {"ReferenceFeature": feature, "TypeFeature": kind, "ReferenceCustomer": "cust-42"}
    data.update(fields)
    return Usage.from_json(data)


def onoff(feature: str, enabled: bool, included: bool = True) -> Usage:
    return usage(feature, "OnOff", IsIncluded=included, IsEnabled=enabled)


def quantity(feature: str, included: int, current: int | None, kind: str = "Consumption") -> Usage:
    fields: dict[str, Any] = {"QuantityIncluded": included}
    if current is not None:
        fields["QuantityCurrent"] = current
    return usage(feature, kind, **fields)


def subscription(status: str, state: str, **fields: Any) -> Subscription:
    return Subscription.from_json({"Id": 7, "Status": status, "StateSubscription": state, **fields})


ACTIVE = subscription("Active", "ActiveRunning")


def state(usages: list[Usage], sub: Subscription | None = ACTIVE, max_ttl: float = 300):
    return build_state("cust-42", usages, sub, fetched_at=T0, max_ttl=max_ttl)


@pytest.mark.parametrize(
    ("usages", "sub", "feature", "min_remaining", "allowed", "reason"),
    [
        ([onoff("premium", True)], ACTIVE, "premium", 1, True, None),
        ([onoff("premium", False)], ACTIVE, "premium", 1, False, Reason.FEATURE_MISSING),
        # enabled as a paid extra without being included: IsEnabled is what counts
        ([onoff("premium", True, included=False)], ACTIVE, "premium", 1, True, None),
        ([quantity("downloads", 10, 3)], ACTIVE, "downloads", 1, True, None),
        ([quantity("downloads", 10, 10)], ACTIVE, "downloads", 1, False, Reason.QUOTA_EXHAUSTED),
        ([quantity("downloads", 10, 8)], ACTIVE, "downloads", 3, False, Reason.QUOTA_EXHAUSTED),
        ([quantity("downloads", 10, 7)], ACTIVE, "downloads", 3, True, None),
        ([quantity("downloads", 10, None)], ACTIVE, "downloads", 1000, True, None),
        (
            [quantity("seats", 3, 3, "Limitation")],
            ACTIVE,
            "seats",
            1,
            False,
            Reason.QUOTA_EXHAUSTED,
        ),
        ([onoff("premium", True)], ACTIVE, "unknown-feature", 1, False, Reason.FEATURE_MISSING),
        ([], None, "premium", 1, False, Reason.NO_SUBSCRIPTION),
        ([], subscription("Ended", "EndedTerminated"), "premium", 1, False, Reason.NO_SUBSCRIPTION),
        (
            [],
            subscription("Suspended", "SuspendedPaymentDue"),
            "premium",
            1,
            False,
            Reason.SUSPENDED,
        ),
        (
            [],
            subscription("Suspended", "SuspendedNoPaymentInfo"),
            "premium",
            1,
            False,
            Reason.PAYMENT_METHOD_MISSING,
        ),
        (
            [],
            subscription("Draft", "DraftAgent"),
            "premium",
            1,
            False,
            Reason.PAYMENT_METHOD_MISSING,
        ),
        (
            [],
            subscription("Draft", "DraftDelayedStart"),
            "premium",
            1,
            False,
            Reason.NO_SUBSCRIPTION,
        ),
    ],
    ids=[
        "onoff-enabled",
        "onoff-included-but-off",
        "onoff-paid-extra",
        "consumption-left",
        "consumption-used-up",
        "min-remaining-not-met",
        "min-remaining-met",
        "absent-current-is-unlimited",
        "limitation-full",
        "unknown-feature-denied",
        "never-subscribed",
        "ended",
        "suspended-payment-due",
        "suspended-no-payment-info",
        "draft-waiting-for-payment",
        "delayed-start",
    ],
)
def test_check(usages, sub, feature, min_remaining, allowed, reason) -> None:
    verdict = state(usages, sub).check([feature], min_remaining=min_remaining)
    assert verdict.allowed is allowed
    assert verdict.reason == reason
    assert verdict.feature == (None if allowed else feature)


def test_the_offer_reference_is_never_a_right() -> None:
    sub = subscription("Active", "ActiveRunning", ReferenceOffer="premium")
    assert not state([], sub).check(["premium"]).allowed


def test_any_and_all() -> None:
    s = state([onoff("a", True), onoff("b", False)])
    assert s.check(["a", "b"], require_all=False).allowed
    all_verdict = s.check(["a", "b"], require_all=True)
    assert not all_verdict.allowed
    assert all_verdict.feature == "b"
    assert not s.check(["b", "c"], require_all=False).allowed


def test_rights_sum_across_subscriptions() -> None:
    rights = aggregate_rights(
        [
            onoff("premium", False),
            onoff("premium", True),
            quantity("downloads", 10, 4),
            quantity("downloads", 5, 1),
            quantity("api-calls", 100, 20),
            quantity("api-calls", 0, None),
        ]
    )
    assert rights["premium"].allows()
    assert rights["downloads"].remaining == 10
    assert rights["api-calls"].remaining is None  # one unlimited subscription makes it unlimited


def test_ttl_is_the_earlier_of_max_ttl_and_the_period_end() -> None:
    soon = (NOW + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.00Z")
    later = (NOW + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.00Z")
    assert state([onoff("p", True)]).expires_at == T0 + 300
    with_end = state([usage("p", "OnOff", IsEnabled=True, DatePeriodEnd=soon)])
    assert with_end.expires_at == T0 + 60
    sub = subscription("Active", "ActiveRunning", DatePeriodEnd=later)
    assert state([onoff("p", True)], sub).expires_at == T0 + 300


def test_an_overdue_period_end_does_not_make_every_request_a_billing_call() -> None:
    past = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.00Z")
    s = state([usage("p", "OnOff", IsEnabled=True, DatePeriodEnd=past)])
    assert s.expires_at > T0


@pytest.mark.parametrize("kind", ["", "Mystery"], ids=["no-type", "unknown-type"])
def test_a_usage_of_unknown_type_opens_nothing_without_is_enabled(kind: str) -> None:
    fields = {"ReferenceFeature": "premium", "QuantityIncluded": 5}
    if kind:
        fields["TypeFeature"] = kind
    assert not state([Usage.from_json(fields)]).check(["premium"]).allowed
    assert not Usage.from_json(fields).is_unlimited


def test_a_lapsed_subscriber_is_cached_for_the_full_ttl() -> None:
    past = (NOW - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.00Z")
    ended = subscription("Ended", "EndedTerminated", DatePeriodEnd=past)
    assert state([], ended).expires_at == T0 + 300
