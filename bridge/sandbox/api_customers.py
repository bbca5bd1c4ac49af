"""Customer endpoints: read, upsert, list, suspension, links revocation, address, payment settings.

Billing address answers under both spellings (``/v1/CustomerAddressBilling``, the contract's, and
``/v1/CustomerBillingAddress``, the official PHP and n8n clients'). Only manual payment types can be
written through the API; cards come from the payment pages (here, the ``/_sandbox`` admin API).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from flask import Blueprint, Response

from bridge.sandbox import events
from bridge.sandbox.api import Args, envelope, json_response, link_maker, paginate, sandbox
from bridge.sandbox.billing import MANUAL_PAYMENT_TYPES
from bridge.sandbox.catalog import Segment
from bridge.sandbox.errors import ApiError, not_found
from bridge.sandbox.ledger import (
    Row,
    customer_by_id,
    customer_by_reference,
    require_accessible_customer,
    require_customer,
    segment_of,
)
from bridge.sandbox.store import to_db
from bridge.sandbox.usages import aggregate, rights
from bridge.sandbox.views import (
    ADDRESS_FIELDS,
    address_json,
    customer_json,
    payment_settings_json,
)

bp = Blueprint("sandbox_customers", __name__)

MAX_METADATA_KEYS = 5
MAX_METADATA_VALUE = 450


def has_active(conn: sqlite3.Connection, customer: Row) -> bool:
    row = conn.execute(
        "SELECT 1 FROM subscriptions WHERE customer_id = ? AND state LIKE 'Active%'",
        (customer["id"],),
    ).fetchone()
    return row is not None


def render(conn: sqlite3.Connection, customer: Row, *, reference_offer: str | None = None) -> Any:
    segment = segment_of(sandbox().catalog, customer)
    links = link_maker().customer(
        customer, reference_offer=reference_offer, has_active=has_active(conn, customer)
    )
    return customer_json(customer, segment, links)


def _offer_checked(args: Args, segment: Segment) -> str | None:
    reference = args.reference("ReferenceOffer")
    args.check()
    if reference is not None and sandbox().catalog.offer(reference, segment) is None:
        raise not_found("Offer", f"No offer with ReferenceOffer {reference!r}")
    return reference


@bp.get("/v1/customer")
def get_customer() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    segment = args.segment()
    offer = _offer_checked(args, segment)
    assert reference is not None
    with sandbox().store.read() as conn:
        customer = require_customer(conn, segment, reference)
        return json_response(render(conn, customer, reference_offer=offer))


@bp.get("/v1/customer/<int:id_customer>")
def get_customer_by_id(id_customer: int) -> Response:
    with sandbox().store.read() as conn:
        customer = customer_by_id(conn, id_customer)
        if customer is None:
            raise not_found("Customer", f"No customer with Id {id_customer}")
        return json_response(render(conn, customer))


def _metadata(args: Args) -> dict[str, Any] | None:
    metadata = args.obj("Metadata")
    if metadata is None:
        return None
    if len(metadata) > MAX_METADATA_KEYS:
        args.fail("Metadata", f"Metadata has at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if isinstance(value, dict | list) or len(str(value)) > MAX_METADATA_VALUE:
            args.fail(f"Metadata.{key}", f"a Metadata value is at most {MAX_METADATA_VALUE} chars")
    return metadata


@bp.post("/v1/customer")
def upsert_customer() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    fields = {
        "email": args.text("Email", max_length=254),
        "name": args.text("Name", max_length=200),
        "language": args.text("Language", max_length=10),
        "reference_affiliation": args.reference("ReferenceAffiliation"),
    }
    metadata = _metadata(args)
    segment = args.segment()
    offer = _offer_checked(args, segment)
    assert reference is not None
    service = sandbox()
    with service.transaction() as tx:
        customer = customer_by_reference(tx.conn, segment, reference)
        created = customer is None
        if customer is None:
            id_customer = tx.insert(
                "INSERT INTO customers(segment, reference, date_created) VALUES (?, ?, ?)",
                (segment.reference, reference, to_db(tx.now)),
            )
        else:
            id_customer = customer["id"]
        changes: dict[str, str | None] = {k: v for k, v in fields.items() if v is not None}
        if fields["reference_affiliation"] is not None:
            changes["date_affiliation"] = to_db(tx.now)
        if metadata is not None:
            changes["metadata"] = json.dumps(metadata)
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            tx.conn.execute(
                f"UPDATE customers SET {assignments} WHERE id = ?",  # noqa: S608 - our names
                (*changes.values(), id_customer),
            )
        fresh = customer_by_id(tx.conn, id_customer)
        assert fresh is not None
        if created:
            events.emit(tx, "CustomerAdded", fresh)
        body = render(tx.conn, fresh, reference_offer=offer)
    return json_response(body, 201 if created else 200)


@bp.get("/v1/customers")
def list_customers() -> Response:
    args = Args()
    feature = args.reference("ReferenceFeature")
    page, size = args.page()
    segment = args.segment()
    service = sandbox()
    with service.store.read() as conn:
        customers = list(
            conn.execute(
                "SELECT * FROM customers WHERE segment = ? ORDER BY id", (segment.reference,)
            ).fetchall()
        )
        items: list[Any] = []
        for customer in customers:
            usage = None
            if feature is not None:
                found = aggregate(
                    rights(conn, customer, feature=feature), customer, segment, service.catalog
                )
                if not found:
                    continue
                usage = found[0]
            items.append((customer, usage))
        total = len(items)
        rendered = []
        for customer, usage in paginate(items, page, size):
            body = render(conn, customer)
            if usage is not None:
                for key in (
                    "TypeFeature",
                    "IsIncluded",
                    "IsEnabled",
                    "QuantityIncluded",
                    "QuantityCurrent",
                    "DatePeriodStart",
                    "DatePeriodEnd",
                ):
                    body[key] = usage.get(key)
            rendered.append(body)
    return envelope(rendered, total, page, size, service.now())


def _customer_action(action: str) -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    segment = args.segment()
    assert reference is not None
    with sandbox().transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        if action == "suspend" and customer["status"] != "Suspended":
            tx.conn.execute(
                "UPDATE customers SET status = 'Suspended', links_epoch = links_epoch + 1"
                " WHERE id = ?",
                (customer["id"],),
            )
            events.emit(tx, "CustomerSuspended", customer)
        elif action == "revoke":
            tx.conn.execute(
                "UPDATE customers SET links_epoch = links_epoch + 1 WHERE id = ?",
                (customer["id"],),
            )
        elif action == "invalidate":
            tx.conn.execute(
                "UPDATE customers SET reference = ?, links_epoch = links_epoch + 1 WHERE id = ?",
                (str(uuid.uuid4()), customer["id"]),
            )
        elif action == "anonymize":
            due = tx.one(
                "SELECT 1 FROM invoices WHERE customer_id = ? AND state LIKE 'Due%'",
                (customer["id"],),
            )
            if due is not None:
                raise ApiError(
                    403,
                    "Error.Customer.Anonymize.HasDueInvoices",
                    "The customer has due invoices",
                )
            tx.conn.execute(
                "UPDATE customers SET name = '## cleared ##', email = NULL, address = '{}'"
                " WHERE id = ?",
                (customer["id"],),
            )
        fresh = customer_by_id(tx.conn, customer["id"])
        assert fresh is not None
        body = render(tx.conn, fresh)
    return json_response(body)


@bp.post("/v1/customer/suspension")
def suspend_customer() -> Response:
    return _customer_action("suspend")


@bp.post("/v1/customer/linksrevokation")
def revoke_links() -> Response:
    return _customer_action("revoke")


@bp.post("/v1/customer/invalidation")
def invalidate_customer() -> Response:
    """A random new ReferenceCustomer: the old reference is free again (no links answered)."""
    response = _customer_action("invalidate")
    body = json.loads(response.get_data())
    body["Links"] = []
    return json_response(body)


@bp.post("/v1/customer/anonymization")
def anonymize_customer() -> Response:
    return _customer_action("anonymize")


def _accessible(args: Args) -> tuple[str, Segment]:
    reference = args.reference("ReferenceCustomer", required=True)
    segment = args.segment()
    assert reference is not None
    return reference, segment


@bp.get("/v1/customeraddressbilling")
@bp.get("/v1/customerbillingaddress")
def get_address() -> Response:
    reference, segment = _accessible(Args())
    with sandbox().store.read() as conn:
        customer = require_accessible_customer(conn, segment, reference)
        return json_response(address_json(customer))


@bp.post("/v1/customeraddressbilling")
@bp.post("/v1/customerbillingaddress")
def update_address() -> Response:
    args = Args()
    reference, segment = _accessible(args)
    changes = {}
    for name in ADDRESS_FIELDS:
        if args.has(name) and name.lower() in args.body:
            value = args.text(name, max_length=200)
            if value is not None:
                changes[name] = value
    country = changes.get("Country")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        args.fail("Country", "Country is an ISO 3166-1 alpha-2 code (FR, US...)")
    args.check()
    with sandbox().transaction() as tx:
        customer = require_accessible_customer(tx.conn, segment, reference)
        stored = json.loads(customer["address"])
        stored.update(changes)
        tx.conn.execute(
            "UPDATE customers SET address = ? WHERE id = ?", (json.dumps(stored), customer["id"])
        )
        fresh = customer_by_id(tx.conn, customer["id"])
        assert fresh is not None
        events.emit(tx, "CustomerBillingAddressUpdated", fresh)
    return json_response(address_json(fresh))


def _next_billing(conn: sqlite3.Connection, customer: Row) -> str | None:
    row = conn.execute(
        "SELECT MIN(date_period_end) FROM subscriptions WHERE customer_id = ?"
        " AND state = 'ActiveRunning'",
        (customer["id"],),
    ).fetchone()
    return None if row is None else row[0]


@bp.get("/v1/customersettingspayment")
def get_payment_settings() -> Response:
    reference, segment = _accessible(Args())
    with sandbox().store.read() as conn:
        customer = require_accessible_customer(conn, segment, reference)
        return json_response(payment_settings_json(customer, _next_billing(conn, customer)))


@bp.post("/v1/customersettingspayment")
def update_payment_settings() -> Response:
    args = Args()
    reference, segment = _accessible(args)
    kind = args.text("TypePayment")
    note = args.text("NoteInvoice", max_length=500)
    auto = args.flag("IsAutoBilling")
    if kind is not None and kind not in MANUAL_PAYMENT_TYPES:
        args.fail("TypePayment", "Only " + ", ".join(MANUAL_PAYMENT_TYPES) + " can be written")
    args.check()
    with sandbox().transaction() as tx:
        customer = require_accessible_customer(tx.conn, segment, reference)
        if kind is not None:
            tx.conn.execute(
                "UPDATE customers SET type_payment = ?, card_number = NULL WHERE id = ?",
                (kind, customer["id"]),
            )
        if note is not None:
            tx.conn.execute(
                "UPDATE customers SET note_invoice = ? WHERE id = ?", (note, customer["id"])
            )
        if auto is not None:
            tx.conn.execute(
                "UPDATE customers SET is_auto_billing = ? WHERE id = ?", (int(auto), customer["id"])
            )
        fresh = customer_by_id(tx.conn, customer["id"])
        assert fresh is not None
        if kind is not None:
            events.emit(tx, "CustomerPaymentMethodUpdated", fresh)
        body = payment_settings_json(fresh, _next_billing(tx.conn, fresh))
    return json_response(body)
