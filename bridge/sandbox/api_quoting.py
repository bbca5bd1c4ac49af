"""Quote endpoints: ``Quoting/Usage`` (and the legacy ``Pricing/Usage``), ``Quoting/Subscription``,
``Quoting/Subscription/{id}/Start`` and ``.../Upgrade``.

Each quote runs the change inside a SQLite savepoint that is always rolled back, so it is priced by
exactly the rules that will bill the change (``pricing``, ``usages.effect``) and changes nothing.
Refusals are the change's own: ``Error.Customer.PaymentSettings.Missing`` for a billable change
without a payment method (unless ``EnsureBillable=false``), ``Error.Api.Usage.NoneMatching`` (404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response

from bridge.sandbox import pricing, quoting, subscriptions, usages
from bridge.sandbox.api import Args, json_response, sandbox
from bridge.sandbox.api_usages import parse_change
from bridge.sandbox.billing import ensure_billable
from bridge.sandbox.catalog import Segment
from bridge.sandbox.errors import ApiError, ValidationFailed, not_found
from bridge.sandbox.ledger import (
    Row,
    Tx,
    customer_by_id,
    require_customer,
    require_subscription,
    segment_of,
    terms_of,
)
from bridge.sandbox.store import must_date
from bridge.sandbox.subscriptions import NewSubscription

bp = Blueprint("sandbox_quoting", __name__)


@contextmanager
def _dry_run(tx: Tx) -> Iterator[None]:
    tx.conn.execute("SAVEPOINT quote")
    try:
        yield
    finally:
        tx.conn.execute("ROLLBACK TO quote")
        tx.conn.execute("RELEASE quote")


def _next_term(tx: Tx, sub: Row, segment: Segment) -> Any:
    start = must_date(sub["date_period_end"]) if sub["date_period_end"] else tx.now
    end = pricing.recurrence_end(terms_of(sub), start)
    lines = pricing.renewal_lines(tx, sub, start, end)
    return quoting.next_term(lines, segment, (start, end))


@bp.post("/v1/quoting/usage")
@bp.post("/v1/pricing/usage")
def quote_usage() -> Response:
    args = Args()
    segment = args.segment()
    service = sandbox()
    problems: list[ApiError] = []
    reference, change, body_ensure = parse_change(args.body, "", problems, service.now())
    ensure = args.flag("EnsureBillable") if "ensurebillable" in args.query else body_ensure
    with_next = args.flag("NextTerm")
    args.check()
    if problems:
        raise ValidationFailed(problems)
    assert reference is not None
    assert change is not None
    with service.transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        found = usages.effect(tx, customer, change, missing_status=404)
        amount = sum(line.amount for line in found.lines)
        ensure_billable(tx, customer, amount, ensure)
        sub = found.subscription
        next_term = None
        if with_next is not False:
            with _dry_run(tx):
                usages.apply(tx, customer, found)
                next_term = _next_term(tx, sub, segment)
        body = quoting.quote(
            found.lines,
            segment,
            customer,
            subscription_id=sub["id"],
            period=(tx.now, must_date(sub["date_period_end"])),
            next_term=next_term,
        )
        feature = service.catalog.feature(change.feature)
        body.update(IdFeature=feature.id if feature else None, ReferenceFeature=change.feature)
    return json_response(body)


def _quote_subscription(
    tx: Tx,
    customer: Row,
    segment: Segment,
    build: Callable[[], tuple[list[Any], Row]],
    ensure: bool | None,
) -> Any:
    with _dry_run(tx):
        lines, sub = build()
        period_end = pricing.first_period(terms_of(sub), tx.now)[0]
        ensure_billable(tx, customer, sum(line.amount for line in lines), ensure)
        next_start = period_end
        next_end = pricing.recurrence_end(terms_of(sub), next_start)
        next_lines = pricing.renewal_lines(tx, sub, next_start, next_end)
        return quoting.quote(
            lines,
            segment,
            customer,
            subscription_id=sub["id"],
            period=(tx.now, period_end),
            next_term=quoting.next_term(next_lines, segment, (next_start, next_end)),
        )


@bp.post("/v1/quoting/subscription")
def quote_subscription() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    offer_ref = args.reference("ReferenceOffer", required=True)
    ensure = args.flag("EnsureBillable")
    segment = args.segment()
    assert reference is not None
    assert offer_ref is not None
    service = sandbox()
    offer = service.catalog.offer(offer_ref, segment)
    if offer is None:
        raise not_found("Offer", f"No offer with ReferenceOffer {offer_ref!r}")
    with service.transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)

        def build() -> tuple[list[Any], Row]:
            sub = subscriptions.create(tx, customer, NewSubscription(offer=offer))
            return pricing.start_lines(tx, sub, tx.now)[0], sub

        body = _quote_subscription(tx, customer, segment, build, ensure)
        body.pop("IdSubscription", None)
    return json_response(body)


@bp.post("/v1/quoting/subscription/<int:id_subscription>/start")
def quote_start(id_subscription: int) -> Response:
    args = Args()
    ensure = args.flag("EnsureBillable")
    args.check()
    with sandbox().transaction() as tx:
        sub = require_subscription(tx.conn, id_subscription)
        customer = customer_by_id(tx.conn, sub["customer_id"])
        assert customer is not None
        segment = segment_of(tx.catalog, customer)

        def build() -> tuple[list[Any], Row]:
            if sub["state"].startswith("Draft"):
                return pricing.start_lines(tx, sub, tx.now)[0], sub
            if (
                sub["state"].startswith("Suspended")
                and sub["date_period_end"]
                and (must_date(sub["date_period_end"]) <= tx.now)
            ):
                end = pricing.recurrence_end(terms_of(sub), tx.now)
                return pricing.renewal_lines(tx, sub, tx.now, end), sub
            return [], sub

        body = _quote_subscription(tx, customer, segment, build, ensure)
    return json_response(body)


@bp.post("/v1/quoting/subscription/<int:id_subscription>/upgrade")
def quote_upgrade(id_subscription: int) -> Response:
    args = Args()
    offer_ref = args.reference("ReferenceOffer", required=True)
    ensure = args.flag("EnsureBillable")
    args.flag("Immediate")
    args.flag("BillNow")
    args.check()
    assert offer_ref is not None
    service = sandbox()
    with service.transaction() as tx:
        old = require_subscription(tx.conn, id_subscription)
        customer = customer_by_id(tx.conn, old["customer_id"])
        assert customer is not None
        segment = segment_of(tx.catalog, customer)
        offer = service.catalog.offer(offer_ref, segment)
        if offer is None:
            raise not_found("Offer", f"No offer with ReferenceOffer {offer_ref!r}")

        def build() -> tuple[list[Any], Row]:
            carried = subscriptions.carried_stock(tx, old, offer)
            new = subscriptions.create(tx, customer, NewSubscription(offer=offer, features=carried))
            return pricing.upgrade_lines(tx, old, new, tx.now), new

        body = _quote_subscription(tx, customer, segment, build, ensure)
        body["IdSubscription"] = old["id"]
    return json_response(body)
