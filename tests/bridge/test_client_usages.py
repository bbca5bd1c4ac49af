"""ProAbonoClient, rights and purchasing: ``/v1/Usage*`` and ``/v1/Quoting/*``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bridge.client import UsageChange
from bridge.errors import BillingRefused, BillingUnavailable
from bridge.models import Quote, Usage
from tests.bridge import payloads
from tests.bridge.fake_billing import NOW_STAMP, FakeBilling, Route, ids, items_of, model, page_of

SEATS = UsageChange("cust-42", "feat-users", quantity_current=4)
DOWNLOAD = UsageChange("cust-42", "feat-downloads", increment=1)
SUPPORT_OFF = UsageChange("cust-42", "feat-support", is_enabled=False)

USAGE_ROUTES = [
    Route(
        name="list_usages",
        call=lambda c: c.list_usages("cust-42"),
        method="GET",
        path="/v1/Usages",
        query={"ReferenceCustomer": "cust-42", "Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.usage(), payloads.on_off_usage()], size_page=100),
        expect=page_of(Usage),
    ),
    Route(
        name="list_usages",
        variant="one-feature-of-one-subscription",
        call=lambda c: c.list_usages(
            "cust-42", reference_feature="feat-users", id_subscription=140960, page=2, size_page=10
        ),
        method="GET",
        path="/v1/Usages",
        query={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-users",
            "IdSubscription": "140960",
            "Page": "2",
            "SizePage": "10",
        },
        answer=payloads.page([payloads.usage()], page=2, size_page=10, total=11),
        expect=page_of(Usage),
    ),
    Route(
        name="iter_usages",
        call=lambda c: list(c.iter_usages("cust-42", reference_feature="feat-users")),
        method="GET",
        path="/v1/Usages",
        query={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-users",
            "Page": "1",
            "SizePage": "100",
        },
        answer=payloads.page([payloads.usage()], size_page=100),
        expect=items_of(Usage),
    ),
    Route(
        name="get_usages",
        call=lambda c: c.get_usages("cust-42"),
        method="GET",
        path="/v1/Usages",
        query={"ReferenceCustomer": "cust-42", "Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.usage(), payloads.on_off_usage()], size_page=100),
        expect=items_of(Usage),
    ),
    Route(
        name="get_usage",
        call=lambda c: c.get_usage("cust-42", "feat-users"),
        method="GET",
        path="/v1/Usage",
        query={"ReferenceCustomer": "cust-42", "ReferenceFeature": "feat-users"},
        answer=payloads.usage(),
        expect=model(Usage),
    ),
    Route(
        name="get_usage",
        variant="of-one-subscription",
        call=lambda c: c.get_usage("cust-42", "feat-users", id_subscription=140960),
        method="GET",
        path="/v1/Usage",
        query={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-users",
            "IdSubscription": "140960",
        },
        answer=payloads.usage(),
        expect=model(Usage),
    ),
    Route(
        name="record_usage",
        variant="increment",
        call=lambda c: c.record_usage(DOWNLOAD),
        method="POST",
        path="/v1/Usage",
        body={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-downloads",
            "Increment": 1,
            "DateStamp": NOW_STAMP,
        },
        answer=payloads.usage(ReferenceFeature="feat-downloads", TypeFeature="Consumption"),
        expect=model(Usage),
    ),
    Route(
        name="record_usage",
        variant="absolute-quantity-stamped",
        call=lambda c: c.record_usage(
            UsageChange(
                "cust-42",
                "feat-users",
                quantity_current=4,
                id_subscription=140960,
                date_stamp=datetime(2025, 2, 12, 9, 0, 0, 250000, tzinfo=UTC),
            )
        ),
        method="POST",
        path="/v1/Usage",
        body={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-users",
            "IdSubscription": 140960,
            "QuantityCurrent": 4,
            "DateStamp": "2025-02-12T09:00:00.25Z",
        },
        answer=payloads.usage(QuantityCurrent=4),
        expect=model(Usage),
    ),
    Route(
        name="record_usage",
        variant="switch-off",
        call=lambda c: c.record_usage(SUPPORT_OFF),
        method="POST",
        path="/v1/Usage",
        body={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-support",
            "IsEnabled": False,
            "DateStamp": NOW_STAMP,
        },
        answer=payloads.on_off_usage(IsEnabled=False),
        expect=model(Usage),
    ),
    Route(
        name="record_usages",
        call=lambda c: c.record_usages([SEATS, DOWNLOAD]),
        method="POST",
        path="/v1/Usages",
        body=[
            {
                "ReferenceCustomer": "cust-42",
                "ReferenceFeature": "feat-users",
                "QuantityCurrent": 4,
                "DateStamp": NOW_STAMP,
            },
            {
                "ReferenceCustomer": "cust-42",
                "ReferenceFeature": "feat-downloads",
                "Increment": 1,
                "DateStamp": NOW_STAMP,
            },
        ],
        answer=[
            payloads.usage(QuantityCurrent=4),
            payloads.usage(ReferenceFeature="feat-downloads"),
        ],
        expect=lambda answer: [Usage.from_json(item) for item in answer],
    ),
    Route(
        name="record_usages",
        variant="answered-as-an-envelope",
        call=lambda c: c.record_usages([SEATS]),
        method="POST",
        path="/v1/Usages",
        body=[
            {
                "ReferenceCustomer": "cust-42",
                "ReferenceFeature": "feat-users",
                "QuantityCurrent": 4,
                "DateStamp": NOW_STAMP,
            }
        ],
        answer=payloads.page([payloads.usage(QuantityCurrent=4)]),
        expect=items_of(Usage),
    ),
]

QUOTE_ROUTES = [
    Route(
        name="quote_usage",
        call=lambda c: c.quote_usage(DOWNLOAD),
        method="POST",
        path="/v1/Quoting/Usage",
        query={"NextTerm": "true"},
        body={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-downloads",
            "Increment": 1,
            "DateStamp": NOW_STAMP,
        },
        answer=payloads.quote(),
        expect=model(Quote),
    ),
    Route(
        name="quote_usage",
        variant="this-term-only-not-billable",
        call=lambda c: c.quote_usage(SEATS, next_term=None, ensure_billable=False),
        method="POST",
        path="/v1/Quoting/Usage",
        query={"EnsureBillable": "false"},
        body={
            "ReferenceCustomer": "cust-42",
            "ReferenceFeature": "feat-users",
            "QuantityCurrent": 4,
            "DateStamp": NOW_STAMP,
        },
        answer=payloads.quote(NextTerm=payloads.ABSENT),
        expect=model(Quote),
    ),
    Route(
        name="quote_subscription",
        call=lambda c: c.quote_subscription("cust-42", "offer-starter"),
        method="POST",
        path="/v1/Quoting/Subscription",
        body={"ReferenceCustomer": "cust-42", "ReferenceOffer": "offer-starter"},
        answer=payloads.quote(IdSubscription=payloads.ABSENT),
        expect=model(Quote),
    ),
    Route(
        name="quote_subscription",
        variant="custom-for-a-buyer",
        call=lambda c: c.quote_subscription(
            "cust-42",
            "offer-starter",
            ensure_billable=True,
            reference_customer_buyer="cust-7",
            features=[{"ReferenceFeature": "feat-support", "IsEnabled": True}],
            overrides={"AmountUpFront": 5000},
        ),
        method="POST",
        path="/v1/Quoting/Subscription",
        query={"EnsureBillable": "true"},
        body={
            "AmountUpFront": 5000,
            "ReferenceCustomer": "cust-42",
            "ReferenceOffer": "offer-starter",
            "ReferenceCustomerBuyer": "cust-7",
            "Features": [{"ReferenceFeature": "feat-support", "IsEnabled": True}],
        },
        answer=payloads.quote(IdSubscription=payloads.ABSENT),
        expect=model(Quote),
    ),
    Route(
        name="quote_start",
        call=lambda c: c.quote_start(140960),
        method="POST",
        path="/v1/Quoting/Subscription/140960/Start",
        answer=payloads.quote(),
        expect=model(Quote),
    ),
    Route(
        name="quote_start",
        variant="billable",
        call=lambda c: c.quote_start(140960, ensure_billable=True),
        method="POST",
        path="/v1/Quoting/Subscription/140960/Start",
        query={"EnsureBillable": "true"},
        answer=payloads.quote(),
        expect=model(Quote),
    ),
    Route(
        name="quote_upgrade",
        call=lambda c: c.quote_upgrade(140960, "offer-pro"),
        method="POST",
        path="/v1/Quoting/Subscription/140960/Upgrade",
        query={"ReferenceOffer": "offer-pro"},
        answer=payloads.quote(),
        expect=model(Quote),
    ),
    Route(
        name="quote_upgrade",
        variant="deferred-billed-now",
        call=lambda c: c.quote_upgrade(140960, "offer-pro", bill_now=True, immediate=False),
        method="POST",
        path="/v1/Quoting/Subscription/140960/Upgrade",
        query={"ReferenceOffer": "offer-pro", "BillNow": "true", "Immediate": "false"},
        answer=payloads.quote(),
        expect=model(Quote),
    ),
]

ROUTES = USAGE_ROUTES + QUOTE_ROUTES


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@pytest.mark.parametrize("route", ROUTES, ids=ids(ROUTES))
def test_request_on_the_wire_and_parsed_answer(billing: FakeBilling, route: Route) -> None:
    billing.check(route)


def test_usages_are_parsed_into_typed_fields(billing: FakeBilling) -> None:
    unlimited = payloads.usage(ReferenceFeature="feat-api", QuantityCurrent=payloads.ABSENT)
    answer = payloads.page([payloads.usage(), payloads.on_off_usage(), unlimited])
    billing.reply("GET", "/v1/Usages", answer)

    seats, support, api = billing.client.get_usages("cust-42")

    assert (seats.id_subscription, seats.quantity_included, seats.quantity_current) == (
        140960,
        10,
        3,
    )
    assert seats.remaining == 7
    assert not seats.is_unlimited
    assert seats.date_period_end == datetime(2025, 4, 29, 21, 35, 32, tzinfo=UTC)
    assert (support.is_included, support.is_enabled, support.remaining) == (True, True, None)
    assert api.is_unlimited
    assert api.remaining is None


def test_a_quote_is_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Quoting/Usage", payloads.quote())

    quote = billing.client.quote_usage(DOWNLOAD)

    assert quote.amount_due == 31875
    assert not quote.is_free
    assert quote.pricing_localized == "€ 318.75"
    assert quote.date_period_start == datetime(2025, 3, 29, 21, 35, 32, tzinfo=UTC)
    [detail] = quote.details
    assert (detail.id_feature, detail.amount_total_due, detail.quantity_billed) == (48896, 6875, 1)
    assert quote.next_term is not None
    assert quote.next_term.amount_total == 30000


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (404, payloads.error("Error.Api.Usage.NoneMatching", "No usage matching")),
        (403, payloads.error("Error.Api.Usage.NoneMatching", "No usage matching")),
        (404, None),
        (204, None),
    ],
    ids=["404-none-matching", "403-none-matching", "404-empty-body", "204-empty-body"],
)
def test_get_usage_answers_none_when_no_subscription_has_the_feature(
    billing: FakeBilling, status: int, answer: Any
) -> None:
    billing.reply("GET", "/v1/Usage", answer, status=status)

    assert billing.client.get_usage("cust-42", "feat-users") is None


def test_get_usage_still_raises_other_refusals(billing: FakeBilling) -> None:
    refusal = payloads.error("Error.Api.Customer.Unaccessible", "You cannot access that Customer")
    billing.reply("GET", "/v1/Usage", refusal, status=403)

    with pytest.raises(BillingRefused) as caught:
        billing.client.get_usage("cust-42", "feat-users")
    assert caught.value.code == "Error.Api.Customer.Unaccessible"


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"increment": 1, "quantity_current": 4},
        {"increment": 1, "is_enabled": True},
        {"quantity_current": 4, "is_enabled": False},
        {"increment": 1, "quantity_current": 4, "is_enabled": True},
    ],
    ids=["none", "increment+quantity", "increment+switch", "quantity+switch", "all-three"],
)
def test_a_usage_change_needs_exactly_one_kind_of_change(given: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        UsageChange("cust-42", "feat-users", **given)


@pytest.mark.parametrize(
    ("given", "field", "idempotent"),
    [
        ({"increment": 0}, "Increment", False),
        ({"increment": -2}, "Increment", False),
        ({"quantity_current": 0}, "QuantityCurrent", True),
        ({"is_enabled": False}, "IsEnabled", True),
    ],
    ids=["zero-increment", "negative-increment", "zero-quantity", "switch-off"],
)
def test_falsy_changes_are_still_changes(
    given: dict[str, Any], field: str, idempotent: bool
) -> None:
    change = UsageChange("cust-42", "feat-users", **given)

    assert change.to_json(datetime(2025, 1, 1, tzinfo=UTC))[field] == next(iter(given.values()))
    assert change.idempotent is idempotent


@pytest.mark.parametrize(
    ("stamp", "sent"),
    [
        (None, NOW_STAMP),
        (
            datetime(2025, 2, 12, 12, 0, 1, 999999, tzinfo=timezone(timedelta(hours=2))),
            "2025-02-12T10:00:01.99Z",
        ),
        (datetime(2025, 2, 12, 8, 30), "2025-02-12T08:30:00.00Z"),
    ],
    ids=["defaults-to-the-injected-clock", "converted-to-utc", "naive-read-as-utc"],
)
def test_date_stamp_is_sent_in_the_reference_format(
    billing: FakeBilling, stamp: datetime | None, sent: str
) -> None:
    billing.reply("POST", "/v1/Usage", payloads.usage())

    billing.client.record_usage(
        UsageChange("cust-42", "feat-users", quantity_current=4, date_stamp=stamp)
    )

    [request] = billing.sent()
    assert request.body["DateStamp"] == sent
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ", request.body["DateStamp"])


def test_a_batch_shares_one_date_stamp_from_the_clock(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Usages", [payloads.usage()] * 3)

    billing.client.record_usages([SEATS, DOWNLOAD, SUPPORT_OFF])

    [request] = billing.sent()
    assert [item["DateStamp"] for item in request.body] == [NOW_STAMP] * 3


def test_a_batch_of_50_is_one_request(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Usages", [payloads.usage()] * 50)

    assert len(billing.client.record_usages([SEATS] * 50)) == 50
    assert len(billing.sent()) == 1


@pytest.mark.parametrize("size", [51, 500])
def test_a_batch_over_50_is_refused_before_any_request(size: int) -> None:
    with FakeBilling() as fake, pytest.raises(ValueError, match="at most 50"):
        fake.client.record_usages([SEATS] * size)
    assert fake.sent() == []


def test_an_empty_batch_sends_nothing() -> None:
    with FakeBilling() as fake:
        assert fake.client.record_usages([]) == []
    assert fake.sent() == []


def test_a_batch_of_absolute_changes_is_replayed_after_a_500(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Usages", payloads.error("Error.Api.Internal", "boom"), status=500)
    billing.reply("POST", "/v1/Usages", [payloads.usage(), payloads.on_off_usage()])

    assert len(billing.client.record_usages([SEATS, SUPPORT_OFF])) == 2
    assert billing.outcomes() == [500, 200]


def test_a_batch_with_one_increment_is_not_replayed_after_a_500(billing: FakeBilling) -> None:
    billing.reply("POST", "/v1/Usages", payloads.error("Error.Api.Internal", "boom"), status=500)

    with pytest.raises(BillingUnavailable):
        billing.client.record_usages([SEATS, DOWNLOAD])
    assert billing.outcomes() == [500]


@pytest.mark.parametrize(
    "answer",
    [None, {"Unexpected": True}, {"Items": "feat-users"}, [1, 2], [payloads.usage(), "feat-users"]],
    ids=[
        "empty-body",
        "object-without-items",
        "items-not-a-list",
        "numbers",
        "one-item-not-an-object",
    ],
)
def test_an_unusable_batch_answer_is_unavailable(billing: FakeBilling, answer: Any) -> None:
    billing.reply("POST", "/v1/Usages", answer)

    with pytest.raises(BillingUnavailable, match="usage batch"):
        billing.client.record_usages([SEATS])
