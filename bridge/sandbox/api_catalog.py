"""Catalog endpoints: ``Offers``, ``Offer``, ``Features``, ``Feature`` (read-only, from the TOML).

``GET /v1/Feature`` answers 204 for an unknown reference, as the contract says; ``/v1/Feature/{id}``
answers 404. With ``ReferenceCustomer`` plus ``Upgrade`` (or ``IdSubscription``), offers list only
the ones the customer can move to and carry ``insite-upgrade`` links.
"""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.sandbox.api import Args, envelope, json_response, link_maker, no_content, paginate
from bridge.sandbox.api import sandbox as current
from bridge.sandbox.catalog import OfferDef
from bridge.sandbox.errors import not_found
from bridge.sandbox.ledger import Row, require_customer
from bridge.sandbox.views import Json, feature_json, offer_json

bp = Blueprint("sandbox_catalog", __name__)


def _offer_body(
    args: Args, offer: OfferDef, customer: Row | None, id_subscription: int | None, upgrade: bool
) -> Json:
    ignore = bool(args.flag("IgnoreFeatures"))
    pricing = args.flag("Pricing") is not False
    links = None
    if args.flag("Links") is not False:
        links = link_maker().offer(
            offer, customer=customer, id_subscription=id_subscription, upgrade=upgrade
        )
    return offer_json(offer, links=links, ignore_features=ignore, pricing=pricing)


def _context(args: Args) -> tuple[Row | None, int | None, bool, str | None]:
    """(customer, subscription to upgrade, upgrade mode, offer the customer already runs)."""
    reference = args.reference("ReferenceCustomer")
    id_subscription = args.integer("IdSubscription")
    upgrade = bool(args.flag("Upgrade")) or id_subscription is not None
    segment = args.segment()
    customer = None
    current_offer = None
    with current().store.read() as conn:
        if reference is not None:
            customer = require_customer(conn, segment, reference)
        if upgrade:
            if id_subscription is not None:
                row = conn.execute(
                    "SELECT offer FROM subscriptions WHERE id = ?", (id_subscription,)
                ).fetchone()
            elif customer is not None:
                row = conn.execute(
                    "SELECT id, offer FROM subscriptions WHERE customer_id = ?"
                    " AND state LIKE 'Active%' ORDER BY id DESC",
                    (customer["id"],),
                ).fetchone()
                id_subscription = row["id"] if row else None
            else:
                row = None
            current_offer = row["offer"] if row else None
    return customer, id_subscription, upgrade, current_offer


@bp.get("/v1/offers")
def list_offers() -> Response:
    args = Args()
    visible = args.flag("IsVisible")
    prefix = args.text("PrefixReferenceOffer")
    page, size = args.page()
    segment = args.segment()
    customer, id_subscription, upgrade, current_offer = _context(args)
    service = current()
    offers = [
        o
        for o in service.catalog.offers
        if o.segment == segment
        and (visible is None or o.visible == visible)
        and (prefix is None or o.reference.startswith(prefix))
        and not (upgrade and o.reference == current_offer)
    ]
    items = [
        _offer_body(args, o, customer, id_subscription, upgrade)
        for o in paginate(offers, page, size)
    ]
    return envelope(items, len(offers), page, size, service.now())


@bp.get("/v1/offer")
def get_offer() -> Response:
    args = Args()
    reference = args.reference("ReferenceOffer", required=True)
    segment = args.segment()
    customer, id_subscription, upgrade, _ = _context(args)
    assert reference is not None
    offer = current().catalog.offer(reference, segment)
    if offer is None:
        raise not_found("Offer", f"No offer with ReferenceOffer {reference!r}")
    return json_response(_offer_body(args, offer, customer, id_subscription, upgrade))


@bp.get("/v1/features")
def list_features() -> Response:
    args = Args()
    visible = args.flag("IsVisible")
    page, size = args.page()
    args.segment()
    service = current()
    features = [f for f in service.catalog.features if visible is None or f.visible == visible]
    items = [feature_json(f) for f in paginate(features, page, size)]
    return envelope(items, len(features), page, size, service.now())


@bp.get("/v1/feature")
def get_feature() -> Response:
    args = Args()
    reference = args.reference("ReferenceFeature", required=True)
    args.check()
    assert reference is not None
    feature = current().catalog.feature(reference)
    return no_content() if feature is None else json_response(feature_json(feature))


@bp.get("/v1/feature/<int:id_feature>")
def get_feature_by_id(id_feature: int) -> Response:
    feature = current().catalog.feature_by_id(id_feature)
    if feature is None:
        raise not_found("Feature", f"No feature with Id {id_feature}")
    return json_response(feature_json(feature))
