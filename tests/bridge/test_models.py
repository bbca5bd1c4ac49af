"""bridge.models: forgiving parsing of the reference's JSON, links by rel, dates, derived values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bridge.models import (
    BillingAddress,
    Customer,
    Invoice,
    Link,
    Links,
    Offer,
    Page,
    PaymentSettings,
    Quote,
    StateSubscription,
    Subscription,
    SubscriptionStatus,
    Usage,
    format_datetime,
    json_name,
    parse_datetime,
)
from tests.bridge import payloads
from tests.bridge.payloads import ABSENT

# --- parsing -----------------------------------------------------------------------------------


def test_fields_map_from_pascal_case_to_typed_attributes() -> None:
    usage = Usage.from_json(payloads.usage())

    assert usage.id_subscription == 140960
    assert usage.reference_feature == "feat-users"
    assert usage.date_period_start == datetime(2025, 3, 29, 21, 35, 32, tzinfo=UTC)
    assert usage.date_period_start.utcoffset() == timedelta(0)
    assert usage.extra == {}


def test_unknown_fields_are_kept_in_extra() -> None:
    customer = Customer.from_json(payloads.customer(Nickname="jd", IdCustomerBuyer=7))

    assert customer.extra == {"Nickname": "jd", "IdCustomerBuyer": 7}
    assert customer.name == "John Doe"


@pytest.mark.parametrize("absent", ["omitted", "null"])
def test_absent_nullable_fields_are_none(absent: str) -> None:
    value = ABSENT if absent == "omitted" else None
    usage = Usage.from_json(payloads.usage(QuantityCurrent=value, DatePeriodEnd=value))

    assert usage.quantity_current is None
    assert usage.date_period_end is None
    assert usage.extra == {}


def test_absent_collections_are_empty() -> None:
    subscription = Subscription.from_json(payloads.subscription(Features=ABSENT, Links=ABSENT))

    assert subscription.features == ()
    assert subscription.links == Links()
    assert subscription.links.get("insite-home") is None


@pytest.mark.parametrize(
    ("model", "payload", "field", "raw", "attribute", "fallback"),
    [
        (Customer, payloads.customer, "Id", "abc", "id", None),
        (Customer, payloads.customer, "Id", True, "id", None),
        (Usage, payloads.usage, "QuantityCurrent", 2.5, "quantity_current", None),
        (Usage, payloads.usage, "IsEnabled", "yes", "is_enabled", None),
        (Subscription, payloads.subscription, "DateStart", 1741774244, "date_start", None),
        (Subscription, payloads.subscription, "DateEnd", "next tuesday", "date_end", None),
        (Customer, payloads.customer, "Metadata", "Gender=Male", "metadata", None),
        (Customer, payloads.customer, "Links", "insite-home", "links", Links()),
        (Subscription, payloads.subscription, "Features", {"feat-users": 5}, "features", ()),
        (Customer, payloads.customer, "Name", ["John", "Doe"], "name", None),
    ],
    ids=[
        "int-from-text",
        "int-from-bool",
        "int-from-fraction",
        "bool-from-yes",
        "date-from-number",
        "date-from-prose",
        "mapping-from-text",
        "links-from-text",
        "features-from-object",
        "str-from-list",
    ],
)
def test_a_wrong_typed_value_is_dropped_and_kept_raw_in_extra(
    model: Any, payload: Any, field: str, raw: Any, attribute: str, fallback: Any
) -> None:
    parsed = model.from_json(payload(**{field: raw}))

    assert getattr(parsed, attribute) == fallback
    assert parsed.extra == {field: raw}


@pytest.mark.parametrize(
    ("field", "raw", "attribute", "value"),
    [
        ("QuantityIncluded", "10", "quantity_included", 10),
        ("QuantityIncluded", 10.0, "quantity_included", 10),
        ("IsEnabled", "true", "is_enabled", True),
        ("IsEnabled", "False", "is_enabled", False),
        ("ReferenceFeature", 42, "reference_feature", "42"),
    ],
    ids=[
        "int-from-digits",
        "int-from-whole-float",
        "bool-from-true",
        "bool-from-False",
        "str-from-int",
    ],
)
def test_harmless_type_drift_is_accepted(field: str, raw: Any, attribute: str, value: Any) -> None:
    usage = Usage.from_json(payloads.usage(**{field: raw}))

    assert getattr(usage, attribute) == value
    assert usage.extra == {}


def test_a_bad_nested_item_does_not_break_its_parent() -> None:
    bad_feature = payloads.offer_feature(QuantityIncluded="lots")
    offer = Offer.from_json(payloads.offer(Features=[bad_feature, payloads.on_off_feature()]))

    first, second = offer.features
    assert first.quantity_included is None
    assert first.extra == {"QuantityIncluded": "lots"}
    assert second.is_enabled is True
    assert offer.extra == {}


@pytest.mark.parametrize("data", [[payloads.customer()], "cust-42", None, 42])
def test_a_model_needs_a_json_object(data: Any) -> None:
    with pytest.raises(TypeError, match="Customer expects a JSON object"):
        Customer.from_json(data)


def test_models_are_immutable() -> None:
    customer = Customer.from_json(payloads.customer())

    with pytest.raises(dataclasses.FrozenInstanceError):
        customer.email = "other@doe.com"  # type: ignore[misc]
    with pytest.raises(TypeError):
        customer.metadata["Kids"] = 4  # type: ignore[index]


def test_extra_does_not_take_part_in_equality() -> None:
    assert Customer.from_json(payloads.customer(New=1)) == Customer.from_json(payloads.customer())


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        ("reference_customer", "ReferenceCustomer"),
        ("address_line1", "AddressLine1"),
        ("id_customer_buyer", "IdCustomerBuyer"),
        ("id", "Id"),
    ],
)
def test_json_name(attribute: str, name: str) -> None:
    assert json_name(attribute) == name


def test_every_billing_address_field_reads_its_reference_name() -> None:
    address = BillingAddress.from_json(payloads.billing_address(AddressLine2="Bât. B"))

    assert (address.address_line1, address.address_line2) == ("12 rue de la Paix", "Bât. B")
    assert (address.zip_code, address.region, address.tax_information) == (
        "75002",
        "FR-75",
        "FR1234567890",
    )
    assert address.extra == {}


# --- links -------------------------------------------------------------------------------------

INSITE_HOME = payloads.link("insite-home", href="https://my-web-site.com/billing")
HOSTED_HOME = payloads.link("hosted-home", href="https://demo-eur.proabono.com/portal/legacy")


@pytest.mark.parametrize(
    ("links", "asked", "found"),
    [
        ([HOSTED_HOME], "insite-home", "hosted-home"),
        ([INSITE_HOME], "hosted-home", "insite-home"),
        ([HOSTED_HOME, INSITE_HOME], "insite-home", "insite-home"),
        ([HOSTED_HOME, INSITE_HOME], "hosted-home", "insite-home"),
        ([INSITE_HOME, HOSTED_HOME], "hosted-home", "insite-home"),
        ([INSITE_HOME], "insite-register", None),
        ([payloads.link("self", href="/v1/Subscription/1")], "self", "self"),
        ([payloads.link("insite-next", href="/x")], "next", None),
    ],
    ids=[
        "legacy-only-found-by-current-name",
        "current-only-found-by-legacy-name",
        "both-current-wins",
        "both-current-wins-asked-by-legacy-name",
        "both-current-wins-whatever-the-order",
        "missing",
        "other-rels-exactly",
        "no-prefix-stripping-for-other-rels",
    ],
)
def test_links_are_found_by_rel_across_the_insite_and_hosted_families(
    links: list[dict[str, Any]], asked: str, found: str | None
) -> None:
    parsed = Links.from_json(links)

    link = parsed.get(asked)
    assert (link.rel if link else None) == found
    assert (asked in parsed) is (found is not None)


def test_a_link_keeps_href_query_and_type() -> None:
    pdf, charge = Links.from_json(
        [
            payloads.link(
                "insite-related-invoice", href="https://x/inv.pdf", type="application/pdf"
            ),
            payloads.link("insite-charge", query="ch4Rg3"),
        ]
    )

    assert pdf == Link(
        rel="insite-related-invoice", href="https://x/inv.pdf", type="application/pdf"
    )
    assert (charge.href, charge.query, charge.type) == (None, "ch4Rg3", None)


def test_links_skip_items_that_are_not_objects() -> None:
    links = Links.from_json(["insite-home", None, INSITE_HOME])

    assert links.rels() == ["insite-home"]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2025-02-12T10:10:44.00Z", "2025-05-10T18:33:16.28Z", "2025-12-31T23:59:59.65Z"],
)
def test_reference_dates_round_trip(text: str) -> None:
    parsed = parse_datetime(text)

    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)
    assert format_datetime(parsed) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-12T10:10:44Z", datetime(2025, 2, 12, 10, 10, 44, tzinfo=UTC)),
        ("2025-02-12T12:10:44.50+02:00", datetime(2025, 2, 12, 10, 10, 44, 500000, tzinfo=UTC)),
        ("2025-02-12T10:10:44.1234567Z", datetime(2025, 2, 12, 10, 10, 44, 123456, tzinfo=UTC)),
        ("2025-02-12T10:10:44.00", datetime(2025, 2, 12, 10, 10, 44, tzinfo=UTC)),
    ],
    ids=["no-fraction", "offset", "seven-digit-fraction", "no-zone-means-utc"],
)
def test_other_iso_forms_parse_to_aware_utc(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected
    assert parse_datetime(text).tzinfo is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 2, 12, 10, 10, 44, 120000, tzinfo=UTC), "2025-02-12T10:10:44.12Z"),
        (datetime(2025, 2, 12, 10, 10, 44, 999999, tzinfo=UTC), "2025-02-12T10:10:44.99Z"),
        (
            datetime(2025, 2, 12, 11, 10, 44, tzinfo=timezone(timedelta(hours=1))),
            "2025-02-12T10:10:44.00Z",
        ),
        (datetime(2025, 2, 12, 10, 10, 44), "2025-02-12T10:10:44.00Z"),
    ],
    ids=["centiseconds", "truncated-not-rounded", "offset-to-utc", "naive-is-utc"],
)
def test_dates_are_formatted_like_the_reference(value: datetime, text: str) -> None:
    assert format_datetime(value) == text


def test_formatted_datetimes_parse_back_to_the_same_instant() -> None:
    value = datetime(2025, 3, 1, 23, 59, 59, 650000, tzinfo=UTC)

    assert parse_datetime(format_datetime(value)) == value


# --- enums and derived values ------------------------------------------------------------------

EXPECTED_STATUS = {
    "DraftCustomer": "Draft",
    "DraftAgent": "Draft",
    "DraftDelayedStart": "Draft",
    "DraftDelayedUpgrade": "Draft",
    "ActiveRunning": "Active",
    "ActiveDelayedUpgrade": "Active",
    "ActiveDelayedTermination": "Active",
    "ActiveDelayedSuspension": "Active",
    "SuspendedAgent": "Suspended",
    "SuspendedNoPaymentInfo": "Suspended",
    "SuspendedPaymentDue": "Suspended",
    "EndedComplete": "Ended",
    "EndedUpgrade": "Ended",
    "EndedTerminated": "Ended",
    "Deleted": "Deleted",
}


def test_the_state_table_lists_every_state() -> None:
    assert {state.value for state in StateSubscription} == set(EXPECTED_STATUS)


@pytest.mark.parametrize("state", list(EXPECTED_STATUS))
def test_every_state_belongs_to_its_status(state: str) -> None:
    assert StateSubscription(state).status is SubscriptionStatus(EXPECTED_STATUS[state])


@pytest.mark.parametrize(
    ("status", "active", "suspended"),
    [
        ("Active", True, False),
        ("Suspended", False, True),
        ("Draft", False, False),
        (ABSENT, False, False),
    ],
)
def test_subscription_status_helpers(status: Any, active: bool, suspended: bool) -> None:
    subscription = Subscription.from_json(payloads.subscription(Status=status))

    assert (subscription.is_active, subscription.is_suspended) == (active, suspended)


@pytest.mark.parametrize(
    ("overrides", "remaining", "unlimited"),
    [
        ({}, 7, False),
        ({"QuantityCurrent": 12}, -2, False),
        ({"QuantityCurrent": 10}, 0, False),
        ({"QuantityCurrent": ABSENT}, None, True),
        ({"TypeFeature": "Consumption", "QuantityCurrent": ABSENT}, None, True),
        ({"TypeFeature": "Consumption", "QuantityIncluded": 100, "QuantityCurrent": 40}, 60, False),
    ],
    ids=[
        "seats-left",
        "over-the-included-quantity",
        "exactly-used-up",
        "absent-current-is-unlimited",
        "consumption-unlimited",
        "consumption-counted",
    ],
)
def test_usage_remaining_and_unlimited(
    overrides: dict[str, Any], remaining: int | None, unlimited: bool
) -> None:
    usage = Usage.from_json(payloads.usage(**overrides))

    assert (usage.remaining, usage.is_unlimited) == (remaining, unlimited)


def test_an_on_off_usage_has_no_quantity_and_is_not_unlimited() -> None:
    usage = Usage.from_json(payloads.on_off_usage())

    assert (usage.remaining, usage.is_unlimited, usage.is_enabled) == (None, False, True)


@pytest.mark.parametrize(
    ("overrides", "due", "free"),
    [
        ({}, 31875, False),
        ({"AmountTotalDue": ABSENT}, 31875, False),
        ({"AmountTotalDue": ABSENT, "AmountTotal": 1626}, 1626, False),
        ({"AmountTotalDue": 0, "AmountTotal": 1626}, 0, True),
        ({"AmountTotalDue": ABSENT, "AmountTotal": ABSENT}, 0, True),
    ],
    ids=[
        "total-due",
        "guide-shape-without-total-due",
        "falls-back-to-amount-total",
        "zero-due-is-not-skipped",
        "no-amount-is-free",
    ],
)
def test_quote_amount_due(overrides: dict[str, Any], due: int, free: bool) -> None:
    quote = Quote.from_json(payloads.quote(**overrides))

    assert (quote.amount_due, quote.is_free) == (due, free)


def test_a_quote_nests_its_next_term_and_details() -> None:
    quote = Quote.from_json(payloads.quote())

    assert quote.next_term is not None
    assert quote.next_term.amount_due == 30000
    assert quote.next_term.next_term is None
    assert quote.next_term.details == ()
    assert quote.details[0].label_localized == "Feature - prorated adjustment - Active Users"


@pytest.mark.parametrize(
    ("type_payment", "has_method"),
    [
        (ABSENT, False),
        ("Undefined", False),
        ("Free", False),
        ("Card", True),
        ("DirectDebit", True),
        ("ExternalBank", True),
    ],
)
def test_payment_settings_know_whether_a_payment_method_exists(
    type_payment: Any, has_method: bool
) -> None:
    settings = PaymentSettings.from_json(payloads.payment_settings(TypePayment=type_payment))

    assert settings.has_payment_method is has_method


def test_feature_properties_read_as_flags() -> None:
    offer = Offer.from_json(payloads.offer())

    assert offer.features[0].property_flags == {
        "UpdatableBeforeSubscription",
        "UpdatableAfterSubscription",
        "FreeInTrial",
    }
    assert offer.features[1].property_flags == frozenset()


def test_a_credit_note_is_an_invoice_with_a_type_credit() -> None:
    credit = Invoice.from_json(payloads.invoice(TypeCredit="Refund", AmountTotal=-131400))

    assert (credit.type_credit, credit.amount_total) == ("Refund", -131400)


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("envelope", "has_next"),
    [
        (payloads.page([payloads.usage()] * 10, page=1, size_page=10, total=25), True),
        (payloads.page([payloads.usage()] * 10, page=2, size_page=10, total=25), True),
        (payloads.page([payloads.usage()] * 5, page=3, size_page=10, total=25), False),
        (payloads.page([payloads.usage()] * 10, page=1, size_page=10, total=10), False),
        (
            {
                "Items": [payloads.usage()],
                "Links": [payloads.link("next", href="/v1/Usages?Page=2")],
            },
            True,
        ),
        ({"Items": [], "Links": [payloads.link("next", href="/v1/Usages?Page=2")]}, False),
        (payloads.page([]), False),
    ],
    ids=[
        "first-of-three",
        "second-of-three",
        "last-of-three",
        "single-full-page",
        "next-link-without-totals",
        "next-link-on-an-empty-page",
        "empty",
    ],
)
def test_page_has_next(envelope: dict[str, Any], has_next: bool) -> None:
    assert Page.from_json(envelope, Usage).has_next is has_next


def test_a_page_reads_the_whole_envelope() -> None:
    page = Page.from_json(
        payloads.page([payloads.usage(), payloads.on_off_usage()], page=2, size_page=2, total=5),
        Usage,
    )

    assert (page.page, page.size_page, page.count, page.total_items) == (2, 2, 2, 5)
    assert page.date_generated == datetime(2025, 5, 10, 18, 33, 16, 280000, tzinfo=UTC)
    assert [usage.reference_feature for usage in page] == ["feat-users", "feat-support"]
    assert page.computations is None


def test_a_bare_array_is_a_complete_page() -> None:
    page = Page.from_json([payloads.usage(), payloads.on_off_usage()], Usage)

    assert (len(page), page.total_items, page.has_next) == (2, 2, False)


def test_an_empty_page_has_nothing() -> None:
    page: Page[Usage] = Page.empty()

    assert (list(page), page.total_items, page.has_next, page.links.rels()) == ([], 0, False, [])


@pytest.mark.parametrize("data", ["nope", 42, None])
def test_a_page_needs_an_object_or_an_array(data: Any) -> None:
    with pytest.raises(TypeError):
        Page.from_json(data, Usage)
