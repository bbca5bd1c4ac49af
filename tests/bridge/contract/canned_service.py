"""The canned answers to the calls that change something, as the reference describes them.

Each function takes what came on the wire (query and body, already checked by the route's
matchers) and returns ``(status, json)`` or raises ``Refusal``. The rules are the reference's
(``shared/reference/proabono-api.md``):

* ``POST /v1/Customer`` upserts on ``ReferenceCustomer``: 201 created, 200 updated, only the given
  fields change (§d Customers);
* ``POST /v1/Subscription`` makes a Draft (``DraftAgent``); ``TryStart`` starts it when nothing
  must be paid to start, or when the customer can pay (§d Subscriptions, §e);
* Start (Draft* or Suspended* → ``ActiveRunning``), Suspension (``SuspendedAgent``), Termination
  (``Immediate`` → ``EndedTerminated``; else ``ActiveDelayedTermination`` with AfterTerm
  ``Ended/EndedTerminated``), Upgrade (old ``EndedUpgrade``, answers the new one) (§e);
* a usage change is refused with 403 ``Error.Api.Usage.NoneMatching`` without a started
  subscription holding the feature, and with 403 ``Error.Customer.PaymentSettings.Missing`` when it
  is billable and the customer has no payment method (§d business error codes); ``POST
  /v1/Usages`` answers a bare ``Usage[]`` and applies nothing unless everything applies.

What it does not do: prorate. A change whose price would be prorated raises ``NotCanned``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.bridge import payloads
from tests.bridge.contract.canned_world import (
    NOW,
    CannedWorld,
    CustomerRecord,
    NotCanned,
    Refusal,
    SubscriptionRecord,
    date,
    euros,
    first_period_end,
    refusal,
)
from tests.bridge.payloads import JSON

Answer = tuple[int, Any]

PAYMENT_MISSING = ("Error.Customer.PaymentSettings.Missing", "No payment method registered")


def upsert_customer(world: CannedWorld, body: Mapping[str, Any]) -> Answer:
    reference = body["ReferenceCustomer"]
    fields = {
        "email": body.get("Email"),
        "name": body.get("Name"),
        "language": body.get("Language"),
    }
    given = {name: value for name, value in fields.items() if value is not None}
    record = world.customers.get(reference)
    created = record is None
    if record is None:
        record = world.add_customer(reference, **given)
    else:
        for name, value in given.items():
            setattr(record, name, value)
    return (201 if created else 200), world.customer_json(record, body.get("ReferenceOffer"))


def create_subscription(
    world: CannedWorld, query: Mapping[str, str], body: Mapping[str, Any]
) -> Answer:
    customer = world.customer(body["ReferenceCustomer"])
    offer = world.catalog.offer(body["ReferenceOffer"])
    record = world.add_subscription(customer, offer, "Draft", "DraftAgent")
    can_start = not offer.needs_payment_to_start or customer.payment is not None
    if query.get("TryStart") == "true" and can_start:
        if offer.needs_payment_to_start:
            raise NotCanned("a paid start issues an invoice the canned answers do not track")
        record.status, record.state = "Active", "ActiveRunning"
    return 201, world.subscription_json(record)


def start(world: CannedWorld, record: SubscriptionRecord) -> Answer:
    if record.status not in ("Draft", "Suspended"):
        raise NotCanned(f"Start of a subscription in {record.state}")
    if record.offer.needs_payment_to_start and record.customer.payment is None:
        raise refusal(403, *PAYMENT_MISSING)
    if record.status == "Draft" and record.offer.needs_payment_to_start:
        raise NotCanned("a paid start issues an invoice the canned answers do not track")
    record.status, record.state = "Active", "ActiveRunning"
    return 200, world.subscription_json(record)


def suspend(world: CannedWorld, record: SubscriptionRecord) -> Answer:
    if not record.started:
        raise NotCanned(f"Suspension of a subscription in {record.state}")
    record.status, record.state = "Suspended", "SuspendedAgent"
    return 200, world.subscription_json(record)


def terminate(world: CannedWorld, record: SubscriptionRecord, query: Mapping[str, str]) -> Answer:
    if query.get("Immediate") == "true":
        record.status, record.state, record.date_end = "Ended", "EndedTerminated", NOW
        record.after_term = None
    else:
        record.state = "ActiveDelayedTermination"
        record.after_term = ("Ended", "EndedTerminated")
    return 200, world.subscription_json(record)


def upgrade(world: CannedWorld, record: SubscriptionRecord, query: Mapping[str, str]) -> Answer:
    if query.get("Immediate") != "true":
        raise NotCanned("the default timing of an upgrade is an open question (reference §i.4)")
    offer = world.catalog.offer(query["ReferenceOffer"])
    if offer.needs_payment_to_start and record.customer.payment is None:
        raise refusal(403, *PAYMENT_MISSING)
    record.status, record.state, record.date_end = "Ended", "EndedUpgrade", NOW
    new = world.add_subscription(record.customer, offer, "Active", "ActiveRunning")
    return 200, world.subscription_json(new)


# --- usages and their quotes ----------------------------------------------------------------


def _billed(world: CannedWorld, record: SubscriptionRecord, body: Mapping[str, Any]) -> int:
    """Cents (before tax) that the change costs now."""
    grant = record.offer.grant(body["ReferenceFeature"])
    assert grant is not None
    kind = grant.feature.type
    if kind == "OnOff":
        if "IsEnabled" not in body:
            raise refusal(422, "Error.Api.Usage.Invalid", "An OnOff feature takes IsEnabled")
        if body["IsEnabled"] and not grant.enabled:
            raise NotCanned("enabling a paid OnOff option")
        return 0
    if "IsEnabled" in body:
        raise refusal(422, "Error.Api.Usage.Invalid", "A quantity feature takes a quantity")
    current = record.quantities[grant.feature.reference]
    after = int(current + body["Increment"] if "Increment" in body else body["QuantityCurrent"])
    if grant.quantity is None or after <= max(grant.quantity, current):
        return 0
    if kind != "Consumption":
        raise NotCanned("a Limitation beyond its included quantity is prorated")
    return (after - max(grant.quantity, current)) * (grant.extra_price or 0)


def _apply(record: SubscriptionRecord, body: Mapping[str, Any]) -> None:
    reference = body["ReferenceFeature"]
    if "IsEnabled" in body:
        record.enabled[reference] = body["IsEnabled"]
    elif "Increment" in body:
        record.quantities[reference] += body["Increment"]
    else:
        record.quantities[reference] = body["QuantityCurrent"]


def _checked(world: CannedWorld, body: Mapping[str, Any]) -> tuple[SubscriptionRecord, int]:
    customer: CustomerRecord = world.customer(body["ReferenceCustomer"])
    record = world.holding(customer, body["ReferenceFeature"])
    amount = _billed(world, record, body)
    if amount:
        if customer.payment is None:
            raise refusal(403, *PAYMENT_MISSING)
        raise NotCanned("a billed usage adds balance lines the canned answers do not track")
    return record, amount


def record_usage(world: CannedWorld, body: Mapping[str, Any]) -> Answer:
    record, _ = _checked(world, body)
    _apply(record, body)
    return 200, world.usage_json(record, body["ReferenceFeature"])


def record_usages(world: CannedWorld, body: list[Mapping[str, Any]]) -> Answer:
    checked = [_checked(world, change)[0] for change in body]  # everything, before any write
    for record, change in zip(checked, body, strict=True):
        _apply(record, change)
    return 200, [
        world.usage_json(record, change["ReferenceFeature"])
        for record, change in zip(checked, body, strict=True)
    ]


def quote_usage(world: CannedWorld, query: Mapping[str, str], body: Mapping[str, Any]) -> Answer:
    customer = world.customer(body["ReferenceCustomer"])
    try:
        record = world.holding(customer, body["ReferenceFeature"])
    except Refusal as refused:  # the quote endpoint says NoneMatching with 404 (§d codes)
        raise refusal(404, "Error.Api.Usage.NoneMatching", "No subscription matches") from refused
    subtotal = _billed(world, record, body)
    total = world.catalog.with_tax(subtotal)
    if total and customer.payment is None and query.get("EnsureBillable") != "false":
        raise refusal(403, *PAYMENT_MISSING)
    details = []
    if subtotal:
        grant = record.offer.grant(body["ReferenceFeature"])
        assert grant is not None
        assert grant.extra_price
        details.append(
            payloads.quote_detail(
                IdSubscription=record.id,
                IdFeature=grant.feature.id,
                LabelLocalized=f"Feature - extra units - {grant.feature.title}",
                AmountTotalDue=total,
                DatePeriodStart=date(NOW),
                DatePeriodEnd=date(record.period_end),
                QuantityReported=subtotal // grant.extra_price,
                QuantityBilled=subtotal // grant.extra_price,
                AmountSubtotal=subtotal,
                AmountTotal=total,
            )
        )
    answer = payloads.quote(
        IdSubscription=record.id,
        AmountTotalDue=total,
        PricingLocalized=euros(total),
        DatePeriodStart=date(NOW),
        DatePeriodEnd=date(record.period_end),
        AmountSubtotal=subtotal,
        AmountTotal=total,
        Details=details,
        NextTerm=_next_term(world, record) if query.get("NextTerm") == "true" else payloads.ABSENT,
    )
    return 200, answer


def quote_subscription(
    world: CannedWorld, query: Mapping[str, str], body: Mapping[str, Any]
) -> Answer:
    """A subscription that would start now: its upfront amount and first full period."""
    customer = world.customer(body["ReferenceCustomer"])
    offer = world.catalog.offer(body["ReferenceOffer"])
    subtotal = offer.amount_up_front + offer.amount_recurrence
    total = world.catalog.with_tax(subtotal)
    if total and customer.payment is None and query.get("EnsureBillable") != "false":
        raise refusal(403, *PAYMENT_MISSING)
    end = first_period_end(offer)
    fee = payloads.quote_detail(
        IdSubscription=payloads.ABSENT,
        IdFeature=payloads.ABSENT,
        LabelLocalized="Subscription - recurring fee",
        AmountTotalDue=total,
        DatePeriodStart=date(NOW),
        DatePeriodEnd=date(end),
        QuantityReported=payloads.ABSENT,
        QuantityBilled=payloads.ABSENT,
        AmountSubtotal=subtotal,
        AmountTotal=total,
    )
    next_fee = world.catalog.with_tax(offer.amount_recurrence)
    answer = payloads.quote(
        IdSubscription=payloads.ABSENT,
        AmountTotalDue=total,
        PricingLocalized=euros(total),
        DatePeriodStart=date(NOW),
        DatePeriodEnd=date(end),
        AmountSubtotal=subtotal,
        AmountTotal=total,
        Details=[fee] if subtotal else [],
        NextTerm={
            "AmountTotalDue": next_fee,
            "PricingLocalized": euros(next_fee),
            "DatePeriodStart": date(end),
            "AmountSubtotal": offer.amount_recurrence,
            "AmountTotal": next_fee,
            "Details": [],
        },
    )
    return 200, answer


def _next_term(world: CannedWorld, record: SubscriptionRecord) -> JSON:
    """The next period: the recurring fee (a Consumption counter starts again from zero)."""
    fee = record.offer.amount_recurrence
    return {
        "AmountTotalDue": world.catalog.with_tax(fee),
        "PricingLocalized": euros(world.catalog.with_tax(fee)),
        "DatePeriodStart": date(record.period_end),
        "AmountSubtotal": fee,
        "AmountTotal": world.catalog.with_tax(fee),
        "Details": [],
    }
