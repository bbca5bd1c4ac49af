"""Rights: ``Usages``, ``Usage`` (read, write) and the ``Usages`` batch.

A usage write names exactly one of ``Increment`` (relative), ``QuantityCurrent`` (absolute) or
``IsEnabled`` (OnOff) plus a ``DateStamp`` that is not in the future. The batch
(``POST /v1/Usages``, at most 50) is all-or-nothing: every element is validated first, then all
are applied in one transaction, and any refusal rolls the whole batch back.

Quotes (``api_quoting``) reuse ``parse_change``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from bridge.models import reference_problem
from bridge.sandbox import usages
from bridge.sandbox.api import (
    Args,
    envelope,
    json_response,
    lower_keys,
    paginate,
    sandbox,
    to_date,
)
from bridge.sandbox.billing import ensure_billable
from bridge.sandbox.catalog import Segment
from bridge.sandbox.errors import ApiError, ValidationFailed, invalid
from bridge.sandbox.ledger import (
    Tx,
    customer_by_id,
    require_customer,
)
from bridge.sandbox.usages import UsageChange

bp = Blueprint("sandbox_usages", __name__)

MAX_BATCH = 50


@bp.get("/v1/usages")
def list_usages() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    feature = _feature_ref(args)
    id_subscription = args.integer("IdSubscription")
    page, size = args.page()
    segment = args.segment()
    assert reference is not None
    service = sandbox()
    service.catch_up()
    with service.store.read() as conn:
        customer = require_customer(conn, segment, reference)
        rows = usages.rights(conn, customer, feature=feature, id_subscription=id_subscription)
        items = usages.aggregate(rows, customer, segment, service.catalog)
    return envelope(
        paginate(items, page, size), len(items), page, size, service.now(), empty_is_204=True
    )


def _feature_ref(args: Args) -> str | None:
    reference = args.reference("ReferenceFeature")
    id_feature = args.integer("IdFeature")
    if reference is None and id_feature is not None:
        feature = sandbox().catalog.feature_by_id(id_feature)
        reference = feature.reference if feature else f"#{id_feature}"
    return reference


@bp.get("/v1/usage")
def get_usage() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    feature = _feature_ref(args)
    if feature is None:
        args.fail(
            "ReferenceFeature", "ReferenceFeature is required", "Error.Api.Validation.Required"
        )
    id_subscription = args.integer("IdSubscription")
    segment = args.segment()
    assert reference is not None
    service = sandbox()
    service.catch_up()
    with service.store.read() as conn:
        customer = require_customer(conn, segment, reference)
        rows = usages.rights(conn, customer, feature=feature, id_subscription=id_subscription)
        items = usages.aggregate(rows, customer, segment, service.catalog)
    if not items:
        raise ApiError(
            404, "Error.Api.Usage.NoneMatching", "No started subscription has that feature"
        )
    return json_response(items[0])


def parse_change(
    values: Mapping[str, Any], prefix: str, problems: list[ApiError], now: datetime
) -> tuple[str | None, UsageChange | None, bool | None]:
    """(ReferenceCustomer, change, EnsureBillable) from one JSON object; problems appended."""

    def fail(name: str, message: str, code: str = "Error.Api.Validation.Invalid") -> None:
        problems.append(invalid(f"{prefix}{name}", message, code))

    def reference(name: str) -> str | None:
        value = values.get(name.lower())
        if value is None or value == "":
            fail(name, f"{name} is required", "Error.Api.Validation.Required")
            return None
        if not isinstance(value, str):
            fail(name, f"{name} must be a string")
            return None
        problem = reference_problem(value)
        if problem:
            fail(name, f"{name} {problem}", "Error.Api.Validation.Reference")
            return None
        return value

    def integer(name: str) -> int | None:
        value = values.get(name.lower())
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            fail(name, f"{name} must be an integer")
            return None
        return value

    customer = reference("ReferenceCustomer")
    feature: str | None
    if values.get("referencefeature") is None and values.get("idfeature") is not None:
        id_feature = integer("IdFeature")
        found = sandbox().catalog.feature_by_id(id_feature) if id_feature is not None else None
        feature = found.reference if found else f"#{id_feature}"
    else:
        feature = reference("ReferenceFeature")
    increment = integer("Increment")
    quantity = integer("QuantityCurrent")
    id_subscription = integer("IdSubscription")
    enabled = values.get("isenabled")
    if enabled is not None and not isinstance(enabled, bool):
        fail("IsEnabled", "IsEnabled must be true or false")
        enabled = None
    ensure = values.get("ensurebillable")
    if ensure is not None and not isinstance(ensure, bool):
        fail("EnsureBillable", "EnsureBillable must be true or false")
        ensure = None
    given = [v for v in (increment, quantity, enabled) if v is not None]
    sent = [k for k in ("increment", "quantitycurrent", "isenabled") if values.get(k) is not None]
    if len(sent) != 1:
        fail("Increment", "Send exactly one of Increment, QuantityCurrent or IsEnabled")
    if quantity is not None and quantity < 0:
        fail("QuantityCurrent", "QuantityCurrent cannot be negative")
    raw_stamp = values.get("datestamp")
    stamp = to_date(raw_stamp)
    if raw_stamp is not None and stamp is None:
        fail("DateStamp", "DateStamp must be an ISO 8601 date")
    else:
        problem = usages.check_stamp(stamp, now, f"{prefix}DateStamp")
        if problem:
            problems.append(problem)
    if customer is None or feature is None or len(given) != 1:
        return customer, None, ensure
    change = UsageChange(
        feature=feature,
        increment=increment,
        quantity_current=quantity,
        is_enabled=enabled,
        id_subscription=id_subscription,
        date_stamp=stamp,
    )
    return customer, change, ensure


def _write(
    tx: Tx, segment: Segment, reference: str, change: UsageChange, ensure: bool | None
) -> Any:
    customer = require_customer(tx.conn, segment, reference)
    found = usages.effect(tx, customer, change, missing_status=403)
    payer = (
        customer_by_id(tx.conn, found.subscription["buyer_id"])
        if found.subscription["buyer_id"]
        else customer
    )
    ensure_billable(tx, payer or customer, sum(line.amount for line in found.lines), ensure)
    usages.apply(tx, customer, found)
    rows = usages.rights(
        tx.conn, customer, feature=change.feature, id_subscription=change.id_subscription
    )
    return usages.aggregate(rows, customer, segment, tx.catalog)[0]


@bp.post("/v1/usage")
def post_usage() -> Response:
    args = Args()
    segment = args.segment()
    service = sandbox()
    problems: list[ApiError] = []
    reference, change, ensure = parse_change(args.body, "", problems, service.now())
    query_ensure = args.flag("EnsureBillable")
    args.check()
    if problems:
        raise ValidationFailed(problems)
    assert reference is not None
    assert change is not None
    with service.transaction() as tx:
        body = _write(
            tx, segment, reference, change, ensure if ensure is not None else query_ensure
        )
    return json_response(body)


@bp.post("/v1/usages")
def post_usages() -> Response:
    args = Args(body_list=True)
    segment = args.segment()
    items = args.items if args.items is not None else args.body.get("items")
    if not isinstance(items, list):
        raise ApiError(400, "Error.Api.Request.Malformed", "The body must be an array of usages")
    if len(items) > MAX_BATCH:
        raise ValidationFailed(
            [invalid("Items", f"At most {MAX_BATCH} usages per call", "Error.Api.Usage.TooMany")]
        )
    service = sandbox()
    now = service.now()
    problems: list[ApiError] = []
    parsed = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(invalid(f"[{index}]", "Each usage is a JSON object"))
            continue
        parsed.append(parse_change(lower_keys(item), f"[{index}].", problems, now))
    if problems:
        raise ValidationFailed(problems)
    with service.transaction() as tx:
        answers = []
        for reference, change, ensure in parsed:
            assert reference is not None
            assert change is not None
            answers.append(_write(tx, segment, reference, change, ensure))
    return json_response(answers)
