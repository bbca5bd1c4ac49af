"""Offers and features as the pricing table reads them."""

from __future__ import annotations

import pytest

from bridge.errors import BillingNotFound
from tests.bridge.sandbox.harness import BillingEnv


def test_offers_list_with_prices_features_and_links(billing: BillingEnv) -> None:
    offers = {o.reference_offer: o for o in billing.client.list_offers()}
    starter = offers["starter"]
    assert (starter.amount_recurrence, starter.pricing_total, starter.currency) == (
        900,
        1080,
        "EUR",
    )
    assert (starter.unit_recurrence, starter.duration_recurrence, starter.is_priced) == (
        "Month",
        1,
        True,
    )
    assert starter.pricing_localized == "€9.00/month"
    downloads = {f.reference_feature: f for f in starter.features}["downloads"]
    assert (downloads.type_feature, downloads.quantity_included) == ("Consumption", 10)
    assert downloads.pricing_localized == "+€0.50/extra unit"
    assert starter.links.get("insite-subscribe") is not None
    assert offers["welcome"].is_priced is False
    visible = {o.reference_offer for o in billing.client.list_offers(is_visible=True)}
    assert "pro-trial" not in visible
    assert "pro-trial" in offers


def test_offer_read_and_upgrade_options(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    options = billing.client.list_offers(reference_customer="cust-1", upgrade=True)
    assert "starter" not in {o.reference_offer for o in options}
    pro = billing.client.get_offer("pro", id_subscription=sub.id)
    upgrade = pro.links.get("insite-upgrade")
    assert upgrade is not None
    assert upgrade.query
    bare = billing.client.get_offer("pro")
    assert bare.links.get("insite-upgrade") is None
    with pytest.raises(BillingNotFound):
        billing.client.get_offer("nothing")


def test_offers_without_features_pricing_or_links(billing: BillingEnv) -> None:
    (offer,) = [
        o
        for o in billing.client.list_offers(ignore_features=True, links=False)
        if o.reference_offer == "pro"
    ]
    assert (offer.features, offer.links.rels()) == ((), [])


def test_features_list_and_read(billing: BillingEnv) -> None:
    page = billing.client.list_features(size_page=2)
    assert (len(page.items), page.total_items) == (2, 3)
    feature = billing.client.get_feature("seats")
    assert feature is not None
    assert (feature.type_feature, feature.title_localized) == ("Limitation", "Seats")
    assert billing.client.get_feature("nothing") is None
    status, body = billing.client.request("GET", f"/v1/Feature/{feature.id}", idempotent=True)
    assert (status, body["ReferenceFeature"]) == (200, "seats")
