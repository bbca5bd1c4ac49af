"""The ``responses`` contract backend: canned, reference-shaped answers behind request matchers.

Each ``given_*`` step registers, on a ``responses.RequestsMock``, the answers the real service
would send to the calls a scenario makes about that customer or subscription. Every route checks
what goes on the wire (``wire``): the path, the exact set of query names (and the values that
matter), the JSON body's fields, ``DateStamp`` (the injected clock), Basic auth and ``Accept``. A
request no route accepts is refused by ``responses`` (the scenario fails with the matchers'
reasons), and a call the canned answers do not cover fails with ``NotCanned``: nothing is guessed.

What this module does not do: decide what the answers say (``canned_service``, ``canned_reads``,
``canned_world``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import responses
from responses import matchers

from bridge.client import ProAbonoClient
from bridge.models import Subscription
from tests.bridge import payloads
from tests.bridge.contract import canned_service as service
from tests.bridge.contract.backend import GOOD_CARD
from tests.bridge.contract.canned_reads import (
    accessible,
    current_subscription,
    invoices,
    paged,
    revoke_links,
    subscriptions,
    suspend_customer,
    update_address,
    usage,
    usages,
)
from tests.bridge.contract.canned_world import (
    NOW,
    CannedWorld,
    NotCanned,
    Refusal,
    SubscriptionRecord,
)
from tests.bridge.contract.catalog import demo_catalog
from tests.bridge.contract.wire import (
    ADDRESS_FIELDS,
    CUSTOMER_FIELDS,
    PAGING,
    Sent,
    is_text,
    is_valid_reference,
    sent_of,
    usage_body,
    wire,
)

BASE_URL = "https://api-2.proabono.com"
AGENT_KEY = "agent-4b1e"
API_KEY = "apikey-S3CRET-7Zq"
AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"{AGENT_KEY}:{API_KEY}".encode()).decode(),
    "Accept": "application/json",
}


class CannedBackend:
    name = "responses"

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.world = CannedWorld(demo_catalog())
        self.client = ProAbonoClient(
            BASE_URL, AGENT_KEY, API_KEY, clock=lambda: NOW, sleep=lambda _: None, retries=0
        )
        self._routed_customers: set[str] = set()
        self._routed_subscriptions: set[int] = set()
        self._route_account()

    # --- the given steps -------------------------------------------------------------------

    def given_no_customer(self, reference_customer: str) -> None:
        assert reference_customer not in self.world.customers
        self._route_customer(reference_customer)

    def given_customer(
        self, reference_customer: str, *, email: str | None = None, name: str | None = None
    ) -> None:
        self.world.add_customer(reference_customer, email=email, name=name)
        self._route_customer(reference_customer)

    def given_payment_card(self, reference_customer: str, card: str = GOOD_CARD) -> None:
        if card != GOOD_CARD:
            raise NotCanned(f"card {card}")
        self.world.customer(reference_customer).payment = "Card"

    def given_subscription(
        self, reference_customer: str, reference_offer: str, *, started: bool
    ) -> Subscription:
        customer = self.world.customer(reference_customer)
        offer = self.world.catalog.offer(reference_offer)
        state = ("Active", "ActiveRunning") if started else ("Draft", "DraftAgent")
        record = self.world.add_subscription(customer, offer, *state)
        self._route_new_subscriptions()
        return Subscription.from_json(self.world.subscription_json(record))

    # --- routes ----------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, handler: Callable[[Sent], Any], **expected: Any
    ) -> None:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            try:
                status, data = handler(sent_of(request))
            except Refusal as refused:
                status, data = refused.status, refused.body
            self._route_new_subscriptions()
            if data is None:
                return status, {}, ""
            assert_no_nulls(data)
            return status, {"Content-Type": "application/json"}, json.dumps(data)

        match = [matchers.header_matcher(AUTH), wire(**expected)]
        self.mock.add_callback(method, BASE_URL + path, callback=callback, match=match)

    def _route_account(self) -> None:
        world, catalog = self.world, self.world.catalog
        self._route(
            "GET",
            "/v1/Offers",
            lambda s: paged([world.offer_json(o) for o in catalog.offers], s, "/v1/Offers"),
            optional_query=PAGING,
        )
        self._route(
            "GET",
            "/v1/Offer",
            lambda s: (200, world.offer_json(catalog.offer(s.query["ReferenceOffer"]))),
            query={"ReferenceOffer": lambda v: v in {o.reference for o in catalog.offers}},
        )
        self._route(
            "GET",
            "/v1/Features",
            lambda s: paged(
                [world.feature_json(f.reference) for f in catalog.features], s, "/v1/Features"
            ),
            optional_query=PAGING,
        )
        self._route(
            "GET",
            "/v1/Feature",
            lambda s: (
                (200, world.feature_json(s.query["ReferenceFeature"]))
                if catalog.feature(s.query["ReferenceFeature"])
                else (204, None)
            ),
            query={"ReferenceFeature": is_text},
        )
        self._route(
            "GET",
            "/v1/Customers",
            lambda s: paged(
                [world.customer_json(world.customers[r]) for r in world.order], s, "/v1/Customers"
            ),
            optional_query=PAGING,
        )
        invalid = [
            payloads.error(
                "Error.Api.Customer.ReferenceCustomer.Invalid",
                'ReferenceCustomer: at most 50 characters, none of < > ; " = ? &',
                Target="ReferenceCustomer",
            )
        ]
        self._route(
            "POST",
            "/v1/Customer",
            lambda s: (422, invalid),
            body={"ReferenceCustomer": lambda v: not is_valid_reference(v)},
            optional_body=CUSTOMER_FIELDS,
        )
        required, optional = usage_body(lambda v: v in world.customers)
        self._route(
            "POST",
            "/v1/Usages",
            lambda s: service.record_usages(world, s.body),
            body=required,
            optional_body=optional,
            batch=True,
        )

    def _route_customer(self, ref: str) -> None:
        if ref in self._routed_customers:
            return
        self._routed_customers.add(ref)
        world = self.world
        who = {"ReferenceCustomer": ref}
        usage_required, usage_optional = usage_body(ref)
        routes: list[tuple[str, str, Callable[[Sent], Any], dict[str, Any]]] = [
            ("GET", "/v1/Customer", lambda s: (
                200, world.customer_json(world.customer(ref), s.query.get("ReferenceOffer"))
            ), {"query": who, "optional_query": {"ReferenceOffer"}}),
            ("POST", "/v1/Customer", lambda s: service.upsert_customer(world, s.body),
             {"body": who, "optional_body": CUSTOMER_FIELDS}),
            ("POST", "/v1/Customer/Suspension", lambda s: suspend_customer(world, ref),
             {"query": who}),
            ("POST", "/v1/Customer/LinksRevokation", lambda s: revoke_links(world, ref),
             {"query": who}),
            ("GET", "/v1/CustomerAddressBilling", lambda s: (
                200, accessible(world, ref).address
            ), {"query": who}),
            ("POST", "/v1/CustomerAddressBilling", lambda s: update_address(world, ref, s.body),
             {"query": who, "body": {}, "optional_body": ADDRESS_FIELDS}),
            ("GET", "/v1/Subscription", lambda s: current_subscription(world, ref),
             {"query": who, "optional_query": {"ReferenceOffer", "IgnoreFeatures"}}),
            ("GET", "/v1/Subscriptions", lambda s: subscriptions(world, ref, s), {
                "query": who,
                "optional_query": {"IgnoreFeatures", *PAGING},
            }),
            ("POST", "/v1/Subscription", lambda s: service.create_subscription(
                world, s.query, s.body
            ), {
                "optional_query": {"TryStart", "BillNow", "EnsureBillable", "Migration"},
                "body": {**who, "ReferenceOffer": is_text},
                "optional_body": {"DateStart", "Features", "Metadata"},
            }),
            ("GET", "/v1/Usages", lambda s: usages(world, ref, s), {
                "query": who,
                "optional_query": {"ReferenceFeature", "IdSubscription", *PAGING},
            }),
            ("GET", "/v1/Usage", lambda s: usage(world, ref, s), {
                "query": {**who, "ReferenceFeature": is_text},
                "optional_query": {"IdSubscription"},
            }),
            ("POST", "/v1/Usage", lambda s: service.record_usage(world, s.body),
             {"body": usage_required, "optional_body": usage_optional}),
            ("POST", "/v1/Quoting/Usage", lambda s: service.quote_usage(world, s.query, s.body), {
                "query": {"NextTerm": "true"},
                "optional_query": {"EnsureBillable"},
                "body": usage_required,
                "optional_body": usage_optional,
            }),
            ("POST", "/v1/Quoting/Subscription", lambda s: service.quote_subscription(
                world, s.query, s.body
            ), {
                "optional_query": {"EnsureBillable"},
                "body": {**who, "ReferenceOffer": is_text},
                "optional_body": {"ReferenceCustomerBuyer", "Features"},
            }),
            ("GET", "/v1/Invoices", lambda s: invoices(world, ref), {
                "query": who,
                "optional_query": {"IdSubscription", *PAGING},
            }),
        ]  # fmt: skip
        for method, path, handler, expected in routes:
            self._route(method, path, handler, **expected)

    def _route_new_subscriptions(self) -> None:
        for id_subscription, record in list(self.world.subscriptions.items()):
            if id_subscription not in self._routed_subscriptions:
                self._routed_subscriptions.add(id_subscription)
                self._route_subscription(record)

    def _route_subscription(self, record: SubscriptionRecord) -> None:
        world = self.world
        path = f"/v1/Subscription/{record.id}"
        self._route("GET", path, lambda s: (200, world.subscription_json(record)))
        self._route(
            "POST",
            f"{path}/Start",
            lambda s: service.start(world, record),
            optional_query={"EnsureBillable", "BillNow"},
        )
        self._route("POST", f"{path}/Suspension", lambda s: service.suspend(world, record))
        self._route(
            "POST",
            f"{path}/Termination",
            lambda s: service.terminate(world, record, s.query),
            optional_query={"Immediate", "DateTermination"},
        )
        self._route(
            "POST",
            f"{path}/Upgrade",
            lambda s: service.upgrade(world, record, s.query),
            query={"ReferenceOffer": is_text},
            optional_query={"Immediate", "BillNow", "IgnoreEngagement"},
        )


def assert_no_nulls(data: Any, where: str = "$") -> None:
    """The reference's answers omit null fields; a canned answer must too."""
    assert data is not None, f"canned answer has a null at {where}"
    if isinstance(data, dict):
        for key, value in data.items():
            assert_no_nulls(value, f"{where}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            assert_no_nulls(value, f"{where}[{index}]")


@contextmanager
def canned_backend() -> Iterator[CannedBackend]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        backend = CannedBackend(mock)
        try:
            yield backend
        finally:
            backend.client.close()
