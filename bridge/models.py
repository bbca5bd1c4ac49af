"""Typed, immutable views of the billing API's JSON (PascalCase in, snake_case attributes out).

Each model is a frozen dataclass whose attribute ``reference_customer`` reads the JSON field
``ReferenceCustomer``. Parsing is forgiving on purpose: the billing service adds fields and enum
values over time, so unknown fields are kept in ``extra`` and enum-like fields stay plain strings
(compare them with the ``StrEnum`` constants below). Absent nullable fields stay ``None``; a value
of the wrong type becomes ``None``, its raw value kept in ``extra``, rather than crash a request.

What this module does not do: HTTP (``bridge.client``) or entitlement decisions
(``bridge.entitlements``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

# --- enum constants (values as in the reference; unknown values are still accepted as strings) ---


class TypeFeature(StrEnum):
    ON_OFF = "OnOff"
    LIMITATION = "Limitation"
    CONSUMPTION = "Consumption"


QUANTITY_TYPES = frozenset({TypeFeature.LIMITATION, TypeFeature.CONSUMPTION})


class SubscriptionStatus(StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    ENDED = "Ended"
    DELETED = "Deleted"


class StateSubscription(StrEnum):
    DRAFT_CUSTOMER = "DraftCustomer"
    DRAFT_AGENT = "DraftAgent"
    DRAFT_DELAYED_START = "DraftDelayedStart"
    DRAFT_DELAYED_UPGRADE = "DraftDelayedUpgrade"
    ACTIVE_RUNNING = "ActiveRunning"
    ACTIVE_DELAYED_UPGRADE = "ActiveDelayedUpgrade"
    ACTIVE_DELAYED_TERMINATION = "ActiveDelayedTermination"
    ACTIVE_DELAYED_SUSPENSION = "ActiveDelayedSuspension"
    SUSPENDED_AGENT = "SuspendedAgent"
    SUSPENDED_NO_PAYMENT_INFO = "SuspendedNoPaymentInfo"
    SUSPENDED_PAYMENT_DUE = "SuspendedPaymentDue"
    ENDED_COMPLETE = "EndedComplete"
    ENDED_UPGRADE = "EndedUpgrade"
    ENDED_TERMINATED = "EndedTerminated"
    DELETED = "Deleted"

    @property
    def status(self) -> SubscriptionStatus:
        """The ``Status`` a state belongs to (the reference groups them by name prefix)."""
        for status in SubscriptionStatus:
            if self.value.startswith(status.value):
                return status
        raise AssertionError(self.value)  # pragma: no cover - every member has a prefix


class CustomerStatus(StrEnum):
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"


class TypePayment(StrEnum):
    FREE = "Free"
    EXTERNAL_CHECK = "ExternalCheck"
    EXTERNAL_CASH = "ExternalCash"
    EXTERNAL_BANK = "ExternalBank"
    EXTERNAL_OTHER = "ExternalOther"
    CARD = "Card"
    DIRECT_DEBIT = "DirectDebit"


#: The payment types a client may write; Card and DirectDebit only come from a payment gateway.
WRITABLE_PAYMENT_TYPES = frozenset(
    {
        TypePayment.EXTERNAL_BANK,
        TypePayment.EXTERNAL_CASH,
        TypePayment.EXTERNAL_CHECK,
        TypePayment.EXTERNAL_OTHER,
    }
)


# --- references (ReferenceCustomer, ReferenceOffer, ReferenceFeature...) ---

#: The reference's rule for every technical reference: at most 50 characters, none of these.
FORBIDDEN_REFERENCE_CHARS = '<>;"=?&'
MAX_REFERENCE_LENGTH = 50


def reference_problem(value: str) -> str | None:
    """Why ``value`` is not a valid reference, or None when it is."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_REFERENCE_LENGTH:
        return f"must be at most {MAX_REFERENCE_LENGTH} characters"
    bad = sorted(set(value) & set(FORBIDDEN_REFERENCE_CHARS))
    if bad:
        return "must not contain " + " ".join(bad)
    return None


