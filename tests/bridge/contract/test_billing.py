"""Invoices: a customer never billed has none (204 on the wire, an empty page to the caller)."""

from __future__ import annotations

from tests.bridge.contract.backend import Backend


def test_a_customer_never_billed_has_no_invoices(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "welcome", started=True)

    page = backend.client.list_invoices(reference_customer="cust-1")

    assert (len(page), page.total_items, page.has_next) == (0, 0, False)
    assert list(backend.client.iter_invoices(reference_customer="cust-1")) == []
