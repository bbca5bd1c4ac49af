"""Usages (a customer's rights) and quotes (what a change would cost) of ProAbono API Live.

What this module owns: :class:`UsageChange` (one usage write and whether it may be replayed),
``/v1/Usage``, ``/v1/Usages`` (reading, and writing up to ``MAX_USAGES_PER_BATCH`` changes at
once) and ``/v1/Quoting/*``.

What it does not do: HTTP, retries or errors (``bridge.transport``), decide rights from usages
(``bridge.entitlements``), or cache them (``bridge.cache``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.errors import BillingError, BillingNotFound, BillingUnavailable
from bridge.models import Page, Quote, Usage, format_datetime
from bridge.transport import DEFAULT_PAGE_SIZE, ApiTransport, _body, _query, _require

MAX_USAGES_PER_BATCH = 50


@dataclass(frozen=True)
class UsageChange:
    """One usage write (``POST /v1/Usage`` or one element of ``POST /v1/Usages``).

    Exactly one of ``increment`` (relative, may be negative: Consumption), ``quantity_current``
    (absolute, replay-safe: Limitation) and ``is_enabled`` (OnOff) must be given.
    """

    reference_customer: str
    reference_feature: str
    increment: int | None = None
    quantity_current: int | None = None
    is_enabled: bool | None = None
    date_stamp: datetime | None = None
    id_subscription: int | None = None

    def __post_init__(self) -> None:
        given = [
            v for v in (self.increment, self.quantity_current, self.is_enabled) if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a usage change needs exactly one of increment, quantity_current or is_enabled"
            )

    @property
    def idempotent(self) -> bool:
        """An absolute quantity or a switch can be replayed; an increment cannot."""
        return self.increment is None

    def to_json(self, now: datetime) -> dict[str, Any]:
        return _body(
            ReferenceCustomer=self.reference_customer,
            ReferenceFeature=self.reference_feature,
            IdSubscription=self.id_subscription,
            Increment=self.increment,
            QuantityCurrent=self.quantity_current,
            IsEnabled=self.is_enabled,
            DateStamp=format_datetime(self.date_stamp or now),
        )


class UsagesApi(ApiTransport):
    """Usage and quote calls; a part of :class:`bridge.client.ProAbonoClient`."""

    def list_usages(
        self,
        reference_customer: str,
        *,
        reference_feature: str | None = None,
        id_subscription: int | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Usage]:
        """One page of ``GET /v1/Usages``; an empty page for 204 (no started subscription)."""
        params = self._usages_query(reference_customer, reference_feature, id_subscription)
        params.update(_query(Page=page, SizePage=self._size(size_page)))
        return self._page(Usage, "/v1/Usages", params)

    def iter_usages(
        self,
        reference_customer: str,
        *,
        reference_feature: str | None = None,
        id_subscription: int | None = None,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Usage]:
        """Every usage of the customer, paging until ``TotalItems``."""
        params = self._usages_query(reference_customer, reference_feature, id_subscription)
        return self._iterate(Usage, "/v1/Usages", params, self._size(size_page))

    def get_usages(self, reference_customer: str) -> list[Usage]:
        """All of a customer's rights at once: what an entitlement snapshot is built from."""
        return list(self.iter_usages(reference_customer))

    @staticmethod
    def _usages_query(
        reference_customer: str, reference_feature: str | None, id_subscription: int | None
    ) -> dict[str, str]:
        return _query(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            ReferenceFeature=reference_feature,
            IdSubscription=id_subscription,
        )

    def get_usage(
        self,
        reference_customer: str,
        reference_feature: str,
        *,
        id_subscription: int | None = None,
    ) -> Usage | None:
        """``GET /v1/Usage``; None when no started subscription has the feature (404 or 204)."""
        params = _query(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            ReferenceFeature=_require("reference_feature", reference_feature),
            IdSubscription=id_subscription,
        )
        try:
            data = self._get("/v1/Usage", params)
        except BillingNotFound:
            return None
        except BillingError as exc:
            if exc.code == "Error.Api.Usage.NoneMatching":
                return None
            raise
        return None if data is None else self._one(Usage, data, "GET", "/v1/Usage")

    def record_usage(self, change: UsageChange) -> Usage:
        """``POST /v1/Usage``. A billable change is charged or invoiced by the service.

        Increments are never replayed after a 5xx or a read timeout (they could count twice);
        absolute quantities and switches are.
        """
        data = self._post(
            "/v1/Usage", body=change.to_json(self.clock()), idempotent=change.idempotent
        )
        return self._one(Usage, data, "POST", "/v1/Usage")

    def record_usages(self, changes: Iterable[UsageChange]) -> list[Usage]:
        """``POST /v1/Usages``: up to 50 changes in one all-or-nothing call."""
        batch = list(changes)
        if not batch:
            return []
        if len(batch) > MAX_USAGES_PER_BATCH:
            raise ValueError(
                f"at most {MAX_USAGES_PER_BATCH} usage changes per batch, got {len(batch)}"
            )
        now = self.clock()
        body = [change.to_json(now) for change in batch]
        data = self._post("/v1/Usages", body=body, idempotent=all(c.idempotent for c in batch))
        items = data.get("Items") if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise BillingUnavailable(
                "unexpected answer shape for a usage batch", method="POST", path="/v1/Usages"
            )
        try:
            return [Usage.from_json(item) for item in items]
        except TypeError as exc:
            raise BillingUnavailable(
                f"unexpected answer shape for a usage batch: {exc}",
                method="POST",
                path="/v1/Usages",
            ) from exc

    # --- quoting (integrated purchasing) --------------------------------------------------

    def quote_usage(
        self,
        change: UsageChange,
        *,
        next_term: bool | None = True,
        ensure_billable: bool | None = None,
    ) -> Quote:
        """What ``record_usage(change)`` would cost now (and at the next term)."""
        params = _query(EnsureBillable=ensure_billable, NextTerm=next_term)
        return self._quote("/v1/Quoting/Usage", params, change.to_json(self.clock()))

    def quote_subscription(
        self,
        reference_customer: str,
        reference_offer: str,
        *,
        ensure_billable: bool | None = None,
        reference_customer_buyer: str | None = None,
        features: Sequence[Mapping[str, Any]] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Quote:
        params = _query(EnsureBillable=ensure_billable)
        body = {
            **dict(overrides or {}),
            **_body(
                ReferenceCustomer=_require("reference_customer", reference_customer),
                ReferenceOffer=_require("reference_offer", reference_offer),
                ReferenceCustomerBuyer=reference_customer_buyer,
                Features=[dict(f) for f in features] if features is not None else None,
            ),
        }
        return self._quote("/v1/Quoting/Subscription", params, body)

    def quote_start(self, id_subscription: int, *, ensure_billable: bool | None = None) -> Quote:
        path = f"/v1/Quoting/Subscription/{int(id_subscription)}/Start"
        return self._quote(path, _query(EnsureBillable=ensure_billable), None)

    def quote_upgrade(
        self,
        id_subscription: int,
        reference_offer: str,
        *,
        bill_now: bool | None = None,
        immediate: bool | None = None,
    ) -> Quote:
        path = f"/v1/Quoting/Subscription/{int(id_subscription)}/Upgrade"
        params = _query(
            ReferenceOffer=_require("reference_offer", reference_offer),
            BillNow=bill_now,
            Immediate=immediate,
        )
        return self._quote(path, params, None)

    def _quote(self, path: str, params: Mapping[str, str], body: Any) -> Quote:
        # A quote changes nothing, so it is safe to replay.
        return self._one(
            Quote, self._post(path, params=params, body=body, idempotent=True), "POST", path
        )
