"""What the canned backend remembers between answers, and the reference-shaped JSON it answers.

Every answer is built with ``tests.bridge.payloads`` (PascalCase, omitted nulls, cents, ``Links``
arrays) from a few records: customers, subscriptions and their current quantities, on the demo
catalog. The records change only as the reference says the real service changes them (upsert, a
subscription's Start/Suspension/Termination/Upgrade, a usage write). Anything the contract
scenarios do not need (prorated quotes, invoices after a paid start, several subscriptions holding
one feature...) raises :class:`NotCanned` instead of inventing an answer.

What this module does not do: match requests or talk HTTP (``canned_backend``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.models import format_datetime
from tests.bridge import payloads
from tests.bridge.contract.catalog import Catalog, CatalogOffer, Grant
from tests.bridge.payloads import ABSENT, JSON, SEGMENT_HOST

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ID_SEGMENT = 69


class NotCanned(AssertionError):
    """The scenario asked something the canned answers do not cover: extend them, don't guess."""


class Refusal(Exception):
    """An error answer of the service: a status and its body (one item, or a 422 array)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def refusal(status: int, code: str, message: str) -> Refusal:
    item = payloads.error(code, message)
    return Refusal(status, [item] if status == 422 else item)


@dataclass
class CustomerRecord:
    id: int
    reference: str
    email: str | None = None
    name: str | None = None
    language: str | None = None
    payment: str | None = None  # "Card" or a manual type; None: no payment method
    status: str = "Enabled"
    links_epoch: int = 0  # bumped by a links revocation: every link value changes
    address: dict[str, str] = field(default_factory=dict)


@dataclass
class SubscriptionRecord:
    id: int
    customer: CustomerRecord
    offer: CatalogOffer
    status: str
    state: str
    after_term: tuple[str, str] | None = None
    date_end: datetime | None = None
    quantities: dict[str, int] = field(default_factory=dict)
    enabled: dict[str, bool] = field(default_factory=dict)

    @property
    def started(self) -> bool:
        return self.status == "Active"

    @property
    def period_end(self) -> datetime:
        return first_period_end(self.offer)


def first_period_end(offer: CatalogOffer) -> datetime:
    """The end of a period that starts now (``NOW`` is the 3rd: no month-end clamping)."""
    if offer.unit_recurrence == "Day":
        return NOW + timedelta(days=offer.duration_recurrence)
    if offer.unit_recurrence == "Month" and offer.duration_recurrence == 1:
        return NOW.replace(month=NOW.month + 1)
    raise NotCanned(f"period of {offer.duration_recurrence} {offer.unit_recurrence}")


def date(value: datetime) -> str:
    return format_datetime(value)


def euros(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


class CannedWorld:
    """The records behind the canned answers, and how each one is rendered."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.customers: dict[str, CustomerRecord] = {}
        self.order: list[str] = []  # customers in creation order, as lists answer them
        self.subscriptions: dict[int, SubscriptionRecord] = {}
        self._next_customer = 233700
        self._next_subscription = 140960

    # --- records ---------------------------------------------------------------------------

    def add_customer(self, reference: str, **fields: Any) -> CustomerRecord:
        record = CustomerRecord(self._next_customer, reference, **fields)
        self._next_customer += 1
        self.customers[reference] = record
        self.order.append(reference)
        return record

    def customer(self, reference: str) -> CustomerRecord:
        record = self.customers.get(reference)
        if record is None:
            raise refusal(404, "Error.Api.Customer.NotFound", "Customer not found")
        return record

    def add_subscription(
        self, customer: CustomerRecord, offer: CatalogOffer, status: str, state: str
    ) -> SubscriptionRecord:
        record = SubscriptionRecord(self._next_subscription, customer, offer, status, state)
        self._next_subscription += 1
        for grant in offer.grants:
            if grant.feature.type == "OnOff":
                record.enabled[grant.feature.reference] = grant.enabled
            else:
                record.quantities[grant.feature.reference] = 0
        self.subscriptions[record.id] = record
        return record

    def subscription(self, id_subscription: int) -> SubscriptionRecord:
        record = self.subscriptions.get(id_subscription)
        if record is None:
            raise refusal(404, "Error.Api.Subscription.NotFound", "Subscription not found")
        return record

    def of_customer(self, customer: CustomerRecord) -> list[SubscriptionRecord]:
        return [s for s in self.subscriptions.values() if s.customer is customer]

    def holding(self, customer: CustomerRecord, reference_feature: str) -> SubscriptionRecord:
        """The started subscription granting the feature (403/404 NoneMatching otherwise)."""
        holders = [
            s
            for s in self.of_customer(customer)
            if s.started and s.offer.grant(reference_feature) is not None
        ]
        if len(holders) > 1:
            raise NotCanned("several started subscriptions hold one feature")
        if not holders:
            raise refusal(
                403, "Error.Api.Usage.NoneMatching", "No subscription matches that feature"
            )
        return holders[0]

    # --- rendering -------------------------------------------------------------------------

    def customer_json(self, record: CustomerRecord, reference_offer: str | None = None) -> JSON:
        token = f"{record.id:x}e{record.links_epoch}"
        links = [
            payloads.link("insite-home", href=f"{SEGMENT_HOST}/portal-auth/Ae8K{token}"),
            payloads.link("insite-collection-offers", query=f"c4Tq{token}"),
            payloads.link("insite-register", query=f"r7Xw{token}"),
        ]
        if any(s.started for s in self.of_customer(record)):  # needs a running one (§f)
            links.append(payloads.link("insite-collection-upgrade", query=f"cu3P{token}"))
        if record.status == "Suspended":  # a suspended customer loses every link (§d)
            links = []
        elif reference_offer is not None:
            links.append(payloads.link("insite-subscribe", query=f"s9Vb{token}"))
        return payloads.customer(
            Id=record.id,
            IdSegment=ID_SEGMENT,
            ReferenceCustomer=record.reference,
            ReferenceSegment=self.catalog.segment,
            Currency=self.catalog.currency,
            Name=record.name or ABSENT,
            Email=record.email or ABSENT,
            Language=record.language or ABSENT,
            Status=record.status,
            ReferenceAffiliation=ABSENT,
            DateAffiliation=ABSENT,
            Metadata=ABSENT,
            Links=links,
        )

    def feature_json(self, reference: str) -> JSON:
        feature = self.catalog.feature(reference)
        assert feature is not None
        return payloads.feature(
            Id=feature.id,
            ReferenceFeature=feature.reference,
            TitleLocalized=feature.title,
            DescriptionLocalized=feature.description,
            TypeFeature=feature.type,
        )

    def _grant_json(self, grant: Grant, current: int | bool) -> JSON:
        feature = grant.feature
        common = {
            "Id": feature.id,
            "ReferenceFeature": feature.reference,
            "TitleLocalized": feature.title,
            "DescriptionLocalized": feature.description,
            "Properties": ABSENT,
        }
        if feature.type == "OnOff":
            return payloads.on_off_feature(**common, IsIncluded=grant.enabled, IsEnabled=current)
        return payloads.offer_feature(
            **common,
            TypeFeature=feature.type,
            PricingLocalized=f"+{euros(grant.extra_price)}/extra unit"
            if grant.extra_price
            else ABSENT,
            QuantityIncluded=ABSENT if grant.quantity is None else grant.quantity,
            QuantityCurrent=ABSENT if grant.quantity is None else current,
        )

    def _pricing(self, offer: CatalogOffer) -> dict[str, Any]:
        return {
            "Currency": self.catalog.currency,
            "AmountUpFront": offer.amount_up_front,
            "AmountRecurrence": offer.amount_recurrence,
            "DurationRecurrence": offer.duration_recurrence,
            "UnitRecurrence": offer.unit_recurrence,
            "CountRecurrences": ABSENT
            if offer.count_recurrences is None
            else offer.count_recurrences,
            "PricingSubtotal": offer.amount_recurrence,
            "PricingTotal": self.catalog.with_tax(offer.amount_recurrence),
        }

    def offer_json(self, offer: CatalogOffer) -> JSON:
        return payloads.offer(
            Id=offer.id,
            IdSegment=ID_SEGMENT,
            ReferenceOffer=offer.reference,
            ReferenceSegment=self.catalog.segment,
            Name=offer.name,
            IsVisible=offer.visible,
            IsPriced=offer.is_priced,
            TitleLocalized=offer.name,
            DescriptionLocalized=offer.description,
            PricingLocalized=f"{euros(offer.amount_recurrence)}/{offer.unit_recurrence.lower()}(s)",
            **self._pricing(offer),
            Features=[
                self._grant_json(g, g.enabled if g.feature.type == "OnOff" else 0)
                for g in offer.grants
            ],
            Links=[
                payloads.link("insite-home", href=f"{SEGMENT_HOST}/portal-anon/Xq81"),
                payloads.link("insite-subscribe", query=f"s9Vb{offer.id:x}"),
            ],
        )

    def subscription_json(self, record: SubscriptionRecord) -> JSON:
        token = f"{record.id:x}"
        links = [
            payloads.link("self", href=f"/v1/Subscription/{record.id}"),
            payloads.link("insite-home", href=f"{SEGMENT_HOST}/portal-auth/Ae8K{token}"),
            payloads.link("insite-related-subscription", query=f"rs5H{token}"),
        ]
        if record.state == "ActiveRunning":
            links.append(payloads.link("insite-upgrade", query=f"up2W{token}"))
        elif record.status == "Draft":
            links.append(payloads.link("insite-subscribe", query=f"s9Vb{token}"))
        elif record.status == "Suspended" or record.state == "ActiveDelayedTermination":
            links.append(payloads.link("insite-restart", query=f"rt8K{token}"))
        started = record.status != "Draft"
        customer = record.customer
        after = record.after_term
        return payloads.subscription(
            Id=record.id,
            IdCustomer=customer.id,
            IdSegment=ID_SEGMENT,
            IdOffer=record.offer.id,
            IdCustomerBuyer=customer.id,
            ReferenceCustomer=customer.reference,
            ReferenceSegment=self.catalog.segment,
            ReferenceOffer=record.offer.reference,
            ReferenceCustomerBuyer=customer.reference,
            Status=record.status,
            StateSubscription=record.state,
            StatusAfterTerm=after[0] if after else ABSENT,
            StateSubscriptionAfterTerm=after[1] if after else ABSENT,
            TitleLocalized=record.offer.name,
            DateStart=date(NOW) if started else ABSENT,
            DatePeriodStart=date(NOW) if started else ABSENT,
            DatePeriodEnd=date(record.period_end) if started else ABSENT,
            DateNextBilling=date(record.period_end) if started else ABSENT,
            DateEnd=date(record.date_end) if record.date_end else ABSENT,
            IsCustomerBillable=customer.payment is not None or not record.offer.is_priced,
            **self._pricing(record.offer),
            Features=[self._grant_json(g, self._current(record, g)) for g in record.offer.grants],
            Metadata=ABSENT,
            Links=links,
            DateUpdate=date(NOW),
        )

    @staticmethod
    def _current(record: SubscriptionRecord, grant: Grant) -> int | bool:
        reference = grant.feature.reference
        if grant.feature.type == "OnOff":
            return record.enabled[reference]
        return record.quantities[reference]

    def usage_json(self, record: SubscriptionRecord, reference_feature: str) -> JSON:
        grant = record.offer.grant(reference_feature)
        assert grant is not None
        feature = grant.feature
        common = {
            "IdSegment": ID_SEGMENT,
            "IdFeature": feature.id,
            "IdCustomer": record.customer.id,
            "IdSubscription": record.id,
            "ReferenceSegment": self.catalog.segment,
            "ReferenceFeature": feature.reference,
            "ReferenceCustomer": record.customer.reference,
            "DatePeriodStart": date(NOW),
            "DatePeriodEnd": date(record.period_end),
        }
        if feature.type == "OnOff":
            return payloads.on_off_usage(
                **common, IsIncluded=grant.enabled, IsEnabled=record.enabled[feature.reference]
            )
        unlimited = grant.quantity is None
        return payloads.usage(
            **common,
            TypeFeature=feature.type,
            QuantityIncluded=ABSENT if unlimited else grant.quantity,
            QuantityCurrent=ABSENT if unlimited else record.quantities[feature.reference],
        )

    def usages_json(self, customer: CustomerRecord) -> list[JSON]:
        started = [s for s in self.of_customer(customer) if s.started]
        if len(started) > 1:
            raise NotCanned("usages summed over several started subscriptions")
        return [
            self.usage_json(record, grant.feature.reference)
            for record in started
            for grant in record.offer.grants
        ]
