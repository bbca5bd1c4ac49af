"""ProAbonoClient, across endpoints: coverage of the public API, segment, base URL, paging, sizes.

The endpoint tables live with their resource (``test_client_customers.py``,
``test_client_subscriptions.py``, ``test_client_usages.py``, ``test_client_billing.py``); failures
and retries in ``test_client_errors.py``.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pytest
import requests

from bridge.client import ProAbonoClient
from bridge.errors import ConfigError
from tests.bridge import (
    payloads,
    test_client_billing,
    test_client_customers,
    test_client_subscriptions,
    test_client_usages,
)
from tests.bridge.fake_billing import BASE_URL, NO_BODY, FakeBilling, Route, ids

ALL_ROUTES: list[Route] = [
    *test_client_customers.ROUTES,
    *test_client_subscriptions.ROUTES,
    *test_client_usages.ROUTES,
    *test_client_billing.ROUTES,
]

NOT_ENDPOINTS = {"close", "request"}


def test_every_public_method_has_a_row_in_an_endpoint_table() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(ProAbonoClient, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public - NOT_ENDPOINTS == {route.name for route in ALL_ROUTES}


# --- ReferenceSegment ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ALL_ROUTES, ids=ids(ALL_ROUTES))
def test_the_segment_is_sent_exactly_where_the_contract_declares_it(route: Route) -> None:
    with FakeBilling(segment="demo-eur") as fake:
        fake.reply(route.method, route.path, route.answer, status=route.status)
        route.call(fake.client)
        [sent] = fake.sent()

    query, body = dict(route.query), route.body
    if route.segment == "query":
        query["ReferenceSegment"] = "demo-eur"
    elif route.segment == "body":
        body = {**body, "ReferenceSegment": "demo-eur"}
    assert sent.query == query
    assert sent.body == body


def test_usage_pages_never_carry_the_segment() -> None:
    # ProAbono's own tools leave it out of /v1/Usages; every page of an iteration must too.
    with FakeBilling(segment="demo-eur") as fake:
        fake.reply("GET", "/v1/Usages", payloads.page([payloads.usage()], size_page=1, total=2))
        fake.reply(
            "GET", "/v1/Usages", payloads.page([payloads.usage()], page=2, size_page=1, total=2)
        )
        assert len(list(fake.client.iter_usages("cust-42", size_page=1))) == 2
        sent = fake.sent()

    assert [request.query.get("ReferenceSegment") for request in sent] == [None, None]


# --- base URL --------------------------------------------------------------------------------


def test_a_trailing_slash_on_the_url_does_not_double_the_path() -> None:
    with FakeBilling() as fake:
        fake.reply("GET", "/v1/Customer", payloads.customer())
        client = fake.make_client(BASE_URL + "/")
        client.get_customer("cust-42")
        [sent] = fake.sent()

    assert sent.path == "/v1/Customer"


def test_a_plain_http_server_is_a_valid_billing_url() -> None:
    with FakeBilling() as fake:
        fake.api.add("GET", "http://127.0.0.1:8765/v1/Customer", json=payloads.customer())
        client = fake.make_client("http://127.0.0.1:8765")

        assert client.get_customer("cust-42").id == 233700


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "api-2.proabono.com", "https://", "file:///etc/billing.db", ""],
    ids=["ftp", "no-scheme", "no-host", "file", "empty"],
)
def test_an_unsupported_url_is_a_config_error_on_billing_url(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProAbonoClient(url, "agent", "key")

    [problem] = caught.value.problems
    assert problem.key == "billing.url"
    assert repr(url) in problem.message
    assert "billing.url" in str(caught.value)


def test_an_in_process_url_without_its_transport_module_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes the import fail, whether or not bridge/sandbox/ exists yet.
    monkeypatch.setitem(sys.modules, "bridge.sandbox.transport", None)

    with pytest.raises(ConfigError) as caught:
        ProAbonoClient("sandbox:///tmp/billing.db", "agent", "key")

    [problem] = caught.value.problems
    assert problem.key == "billing.url"
    assert "embedded sandbox" in problem.message
    assert "not installed" in problem.message
    assert isinstance(caught.value.__cause__, ImportError)


def test_an_international_host_is_idna_encoded_once() -> None:
    with FakeBilling() as fake:
        fake.api.add(
            "GET", "https://xn--facturation-lbb.example/v1/Customer", json=payloads.customer()
        )
        client = fake.make_client("https://facturation\u00e9.example/")

        assert client.get_customer("cust-42").id == 233700


@pytest.mark.parametrize(
    "url", ["http://exa mple.com", "http://[::1", "https://\u2100.example"], ids=repr
)
def test_a_url_that_cannot_be_parsed_is_a_config_error_on_billing_url(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProAbonoClient(url, "agent", "key")

    [problem] = caught.value.problems
    assert problem.key == "billing.url"
    assert "invalid billing URL" in problem.message


# --- what goes on the wire -------------------------------------------------------------------


def test_a_post_without_body_declares_content_length_zero() -> None:
    # Servers and proxies answer 411 to a body-less POST without Content-Length.
    with FakeBilling() as fake:
        fake.reply("POST", "/v1/Customer/Suspension", payloads.customer())
        fake.client.suspend_customer("cust-42")
        [sent] = fake.sent()

    assert sent.body is NO_BODY
    assert sent.headers["Content-Length"] == "0"
    assert "Content-Type" not in sent.headers


def test_a_json_body_is_utf8_with_its_length_and_type() -> None:
    with FakeBilling() as fake:
        fake.reply("POST", "/v1/Customer", payloads.customer(), status=201)
        fake.client.upsert_customer("cust-42", name="Ren\u00e9e \u00c5str\u00f6m")
        [call] = fake.api.calls

    raw = call.request.body
    assert isinstance(raw, bytes)
    assert json.loads(raw.decode("utf-8"))["Name"] == "Ren\u00e9e \u00c5str\u00f6m"
    assert call.request.headers["Content-Length"] == str(len(raw))
    assert call.request.headers["Content-Type"] == "application/json"


def test_query_values_are_url_encoded() -> None:
    with FakeBilling() as fake:
        fake.reply("GET", "/v1/Customer", payloads.customer())
        fake.client.get_customer("a b+c/\u00e9")
        [sent] = fake.sent()

    assert sent.query["ReferenceCustomer"] == "a b+c/\u00e9"


def test_the_sessions_headers_and_hooks_apply_to_every_call() -> None:
    seen: list[int] = []
    session = requests.Session()
    session.headers["X-Trace"] = "on"
    session.hooks["response"].append(lambda response, **_: seen.append(response.status_code))
    with FakeBilling() as fake:
        fake.reply("GET", "/v1/Customer", payloads.customer())
        client = fake.make_client(session=session)
        client.get_customer("cust-42")
        [sent] = fake.sent()

    assert sent.headers["X-Trace"] == "on"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert seen == [200]


# --- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pager:
    """An ``iter_*`` method, the list it walks, and how to make the n-th item of it."""

    name: str
    iterate: Callable[[ProAbonoClient], Iterator[Any]]
    path: str
    query: dict[str, str]
    item: Callable[[int], dict[str, Any]]
    key: Callable[[Any], Any]


PAGERS = [
    Pager(
        "iter_usages",
        lambda c: c.iter_usages("cust-42", size_page=2),
        "/v1/Usages",
        {"ReferenceCustomer": "cust-42"},
        lambda n: payloads.usage(IdFeature=n, ReferenceFeature=f"feat-{n}"),
        lambda usage: usage.id_feature,
    ),
    Pager(
        "iter_subscriptions",
        lambda c: c.iter_subscriptions(size_page=2),
        "/v1/Subscriptions",
        {},
        lambda n: payloads.subscription(Id=n),
        lambda subscription: subscription.id,
    ),
    Pager(
        "iter_customers",
        lambda c: c.iter_customers(size_page=2),
        "/v1/Customers",
        {},
        lambda n: payloads.customer(Id=n, ReferenceCustomer=f"cust-{n}"),
        lambda customer: customer.id,
    ),
    Pager(
        "iter_invoices",
        lambda c: c.iter_invoices(size_page=2),
        "/v1/Invoices",
        {},
        lambda n: payloads.invoice(Id=n),
        lambda invoice: invoice.id,
    ),
]

SCENARIOS = {
    # name: (item numbers on each page answered, TotalItems claimed, items the caller gets)
    "three-pages-to-total-items": ([[1, 2], [3, 4], [5]], 5, [1, 2, 3, 4, 5]),
    "full-last-page-no-extra-request": ([[1, 2], [3, 4]], 4, [1, 2, 3, 4]),
    "empty-page-stops": ([[1, 2], []], 10, [1, 2]),
    "no-content-204": ([], 0, []),
}


@pytest.mark.parametrize("pager", PAGERS, ids=[p.name for p in PAGERS])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_iteration_follows_pages_until_total_items(pager: Pager, scenario: str) -> None:
    pages, total, expected = SCENARIOS[scenario]
    with FakeBilling() as fake:
        for number, numbers in enumerate(pages, start=1):
            items = [pager.item(n) for n in numbers]
            answer = payloads.page(items, page=number, size_page=2, total=total, path=pager.path)
            fake.reply("GET", pager.path, answer)
        if not pages:
            fake.reply("GET", pager.path, None, status=204)

        # islice: a client that never stops would hang, then time out; this fails it at once.
        got = [pager.key(item) for item in islice(pager.iterate(fake.client), 20)]
        sent = fake.sent()

    assert got == expected
    assert [request.query for request in sent] == [
        {**pager.query, "Page": str(number), "SizePage": "2"}
        for number in range(1, max(len(pages), 1) + 1)
    ]


@pytest.mark.parametrize("pager", PAGERS, ids=[p.name for p in PAGERS])
def test_iteration_fetches_the_next_page_only_when_it_is_reached(pager: Pager) -> None:
    with FakeBilling() as fake:
        first = payloads.page([pager.item(1), pager.item(2)], size_page=2, total=6, path=pager.path)
        fake.reply("GET", pager.path, first)

        iterator = pager.iterate(fake.client)
        assert pager.key(next(iterator)) == 1
        assert pager.key(next(iterator)) == 2

        assert len(fake.sent()) == 1


def test_a_page_carries_the_envelope_totals() -> None:
    with FakeBilling() as fake:
        items = [payloads.subscription(Id=1), payloads.subscription(Id=2)]
        fake.reply("GET", "/v1/Subscriptions", payloads.page(items, size_page=2, total=5))

        page = fake.client.list_subscriptions(size_page=2)

    assert (page.page, page.size_page, page.count, page.total_items) == (1, 2, 2, 5)
    assert page.has_next
    assert page.date_generated == datetime(2025, 5, 10, 18, 33, 16, 280000, tzinfo=UTC)
    next_link = page.links.get("next")
    assert next_link is not None
    assert next_link.href == "/v1/Subscriptions?Page=2"
    assert [s.id for s in page] == [1, 2]
    assert len(page) == 2


def test_a_204_list_is_an_empty_page() -> None:
    with FakeBilling() as fake:
        fake.reply("GET", "/v1/Usages", None, status=204)

        page = fake.client.list_usages("cust-42")

    assert (len(page), page.total_items, page.has_next) == (0, 0, False)


# --- page sizes ------------------------------------------------------------------------------

SIZED_CALLS: dict[str, Callable[[ProAbonoClient, int], Any]] = {
    "list_customers": lambda c, n: c.list_customers(size_page=n),
    "iter_customers": lambda c, n: c.iter_customers(size_page=n),
    "list_subscriptions": lambda c, n: c.list_subscriptions(size_page=n),
    "iter_subscriptions": lambda c, n: c.iter_subscriptions(size_page=n),
    "list_offers": lambda c, n: c.list_offers(size_page=n),
    "list_features": lambda c, n: c.list_features(size_page=n),
    "list_usages": lambda c, n: c.list_usages("cust-42", size_page=n),
    "iter_usages": lambda c, n: c.iter_usages("cust-42", size_page=n),
    "list_invoices": lambda c, n: c.list_invoices(size_page=n),
    "iter_invoices": lambda c, n: c.iter_invoices(size_page=n),
    "list_balance": lambda c, n: c.list_balance(size_page=n),
}


@pytest.mark.parametrize("size", [0, -1, 1001], ids=["zero", "negative", "over-1000"])
@pytest.mark.parametrize("name", list(SIZED_CALLS))
def test_a_page_size_outside_1_to_1000_is_refused_before_any_request(name: str, size: int) -> None:
    with FakeBilling() as fake:
        with pytest.raises(ValueError, match="size_page"):
            SIZED_CALLS[name](fake.client, size)
        assert fake.sent() == []