# --- dates ---


def parse_datetime(value: str) -> datetime:
    """Parse the reference's UTC timestamps (``2025-02-12T10:10:44.00Z``) into aware datetimes."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Format as the reference does: UTC, two fractional digits, ``Z`` (naive means UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 10000:02d}Z"


def json_name(attribute: str) -> str:
    """``reference_customer`` → ``ReferenceCustomer``; ``address_line1`` → ``AddressLine1``."""
    return "".join(part[:1].upper() + part[1:] for part in attribute.split("_"))


# --- the generic parser ---

M = TypeVar("M", bound="Model")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Model:
    """Base of every model: ``from_json`` maps PascalCase fields by attribute name and type."""

    #: JSON fields this model does not know, and raw values that did not fit their type.
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    #: attribute → JSON name, where the name is not just ``json_name(attribute)``.
    JSON_NAMES: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        fields, known = _fields(cls)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, key, convert in fields:
            raw = data.get(key)
            if raw is None:
                continue
            try:
                values[name] = convert(raw)
            except (TypeError, ValueError):
                extra[key] = raw
        if len(data) > len(values) + len(extra):  # some fields are unknown (or null)
            extra.update((key, value) for key, value in data.items() if key not in known)
        return cls(**values, extra=extra)


Converter = Callable[[Any], Any]
_FIELDS: dict[type[Model], tuple[tuple[tuple[str, str, Converter], ...], frozenset[str]]] = {}


def _fields(
    cls: type[Model],
) -> tuple[tuple[tuple[str, str, Converter], ...], frozenset[str]]:
    """(attribute, JSON name, converter) per field and the set of JSON names, once per class."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        fields = tuple(
            (f.name, cls.JSON_NAMES.get(f.name, json_name(f.name)), _converter(hints[f.name]))
            for f in dataclasses.fields(cls)
            if f.name != "extra"
        )
        found = _FIELDS[cls] = (fields, frozenset(key for _, key, _ in fields))
    return found


