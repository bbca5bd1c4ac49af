"""What a customer may do right now: ``CustomerState`` snapshots and the billing model's rules.

A snapshot is built from ``GET /v1/Usages`` (all pages) and ``GET /v1/Subscription`` and is always
replaced whole, never merged. The rules are the reference's:

* OnOff: allowed iff ``IsEnabled`` (not ``IsIncluded``);
* Limitation / Consumption: an absent ``QuantityCurrent`` means unlimited; otherwise
  ``remaining = QuantityIncluded - QuantityCurrent`` must reach the rule's ``min_remaining``;
* several subscriptions: OnOff enabled if any enables it, quantities summed, unlimited wins;
* a feature the customer has no usage for is not allowed; the offer reference is never looked at.

When a right is missing, the subscription's state says why (``Reason``), so a suspended member is
offered a restart and not a generic paywall.

What this module does not do: cache (``bridge.cache``) or render a denial (``middleware``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bridge.client import ProAbonoClient
from bridge.errors import BillingNotFound
from bridge.models import (
    QUANTITY_TYPES,
    StateSubscription,
    Subscription,
    SubscriptionStatus,
    TypeFeature,
    Usage,
)


class Reason(StrEnum):
    """Why a request is denied; the values are the machine-readable ``error`` of a JSON 402."""

    LOGIN_REQUIRED = "login_required"
    NO_SUBSCRIPTION = "no_subscription"
    FEATURE_MISSING = "feature_missing"
    QUOTA_EXHAUSTED = "quota_exhausted"
    SUSPENDED = "suspended"
    PAYMENT_METHOD_MISSING = "payment_method_missing"
    BILLING_UNAVAILABLE = "billing_unavailable"


@dataclass(frozen=True, slots=True)
class FeatureRight:
    """One feature's right, summed over the customer's started subscriptions."""

    reference_feature: str
    type_feature: str
    enabled: bool = False  # OnOff
    included: int = 0  # Limitation / Consumption
    current: int | None = None  # None: unlimited

    @property
    def is_quantity(self) -> bool:
        return self.type_feature in QUANTITY_TYPES

    @property
    def remaining(self) -> int | None:
        """Units left; None when unlimited (and for OnOff features)."""
        if not self.is_quantity or self.current is None:
            return None
        return self.included - self.current

    def allows(self, min_remaining: int = 1) -> bool:
        if not self.is_quantity:
            return self.enabled
        remaining = self.remaining
        return remaining is None or remaining >= min_remaining


PAYMENT_STATES = frozenset({StateSubscription.SUSPENDED_NO_PAYMENT_INFO})
DELAYED_DRAFT_STATES = frozenset(
    {StateSubscription.DRAFT_DELAYED_START, StateSubscription.DRAFT_DELAYED_UPGRADE}
)


@dataclass(frozen=True, slots=True)
class SubscriptionSummary:
    """The parts of the current subscription the gate and the banner need (never its links)."""

    id: int | None
    reference_offer: str | None
    status: str | None
    state: str | None
    is_trial: bool
    date_period_end: datetime | None
    date_end: datetime | None

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionSummary:
        return cls(
            id=subscription.id,
            reference_offer=subscription.reference_offer,
            status=subscription.status,
            state=subscription.state_subscription,
            is_trial=bool(subscription.is_trial),
            date_period_end=subscription.date_period_end,
            date_end=subscription.date_end,
        )

    @property
    def is_suspended(self) -> bool:
        return self.status == SubscriptionStatus.SUSPENDED

    @property
    def is_active(self) -> bool:
        return self.status == SubscriptionStatus.ACTIVE

    @property
    def needs_payment_method(self) -> bool:
        """Suspended for want of payment details, or a paid subscription that could not start."""
        return self.state in PAYMENT_STATES or (
            self.status == SubscriptionStatus.DRAFT and self.state not in DELAYED_DRAFT_STATES
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking rights: allowed, or the reason and the feature that failed."""

    allowed: bool
    reason: Reason | None = None
    feature: str | None = None


ALLOWED = Verdict(True)


