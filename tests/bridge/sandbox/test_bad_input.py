"""Bad input gets the reference's error shape and status (422 array, 400, 404), never a 500."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.bridge.sandbox.harness import BillingEnv, make_client

STAMP = "2025-03-03T09:00:00.00Z"


def raw(env: BillingEnv, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request that bypasses the client's own checks (what a broken integration sends)."""
    base = env.client.base_url
    kwargs.setdefault("timeout", 5)
    return env.client.session.request(method, base + path, **kwargs)


@pytest.fixture
def ready(billing: BillingEnv) -> BillingEnv:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    return billing


def test_malformed_json_is_400(ready: BillingEnv) -> None:
    response = raw(
        ready,
        "POST",
        "/v1/Customer",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["Code"] == "Error.Api.Request.Malformed"


def test_a_json_array_where_an_object_is_expected_is_400(ready: BillingEnv) -> None:
    response = raw(ready, "POST", "/v1/Usage", json=[1, 2])
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "target"),
    [
        pytest.param({"ReferenceCustomer": "x" * 51}, "ReferenceCustomer", id="too-long"),
        *[
            pytest.param({"ReferenceCustomer": f"a{c}b"}, "ReferenceCustomer", id=f"char-{c}")
            for c in '<>;"=?&'
        ],
        pytest.param({"Email": "a@b.c"}, "ReferenceCustomer", id="missing"),
        pytest.param({"ReferenceCustomer": 42.5}, "ReferenceCustomer", id="wrong-type"),
        pytest.param({"ReferenceCustomer": "c", "Metadata": "x"}, "Metadata", id="metadata"),
    ],
)
def test_invalid_customer_is_422_array(ready: BillingEnv, body: Any, target: str) -> None:
    response = raw(ready, "POST", "/v1/Customer", json=body)
    assert response.status_code == 422
    errors = response.json()
    assert isinstance(errors, list)
    assert errors[0]["Target"] == target
    assert errors[0]["Code"].startswith("Error.")
    assert errors[0]["Message"]


@pytest.mark.parametrize(
    ("body", "targets"),
    [
        pytest.param(
            {"ReferenceCustomer": "cust-1", "ReferenceFeature": "downloads", "Increment": "two"},
            {"Increment", "DateStamp"},
            id="string-increment-and-no-stamp",
        ),
        pytest.param(
            {
                "ReferenceCustomer": "cust-1",
                "ReferenceFeature": "downloads",
                "Increment": 1,
                "DateStamp": "2999-01-01T00:00:00.00Z",
            },
            {"DateStamp"},
            id="future-stamp",
        ),
        pytest.param(
            {
                "ReferenceCustomer": "cust-1",
                "ReferenceFeature": "downloads",
                "Increment": 1,
                "QuantityCurrent": 3,
                "DateStamp": STAMP,
            },
            {"Increment"},
            id="two-changes",
        ),
        pytest.param(
            {
                "ReferenceCustomer": "cust-1",
                "ReferenceFeature": "premium-articles",
                "IsEnabled": "yes",
                "DateStamp": "yesterday",
            },
            {"IsEnabled", "DateStamp"},
            id="bad-bool-and-date",
        ),
    ],
)
def test_invalid_usage_is_422_listing_every_problem(
    ready: BillingEnv, body: Any, targets: set[str]
) -> None:
    response = raw(ready, "POST", "/v1/Usage", json=body)
    assert response.status_code == 422
    assert {e["Target"] for e in response.json()} == targets


def test_unknown_references_are_404(ready: BillingEnv) -> None:
    cases = [
        ("GET", "/v1/Customer", {"params": {"ReferenceCustomer": "nobody"}}),
        ("GET", "/v1/Subscription/1", {}),
        ("GET", "/v1/Subscription", {"params": {"ReferenceCustomer": "nobody"}}),
        ("GET", "/v1/Offer", {"params": {"ReferenceOffer": "nothing"}}),
        ("GET", "/v1/Invoice/1", {}),
        (
            "POST",
            "/v1/Subscription",
            {"json": {"ReferenceCustomer": "nobody", "ReferenceOffer": "pro"}},
        ),
        (
            "POST",
            "/v1/Subscription",
            {"json": {"ReferenceCustomer": "cust-1", "ReferenceOffer": "x"}},
        ),
        ("POST", "/v1/Subscription/1/Start", {}),
        ("GET", "/v1/NoSuchThing", {}),
    ]
    for method, path, kwargs in cases:
        response = raw(ready, method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["Code"].startswith("Error.Api."), (method, path)


def test_unknown_feature_is_204(ready: BillingEnv) -> None:
    response = raw(ready, "GET", "/v1/Feature", params={"ReferenceFeature": "nothing"})
    assert (response.status_code, response.content) == (204, b"")


def test_wrong_query_types_are_422(ready: BillingEnv) -> None:
    response = raw(ready, "GET", "/v1/Customers", params={"SizePage": "many", "Page": "0"})
    assert response.status_code == 422
    assert {e["Target"] for e in response.json()} == {"SizePage", "Page"}
    response = raw(
        ready,
        "POST",
        "/v1/Subscription",
        params={"TryStart": "maybe"},
        json={"ReferenceCustomer": "cust-1", "ReferenceOffer": "welcome"},
    )
    assert response.status_code == 422


def test_batch_elements_are_named_by_index(ready: BillingEnv) -> None:
    body = [
        {
            "ReferenceCustomer": "cust-1",
            "ReferenceFeature": "downloads",
            "Increment": 1,
            "DateStamp": STAMP,
        },
        "not an object",
        {"ReferenceCustomer": "cust-1", "ReferenceFeature": "downloads", "DateStamp": STAMP},
    ]
    response = raw(ready, "POST", "/v1/Usages", json=body)
    assert response.status_code == 422
    assert {e["Target"] for e in response.json()} == {"[1]", "[2].Increment"}


def test_fuzzed_bodies_never_answer_500(ready: BillingEnv) -> None:
    bodies: list[Any] = [
        None,
        0,
        "x",
        [],
        {},
        {"ReferenceCustomer": None},
        {"ReferenceCustomer": []},
        {"ReferenceCustomer": {"a": 1}},
        {"Features": "x"},
        {"DateStart": 5},
    ]
    paths = [
        "/v1/Customer",
        "/v1/Subscription",
        "/v1/Usage",
        "/v1/Usages",
        "/v1/Quoting/Usage",
        "/v1/Quoting/Subscription",
        "/v1/BalanceLine",
        "/v1/Billing/Customer",
        "/v1/CustomerAddressBilling",
        "/v1/Subscription/1/Upgrade",
    ]
    for path in paths:
        for body in bodies:
            response = raw(ready, "POST", path, json=body)
            assert response.status_code < 500, (path, body, response.text)
            if (path, body) == ("/v1/Usages", []):
                assert (response.status_code, response.json()) == (200, [])  # an empty batch
            else:
                assert response.status_code in (400, 403, 404, 409, 422), (path, body)


def test_wrong_credentials_on_every_api_surface(ready: BillingEnv) -> None:
    with make_client(ready.url, ready.app) as client:
        client.session.auth = ("sandbox-agent", "nope")
        for path in ("/v1/Customers", "/_sandbox/Clock"):
            response = client.session.get(client.base_url + path, timeout=5)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic")
            assert response.json()["Code"] == "Error.Api.Authentication.Failed"