def _converter(hint: Any) -> Converter:
    """The function that reads a JSON value as ``hint`` (built once per field, not per value)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _converter(inner)
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])

        def to_tuple(raw: Any) -> Any:
            if not isinstance(raw, list):
                raise TypeError("expected a list")
            return tuple(item(element) for element in raw)

        return to_tuple
    if origin is Mapping or hint is Mapping:
        return _to_mapping
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint.from_json
    if hint is Links:
        return Links.from_json
    return _SCALARS.get(hint, _as_is)


def _as_is(raw: Any) -> Any:
    return raw


def _to_mapping(raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise TypeError("expected an object")
    return types.MappingProxyType(dict(raw))


def _to_datetime(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise TypeError("expected a date string")
    return parse_datetime(raw)


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise TypeError("expected a boolean")


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("expected an integer")
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, int | str):
        return int(raw)
    raise TypeError("expected an integer")


def _to_str(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise TypeError("expected a string")


_SCALARS: dict[Any, Converter] = {
    datetime: _to_datetime,
    bool: _to_bool,
    int: _to_int,
    str: _to_str,
}


# --- links ---

_REL_FAMILIES = ("insite-", "hosted-")


def _rel_twins(rel: str) -> tuple[str, ...]:
    for prefix in _REL_FAMILIES:
        if rel.startswith(prefix):
            stem = rel[len(prefix) :]
            return tuple(f"{p}{stem}" for p in _REL_FAMILIES)
    return (rel,)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Link(Model):
    """``{rel, href?, query?, type?}``: ``href`` is a ready URL, ``query`` an encrypted token."""

    JSON_NAMES: ClassVar[Mapping[str, str]] = {
        "rel": "rel",
        "href": "href",
        "query": "query",
        "type": "type",
    }

    rel: str = ""
    href: str | None = None
    query: str | None = None
    type: str | None = None


class Links(tuple[Link, ...]):
    """The ``Links`` array, looked up by ``rel`` (never by position).

    ``get("insite-restart")`` also finds a legacy ``hosted-restart`` and the other way round; the
    current ``insite-*`` family wins when both are present.
    """

    __slots__ = ()

    @classmethod
    def from_json(cls, data: Any) -> Links:
        if not isinstance(data, list):
            raise TypeError("Links must be a list")
        return cls(Link.from_json(item) for item in data if isinstance(item, Mapping))

    def get(self, rel: str) -> Link | None:
        for candidate in _rel_twins(rel):
            for link in self:
                if link.rel == candidate:
                    return link
        return None

    def __contains__(self, rel: object) -> bool:
        if isinstance(rel, str):
            return self.get(rel) is not None
        return super().__contains__(rel)

    def rels(self) -> list[str]:
        return [link.rel for link in self]


EMPTY_LINKS = Links()


# --- customers ---


@dataclasses.dataclass(frozen=True, kw_only=True)
class Customer(Model):
    id: int | None = None
    id_segment: int | None = None
    reference_customer: str | None = None
    reference_segment: str | None = None
    currency: str | None = None
    name: str | None = None
    email: str | None = None
    language: str | None = None
    status: str | None = None
    reference_affiliation: str | None = None
    date_affiliation: datetime | None = None
    metadata: Mapping[str, Any] | None = None
    links: Links = EMPTY_LINKS


@dataclasses.dataclass(frozen=True, kw_only=True)
class BillingAddress(Model):
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    phone: str | None = None
    tax_information: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentSettings(Model):
    type_payment: str | None = None
    mode_billing: str | None = None
    is_grey_listed: bool | None = None
    is_auto_billing: bool | None = None
    note_invoice: str | None = None
    date_next_billing: datetime | None = None

    @property
    def has_payment_method(self) -> bool:
        """True when the customer can be charged (anything but absent, Undefined or Free)."""
        return self.type_payment not in (None, "", "Undefined", TypePayment.FREE)


# --- catalog ---


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature(Model):
    id: int | None = None
    reference_feature: str | None = None
    title_localized: str | None = None
    description_localized: str | None = None
    type_feature: str | None = None
    is_visible: bool | None = None
    metadata: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class OfferFeature(Model):
    """A feature as an offer or a subscription carries it (quantities and switches included)."""

    id: int | None = None
    reference_feature: str | None = None
    is_visible: bool | None = None
    title_localized: str | None = None
    description_localized: str | None = None
    type_feature: str | None = None
    pricing_localized: str | None = None
    properties: str | None = None
    is_included: bool | None = None
    is_enabled: bool | None = None
    quantity_included: int | None = None
    quantity_current: int | None = None
    metadata: Mapping[str, Any] | None = None

    @property
    def property_flags(self) -> frozenset[str]:
        """``Properties`` ("UpdatableBeforeSubscription, FreeInTrial") as a set of flags."""
        return frozenset(p.strip() for p in (self.properties or "").split(",") if p.strip())


@dataclasses.dataclass(frozen=True, kw_only=True)
class Offer(Model):
    id: int | None = None
    id_segment: int | None = None
    reference_offer: str | None = None
    reference_segment: str | None = None
    name: str | None = None
    is_visible: bool | None = None
    is_priced: bool | None = None
    title_localized: str | None = None
    description_localized: str | None = None
    pricing_localized: str | None = None
    currency: str | None = None
    amount_up_front: int | None = None
    amount_trial: int | None = None
    duration_trial: int | None = None
    unit_trial: str | None = None
    pricing_subtotal: int | None = None
    pricing_total: int | None = None
    amount_recurrence: int | None = None
    duration_recurrence: int | None = None
    unit_recurrence: str | None = None
    count_recurrences: int | None = None
    count_min_recurrences: int | None = None
    amount_termination: int | None = None
    state_life: str | None = None
    features: tuple[OfferFeature, ...] = ()
    metadata: Mapping[str, Any] | None = None
    links: Links = EMPTY_LINKS


# --- subscriptions and usages ---


@dataclasses.dataclass(frozen=True, kw_only=True)
class Subscription(Model):
    id: int | None = None
    id_customer: int | None = None
    id_segment: int | None = None
    id_offer: int | None = None
    id_customer_buyer: int | None = None
    reference_customer: str | None = None
    reference_segment: str | None = None
    reference_offer: str | None = None
    reference_customer_buyer: str | None = None
    status: str | None = None
    state_subscription: str | None = None
    status_after_term: str | None = None
    state_subscription_after_term: str | None = None
    currency: str | None = None
    title_localized: str | None = None
    description_localized: str | None = None
    date_start: datetime | None = None
    date_period_start: datetime | None = None
    date_period_end: datetime | None = None
    date_end: datetime | None = None
    date_term: datetime | None = None
    date_reset_consumption: datetime | None = None
    date_next_billing: datetime | None = None
    date_update: datetime | None = None
    is_trial: bool | None = None
    is_engaged: bool | None = None
    is_customer_billable: bool | None = None
    is_payment_capping_reached: bool | None = None
    count_days_trial: int | None = None
    amount_up_front: int | None = None
    amount_trial: int | None = None
    duration_trial: int | None = None
    unit_trial: str | None = None
    amount_recurrence: int | None = None
    duration_recurrence: int | None = None
    unit_recurrence: str | None = None
    count_recurrences: int | None = None
    count_min_recurrences: int | None = None
    amount_termination: int | None = None
    pricing_subtotal: int | None = None
    pricing_total: int | None = None
    features: tuple[OfferFeature, ...] = ()
    metadata: Mapping[str, Any] | None = None
    links: Links = EMPTY_LINKS

    @property
    def is_active(self) -> bool:
        return self.status == SubscriptionStatus.ACTIVE

    @property
    def is_suspended(self) -> bool:
        return self.status == SubscriptionStatus.SUSPENDED


@dataclasses.dataclass(frozen=True, kw_only=True)
class Usage(Model):
    """A customer's right on one feature, summed over their started subscriptions."""

    id_segment: int | None = None
    id_feature: int | None = None
    id_customer: int | None = None
    id_subscription: int | None = None
    reference_segment: str | None = None
    reference_feature: str | None = None
    reference_customer: str | None = None
    type_feature: str | None = None
    is_included: bool | None = None
    is_enabled: bool | None = None
    quantity_included: int | None = None
    quantity_current: int | None = None
    date_period_start: datetime | None = None
    date_period_end: datetime | None = None

    @property
    def is_unlimited(self) -> bool:
        """Quantity features without ``QuantityCurrent`` are unlimited (the reference's rule);
        a usage of unknown type is never unlimited."""
        return self.type_feature in QUANTITY_TYPES and self.quantity_current is None

    @property
    def remaining(self) -> int | None:
        """Units left in the period; ``None`` when unlimited or for OnOff features."""
        if self.type_feature not in QUANTITY_TYPES or self.quantity_current is None:
            return None
        return (self.quantity_included or 0) - self.quantity_current


