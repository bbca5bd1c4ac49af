"""The ProAbono API Live client: one pooled ``requests.Session``, typed answers, typed errors.

``ProAbonoClient(url, agent_key, api_key)`` speaks to any of the three backends of the design:

* ``https://api-{IdBusiness}.proabono.com``: the real service;
* ``http://127.0.0.1:PORT``: a sandbox (or any compatible server) over HTTP;
* ``sandbox://PATH``: the embedded sandbox in process, through a ``requests`` transport adapter that
  ``bridge.sandbox.transport`` mounts on the same session, so every call takes the same code path.

Paths, query names and JSON fields are exactly those of the reference
(``shared/reference/proabono-api.md``). Every request carries a timeout; retries follow
``bridge.retry`` and only replay what is safe to replay. ``ReferenceSegment`` is sent where the
contract declares it (never on ``/v1/Usages``, as ProAbono's own tools do).

What this module does not do: cache (``bridge.cache``), decide rights (``bridge.entitlements``), or
log link values (they are bearer credentials; errors and logs carry the path, never the query).
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from bridge import __version__
from bridge.errors import (
    ApiErrorItem,
    BillingError,
    BillingNotFound,
    BillingUnavailable,
    ConfigError,
    ConfigProblem,
    error_class_for,
)
from bridge.models import (
    WRITABLE_PAYMENT_TYPES,
    BalanceLine,
    BillingAddress,
    Customer,
    Feature,
    Invoice,
    Model,
    Offer,
    Page,
    PaymentSettings,
    Quote,
    Subscription,
    Usage,
    format_datetime,
    json_name,
)
from bridge.retry import Failure, RetryPolicy, next_delay, parse_retry_after

log = logging.getLogger("bridge.client")

M = TypeVar("M", bound=Model)

MAX_USAGES_PER_BATCH = 50
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000  # a service that always says "next" must not hang a request thread


@dataclass(frozen=True)
class UpsertResult:
    """What ``POST /v1/Customer`` answered: the customer, and whether it was just created (201)."""

    customer: Customer
    created: bool


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


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the None values (the service reads absent as "leave unchanged")."""
    return {key: value for key, value in fields.items() if value is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _query(**params: Any) -> dict[str, str]:
    return {key: _query_value(value) for key, value in params.items() if value is not None}


def _require(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


class ProAbonoClient:
    """A client for ProAbono API Live (v1). Thread-safe for concurrent calls.

    ``timeout`` (read) and ``connect_timeout`` are always sent; ``retries`` and ``retry_budget``
    bound how long a call may keep trying. ``clock`` (wall time, for ``DateStamp`` and HTTP-date
    ``Retry-After``), ``sleep`` and ``jitter`` are injectable so tests never wait.
    """

    def __init__(
        self,
        url: str,
        agent_key: str,
        api_key: str,
        *,
        segment: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 3.05,
        retries: int = 2,
        retry_budget: float = 15.0,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive: a billing call may never wait forever")
        self.segment = segment
        self.timeout = (connect_timeout, timeout)
        self.policy = RetryPolicy(retries=retries, budget=retry_budget)
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        self.session = session or requests.Session()
        self.session.auth = (agent_key, api_key)
        self.session.headers.update(
            {
                "Accept": "application/json",
                "User-Agent": f"proabono-bridge/{__version__}",
            }
        )
        try:
            self.base_url = self._resolve_base_url(url)
        except ConfigError:
            if session is None:
                self.session.close()
            raise

    # --- plumbing -------------------------------------------------------------------------

    def _resolve_base_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            return url.rstrip("/")
        if parts.scheme == "sandbox":
            path = url[len("sandbox://") :]
            try:
                transport = importlib.import_module("bridge.sandbox.transport")
            except ImportError as exc:
                raise ConfigError(
                    [
                        ConfigProblem(
                            "billing.url",
                            f"{url!r} needs the embedded sandbox, which is not installed ({exc})",
                            "reinstall proabono-bridge, or point billing.url at an http(s) server",
                        )
                    ]
                ) from exc
            return str(transport.mount(self.session, path))
        raise ConfigError(
            [
                ConfigProblem(
                    "billing.url",
                    f"unsupported billing URL {url!r}",
                    "use https://api-<IdBusiness>.proabono.com, http://HOST:PORT or sandbox://FILE",
                )
            ]
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ProAbonoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> tuple[int, Any]:
        """Send one API call with retries; return ``(status, json)`` (``None`` json for 204).

        Raises a ``BillingError`` subclass for every failure; the message names the method and the
        path, never the query (it may carry references) nor the credentials.
        """
        url = self.base_url + path
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=None if body is None else json.dumps(body),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = (
                    Failure.READ_TIMEOUT
                    if isinstance(exc, requests.ReadTimeout)
                    else Failure.CONNECT
                )
                delay = next_delay(
                    attempt=attempt,
                    policy=self.policy,
                    waited=waited,
                    idempotent=idempotent,
                    failure=failure,
                    jitter=self.jitter,
                )
                if delay is None:
                    raise BillingUnavailable(
                        f"billing service unreachable ({type(exc).__name__}) "
                        f"after {attempt} attempt(s)",
                        method=method,
                        path=path,
                    ) from exc
                log.warning(
                    "billing %s %s: %s, retrying in %.2fs", method, path, failure.value, delay
                )
            except requests.RequestException as exc:
                raise BillingUnavailable(
                    f"billing request failed: {type(exc).__name__}", method=method, path=path
                ) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return status, self._decode(response, method, path)
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock())
                delay = next_delay(
                    attempt=attempt,
                    policy=self.policy,
                    waited=waited,
                    idempotent=idempotent,
                    status=status,
                    retry_after=retry_after,
                    jitter=self.jitter,
                )
                if delay is None:
                    raise self._error(response, method, path, retry_after)
                log.warning(
                    "billing %s %s: HTTP %s, retrying in %.2fs", method, path, status, delay
                )
                response.close()
            self.sleep(delay)
            waited += delay

    @staticmethod
    def _decode(response: requests.Response, method: str, path: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            # A 2xx that is not JSON is a proxy or captive page, not the billing service.
            raise BillingUnavailable(
                "billing service answered with a body that is not JSON",
                status=response.status_code,
                method=method,
                path=path,
            ) from exc

    @staticmethod
    def _error(
        response: requests.Response, method: str, path: str, retry_after: float | None
    ) -> BillingError:
        status = response.status_code
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None
        raw_items = payload if isinstance(payload, list) else [payload] if payload else []
        items = [ApiErrorItem.from_json(item) for item in raw_items]
        first = items[0] if items else ApiErrorItem(code=None, message=None)
        message = first.message or response.reason or f"HTTP {status}"
        if len(items) > 1:
            message = "; ".join(i.message or i.code or "?" for i in items)
        cls = error_class_for(status, first.code)
        return cls(
            message,
            status=status,
            code=first.code,
            method=method,
            path=path,
            errors=items,
            retry_after=retry_after,
        )

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)[1]

    def _post(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> Any:
        return self.request("POST", path, params=params, body=body, idempotent=idempotent)[1]

    def _one(self, model: type[M], data: Any, method: str, path: str) -> M:
        if data is None:
            raise BillingUnavailable(
                "empty answer where an object was expected", method=method, path=path
            )
        try:
            return model.from_json(data)
        except TypeError as exc:
            raise BillingUnavailable(
                f"unexpected answer shape: {exc}", method=method, path=path
            ) from exc

    def _page(self, model: type[M], path: str, params: Mapping[str, str]) -> Page[M]:
        data = self._get(path, params)
        if data is None:
            return Page.empty()
        try:
            return Page.from_json(data, model)
        except TypeError as exc:
            raise BillingUnavailable(
                f"unexpected list shape: {exc}", method="GET", path=path
            ) from exc

    def _iterate(
        self, model: type[M], path: str, params: Mapping[str, str], size_page: int
    ) -> Iterator[M]:
        """Every item of a list, page after page, while ``TotalItems`` or a ``next`` link says
        more follow; an empty page always ends it."""
        seen = 0
        for page_number in range(1, MAX_PAGES + 1):
            page = self._page(
                model, path, {**params, "Page": str(page_number), "SizePage": str(size_page)}
            )
            yield from page.items
            seen += len(page.items)
            more = seen < page.total_items or page.links.get("next") is not None
            if not page.items or not more:
                return
        raise BillingUnavailable(f"pagination did not end after {MAX_PAGES} pages", path=path)

    @staticmethod
    def _size(size_page: int) -> int:
        if not 1 <= size_page <= MAX_PAGE_SIZE:
            raise ValueError(f"size_page must be between 1 and {MAX_PAGE_SIZE}")
        return size_page

    # --- customers ------------------------------------------------------------------------

    def get_customer(
        self, reference_customer: str, *, reference_offer: str | None = None
    ) -> Customer:
        """``GET /v1/Customer``; with ``reference_offer`` the links gain ``insite-subscribe``."""
        params = _query(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            ReferenceOffer=reference_offer,
        )
        return self._one(Customer, self._get("/v1/Customer", params), "GET", "/v1/Customer")

    def find_customer(self, reference_customer: str) -> Customer | None:
        """Like ``get_customer`` but ``None`` for an unknown reference."""
        try:
            return self.get_customer(reference_customer)
        except BillingNotFound:
            return None

    def upsert_customer(
        self,
        reference_customer: str,
        *,
        email: str | None = None,
        name: str | None = None,
        language: str | None = None,
        reference_offer: str | None = None,
        reference_affiliation: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> UpsertResult:
        """``POST /v1/Customer``: create (201) or update (200) by reference; only given fields."""
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            Email=email,
            Name=name,
            Language=language,
            ReferenceSegment=self.segment,
            ReferenceOffer=reference_offer,
            ReferenceAffiliation=reference_affiliation,
            Metadata=dict(metadata) if metadata is not None else None,
        )
        status, data = self.request("POST", "/v1/Customer", body=body, idempotent=True)
        return UpsertResult(
            self._one(Customer, data, "POST", "/v1/Customer"), created=status == 201
        )

    def list_customers(
        self,
        *,
        reference_feature: str | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Customer]:
        params = _query(
            ReferenceSegment=self.segment,
            ReferenceFeature=reference_feature,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Customer, "/v1/Customers", params)

    def iter_customers(
        self, *, reference_feature: str | None = None, size_page: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Customer]:
        params = _query(ReferenceSegment=self.segment, ReferenceFeature=reference_feature)
        return self._iterate(Customer, "/v1/Customers", params, self._size(size_page))

    def suspend_customer(self, reference_customer: str) -> Customer:
        """``POST /v1/Customer/Suspension``: fraud/security only; the customer loses every link."""
        return self._customer_action("/v1/Customer/Suspension", reference_customer)

    def revoke_customer_links(self, reference_customer: str) -> Customer:
        """``POST /v1/Customer/LinksRevokation``: every encrypted portal link stops working."""
        return self._customer_action("/v1/Customer/LinksRevokation", reference_customer)

    def _customer_action(self, path: str, reference_customer: str) -> Customer:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        return self._one(Customer, self._post(path, params=params, idempotent=True), "POST", path)

    def get_billing_address(self, reference_customer: str) -> BillingAddress:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        path = "/v1/CustomerAddressBilling"
        return self._one(BillingAddress, self._get(path, params), "GET", path)

    def update_billing_address(
        self, reference_customer: str, **fields: str | None
    ) -> BillingAddress:
        """Partial update: only the given fields change (``first_name="Ada"``, ``country="FR"``)."""
        known = {f for f in BillingAddress.__dataclass_fields__ if f != "extra"}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"unknown billing address field(s): {', '.join(sorted(unknown))}")
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        body = _body(**{json_name(name): value for name, value in fields.items()})
        path = "/v1/CustomerAddressBilling"
        return self._one(
            BillingAddress,
            self._post(path, params=params, body=body, idempotent=True),
            "POST",
            path,
        )

    def get_payment_settings(self, reference_customer: str) -> PaymentSettings:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        path = "/v1/CustomerSettingsPayment"
        return self._one(PaymentSettings, self._get(path, params), "GET", path)

    def update_payment_settings(
        self,
        reference_customer: str,
        *,
        type_payment: str | None = None,
        note_invoice: str | None = None,
        is_auto_billing: bool | None = None,
    ) -> PaymentSettings:
        """Only manual payment types can be written (Card/DirectDebit come from the gateway)."""
        if type_payment is not None and type_payment not in WRITABLE_PAYMENT_TYPES:
            allowed = ", ".join(sorted(WRITABLE_PAYMENT_TYPES))
            raise ValueError(
                f"type_payment {type_payment!r} cannot be written; use one of {allowed}"
            )
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        body = _body(
            TypePayment=type_payment, NoteInvoice=note_invoice, IsAutoBilling=is_auto_billing
        )
        path = "/v1/CustomerSettingsPayment"
        return self._one(
            PaymentSettings,
            self._post(path, params=params, body=body, idempotent=True),
            "POST",
            path,
        )

    # --- subscriptions --------------------------------------------------------------------

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

    # --- usages (rights) ------------------------------------------------------------------

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

    # --- invoices, balance, billing -------------------------------------------------------

    def list_invoices(
        self,
        *,
        reference_customer: str | None = None,
        id_subscription: int | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Invoice]:
        """Debit invoices and credit notes together (the service has no filter); 204 → empty."""
        params = _query(
            ReferenceSegment=self.segment,
            ReferenceCustomer=reference_customer,
            IdSubscription=id_subscription,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Invoice, "/v1/Invoices", params)

    def iter_invoices(
        self, *, reference_customer: str | None = None, size_page: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Invoice]:
        params = _query(ReferenceSegment=self.segment, ReferenceCustomer=reference_customer)
        return self._iterate(Invoice, "/v1/Invoices", params, self._size(size_page))

    def get_invoice(self, id_invoice: int) -> Invoice:
        path = f"/v1/Invoice/{int(id_invoice)}"
        return self._one(Invoice, self._get(path), "GET", path)

    def get_invoice_by_number(self, full_number: str) -> Invoice:
        params = _query(
            FullNumber=_require("full_number", full_number), ReferenceSegment=self.segment
        )
        return self._one(Invoice, self._get("/v1/Invoice", params), "GET", "/v1/Invoice")

    def list_balance(
        self,
        *,
        reference_customer: str | None = None,
        id_subscription: int | None = None,
        reference_feature: str | None = None,
        merged: bool | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[BalanceLine]:
        """``GET /v1/Balance``: lines not yet invoiced; ``computations`` has the totals."""
        params = _query(
            ReferenceCustomer=reference_customer,
            IdSubscription=id_subscription,
            ReferenceFeature=reference_feature,
            Merged=merged,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(BalanceLine, "/v1/Balance", params)

    def add_balance_line(
        self,
        reference_customer: str,
        amount: int,
        *,
        label: str | None = None,
        quantity: int | None = None,
        type_line: str | None = None,
        key_charge: str | None = None,
        id_subscription: int | None = None,
        date: datetime | None = None,
        ensure_billable: bool | None = None,
    ) -> BalanceLine:
        """``POST /v1/BalanceLine`` (amount in cents, negative = credit). Never replayed on 5xx."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError("amount is an integer number of cents")
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            IdSubscription=id_subscription,
            Amount=amount,
            TypeLine=type_line,
            KeyCharge=key_charge,
            Label=label,
            Quantity=quantity,
            Date=format_datetime(date) if date else None,
        )
        params = _query(EnsureBillable=ensure_billable)
        data = self._post("/v1/BalanceLine", params=params, body=body, idempotent=False)
        return self._one(BalanceLine, data, "POST", "/v1/BalanceLine")

    def bill_customer(
        self,
        reference_customer: str,
        *,
        ensure_billable: bool | None = None,
        date_start: datetime | None = None,
        date_end: datetime | None = None,
        force_offline: bool | None = None,
        note_localized: str | None = None,
    ) -> Invoice:
        """``POST /v1/Billing/Customer``: invoice the balance now."""
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            EnsureBillable=ensure_billable,
            DateStart=format_datetime(date_start) if date_start else None,
            DateEnd=format_datetime(date_end) if date_end else None,
            ForceOffline=force_offline,
            NoteLocalized=note_localized,
        )
        data = self._post("/v1/Billing/Customer", body=body, idempotent=False)
        return self._one(Invoice, data, "POST", "/v1/Billing/Customer")
