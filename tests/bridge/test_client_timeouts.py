"""No request ever leaves the client without a timeout: every public method is exercised."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest, Response

from bridge.client import ProAbonoClient, UsageChange


class RecordingAdapter(BaseAdapter):
    """Answers every request with an empty JSON object and records the timeout it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any]] = []

    def send(  # type: ignore[override]
        self, request: PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> Response:
        self.sent.append((f"{request.method} {request.path_url}", timeout))
        response = Response()
        response.status_code = 200
        batch = request.method == "POST" and (request.path_url or "").startswith("/v1/Usages")
        response._content = json.dumps([] if batch else {}).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


CHANGE = UsageChange("cust-42", "downloads", increment=1)

# One call per public method. A method missing here fails the test below, so a new client method
# cannot ship without being checked.
CALLS: Mapping[str, Callable[[ProAbonoClient], Any]] = {
    "get_customer": lambda c: c.get_customer("cust-42", reference_offer="offer-pro"),
    "find_customer": lambda c: c.find_customer("cust-42"),
    "upsert_customer": lambda c: c.upsert_customer("cust-42", email="a@b.c"),
    "list_customers": lambda c: c.list_customers(),
    "iter_customers": lambda c: list(c.iter_customers()),
    "suspend_customer": lambda c: c.suspend_customer("cust-42"),
    "revoke_customer_links": lambda c: c.revoke_customer_links("cust-42"),
    "get_billing_address": lambda c: c.get_billing_address("cust-42"),
    "update_billing_address": lambda c: c.update_billing_address("cust-42", city="Paris"),
    "get_payment_settings": lambda c: c.get_payment_settings("cust-42"),
    "update_payment_settings": lambda c: c.update_payment_settings(
        "cust-42", type_payment="ExternalBank"
    ),
    "get_subscription": lambda c: c.get_subscription("cust-42"),
    "get_subscription_by_id": lambda c: c.get_subscription_by_id(1),
    "list_subscriptions": lambda c: c.list_subscriptions(),
    "iter_subscriptions": lambda c: list(c.iter_subscriptions()),
    "create_subscription": lambda c: c.create_subscription("cust-42", "offer-pro", try_start=True),
    "start_subscription": lambda c: c.start_subscription(1),
    "suspend_subscription": lambda c: c.suspend_subscription(1),
    "terminate_subscription": lambda c: c.terminate_subscription(1, immediate=True),
    "upgrade_subscription": lambda c: c.upgrade_subscription(1, "offer-pro"),
    "set_subscription_date_term": lambda c: c.set_subscription_date_term(
        1, datetime(2027, 1, 1, tzinfo=UTC)
    ),
    "list_offers": lambda c: c.list_offers(),
    "get_offer": lambda c: c.get_offer("offer-pro"),
    "list_features": lambda c: c.list_features(),
    "get_feature": lambda c: c.get_feature("downloads"),
    "list_usages": lambda c: c.list_usages("cust-42"),
    "iter_usages": lambda c: list(c.iter_usages("cust-42")),
    "get_usages": lambda c: c.get_usages("cust-42"),
    "get_usage": lambda c: c.get_usage("cust-42", "downloads"),
    "record_usage": lambda c: c.record_usage(CHANGE),
    "record_usages": lambda c: c.record_usages([CHANGE]),
    "quote_usage": lambda c: c.quote_usage(CHANGE),
    "quote_subscription": lambda c: c.quote_subscription("cust-42", "offer-pro"),
    "quote_start": lambda c: c.quote_start(1),
    "quote_upgrade": lambda c: c.quote_upgrade(1, "offer-pro"),
    "list_invoices": lambda c: c.list_invoices(),
    "iter_invoices": lambda c: list(c.iter_invoices()),
    "get_invoice": lambda c: c.get_invoice(1),
    "get_invoice_by_number": lambda c: c.get_invoice_by_number("S-3.00000033"),
    "list_balance": lambda c: c.list_balance(),
    "add_balance_line": lambda c: c.add_balance_line("cust-42", 1500, label="Setup"),
    "bill_customer": lambda c: c.bill_customer("cust-42"),
}

NOT_API_CALLS = {"close", "request"}


def public_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(ProAbonoClient, inspect.isfunction)
        if not name.startswith("_") and name not in NOT_API_CALLS
    }


def test_every_public_method_is_listed() -> None:
    assert public_methods() == set(CALLS)


def test_no_request_is_sent_without_a_timeout() -> None:
    session = requests.Session()
    adapter = RecordingAdapter()
    session.mount("https://", adapter)
    client = ProAbonoClient(
        "https://api-1.proabono.com", "agent", "key", session=session, timeout=7, connect_timeout=2
    )
    for name, call in CALLS.items():
        before = len(adapter.sent)
        call(client)
        assert len(adapter.sent) > before, f"{name} sent no request"
    assert adapter.sent, "no request was recorded"
    assert all(timeout == (2, 7) for _, timeout in adapter.sent), [
        sent for sent in adapter.sent if sent[1] != (2, 7)
    ]


@pytest.mark.parametrize("bad", [{"timeout": 0}, {"connect_timeout": -1}], ids=["read", "connect"])
def test_a_client_without_a_timeout_cannot_be_built(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="timeout"):
        ProAbonoClient("https://api-1.proabono.com", "a", "k", **bad)