# --- purchasing, invoices, balance ---


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuoteDetail(Model):
    id_subscription: int | None = None
    id_feature: int | None = None
    label_localized: str | None = None
    amount_total_due: int | None = None
    date_period_start: datetime | None = None
    date_period_end: datetime | None = None
    date_move: datetime | None = None
    quantity_reported: int | None = None
    quantity_billed: int | None = None
    amount_subtotal: int | None = None
    amount_total: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Quote(Model):
    """What a change would cost. Also reads the guide's and the legacy Pricing shapes."""

    id_subscription: int | None = None
    id_feature: int | None = None
    reference_customer: str | None = None
    reference_feature: str | None = None
    label_localized: str | None = None
    pricing_localized: str | None = None
    currency: str | None = None
    is_customer_billable: bool | None = None
    amount_total_due: int | None = None
    amount_subtotal: int | None = None
    amount_total: int | None = None
    date_period_start: datetime | None = None
    date_period_end: datetime | None = None
    date_period_term: datetime | None = None
    details: tuple[QuoteDetail, ...] = ()
    next_term: Quote | None = None

    @property
    def amount_due(self) -> int:
        """Cents due now: ``AmountTotalDue`` when given, else ``AmountTotal``, else 0."""
        for amount in (self.amount_total_due, self.amount_total):
            if amount is not None:
                return amount
        return 0

    @property
    def is_free(self) -> bool:
        """True when confirming costs nothing now (the guide skips the confirmation then)."""
        return self.amount_due == 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Invoice(Model):
    id: int | None = None
    id_customer: int | None = None
    id_segment: int | None = None
    reference_customer: str | None = None
    reference_segment: str | None = None
    full_number: str | None = None
    currency: str | None = None
    amount_subtotal: int | None = None
    amount_total: int | None = None
    status: str | None = None
    state_invoice: str | None = None
    type_payment: str | None = None
    type_credit: str | None = None
    reason: str | None = None
    date_issue: datetime | None = None
    date_update: datetime | None = None
    date_payment: datetime | None = None
    date_payment_scheduled: datetime | None = None
    date_payment_limit: datetime | None = None
    note_localized: str | None = None
    links: Links = EMPTY_LINKS


