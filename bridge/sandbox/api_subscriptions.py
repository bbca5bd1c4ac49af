"""Subscription endpoints: create, read (current, by id, list) and the lifecycle actions.

The rules live in ``subscriptions``; this module reads parameters (query or body, any case),
resolves references, and renders the answer with the links the new state calls for.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Response

from bridge.sandbox import subscriptions
from bridge.sandbox.api import Args, envelope, json_response, link_maker, paginate, sandbox
from bridge.sandbox.catalog import OfferDef, Segment
from bridge.sandbox.errors import ApiError, not_found
from bridge.sandbox.ledger import (
    Row,
    count_unpaid,
    customer_by_id,
    features_of,
    has_payment_method,
    require_customer,
    require_subscription,
    segment_of,
)
from bridge.sandbox.periods import UNITS
from bridge.sandbox.subscriptions import FeatureOverride, NewSubscription
from bridge.sandbox.views import subscription_json

bp = Blueprint("sandbox_subscriptions", __name__)

_PRIORITY = {"Active": 0, "Suspended": 1, "Draft": 2, "Ended": 3}


def render(conn: sqlite3.Connection, sub: Row, *, ignore_features: bool = False) -> Any:
    customer = customer_by_id(conn, sub["customer_id"])
    assert customer is not None
    buyer = customer_by_id(conn, sub["buyer_id"]) if sub["buyer_id"] else None
    payer = buyer or customer
    segment = segment_of(sandbox().catalog, payer)
    body: dict[str, Any] = subscription_json(
        sub,
        customer,
        buyer,
        [] if ignore_features else features_of(conn, sub["id"]),
        sandbox().catalog,
        links=link_maker().subscription(sub, customer),
        ignore_features=ignore_features,
        now=sandbox().now(),
    )
    body["IsCustomerBillable"] = has_payment_method(payer)
    body["IsPaymentCappingReached"] = count_unpaid(conn, payer["id"]) >= segment.max_unpaid_invoices
    return body


def _offer(reference: str, segment: Segment) -> OfferDef:
    offer = sandbox().catalog.offer(reference, segment)
    if offer is None:
        raise not_found("Offer", f"No offer with ReferenceOffer {reference!r}")
    return offer


def _features(args: Args) -> list[FeatureOverride]:
    raw = args.array("Features") or []
    overrides = []
    catalog = sandbox().catalog
    for index, item in enumerate(raw):
        target = f"Features[{index}]"
        if not isinstance(item, dict):
            args.fail(target, "each feature is an object")
            continue
        values = {str(k).lower(): v for k, v in item.items()}
        reference = values.get("referencefeature")
        if not isinstance(reference, str) or catalog.feature(reference) is None:
            args.fail(f"{target}.ReferenceFeature", "unknown or missing ReferenceFeature")
            continue
        ints: dict[str, int | None] = {}
        for name in ("quantitycurrent", "quantityincluded"):
            value = values.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                args.fail(f"{target}.{name}", "must be an integer")
                value = None
            ints[name] = value
        bools: dict[str, bool | None] = {}
        for name in ("isenabled", "isincluded"):
            value = values.get(name)
            if value is not None and not isinstance(value, bool):
                args.fail(f"{target}.{name}", "must be true or false")
                value = None
            bools[name] = value
        overrides.append(
            FeatureOverride(
                reference,
                quantity_current=ints["quantitycurrent"],
                quantity_included=ints["quantityincluded"],
                is_enabled=bools["isenabled"],
                is_included=bools["isincluded"],
            )
        )
    return overrides


@bp.post("/v1/subscription")
def create_subscription() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer")
    id_customer = args.integer("IdCustomer")
    if reference is None and id_customer is None:
        args.fail(
            "ReferenceCustomer", "ReferenceCustomer is required", "Error.Api.Validation.Required"
        )
    offer_ref = args.reference("ReferenceOffer", required=True)
    buyer_ref = args.reference("ReferenceCustomerBuyer")
    date_start = args.when("DateStart")
    title = args.text("TitleLocalized", max_length=200)
    terms: dict[str, Any] = {}
    for name in subscriptions.TERM_FIELDS:
        if name.startswith("Unit"):
            unit = args.text(name)
            if unit is not None and unit not in UNITS:
                args.fail(name, f"{name} must be one of {', '.join(UNITS)}")
            elif unit is not None:
                terms[name] = unit
        else:
            number = args.integer(name, minimum=0)
            if number is not None:
                terms[name] = number
    features = _features(args)
    metadata = args.obj("Metadata")
    try_start = args.flag("TryStart")
    ensure = args.flag("EnsureBillable")
    migration = args.flag("Migration")
    args.flag("BillNow")
    segment = args.segment()
    assert offer_ref is not None
    offer = _offer(offer_ref, segment)
    service = sandbox()
    with service.transaction() as tx:
        if reference is not None:
            customer = require_customer(tx.conn, segment, reference)
        else:
            assert id_customer is not None
            found = customer_by_id(tx.conn, id_customer)
            if found is None:
                raise not_found("Customer", f"No customer with Id {id_customer}")
            customer = found
        buyer = require_customer(tx.conn, segment, buyer_ref) if buyer_ref else None
        request = NewSubscription(
            offer=offer,
            buyer=buyer,
            date_start=date_start,
            title=title,
            terms=terms,
            features=features,
            metadata=metadata,
        )
        sub = subscriptions.create(tx, customer, request)
        if try_start and sub["state"] == "DraftAgent":
            sub = subscriptions.start(
                tx, sub, ensure=ensure, migration=bool(migration), strict=False
            )
        body = render(tx.conn, sub)
    return json_response(body, 201)


def _current(conn: sqlite3.Connection, customer: Row, offer: str | None) -> Row | None:
    rows = conn.execute(
        "SELECT * FROM subscriptions WHERE customer_id = ? AND state != 'Deleted'"
        " AND (? IS NULL OR offer = ?) ORDER BY id DESC",
        (customer["id"], offer, offer),
    ).fetchall()
    if not rows:
        return None
    # Active first, then Suspended, Draft, Ended; the newest within a status.
    best: Row = min(rows, key=lambda r: (_status_rank(r), -r["id"]))
    return best


def _status_rank(row: Row) -> int:
    state: str = row["state"]
    for status, rank in _PRIORITY.items():
        if state.startswith(status):
            return rank
    return 9


@bp.get("/v1/subscription")
def get_current_subscription() -> Response:
    args = Args()
    id_subscription = args.integer("IdSubscription")
    reference = args.reference("ReferenceCustomer", required=id_subscription is None)
    offer = args.reference("ReferenceOffer")
    ignore = bool(args.flag("IgnoreFeatures"))
    segment = args.segment()
    with sandbox().store.read() as conn:
        if id_subscription is not None:
            return json_response(
                render(conn, require_subscription(conn, id_subscription), ignore_features=ignore)
            )
        assert reference is not None
        customer = require_customer(conn, segment, reference)
        sub = _current(conn, customer, offer)
        if sub is None:
            raise not_found("Subscription", "This customer has no subscription")
        return json_response(render(conn, sub, ignore_features=ignore))


@bp.get("/v1/subscription/<int:id_subscription>")
def get_subscription(id_subscription: int) -> Response:
    ignore = bool(Args().flag("IgnoreFeatures"))
    with sandbox().store.read() as conn:
        sub = require_subscription(conn, id_subscription)
        return json_response(render(conn, sub, ignore_features=ignore))


@bp.get("/v1/subscriptions")
def list_subscriptions() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer")
    buyer_ref = args.reference("ReferenceCustomerBuyer")
    ignore = bool(args.flag("IgnoreFeatures"))
    page, size = args.page()
    segment = args.segment()
    sql = (
        "SELECT s.* FROM subscriptions s JOIN customers c ON c.id = s.customer_id"
        " LEFT JOIN customers b ON b.id = s.buyer_id"
        " WHERE c.segment = ? AND s.state != 'Deleted'"
    )
    params: list[Any] = [segment.reference]
    if reference is not None:
        sql += " AND c.reference = ?"
        params.append(reference)
    if buyer_ref is not None:
        sql += " AND COALESCE(b.reference, c.reference) = ?"
        params.append(buyer_ref)
    service = sandbox()
    with service.store.read() as conn:
        rows = conn.execute(sql + " ORDER BY s.id", params).fetchall()
        items = [render(conn, r, ignore_features=ignore) for r in paginate(rows, page, size)]
    return envelope(items, len(rows), page, size, service.now(), empty_is_204=True)


def _action(id_subscription: int, run: Any) -> Response:
    service = sandbox()
    with service.transaction() as tx:
        sub = require_subscription(tx.conn, id_subscription)
        sub = run(tx, sub)
        body = render(tx.conn, sub)
    return json_response(body)


@bp.post("/v1/subscription/<int:id_subscription>/start")
def start_subscription(id_subscription: int) -> Response:
    args = Args()
    ensure = args.flag("EnsureBillable")
    args.flag("BillNow")
    args.check()
    return _action(id_subscription, lambda tx, sub: subscriptions.start(tx, sub, ensure=ensure))


@bp.post("/v1/subscription/<int:id_subscription>/suspension")
def suspend_subscription(id_subscription: int) -> Response:
    Args().check()
    return _action(id_subscription, subscriptions.suspend)


@bp.post("/v1/subscription/<int:id_subscription>/termination")
def terminate_subscription(id_subscription: int) -> Response:
    args = Args()
    immediate = bool(args.flag("Immediate"))
    when = args.when("DateTermination")
    args.check()
    return _action(
        id_subscription,
        lambda tx, sub: subscriptions.terminate(
            tx, sub, immediate=immediate, date_termination=when
        ),
    )


@bp.post("/v1/subscription/<int:id_subscription>/upgrade")
def upgrade_subscription(id_subscription: int) -> Response:
    args = Args()
    offer_ref = args.reference("ReferenceOffer", required=True)
    immediate = args.flag("Immediate")
    ensure = args.flag("EnsureBillable")
    args.flag("BillNow")
    args.flag("IgnoreEngagement")
    args.check()
    assert offer_ref is not None
    service = sandbox()
    with service.transaction() as tx:
        old = require_subscription(tx.conn, id_subscription)
        customer = customer_by_id(tx.conn, old["customer_id"])
        assert customer is not None
        segment = service.catalog.segment(customer["segment"]) or service.catalog.default_segment
        offer = _offer(offer_ref, segment)
        if offer.reference == old["offer"]:
            raise ApiError(409, "Error.Api.Subscription.SameOffer", "Already on that offer")
        new = subscriptions.upgrade(tx, old, offer, immediate=immediate is not False, ensure=ensure)
        body = render(tx.conn, new)
    return json_response(body)


@bp.post("/v1/subscription/<int:id_subscription>/dateterm")
def date_term(id_subscription: int) -> Response:
    args = Args()
    when = args.when("DateTerm", required=True)
    args.check()
    assert when is not None
    return _action(id_subscription, lambda tx, sub: subscriptions.set_date_term(tx, sub, when))
