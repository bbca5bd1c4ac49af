"""Paging when the service leaves out ``TotalItems`` or keeps saying ``next``."""

from __future__ import annotations

import pytest
import responses

from bridge.client import ProAbonoClient
from bridge.errors import BillingUnavailable
from tests.bridge import payloads

BASE = "https://api-2.proabono.com"


def client() -> ProAbonoClient:
    return ProAbonoClient(BASE, "agent", "key", retries=0)


@responses.activate
def test_a_next_link_without_total_items_is_followed() -> None:
    first = payloads.page([payloads.usage(ReferenceFeature="a")], TotalItems=payloads.ABSENT)
    first["Links"] = [payloads.link("next", href="/v1/Usages?Page=2")]
    second = payloads.page([payloads.usage(ReferenceFeature="b")], TotalItems=payloads.ABSENT)
    responses.get(f"{BASE}/v1/Usages", json=first)
    responses.get(f"{BASE}/v1/Usages", json=second)
    features = [u.reference_feature for u in client().iter_usages("cust-42")]
    assert features == ["a", "b"]


@responses.activate
def test_a_service_that_never_stops_saying_next_cannot_hang_the_caller(monkeypatch) -> None:
    monkeypatch.setattr("bridge.transport.MAX_PAGES", 5)
    endless = payloads.page([payloads.usage()], size_page=1, total=10**9)
    responses.get(f"{BASE}/v1/Usages", json=endless)
    with pytest.raises(BillingUnavailable, match="pagination did not end"):
        list(client().iter_usages("cust-42"))
    assert len(responses.calls) == 5


@responses.activate
def test_an_empty_answer_where_an_object_is_expected_is_an_outage_not_a_not_found() -> None:
    responses.get(f"{BASE}/v1/Customer", body="", status=200)
    with pytest.raises(BillingUnavailable, match="empty answer"):
        client().get_customer("cust-42")


@responses.activate
def test_an_unreadable_date_in_an_answer_is_an_outage_not_a_crash() -> None:
    page = payloads.page([payloads.usage()], DateGenerated="not-a-date")
    responses.get(f"{BASE}/v1/Usages", json=page)
    with pytest.raises(BillingUnavailable, match="unexpected"):
        client().get_usages("cust-42")