@dataclasses.dataclass(frozen=True, kw_only=True)
class BalanceLine(Model):
    id: int | None = None
    id_customer: int | None = None
    id_segment: int | None = None
    id_subscription: int | None = None
    id_feature: int | None = None
    reference_customer: str | None = None
    reference_segment: str | None = None
    reference_feature: str | None = None
    label_localized: str | None = None
    pricing_localized: str | None = None
    amount_total: int | None = None
    amount_subtotal: int | None = None
    currency: str | None = None
    date_move: datetime | None = None
    date_period_start: datetime | None = None
    date_period_end: datetime | None = None
    state_move: str | None = None
    type_line: str | None = None
    key_charge: str | None = None
    quantity_reported: int | None = None
    quantity_billed: int | None = None


# --- list envelopes ---


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: ``{Page, SizePage, Count, TotalItems, DateGenerated, Items, Links}``.

    A 204 answer (the service's "nothing") is an empty page with ``total_items == 0``.
    """

    items: tuple[T, ...]
    page: int = 1
    size_page: int = 0
    count: int = 0
    total_items: int = 0
    date_generated: datetime | None = None
    links: Links = EMPTY_LINKS
    computations: Mapping[str, Any] | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_next(self) -> bool:
        """More items exist after this page (by ``TotalItems``, or a ``next`` link)."""
        if self.size_page > 0 and self.page * self.size_page < self.total_items:
            return True
        return self.links.get("next") is not None and len(self.items) > 0

    @classmethod
    def empty(cls) -> Page[T]:
        return cls(items=())

    @classmethod
    def from_json(cls, data: Any, item: type[M]) -> Page[M]:
        if isinstance(data, list):  # the schema's bare-array variant
            items = tuple(item.from_json(x) for x in data)
            return Page(items=items, size_page=len(items), count=len(items), total_items=len(items))
        if not isinstance(data, Mapping):
            raise TypeError(f"a list envelope must be an object, got {type(data).__name__}")
        raw_items = data.get("Items") or []
        items = tuple(item.from_json(x) for x in raw_items)
        generated = data.get("DateGenerated")
        computations = data.get("Computations")
        return Page(
            items=items,
            page=_int(data.get("Page"), 1),
            size_page=_int(data.get("SizePage"), len(items)),
            count=_int(data.get("Count"), len(items)),
            total_items=_int(data.get("TotalItems"), len(items)),
            date_generated=parse_datetime(generated) if isinstance(generated, str) else None,
            links=Links.from_json(data.get("Links") or []),
            computations=types.MappingProxyType(dict(computations))
            if isinstance(computations, Mapping)
            else None,
        )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
