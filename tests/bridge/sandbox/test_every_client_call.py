"""Every public call of ``ProAbonoClient`` works against the sandbox, on both backends.

The scenario records which client methods it used; a method added to the client and not played
here fails the last assertion, so the sandbox never silently falls behind the client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bridge.client import ProAbonoClient, UsageChange
from bridge.models import (
    BalanceLine,
    BillingAddress,
    Customer,
    Feature,
    Invoice,
    Offer,
    Page,
    PaymentSettings,
    Quote,
    Subscription,
    Usage,
)
from tests.bridge.sandbox.harness import BillingEnv

NOT_BILLING_CALLS = {"close", "request"}


def test_every_client_call_gets_a_typed_answer(billing: BillingEnv) -> None:
    client = billing.client
    used: set[str] = set()

    def call(name: str, /, *args: Any, **kwargs: Any) -> Any:
        used.add(name)
        method: Callable[..., Any] = getattr(client, name)
        result = method(*args, **kwargs)
        if name.startswith("iter_"):
            return list(result)
        return result

    assert isinstance(call("upsert_customer", "cust-1", name="Ada").customer, Customer)
    assert isinstance(call("get_customer", "cust-1"), Customer)
    assert call("find_customer", "nobody") is None
    assert isinstance(call("list_customers"), Page)
    assert [c.reference_customer for c in call("iter_customers")] == ["cust-1"]
    assert isinstance(call("update_billing_address", "cust-1", city="Lyon"), BillingAddress)
    assert call("get_billing_address", "cust-1").city == "Lyon"
    settings = call("update_payment_settings", "cust-1", type_payment="ExternalBank")
    assert isinstance(settings, PaymentSettings)
    assert call("get_payment_settings", "cust-1").type_payment == "ExternalBank"
    billing.register_card("cust-1")

    offers = call("list_offers")
    assert all(isinstance(o, Offer) for o in offers)
    assert isinstance(call("get_offer", "pro"), Offer)
    assert all(isinstance(f, Feature) for f in call("list_features"))
    assert isinstance(call("get_feature", "seats"), Feature)

    assert isinstance(call("quote_subscription", "cust-1", "starter"), Quote)
    draft = call("create_subscription", "cust-1", "starter")
    assert isinstance(draft, Subscription)
    assert isinstance(call("quote_start", draft.id), Quote)
    sub = call("start_subscription", draft.id)
    assert sub.is_active
    assert call("get_subscription", "cust-1").id == sub.id
    assert call("get_subscription_by_id", sub.id).id == sub.id
    assert len(call("list_subscriptions", reference_customer="cust-1")) == 1
    assert len(call("iter_subscriptions", reference_customer="cust-1")) == 1

    change = UsageChange("cust-1", "downloads", increment=1)
    assert isinstance(call("quote_usage", change), Quote)
    assert isinstance(call("record_usage", change), Usage)
    assert len(call("record_usages", [change, change])) == 2
    assert call("get_usage", "cust-1", "downloads").quantity_current == 3
    assert len(call("list_usages", "cust-1")) == 3
    assert len(call("iter_usages", "cust-1")) == 3
    assert len(call("get_usages", "cust-1")) == 3

    assert isinstance(call("add_balance_line", "cust-1", 700, label="Setup"), BalanceLine)
    assert call("list_balance", reference_customer="cust-1").computations is not None
    invoice = call("bill_customer", "cust-1")
    assert isinstance(invoice, Invoice)
    assert call("get_invoice", invoice.id).id == invoice.id
    assert call("get_invoice_by_number", invoice.full_number).id == invoice.id
    assert len(call("list_invoices", reference_customer="cust-1")) == 2
    assert len(call("iter_invoices", reference_customer="cust-1")) == 2

    assert isinstance(call("quote_upgrade", sub.id, "pro"), Quote)
    moved = call("set_subscription_date_term", sub.id, billing.now() + timedelta(days=5))
    assert moved.date_term is not None
    new = call("upgrade_subscription", sub.id, "pro")
    assert call("suspend_subscription", new.id).is_suspended
    assert call("terminate_subscription", new.id).state_subscription == "EndedTerminated"
    assert call("revoke_customer_links", "cust-1").links.get("insite-home") is not None
    assert call("suspend_customer", "cust-1").status == "Suspended"

    public = {
        name
        for name in dir(ProAbonoClient)
        if not name.startswith("_") and callable(getattr(ProAbonoClient, name))
    }
    assert public - NOT_BILLING_CALLS - used == set(), "client calls not played on the sandbox"
