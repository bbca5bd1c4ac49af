"""ProAbonoClient, customers: ``/v1/Customer*`` requests on the wire and the answers callers get."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from bridge.client import ProAbonoClient
from bridge.errors import BillingNotFound
from bridge.models import BillingAddress, Customer, PaymentSettings
from tests.bridge import payloads
from tests.bridge.fake_billing import (
    FakeBilling,
    Route,
    ids,
    items_of,
    model,
    page_of,
    upsert,
)

ROUTES = [
    Route(
        name="get_customer",
        call=lambda c: c.get_customer("cust-42"),
        method="GET",
        path="/v1/Customer",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.customer(),
        expect=model(Customer),
    ),
    Route(
        name="get_customer",
        variant="with-offer",
        call=lambda c: c.get_customer("cust-42", reference_offer="offer-starter"),
        method="GET",
        path="/v1/Customer",
        query={"ReferenceCustomer": "cust-42", "ReferenceOffer": "offer-starter"},
        answer=payloads.customer(
            Links=[
                payloads.link("insite-home", href="https://demo-eur.proabono.com/portal-auth/x"),
                payloads.link("insite-subscribe", query="s9Vb3Kd"),
            ]
        ),
        expect=model(Customer),
    ),
    Route(
        name="find_customer",
        call=lambda c: c.find_customer("cust-42"),
        method="GET",
        path="/v1/Customer",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.customer(),
        expect=model(Customer),
    ),
    Route(
        name="upsert_customer",
        variant="created-with-every-field",
        call=lambda c: c.upsert_customer(
            "cust-42",
            email="john@doe.com",
            name="John Doe",
            language="en",
            reference_offer="offer-starter",
            reference_affiliation="janesmith",
            metadata={"Gender": "Male", "Kids": 3},
        ),
        method="POST",
        path="/v1/Customer",
        body={
            "ReferenceCustomer": "cust-42",
            "Email": "john@doe.com",
            "Name": "John Doe",
            "Language": "en",
            "ReferenceOffer": "offer-starter",
            "ReferenceAffiliation": "janesmith",
            "Metadata": {"Gender": "Male", "Kids": 3},
        },
        status=201,
        answer=payloads.customer(),
        expect=upsert(created=True),
        segment="body",
    ),
    Route(
        name="upsert_customer",
        variant="updated-only-given-fields",
        call=lambda c: c.upsert_customer("cust-42", email="new@doe.com"),
        method="POST",
        path="/v1/Customer",
        body={"ReferenceCustomer": "cust-42", "Email": "new@doe.com"},
        status=200,
        answer=payloads.customer(Email="new@doe.com"),
        expect=upsert(created=False),
        segment="body",
    ),
    Route(
        name="list_customers",
        call=lambda c: c.list_customers(),
        method="GET",
        path="/v1/Customers",
        query={"Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.customer()], size_page=100),
        expect=page_of(Customer),
        segment="query",
    ),
    Route(
        name="list_customers",
        variant="by-feature-page-2",
        call=lambda c: c.list_customers(reference_feature="feat-users", page=2, size_page=1),
        method="GET",
        path="/v1/Customers",
        query={"ReferenceFeature": "feat-users", "Page": "2", "SizePage": "1"},
        answer=payloads.page([payloads.customer()], page=2, size_page=1, total=3),
        expect=page_of(Customer),
        segment="query",
    ),
    Route(
        name="iter_customers",
        call=lambda c: list(c.iter_customers(reference_feature="feat-users")),
        method="GET",
        path="/v1/Customers",
        query={"ReferenceFeature": "feat-users", "Page": "1", "SizePage": "100"},
        answer=payloads.page([payloads.customer(), payloads.customer(Id=233701)], size_page=100),
        expect=items_of(Customer),
        segment="query",
    ),
    Route(
        name="suspend_customer",
        call=lambda c: c.suspend_customer("cust-42"),
        method="POST",
        path="/v1/Customer/Suspension",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.customer(Status="Suspended", Links=[]),
        expect=model(Customer),
    ),
    Route(
        name="revoke_customer_links",
        call=lambda c: c.revoke_customer_links("cust-42"),
        method="POST",
        path="/v1/Customer/LinksRevokation",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.customer(),
        expect=model(Customer),
    ),
    Route(
        name="get_billing_address",
        call=lambda c: c.get_billing_address("cust-42"),
        method="GET",
        path="/v1/CustomerAddressBilling",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.billing_address(),
        expect=model(BillingAddress),
    ),
    Route(
        name="update_billing_address",
        call=lambda c: c.update_billing_address(
            "cust-42",
            first_name="Ada",
            address_line1="1 Analytical Way",
            address_line2=None,
            zip_code="75001",
            country="FR",
            tax_information="FR1234567890",
        ),
        method="POST",
        path="/v1/CustomerAddressBilling",
        query={"ReferenceCustomer": "cust-42"},
        body={
            "FirstName": "Ada",
            "AddressLine1": "1 Analytical Way",
            "ZipCode": "75001",
            "Country": "FR",
            "TaxInformation": "FR1234567890",
        },
        answer=payloads.billing_address(FirstName="Ada", AddressLine1="1 Analytical Way"),
        expect=model(BillingAddress),
    ),
    Route(
        name="get_payment_settings",
        call=lambda c: c.get_payment_settings("cust-42"),
        method="GET",
        path="/v1/CustomerSettingsPayment",
        query={"ReferenceCustomer": "cust-42"},
        answer=payloads.payment_settings(),
        expect=model(PaymentSettings),
    ),
    Route(
        name="update_payment_settings",
        call=lambda c: c.update_payment_settings(
            "cust-42", type_payment="ExternalCheck", note_invoice="PO.1", is_auto_billing=False
        ),
        method="POST",
        path="/v1/CustomerSettingsPayment",
        query={"ReferenceCustomer": "cust-42"},
        body={"TypePayment": "ExternalCheck", "NoteInvoice": "PO.1", "IsAutoBilling": False},
        answer=payloads.payment_settings(TypePayment="ExternalCheck", NoteInvoice="PO.1"),
        expect=model(PaymentSettings),
    ),
]


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@pytest.mark.parametrize("route", ROUTES, ids=ids(ROUTES))
def test_request_on_the_wire_and_parsed_answer(billing: FakeBilling, route: Route) -> None:
    billing.check(route)


def test_a_customer_is_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Customer", payloads.customer())

    customer = billing.client.get_customer("cust-42")

    assert (customer.id, customer.id_segment) == (233700, 69)
    assert customer.date_affiliation == datetime(2025, 12, 3, 17, 7, 35, 40000, tzinfo=UTC)
    assert customer.metadata is not None
    assert customer.metadata["Kids"] == 3
    home = customer.links.get("insite-home")
    assert home is not None
    assert home.href == "https://demo-eur.proabono.com/portal-auth/Ae8Kd2"
    register = customer.links.get("insite-register")
    assert register is not None
    assert register.query == "r7Xw2Pz"
    assert register.href is None
    assert customer.links.rels() == ["insite-home", "insite-collection-offers", "insite-register"]


def test_find_customer_answers_none_for_an_unknown_reference(billing: FakeBilling) -> None:
    not_found = payloads.error("Error.Api.Customer.NotFound", "Customer not found")
    billing.reply("GET", "/v1/Customer", not_found, status=404)

    assert billing.client.find_customer("cust-unknown") is None


def test_get_customer_raises_not_found_for_an_unknown_reference(billing: FakeBilling) -> None:
    not_found = payloads.error("Error.Api.Customer.NotFound", "Customer not found")
    billing.reply("GET", "/v1/Customer", not_found, status=404)

    with pytest.raises(BillingNotFound):
        billing.client.get_customer("cust-unknown")


def test_payment_settings_are_parsed_into_typed_fields(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/CustomerSettingsPayment", payloads.payment_settings())

    settings = billing.client.get_payment_settings("cust-42")

    assert settings.is_grey_listed is False
    assert settings.date_next_billing == datetime(2025, 8, 29, 20, 36, 53, tzinfo=UTC)
    assert settings.has_payment_method


@pytest.mark.parametrize("type_payment", ["Card", "DirectDebit", "Free", "Wallet"])
def test_only_manual_payment_types_can_be_written(type_payment: str) -> None:
    # No answer is registered: a request would fail the test with an unexpected call.
    with FakeBilling() as fake, pytest.raises(ValueError, match="cannot be written"):
        fake.client.update_payment_settings("cust-42", type_payment=type_payment)
    assert fake.sent() == []


def test_an_unknown_billing_address_field_is_refused_before_any_request() -> None:
    with FakeBilling() as fake, pytest.raises(ValueError, match="postcode"):
        fake.client.update_billing_address("cust-42", city="Paris", postcode="75001")
    assert fake.sent() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_customer(""),
        lambda c: c.upsert_customer(""),
        lambda c: c.suspend_customer(""),
        lambda c: c.get_billing_address(""),
    ],
    ids=["get_customer", "upsert_customer", "suspend_customer", "get_billing_address"],
)
def test_an_empty_customer_reference_is_refused_before_any_request(
    call: Callable[[ProAbonoClient], object],
) -> None:
    with FakeBilling() as fake, pytest.raises(ValueError, match="reference_customer"):
        call(fake.client)
    assert fake.sent() == []
