"""Customers through the client: upsert, links, lists, suspension, revocation, address, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from bridge.client import ProAbonoClient
from bridge.errors import BillingInvalid, BillingNotFound, BillingRefused, BillingUnauthorized
from tests.bridge.sandbox.harness import BillingEnv, billing_env, make_client


def test_upsert_creates_then_updates_only_given_fields(billing: BillingEnv) -> None:
    created = billing.client.upsert_customer(
        "cust-42", email="john@doe.com", name="John Doe", language="en", metadata={"Kids": 3}
    )
    assert created.created
    assert created.customer.id is not None
    updated = billing.client.upsert_customer("cust-42", name="Johnny")
    assert not updated.created
    customer = billing.client.get_customer("cust-42")
    assert (customer.name, customer.email, customer.language) == ("Johnny", "john@doe.com", "en")
    assert customer.metadata == {"Kids": 3}
    assert (customer.status, customer.currency, customer.reference_segment) == (
        "Enabled",
        "EUR",
        "demo-eur",
    )
    assert customer.id == created.customer.id


def test_customer_links_and_subscribe_link_for_an_offer(billing: BillingEnv) -> None:
    result = billing.client.upsert_customer("cust-1", reference_offer="starter")
    links = result.customer.links
    home = links.get("insite-home")
    assert home is not None
    assert home.href is not None
    assert home.href.startswith(("http://", "https://"))
    for rel in ("insite-collection-offers", "insite-register", "insite-subscribe"):
        link = links.get(rel)
        assert link is not None
        assert link.query
    assert "hosted-register" in links.rels()
    plain = billing.client.get_customer("cust-1")
    assert plain.links.get("insite-subscribe") is None
    assert plain.links.get("insite-collection-upgrade") is None


def test_collection_upgrade_link_needs_an_active_subscription(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    assert billing.client.get_customer("cust-1").links.get("insite-collection-upgrade")


def test_unknown_customer_is_404(billing: BillingEnv) -> None:
    with pytest.raises(BillingNotFound):
        billing.client.get_customer("nobody")
    assert billing.client.find_customer("nobody") is None


def test_wrong_keys_are_401_in_the_reference_shape(billing: BillingEnv) -> None:
    client = ProAbonoClient(billing.url, "sandbox-agent", "wrong", retries=0)
    with client, pytest.raises(BillingUnauthorized) as info:
        client.get_customer("cust-1")
    assert info.value.status == 401
    assert info.value.code == "Error.Api.Authentication.Failed"


def test_paths_and_query_names_are_case_insensitive(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1", name="Ada")
    status, body = billing.client.request(
        "GET", "/v1/customer", params={"referenceCustomer": "cust-1"}, idempotent=True
    )
    assert (status, body["Name"]) == (200, "Ada")
    status, body = billing.client.request(
        "GET", "/V1/CUSTOMERS", params={"sizepage": "5"}, idempotent=True
    )
    assert (status, body["SizePage"], body["TotalItems"]) == (200, 5, 1)


def test_customers_list_pages_and_filters_by_feature(billing: BillingEnv) -> None:
    for index in range(3):
        billing.client.upsert_customer(f"cust-{index}")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    page = billing.client.list_customers(size_page=2)
    assert (len(page.items), page.total_items, page.has_next) == (2, 3, True)
    assert page.links.get("next") is not None
    assert [c.reference_customer for c in billing.client.iter_customers(size_page=2)] == [
        "cust-0",
        "cust-1",
        "cust-2",
    ]
    with_feature = billing.client.list_customers(reference_feature="downloads")
    assert [c.reference_customer for c in with_feature] == ["cust-1"]
    assert with_feature.items[0].extra["QuantityIncluded"] == 3


def test_suspended_customer_loses_links_and_cannot_subscribe(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    assert billing.client.get_usages("cust-1") != []
    suspended = billing.client.suspend_customer("cust-1")
    assert billing.client.get_usages("cust-1") == []  # rights go with the customer
    assert (suspended.status, suspended.links.rels()) == ("Suspended", [])
    with pytest.raises(BillingRefused):
        billing.client.create_subscription("cust-1", "welcome", try_start=True)


def _open(env: BillingEnv, href: str) -> requests.Response:
    return env.client.session.get(href, timeout=5)


def test_links_open_the_hosted_pages_until_revoked(billing: BillingEnv) -> None:
    customer = billing.client.upsert_customer("cust-1", name="Ada").customer
    home = customer.links.get("insite-home")
    register = customer.links.get("insite-register")
    assert home is not None
    assert register is not None
    assert home.href is not None
    page = _open(billing, home.href)
    assert page.status_code == 200
    assert "Ada (cust-1)" in page.text
    query_url = home.href.split("/portal/")[0] + f"/portal?query={register.query}"
    assert "payment method" in _open(billing, query_url).text

    fresh = billing.client.revoke_customer_links("cust-1")
    assert _open(billing, home.href).status_code == 403
    assert _open(billing, query_url).status_code == 403
    new_home = fresh.links.get("insite-home")
    assert new_home is not None
    assert new_home.href != home.href
    assert _open(billing, new_home.href or "").status_code == 200


def test_a_token_does_not_open_another_page_and_forgeries_fail(billing: BillingEnv) -> None:
    customer = billing.client.upsert_customer("cust-1").customer
    home = customer.links.get("insite-home")
    register = customer.links.get("insite-register")
    assert home is not None
    assert register is not None
    assert home.href is not None
    base = home.href.split("/portal/")[0]
    assert _open(billing, f"{base}/portal/auth/{register.query}").status_code == 403
    forged = (register.query or "")[:-2] + "xx"
    assert _open(billing, f"{base}/portal?query={forged}").status_code == 403


def test_links_expire(billing: BillingEnv) -> None:
    customer = billing.client.upsert_customer("cust-1").customer
    home = customer.links.get("insite-home")
    assert home is not None
    assert home.href is not None
    billing.advance("2d")  # default max age: one day
    assert _open(billing, home.href).status_code == 403


def test_billing_address_under_both_paths_partial_update(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.update_billing_address("cust-1", first_name="Ada", country="FR")
    billing.client.update_billing_address("cust-1", city="Paris")
    address = billing.client.get_billing_address("cust-1")
    assert (address.first_name, address.country, address.city) == ("Ada", "FR", "Paris")
    status, body = billing.client.request(
        "GET",
        "/v1/CustomerBillingAddress",
        params={"ReferenceCustomer": "cust-1"},
        idempotent=True,
    )
    assert (status, body["City"], body["FirstName"]) == (200, "Paris", "Ada")


def test_billing_address_of_unknown_customer_is_403(billing: BillingEnv) -> None:
    with pytest.raises(BillingRefused) as info:
        billing.client.get_billing_address("nobody")
    assert (info.value.status, info.value.code) == (403, "Error.Api.Customer.Unaccessible")


def test_payment_settings_accept_only_manual_types(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    assert not billing.client.get_payment_settings("cust-1").has_payment_method
    settings = billing.client.update_payment_settings("cust-1", type_payment="ExternalBank")
    assert settings.type_payment == "ExternalBank"
    assert billing.client.get_payment_settings("cust-1").has_payment_method
    with pytest.raises(BillingInvalid) as info:
        billing.client.request(
            "POST",
            "/v1/CustomerSettingsPayment",
            params={"ReferenceCustomer": "cust-1"},
            body={"TypePayment": "Card"},
            idempotent=True,
        )
    assert (info.value.status, info.value.errors[0].target) == (422, "TypePayment")
    assert billing.client.get_payment_settings("cust-1").type_payment == "ExternalBank"


def test_second_client_shares_the_same_in_process_sandbox(sandbox_env: BillingEnv) -> None:
    sandbox_env.client.upsert_customer("cust-1", name="Shared")
    with make_client(sandbox_env.url, sandbox_env.app) as other:
        assert other.get_customer("cust-1").name == "Shared"


def test_anonymization_clears_personal_data(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1", name="Ada", email="ada@example.com")
    billing.client.update_billing_address("cust-1", last_name="Lovelace")
    _, body = billing.client.request(
        "POST",
        "/v1/Customer/Anonymization",
        params={"ReferenceCustomer": "cust-1"},
        idempotent=False,
    )
    assert body["Name"] == "## cleared ##"
    assert "Email" not in body
    assert billing.client.get_billing_address("cust-1").last_name is None


def test_invalidation_frees_the_reference(billing: BillingEnv) -> None:
    old = billing.client.upsert_customer("cust-1", name="Ada").customer
    _, body = billing.client.request(
        "POST",
        "/v1/Customer/Invalidation",
        params={"ReferenceCustomer": "cust-1"},
        idempotent=False,
    )
    assert (body["Id"], body["Links"]) == (old.id, [])
    assert body["ReferenceCustomer"] != "cust-1"
    assert billing.client.upsert_customer("cust-1").created


TWO_SEGMENTS = """
[[segment]]
reference = "eur"
currency = "EUR"
[[segment]]
reference = "usd"
currency = "USD"
[[offer]]
reference = "basic"
segment = "eur"
[[offer]]
reference = "basic"
segment = "usd"
amount_recurrence = 500
"""


def test_references_are_unique_per_segment(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(TWO_SEGMENTS)
    with billing_env("in-process", tmp_path / "b.db", catalog_path=catalog) as env:
        euro = ProAbonoClient(env.url, "sandbox-agent", "sandbox-key")
        dollar = ProAbonoClient(env.url, "sandbox-agent", "sandbox-key", segment="usd")
        with euro, dollar:
            euro.upsert_customer("cust-1", name="Euro")
            assert dollar.upsert_customer("cust-1", name="Dollar").created  # another customer

            def read(segment: str) -> tuple[str, str]:
                _, body = euro.request(
                    "GET",
                    "/v1/Customer",
                    params={"ReferenceCustomer": "cust-1", "ReferenceSegment": segment},
                    idempotent=True,
                )
                return body["Name"], body["Currency"]

            assert (read("eur"), read("usd")) == (("Euro", "EUR"), ("Dollar", "USD"))
            assert euro.get_customer("cust-1").name == "Euro"  # no segment: the default one
            assert [o.amount_recurrence for o in dollar.list_offers()] == [500]
