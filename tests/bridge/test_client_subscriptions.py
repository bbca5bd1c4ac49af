"""ProAbonoClient, subscriptions and catalog: /v1/Subscription*, /v1/Offer*, /v1/Feature*."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.errors import BillingNotFound
from bridge.models import Feature, Offer, StateSubscription, Subscription, TypeFeature
from tests.bridge import payloads
from tests.bridge.fake_billing import FakeBilling, Route, ids, items_of, model, page_of

PARIS_SUMMER = timezone(timedelta(hours=2))

DRAFT = payloads.subscription(
    Status="Draft",
    StateSubscription="DraftAgent",
    Links=[
        payloads.link("self", href="/v1/Subscription/140960"),
        payloads.link("insite-subscribe", query="sub7Yt"),
    ],
)
ENDING = payloads.subscription(
    StateSubscription="ActiveDelayedTermination",
    StatusAfterTerm="Ended",
    StateSubscriptionAfterTerm="EndedTerminated",
    DateTerm="2025-04-12T10:10:44.00Z",
)
UPGRADED = payloads.subscription(Id=140961, IdOffer=64401, ReferenceOffer="offer-pro")

SUBSCRIPTION_ROUTES = [
    Route(
        name="get_subscription",
        call=lambda c: c.get_subscription("cust-42"),
        method="GET",
        path="/v1/Subscription",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.subscription(),
        expect=model(Subscription),
    ),
    Route(
        name="get_subscription",
        variant="of-an-offer-without-features",
        call=lambda c: c.get_subscription(
            "cust-42", reference_offer="offer-starter", ignore_features=True
        ),
        method="GET",
        path="/v1/Subscription",
        query={
            "ReferenceCustomer": "cust-42",
            "ReferenceOffer": "offer-starter",
            "IgnoreFeatures": "true",
        },
        answer=payloads.subscription(Features=[]),
        expect=model(Subscription),
    ),
    Route(
        name="get_subscription_by_id",
        call=lambda c: c.get_subscription_by_id(140960),
        method="GET",
        path="/v1/Subscription/140960",
        answer=payloads.subscription(),
        expect=model(Subscription),
    ),
    Route(
        name="list_subscriptions",
        call=lambda c: c.list_subscriptions(),
        method="GET",
        path="/v1/Subscriptions",
        query={"Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.subscription()], size_page=100),
        expect=page_of(Subscription),
        segment="query",
    ),
    Route(
        name="list_subscriptions",
        variant="filtered-page-3",
        call=lambda c: c.list_subscriptions(
            reference_customer="cust-42",
            reference_customer_buyer="cust-7",
            ignore_features=False,
            page=3,
            size_page=20,
        ),
        method="GET",
        path="/v1/Subscriptions",
        query={
            "ReferenceCustomer": "cust-42",
            "ReferenceCustomerBuyer": "cust-7",
            "IgnoreFeatures": "false",
            "Page": "3",
            "SizePage": "20",
        },
        answer=payloads.page([payloads.subscription()], page=3, size_page=20, total=41),
        expect=page_of(Subscription),
        segment="query",
    ),
    Route(
        name="iter_subscriptions",
        call=lambda c: list(c.iter_subscriptions(reference_customer="cust-42")),
        method="GET",
        path="/v1/Subscriptions",
        query={"ReferenceCustomer": "cust-42", "Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.subscription(), ENDING], size_page=100),
        expect=items_of(Subscription),
        segment="query",
    ),
    Route(
        name="create_subscription",
        call=lambda c: c.create_subscription("cust-42", "offer-starter"),
        method="POST",
        path="/v1/Subscription",
        body={"ReferenceCustomer": "cust-42", "ReferenceOffer": "offer-starter"},
        status=201,
        answer=DRAFT,
        expect=model(Subscription),
    ),
    Route(
        name="create_subscription",
        variant="try-start-with-every-option",
        call=lambda c: c.create_subscription(
            "cust-42",
            "offer-starter",
            try_start=True,
            bill_now=False,
            ensure_billable=True,
            migration=False,
            reference_customer_buyer="cust-7",
            date_start=datetime(2025, 3, 12, 12, 10, 44, tzinfo=PARIS_SUMMER),
            features=[{"ReferenceFeature": "feat-users", "QuantityCurrent": 4}],
            metadata={"Site": "www.johndoe.com"},
            overrides={"AmountRecurrence": 19000, "TitleLocalized": "Custom"},
        ),
        method="POST",
        path="/v1/Subscription",
        query={
            "TryStart": "true",
            "BillNow": "false",
            "EnsureBillable": "true",
            "Migration": "false",
        },
        body={
            "AmountRecurrence": 19000,
            "TitleLocalized": "Custom",
            "ReferenceCustomer": "cust-42",
            "ReferenceOffer": "offer-starter",
            "ReferenceCustomerBuyer": "cust-7",
            "DateStart": "2025-03-12T10:10:44.00Z",
            "Features": [{"ReferenceFeature": "feat-users", "QuantityCurrent": 4}],
            "Metadata": {"Site": "www.johndoe.com"},
        },
        status=201,
        answer=payloads.subscription(),
        expect=model(Subscription),
    ),
    Route(
        name="start_subscription",
        call=lambda c: c.start_subscription(140960),
        method="POST",
        path="/v1/Subscription/140960/Start",
        answer=payloads.subscription(),
        expect=model(Subscription),
    ),
    Route(
        name="start_subscription",
        variant="billable-bill-now",
        call=lambda c: c.start_subscription(140960, ensure_billable=True, bill_now=True),
        method="POST",
        path="/v1/Subscription/140960/Start",
        query={"EnsureBillable": "true", "BillNow": "true"},
        answer=payloads.subscription(),
        expect=model(Subscription),
    ),
    Route(
        name="suspend_subscription",
        call=lambda c: c.suspend_subscription(140960),
        method="POST",
        path="/v1/Subscription/140960/Suspension",
        answer=payloads.subscription(Status="Suspended", StateSubscription="SuspendedAgent"),
        expect=model(Subscription),
    ),
    Route(
        name="terminate_subscription",
        variant="at-end-of-term",
        call=lambda c: c.terminate_subscription(140960),
        method="POST",
        path="/v1/Subscription/140960/Termination",
        answer=ENDING,
        expect=model(Subscription),
    ),
    Route(
        name="terminate_subscription",
        variant="immediate-on-a-date",
        call=lambda c: c.terminate_subscription(
            140960, immediate=True, date_termination=datetime(2025, 3, 20, tzinfo=UTC)
        ),
        method="POST",
        path="/v1/Subscription/140960/Termination",
        query={"Immediate": "true", "DateTermination": "2025-03-20T00:00:00.00Z"},
        answer=payloads.subscription(Status="Ended", StateSubscription="EndedTerminated"),
        expect=model(Subscription),
    ),
    Route(
        name="upgrade_subscription",
        call=lambda c: c.upgrade_subscription(140960, "offer-pro"),
        method="POST",
        path="/v1/Subscription/140960/Upgrade",
        query={"ReferenceOffer": "offer-pro"},
        answer=UPGRADED,
        expect=model(Subscription),
    ),
    Route(
        name="upgrade_subscription",
        variant="every-option",
        call=lambda c: c.upgrade_subscription(
            140960, "offer-pro", immediate=False, bill_now=True, ignore_engagement=True
        ),
        method="POST",
        path="/v1/Subscription/140960/Upgrade",
        query={
            "ReferenceOffer": "offer-pro",
            "Immediate": "false",
            "BillNow": "true",
            "IgnoreEngagement": "true",
        },
        answer=UPGRADED,
        expect=model(Subscription),
    ),
    Route(
        name="set_subscription_date_term",
        call=lambda c: c.set_subscription_date_term(
            140960, datetime(2025, 12, 31, 23, 59, 59, 650000, tzinfo=UTC)
        ),
        method="POST",
        path="/v1/Subscription/140960/DateTerm",
        body={"DateTerm": "2025-12-31T23:59:59.65Z"},
        answer=payloads.subscription(DateTerm="2025-12-31T23:59:59.65Z"),
        expect=model(Subscription),
    ),
]

CATALOG_ROUTES = [
    Route(
        name="list_offers",
        call=lambda c: c.list_offers(),
        method="GET",
        path="/v1/Offers",
        query={"Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.offer()], size_page=100),
        expect=page_of(Offer),
        segment="query",
    ),
    Route(
        name="list_offers",
        variant="every-filter",
        call=lambda c: c.list_offers(
            reference_customer="cust-42",
            upgrade=True,
            id_subscription=140960,
            is_visible=True,
            reference_pricing_table="table-main",
            prefix_reference_offer="offer-",
            ignore_features=False,
            language="fr-FR",
            html=False,
            links=True,
            page=2,
            size_page=5,
        ),
        method="GET",
        path="/v1/Offers",
        query={
            "ReferenceCustomer": "cust-42",
            "Upgrade": "true",
            "IdSubscription": "140960",
            "IsVisible": "true",
            "ReferencePricingTable": "table-main",
            "PrefixReferenceOffer": "offer-",
            "IgnoreFeatures": "false",
            "Language": "fr-FR",
            "Html": "false",
            "Links": "true",
            "Page": "2",
            "SizePage": "5",
        },
        answer=payloads.page([payloads.offer()], page=2, size_page=5, total=6),
        expect=page_of(Offer),
        segment="query",
    ),
    Route(
        name="get_offer",
        call=lambda c: c.get_offer("offer-starter"),
        method="GET",
        path="/v1/Offer",
        query={"ReferenceOffer": "offer-starter"},
        answer=payloads.offer(),
        expect=model(Offer),
        segment="query",
    ),
    Route(
        name="get_offer",
        variant="as-an-upgrade-for-a-customer",
        call=lambda c: c.get_offer(
            "offer-pro",
            reference_customer="cust-42",
            upgrade=True,
            id_subscription=140960,
            language="en",
            html=False,
        ),
        method="GET",
        path="/v1/Offer",
        query={
            "ReferenceOffer": "offer-pro",
            "ReferenceCustomer": "cust-42",
            "Upgrade": "true",
            "IdSubscription": "140960",
            "Language": "en",
            "Html": "false",
        },
        answer=payloads.offer(ReferenceOffer="offer-pro"),
        expect=model(Offer),
        segment="query",
    ),
    Route(
        name="list_features",
        call=lambda c: c.list_features(),
        method="GET",
        path="/v1/Features",
        query={"Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.feature()], size_page=100),
        expect=page_of(Feature),
        segment="query",
    ),
    Route(
        name="list_features",
        variant="visible-only",
        call=lambda c: c.list_features(is_visible=True, size_page=1000),
        method="GET",
        path="/v1/Features",
        query={"IsVisible": "true", "Page": "1", "SizePage": "1000"},
        answer=payloads.page([payloads.feature()], size_page=1000),
        expect=page_of(Feature),
        segment="query",
    ),
    Route(
        name="get_feature",
        call=lambda c: c.get_feature("feat-users"),
        method="GET",
        path="/v1/Feature",
        query={"ReferenceFeature": "feat-users"},
        answer=payloads.feature(),
        expect=model(Feature),
    ),
]

ROUTES = SUBSCRIPTION_ROUTES + CATALOG_ROUTES


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@pytest.mark.parametrize("route", ROUTES, ids=ids(ROUTES))
def test_request_on_the_wire_and_parsed_answer(billing: FakeBilling, route: Route) -> None:
    billing.check(route)


def test_a_subscription_is_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Subscription", payloads.subscription())

    subscription = billing.client.get_subscription("cust-42")

    assert subscription is not None
    assert (subscription.id, subscription.id_customer, subscription.id_offer) == (
        140960,
        233700,
        64400,
    )
    assert subscription.amount_recurrence == 25000
    assert subscription.date_period_end == datetime(2025, 4, 12, 10, 10, 44, tzinfo=UTC)
    assert subscription.date_update == datetime(2025, 8, 9, 13, 17, 39, 880000, tzinfo=UTC)
    assert subscription.is_trial is False
    assert subscription.is_customer_billable is True
    assert subscription.is_active
    assert not subscription.is_suspended
    assert StateSubscription(subscription.state_subscription).status == subscription.status
    seats, support = subscription.features
    assert (seats.reference_feature, seats.quantity_included, seats.quantity_current) == (
        "feat-users",
        5,
        2,
    )
    assert "FreeInTrial" in seats.property_flags
    assert (support.type_feature, support.is_enabled) == (TypeFeature.ON_OFF, True)
    assert support.quantity_current is None
    self_link = subscription.links.get("self")
    assert self_link is not None
    assert self_link.href == "/v1/Subscription/140960"
    upgrade = subscription.links.get("insite-upgrade")
    assert upgrade is not None
    assert upgrade.query == "up2Wq7"
    assert subscription.metadata is not None
    assert subscription.metadata["IdPartner"] == 3


def test_a_scheduled_termination_keeps_the_state_after_term(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Subscription/140960/Termination", ENDING)

    ending = billing.client.terminate_subscription(140960)

    assert ending.state_subscription == StateSubscription.ACTIVE_DELAYED_TERMINATION
    assert ending.state_subscription_after_term == StateSubscription.ENDED_TERMINATED
    assert ending.date_term == datetime(2025, 4, 12, 10, 10, 44, tzinfo=UTC)


def test_an_offer_is_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Offer", payloads.offer())

    offer = billing.client.get_offer("offer-starter")

    assert (offer.id, offer.pricing_total, offer.amount_recurrence) == (64400, 22800, 19000)
    assert offer.is_priced is True
    assert [f.reference_feature for f in offer.features] == ["feat-users", "feat-support"]
    assert offer.features[0].quantity_included == 5
    subscribe = offer.links.get("insite-subscribe")
    assert subscribe is not None
    assert subscribe.query == "s9Vb3Kd"


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (404, payloads.error("Error.Api.Subscription.NotFound", "No subscription")),
        (204, None),
    ],
    ids=["404", "204-empty-body"],
)
def test_get_subscription_answers_none_when_the_customer_has_none(
    billing: FakeBilling, status: int, answer: object
) -> None:
    billing.reply("GET", "/v1/Subscription", answer, status=status)

    assert billing.client.get_subscription("cust-42") is None


def test_get_subscription_by_id_raises_not_found(billing: FakeBilling) -> None:
    billing.reply(
        "GET", "/v1/Subscription/9", payloads.error("Error.Api.NotFound", "?"), status=404
    )

    with pytest.raises(BillingNotFound) as caught:
        billing.client.get_subscription_by_id(9)
    assert caught.value.path == "/v1/Subscription/9"


def test_get_feature_answers_none_for_a_204(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Feature", None, status=204)

    assert billing.client.get_feature("feat-unknown") is None
