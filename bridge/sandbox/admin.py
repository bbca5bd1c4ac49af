"""The sandbox's own admin API under ``/_sandbox/`` (same Basic auth as the API).

What a real account does in its BackOffice or its payment pages, made scriptable for tests, the
demo and (later) the sandbox's hosted pages:

* ``POST /_sandbox/Customer/PaymentMethod?ReferenceCustomer=`` with ``{"CardNumber": "4242..."}``
  (``4000000000000002`` declines), ``{"TypePayment": "ExternalBank"}`` or ``{}`` to remove it;
* ``POST /_sandbox/Invoice/{id}/Payment`` collects one invoice (card charge or manual payment);
  ``POST /_sandbox/Customer/Arrears?ReferenceCustomer=`` collects every unpaid one;
* ``GET /_sandbox/Clock``, ``POST /_sandbox/Clock/Advance`` with ``{"Duration": "31d"}``,
  ``POST /_sandbox/Clock/Pin`` with ``{"Now": "2025-03-03T09:00:00.00Z"}`` (or ``Unpin``);
* ``GET /_sandbox/Events?After=SEQ``: the webhook events recorded, oldest first.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response

from bridge.sandbox.api import Args, json_response, sandbox
from bridge.sandbox.api_billing import render_invoice
from bridge.sandbox.billing import pay_invoice, set_payment_method
from bridge.sandbox.clock import parse_duration
from bridge.sandbox.errors import invalid, not_found
from bridge.sandbox.ledger import require_customer
from bridge.sandbox.views import date, payment_settings_json

bp = Blueprint("sandbox_admin", __name__)


@bp.post("/_sandbox/customer/paymentmethod")
def payment_method() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    card = args.text("CardNumber", max_length=30)
    kind = args.text("TypePayment", max_length=30)
    segment = args.segment()
    assert reference is not None
    with sandbox().transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        fresh = set_payment_method(tx, customer, card_number=card, type_payment=kind)
        body = payment_settings_json(fresh, None)
        if fresh["card_number"]:
            body["NameDisplay"] = f"****-****-****-{fresh['card_number'][-4:]}"
    return json_response(body)


@bp.post("/_sandbox/invoice/<int:id_invoice>/payment")
def pay(id_invoice: int) -> Response:
    Args().check()
    with sandbox().transaction() as tx:
        invoice = tx.one("SELECT * FROM invoices WHERE id = ?", (id_invoice,))
        if invoice is None:
            raise not_found("Invoice", f"No invoice with Id {id_invoice}")
        paid = pay_invoice(tx, invoice)
        body = render_invoice(tx.conn, paid)
    return json_response(body)


@bp.post("/_sandbox/customer/arrears")
def pay_arrears() -> Response:
    args = Args()
    reference = args.reference("ReferenceCustomer", required=True)
    segment = args.segment()
    assert reference is not None
    with sandbox().transaction() as tx:
        customer = require_customer(tx.conn, segment, reference)
        unpaid = tx.all(
            "SELECT * FROM invoices WHERE customer_id = ? AND state IN"
            " ('ProblemAuto', 'ProblemOverdue', 'DueOffline') ORDER BY id",
            (customer["id"],),
        )
        items = [render_invoice(tx.conn, pay_invoice(tx, invoice)) for invoice in unpaid]
    return json_response({"Items": items, "Count": len(items)})


@bp.get("/_sandbox/clock")
def get_clock() -> Response:
    service = sandbox()
    return json_response(
        {
            "Now": date(service.now()),
            "OffsetSeconds": service.clock.offset().total_seconds(),
            "Pinned": date(service.clock.pinned()),
        }
    )


@bp.post("/_sandbox/clock/pin")
def pin_clock() -> Response:
    """Freeze the sandbox clock at ``Now`` for every process sharing the database."""
    args = Args()
    at = args.when("Now")
    unpin = args.flag("Unpin")
    args.check()
    if at is None and not unpin:
        raise invalid("Now", "Give Now (an ISO 8601 date), or Unpin=true")
    service = sandbox()
    service.clock.pin(None if unpin else at)
    service.catch_up()
    return json_response({"Now": date(service.now()), "Pinned": date(service.clock.pinned())})


@bp.post("/_sandbox/clock/advance")
def advance_clock() -> Response:
    args = Args()
    text = args.text("Duration", max_length=20)
    seconds = args.integer("Seconds", minimum=0)
    args.check()
    if text is None and seconds is None:
        raise invalid("Duration", "Give Duration (31d, 12h...) or Seconds")
    try:
        delta = parse_duration(text if text is not None else str(seconds))
    except ValueError as exc:
        raise invalid("Duration", str(exc)) from exc
    now, steps = sandbox().advance(delta)
    return json_response({"Now": date(now), "Steps": steps})


@bp.get("/_sandbox/events")
def list_events() -> Response:
    args = Args()
    after = args.integer("After", minimum=0) or 0
    kind = args.text("TypeTrigger", max_length=80)
    args.check()
    with sandbox().store.read() as conn:
        rows = conn.execute(
            "SELECT seq, body FROM events WHERE seq > ? AND (? IS NULL OR type = ?) ORDER BY seq",
            (after, kind, kind),
        ).fetchall()
    items = [{"Seq": row["seq"], **json.loads(row["body"])} for row in rows]
    return json_response({"Items": items, "Count": len(items)})