@dataclass(frozen=True, slots=True)
class CustomerState:
    """A snapshot of one customer's rights. Times are epoch seconds from the injected clock."""

    reference_customer: str
    rights: Mapping[str, FeatureRight]
    subscription: SubscriptionSummary | None
    fetched_at: float
    expires_at: float
    stale: bool = False  # served from cache because the billing service could not be reached
    #: What consumers derive from this snapshot, kept with it (a snapshot never changes, so what
    #: is derived from it holds as long as it lives): the gate keeps its decision per rule here.
    #: Not copied by ``dataclasses.replace`` (a stale copy starts empty), never compared.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def right(self, feature: str) -> FeatureRight | None:
        return self.rights.get(feature)

    def check(
        self, features: Sequence[str], *, require_all: bool = True, min_remaining: int = 1
    ) -> Verdict:
        """Allowed when all (or any) of ``features`` allow ``min_remaining`` units."""
        failed: Verdict | None = None
        for feature in features:
            right = self.rights.get(feature)
            if right is not None and right.allows(min_remaining):
                if not require_all:
                    return ALLOWED
                continue
            verdict = Verdict(False, self._reason(right), feature)
            if require_all:
                return verdict
            failed = failed or verdict
        if failed is not None:
            return failed
        return ALLOWED if features else Verdict(False, Reason.FEATURE_MISSING)

    def _reason(self, right: FeatureRight | None) -> Reason:
        sub = self.subscription
        if sub is not None and sub.needs_payment_method:
            return Reason.PAYMENT_METHOD_MISSING
        if sub is not None and sub.is_suspended:
            return Reason.SUSPENDED
        if right is not None and right.is_quantity:
            return Reason.QUOTA_EXHAUSTED
        if sub is not None and sub.is_active:
            return Reason.FEATURE_MISSING
        if right is not None:  # an OnOff right switched off on a subscription we could not read
            return Reason.FEATURE_MISSING
        return Reason.NO_SUBSCRIPTION


def aggregate_rights(usages: Iterable[Usage]) -> dict[str, FeatureRight]:
    """Sum usages per feature across subscriptions, with the reference's rules."""
    rights: dict[str, FeatureRight] = {}
    for usage in usages:
        feature = usage.reference_feature
        if not feature:
            continue
        kind = usage.type_feature or TypeFeature.ON_OFF
        if kind not in QUANTITY_TYPES:  # OnOff, and any type we do not know: only IsEnabled opens
            new = FeatureRight(feature, kind, enabled=bool(usage.is_enabled))
        else:
            new = FeatureRight(
                feature, kind, included=usage.quantity_included or 0, current=usage.quantity_current
            )
        old = rights.get(feature)
        rights[feature] = new if old is None else _combine(old, new)
    return rights


def _combine(a: FeatureRight, b: FeatureRight) -> FeatureRight:
    if not a.is_quantity or not b.is_quantity:
        return FeatureRight(a.reference_feature, a.type_feature, enabled=a.enabled or b.enabled)
    unlimited = a.current is None or b.current is None
    return FeatureRight(
        a.reference_feature,
        a.type_feature,
        included=a.included + b.included,
        current=None if unlimited else (a.current or 0) + (b.current or 0),
    )


def build_state(
    reference_customer: str,
    usages: Iterable[Usage],
    subscription: Subscription | None,
    *,
    fetched_at: float,
    max_ttl: float,
) -> CustomerState:
    """A snapshot that expires at ``min(fetched_at + max_ttl, earliest upcoming period end)``."""
    usages = list(usages)
    expires_at = fetched_at + max_ttl
    ends = [u.date_period_end.timestamp() for u in usages if u.date_period_end is not None]
    if subscription is not None and subscription.is_active and subscription.date_period_end:
        ends.append(subscription.date_period_end.timestamp())
    # Only ends still ahead count: an ended subscription's period, or a renewal the service has
    # not processed yet, must not turn every request of that customer into a billing call.
    upcoming = [end for end in ends if end > fetched_at]
    if upcoming:
        expires_at = min(expires_at, max(min(upcoming), fetched_at + MIN_TTL))
    return CustomerState(
        reference_customer=reference_customer,
        rights=MappingProxyType(aggregate_rights(usages)),
        subscription=SubscriptionSummary.of(subscription) if subscription is not None else None,
        fetched_at=fetched_at,
        expires_at=expires_at,
    )


MIN_TTL = 5.0


def state_fetcher(
    client: ProAbonoClient, *, max_ttl: float, clock: Callable[[], float] = time.time
) -> Callable[[str], CustomerState]:
    """A fetch function for ``bridge.cache.EntitlementStore``: two billing reads per snapshot."""

    def fetch(reference_customer: str) -> CustomerState:
        try:
            usages = client.get_usages(reference_customer)
        except BillingNotFound:  # an unknown customer has no rights, which is not an outage
            usages = []
        subscription = client.get_subscription(reference_customer)
        return build_state(
            reference_customer, usages, subscription, fetched_at=clock(), max_ttl=max_ttl
        )

    return fetch
