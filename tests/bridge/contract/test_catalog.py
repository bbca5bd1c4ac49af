"""The catalog: offers with their features and prices in cents, features, an unknown feature."""

from __future__ import annotations

from tests.bridge.contract.backend import Backend

DEMO_FEATURES = {"premium-articles": "OnOff", "downloads": "Consumption", "seats": "Limitation"}


def test_offers_list_the_demo_offers_with_their_features(backend: Backend) -> None:
    offers = {o.reference_offer: o for o in backend.client.list_offers()}

    assert {"welcome", "starter", "pro"} <= set(offers)
    for reference in ("welcome", "starter", "pro"):
        features = {f.reference_feature: f.type_feature for f in offers[reference].features}
        assert features == DEMO_FEATURES, reference
    included = {
        reference: {f.reference_feature: f.quantity_included for f in offers[reference].features}
        for reference in ("welcome", "starter", "pro")
    }
    assert included["welcome"] == {"premium-articles": None, "downloads": 3, "seats": 1}
    assert included["starter"] == {"premium-articles": None, "downloads": 10, "seats": 1}
    assert included["pro"] == {"premium-articles": None, "downloads": 100, "seats": 5}


def test_offer_prices_are_integer_cents(backend: Backend) -> None:
    offers = {o.reference_offer: o for o in backend.client.list_offers()}

    welcome, starter = offers["welcome"], offers["starter"]
    assert (welcome.is_priced, welcome.amount_recurrence) == (False, 0)
    assert (starter.is_priced, starter.amount_recurrence, starter.unit_recurrence) == (
        True,
        900,
        "Month",
    )
    assert starter.pricing_total == 1080  # 20% tax of the demo segment


def test_an_offer_read_alone_has_its_subscribe_link(backend: Backend) -> None:
    offer = backend.client.get_offer("starter")

    assert (offer.reference_offer, offer.amount_recurrence) == ("starter", 900)
    subscribe = offer.links.get("insite-subscribe")
    assert subscribe is not None
    assert subscribe.query


def test_features_have_their_types(backend: Backend) -> None:
    listed = {f.reference_feature: f.type_feature for f in backend.client.list_features()}
    seats = backend.client.get_feature("seats")

    assert listed == DEMO_FEATURES
    assert seats is not None
    assert (seats.reference_feature, seats.type_feature) == ("seats", "Limitation")


def test_an_unknown_feature_is_none(backend: Backend) -> None:
    assert backend.client.get_feature("no-such-feature") is None
