"""Subscriptions, offers and features of ProAbono API Live.

What this module owns: ``/v1/Subscription`` and its actions (start, suspension, termination,
upgrade, term date), ``/v1/Subscriptions``, ``/v1/Offers``, ``/v1/Offer``, ``/v1/Features`` and
``/v1/Feature``.

What it does not do: HTTP, retries or errors (``bridge.transport``), quotes of a subscription
(``bridge.api_usages``, with the other quotes), customers, usages or invoices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bridge.errors import BillingNotFound
from bridge.models import Feature, Offer, Page, Subscription, format_datetime
from bridge.transport import DEFAULT_PAGE_SIZE, ApiTransport, _body, _query, _require


class SubscriptionsApi(ApiTransport):
    """Subscription, offer and feature calls; a part of :class:`bridge.client.ProAbonoClient`."""

    def get_subscription(
        self,
        reference_customer: str,
        *,
        reference_offer: str | None = None,
        ignore_features: bool | None = None,
    ) -> Subscription | None:
        """The customer's current subscription (``GET /v1/Subscription``); None if none."""
        params = _query(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            ReferenceOffer=reference_offer,
            IgnoreFeatures=ignore_features,
        )
        try:
            data = self._get("/v1/Subscription", params)
        except BillingNotFound:
            return None
        return None if data is None else self._one(Subscription, data, "GET", "/v1/Subscription")

    def get_subscription_by_id(self, id_subscription: int) -> Subscription:
        path = f"/v1/Subscription/{int(id_subscription)}"
        return self._one(Subscription, self._get(path), "GET", path)

    def list_subscriptions(
        self,
        *,
        reference_customer: str | None = None,
        reference_customer_buyer: str | None = None,
        ignore_features: bool | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Subscription]:
        params = self._subscriptions_query(
            reference_customer, reference_customer_buyer, ignore_features
        )
        params.update(_query(Page=page, SizePage=self._size(size_page)))
        return self._page(Subscription, "/v1/Subscriptions", params)

    def iter_subscriptions(
        self,
        *,
        reference_customer: str | None = None,
        reference_customer_buyer: str | None = None,
        ignore_features: bool | None = None,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Subscription]:
        params = self._subscriptions_query(
            reference_customer, reference_customer_buyer, ignore_features
        )
        return self._iterate(Subscription, "/v1/Subscriptions", params, self._size(size_page))

    def _subscriptions_query(
        self,
        reference_customer: str | None,
        reference_customer_buyer: str | None,
        ignore_features: bool | None,
    ) -> dict[str, str]:
        return _query(
            ReferenceSegment=self.segment,
            ReferenceCustomer=reference_customer,
            ReferenceCustomerBuyer=reference_customer_buyer,
            IgnoreFeatures=ignore_features,
        )

    def create_subscription(
        self,
        reference_customer: str,
        reference_offer: str,
        *,
        try_start: bool | None = None,
        bill_now: bool | None = None,
        ensure_billable: bool | None = None,
        migration: bool | None = None,
        reference_customer_buyer: str | None = None,
        date_start: datetime | None = None,
        features: Sequence[Mapping[str, Any]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Subscription:
        """``POST /v1/Subscription``. Without ``try_start`` the result is a Draft.

        ``overrides`` passes other SubscriptionRequest fields as they are (``AmountRecurrence``...).
        Not retried on 5xx: a replay could create a second subscription.
        """
        params = _query(
            TryStart=try_start,
            BillNow=bill_now,
            EnsureBillable=ensure_billable,
            Migration=migration,
        )
        body = {
            **dict(overrides or {}),
            **_body(
                ReferenceCustomer=_require("reference_customer", reference_customer),
                ReferenceOffer=_require("reference_offer", reference_offer),
                ReferenceCustomerBuyer=reference_customer_buyer,
                DateStart=format_datetime(date_start) if date_start else None,
                Features=[dict(f) for f in features] if features is not None else None,
                Metadata=dict(metadata) if metadata is not None else None,
            ),
        }
        data = self._post("/v1/Subscription", params=params, body=body, idempotent=False)
        return self._one(Subscription, data, "POST", "/v1/Subscription")

    def start_subscription(
        self,
        id_subscription: int,
        *,
        ensure_billable: bool | None = None,
        bill_now: bool | None = None,
    ) -> Subscription:
        """Start a Draft, or restart a Suspended subscription (there is no separate resume)."""
        params = _query(EnsureBillable=ensure_billable, BillNow=bill_now)
        return self._subscription_action(id_subscription, "Start", params)

    def suspend_subscription(self, id_subscription: int) -> Subscription:
        return self._subscription_action(id_subscription, "Suspension", {})

    def terminate_subscription(
        self,
        id_subscription: int,
        *,
        immediate: bool | None = None,
        date_termination: datetime | None = None,
    ) -> Subscription:
        """End of term by default (``ActiveDelayedTermination``); ``immediate=True`` ends it now."""
        params = _query(Immediate=immediate, DateTermination=date_termination)
        return self._subscription_action(id_subscription, "Termination", params)

    def upgrade_subscription(
        self,
        id_subscription: int,
        reference_offer: str,
        *,
        immediate: bool | None = None,
        bill_now: bool | None = None,
        ignore_engagement: bool | None = None,
    ) -> Subscription:
        """Move to another offer; answers the **new** subscription (the old one ends)."""
        params = _query(
            ReferenceOffer=_require("reference_offer", reference_offer),
            Immediate=immediate,
            BillNow=bill_now,
            IgnoreEngagement=ignore_engagement,
        )
        return self._subscription_action(id_subscription, "Upgrade", params)

    def set_subscription_date_term(self, id_subscription: int, date_term: datetime) -> Subscription:
        return self._subscription_action(
            id_subscription,
            "DateTerm",
            {},
            body={"DateTerm": format_datetime(date_term)},
            idempotent=True,
        )

    def _subscription_action(
        self,
        id_subscription: int,
        action: str,
        params: Mapping[str, str],
        *,
        body: Any = None,
        idempotent: bool = False,
    ) -> Subscription:
        path = f"/v1/Subscription/{int(id_subscription)}/{action}"
        data = self._post(path, params=params, body=body, idempotent=idempotent)
        return self._one(Subscription, data, "POST", path)

    # --- offers and features --------------------------------------------------------------

    def list_offers(
        self,
        *,
        reference_customer: str | None = None,
        upgrade: bool | None = None,
        id_subscription: int | None = None,
        is_visible: bool | None = None,
        reference_pricing_table: str | None = None,
        prefix_reference_offer: str | None = None,
        ignore_features: bool | None = None,
        language: str | None = None,
        html: bool | None = None,
        links: bool | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Offer]:
        """``GET /v1/Offers``; with ``reference_customer`` only what that customer may take."""
        params = _query(
            ReferenceSegment=self.segment,
            ReferenceCustomer=reference_customer,
            Upgrade=upgrade,
            IdSubscription=id_subscription,
            IsVisible=is_visible,
            ReferencePricingTable=reference_pricing_table,
            PrefixReferenceOffer=prefix_reference_offer,
            IgnoreFeatures=ignore_features,
            Language=language,
            Html=html,
            Links=links,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Offer, "/v1/Offers", params)

    def get_offer(
        self,
        reference_offer: str,
        *,
        reference_customer: str | None = None,
        upgrade: bool | None = None,
        id_subscription: int | None = None,
        language: str | None = None,
        html: bool | None = None,
    ) -> Offer:
        params = _query(
            ReferenceOffer=_require("reference_offer", reference_offer),
            ReferenceSegment=self.segment,
            ReferenceCustomer=reference_customer,
            Upgrade=upgrade,
            IdSubscription=id_subscription,
            Language=language,
            Html=html,
        )
        return self._one(Offer, self._get("/v1/Offer", params), "GET", "/v1/Offer")

    def list_features(
        self,
        *,
        is_visible: bool | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Feature]:
        params = _query(
            ReferenceSegment=self.segment,
            IsVisible=is_visible,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Feature, "/v1/Features", params)

    def get_feature(self, reference_feature: str) -> Feature | None:
        """``GET /v1/Feature``; None when the service answers 204 (no such feature)."""
        params = _query(ReferenceFeature=_require("reference_feature", reference_feature))
        data = self._get("/v1/Feature", params)
        return None if data is None else self._one(Feature, data, "GET", "/v1/Feature")
