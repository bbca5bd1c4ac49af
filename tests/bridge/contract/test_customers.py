"""Customers: upsert, links, not found, bad references, paging, partial billing address."""

from __future__ import annotations

import pytest

from bridge.errors import BillingInvalid, BillingNotFound, BillingRefused
from tests.bridge.contract.backend import Backend


def test_upsert_creates_then_updates_only_the_given_fields(backend: Backend) -> None:
    backend.given_no_customer("cust-1")

    first = backend.client.upsert_customer("cust-1", email="ada@example.com", name="Ada")
    second = backend.client.upsert_customer("cust-1", name="Ada Lovelace")

    assert first.created is True
    assert (first.customer.email, first.customer.name) == ("ada@example.com", "Ada")
    assert second.created is False
    assert second.customer.id == first.customer.id
    assert (second.customer.email, second.customer.name) == ("ada@example.com", "Ada Lovelace")
    fetched = backend.client.get_customer("cust-1")
    assert (fetched.email, fetched.name, fetched.status) == (
        "ada@example.com",
        "Ada Lovelace",
        "Enabled",
    )


def test_a_customer_carries_its_portal_links_and_their_legacy_twins(backend: Backend) -> None:
    backend.given_customer("cust-1", email="ada@example.com")

    links = backend.client.get_customer("cust-1").links

    home = links.get("insite-home")
    assert home is not None
    assert (home.href or "").startswith("http")
    for rel in ("insite-collection-offers", "insite-register"):
        link = links.get(rel)
        assert link is not None, rel
        assert link.query, rel
    for legacy, current in [
        ("hosted-home", "insite-home"),
        ("hosted-collection-offers", "insite-collection-offers"),
        ("hosted-register", "insite-register"),
    ]:
        assert links.get(legacy) == links.get(current), legacy
    assert links.get("insite-subscribe") is None


def test_a_reference_offer_adds_the_subscribe_link(backend: Backend) -> None:
    backend.given_customer("cust-1")

    read = backend.client.get_customer("cust-1", reference_offer="starter")
    written = backend.client.upsert_customer("cust-1", reference_offer="starter").customer

    for customer in (read, written):
        subscribe = customer.links.get("insite-subscribe")
        assert subscribe is not None
        assert subscribe.query


def test_an_unknown_customer_is_not_found(backend: Backend) -> None:
    backend.given_no_customer("nobody")

    with pytest.raises(BillingNotFound) as caught:
        backend.client.get_customer("nobody")

    assert caught.value.status == 404
    assert backend.client.find_customer("nobody") is None


@pytest.mark.parametrize(
    "reference",
    [pytest.param("x" * 51, id="over-50-chars"), pytest.param("cust<1>", id="forbidden-chars")],
)
def test_an_invalid_reference_is_refused_with_the_422_error_array(
    backend: Backend, reference: str
) -> None:
    with pytest.raises(BillingInvalid) as caught:
        backend.client.upsert_customer(reference)

    error = caught.value
    assert error.status == 422
    assert error.errors, "a 422 lists why"
    assert all((item.code or "").startswith("Error.") and item.message for item in error.errors)
    assert [item.target for item in error.errors] == ["ReferenceCustomer"]


def test_customers_are_listed_page_after_page(backend: Backend) -> None:
    references = [f"cust-{n}" for n in range(1, 6)]
    for reference in references:
        backend.given_customer(reference)

    listed = [c.reference_customer for c in backend.client.iter_customers(size_page=2)]
    first = backend.client.list_customers(size_page=2)
    last = backend.client.list_customers(page=3, size_page=2)

    assert listed == references
    assert (len(first), first.total_items, first.has_next) == (2, 5, True)
    assert first.links.get("next") is not None
    assert ([c.reference_customer for c in last], last.has_next) == (["cust-5"], False)
    assert last.links.get("next") is None


def test_a_billing_address_update_changes_only_the_given_fields(backend: Backend) -> None:
    backend.given_customer("cust-1")

    backend.client.update_billing_address("cust-1", city="Lyon", zip_code="69002")
    updated = backend.client.update_billing_address("cust-1", country="FR")

    assert (updated.city, updated.zip_code, updated.country) == ("Lyon", "69002", "FR")
    fetched = backend.client.get_billing_address("cust-1")
    assert (fetched.city, fetched.zip_code, fetched.country) == ("Lyon", "69002", "FR")


def test_the_billing_address_of_an_unknown_customer_is_refused(backend: Backend) -> None:
    backend.given_no_customer("nobody")

    with pytest.raises(BillingRefused) as caught:
        backend.client.get_billing_address("nobody")

    assert caught.value.status == 403


def test_revoking_links_answers_new_ones(backend: Backend) -> None:
    backend.given_customer("cust-1")
    before = backend.client.get_customer("cust-1").links

    after = backend.client.revoke_customer_links("cust-1").links

    for rel in ("insite-home", "insite-collection-offers", "insite-register"):
        old, new = before.get(rel), after.get(rel)
        assert old is not None, rel
        assert new is not None, rel
        assert (new.href, new.query) != (old.href, old.query), rel


def test_a_suspended_customer_loses_every_link(backend: Backend) -> None:
    backend.given_customer("cust-1")

    suspended = backend.client.suspend_customer("cust-1")

    assert (suspended.status, suspended.links.rels()) == ("Suspended", [])
    assert backend.client.get_customer("cust-1").status == "Suspended"
