"""The canned answers to the calls that only read: lists (204 when empty), the current
subscription, a usage, the billing address; and the customer actions (suspension, revocation).

What this module does not do: route or match requests (``canned_backend``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.bridge import payloads
from tests.bridge.contract.canned_world import CannedWorld, CustomerRecord, NotCanned, Refusal
from tests.bridge.contract.wire import Sent


def paged(items: list[Any], sent: Sent, path: str) -> tuple[int, Any]:
    number = int(sent.query.get("Page", "1"))
    size = int(sent.query.get("SizePage", "10"))
    chunk = items[(number - 1) * size : number * size]
    return 200, payloads.page(chunk, page=number, size_page=size, total=len(items), path=path)


def usages(world: CannedWorld, ref: str, sent: Sent) -> tuple[int, Any]:
    items = world.usages_json(world.customer(ref))
    feature = sent.query.get("ReferenceFeature")
    items = [u for u in items if feature is None or u["ReferenceFeature"] == feature]
    if "IdSubscription" in sent.query:
        items = [u for u in items if str(u["IdSubscription"]) == sent.query["IdSubscription"]]
    return (204, None) if not items else paged(items, sent, "/v1/Usages")


def usage(world: CannedWorld, ref: str, sent: Sent) -> tuple[int, Any]:
    try:
        record = world.holding(world.customer(ref), sent.query["ReferenceFeature"])
    except Refusal as refused:  # a read says NoneMatching with 404 (reference §d Usage)
        raise Refusal(404, refused.body) from refused
    return 200, world.usage_json(record, sent.query["ReferenceFeature"])


def current_subscription(world: CannedWorld, ref: str) -> tuple[int, Any]:
    candidates = [s for s in world.of_customer(world.customer(ref)) if s.status != "Ended"]
    if not candidates:
        raise Refusal(404, payloads.error("Error.Api.Subscription.NotFound", "No subscription"))
    return 200, world.subscription_json(candidates[-1])


def subscriptions(world: CannedWorld, ref: str, sent: Sent) -> tuple[int, Any]:
    items = [world.subscription_json(s) for s in world.of_customer(world.customer(ref))]
    return (204, None) if not items else paged(items, sent, "/v1/Subscriptions")


def suspend_customer(world: CannedWorld, ref: str) -> tuple[int, Any]:
    record = world.customer(ref)
    record.status = "Suspended"
    return 200, world.customer_json(record)


def revoke_links(world: CannedWorld, ref: str) -> tuple[int, Any]:
    record = world.customer(ref)
    record.links_epoch += 1
    return 200, world.customer_json(record)


def accessible(world: CannedWorld, ref: str) -> CustomerRecord:
    """The address and payment settings answer 403 for an unknown customer (reference §d)."""
    record = world.customers.get(ref)
    if record is None:
        raise Refusal(
            403,
            payloads.error("Error.Api.Customer.Unaccessible", "You cannot access that Customer"),
        )
    return record


def update_address(world: CannedWorld, ref: str, body: Mapping[str, str]) -> tuple[int, Any]:
    address = accessible(world, ref).address
    address.update(body)
    return 200, dict(address)


def invoices(world: CannedWorld, ref: str) -> tuple[int, Any]:
    customer = world.customer(ref)
    if any(s.offer.is_priced and s.status != "Draft" for s in world.of_customer(customer)):
        raise NotCanned("invoices of a customer with a started paid subscription")
    return 204, None
