"""Minimal hosted pages: they check a link token and name the action and the customer.

``/portal?query=TOKEN`` opens a ``query`` link (as ``pa_query`` does on a site installation);
``/portal/auth/TOKEN`` and ``/portal/invoice-pdf/TOKEN`` are the ``href`` links;
``/portal/anon/SEG`` is the anonymous catalogue. A forged, expired or revoked token answers 403.
The real pages (payment forms, restart, upgrade) belong to the hosted-pages work; these only prove
the links are honest.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, request

from bridge.sandbox.api import sandbox
from bridge.sandbox.ledger import customer_by_id
from bridge.sandbox.links import LinkInvalid

bp = Blueprint("sandbox_portal", __name__)

_TITLES = {
    "home": "Billing portal",
    "collection-offers": "Choose an offer",
    "register": "Contact details and payment method",
    "subscribe": "Subscribe",
    "collection-upgrade": "Change offer",
    "related-subscription": "Your subscription",
    "upgrade": "Change offer",
    "restart": "Restart your subscription",
    "related-invoice": "Invoice",
    "charge": "Pay an invoice",
    "collection-invoice": "Your invoices",
}


def _page(status: int, title: str, text: str) -> Response:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(text)}</p></body></html>"
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _open(token: str, expected: str | None = None) -> Response:
    service = sandbox()
    try:
        purpose, payload = service.links.load(token)
    except LinkInvalid:
        return _page(
            403, "Link expired", "This link is no longer valid: ask the site for a new one."
        )
    if expected is not None and purpose != expected:
        return _page(403, "Link expired", "This link does not open this page.")
    name = "a visitor"
    if "c" in payload:
        with service.store.read() as conn:
            customer = customer_by_id(conn, int(payload["c"]))
        if (
            customer is None
            or customer["links_epoch"] != payload.get("e")
            or customer["status"] != "Enabled"
        ):
            return _page(403, "Link expired", "This link was revoked: ask the site for a new one.")
        name = customer["name"] or customer["reference"]
        name = f"{name} ({customer['reference']})"
    details = [f"{k}={payload[k]}" for k in ("o", "s", "i") if payload.get(k) is not None]
    suffix = f" [{', '.join(details)}]" if details else ""
    return _page(200, _TITLES[purpose], f"{_TITLES[purpose]} for {name}{suffix}.")


@bp.get("/portal")
def open_query() -> Response:
    token = request.args.get("query") or request.args.get("pa_query") or ""
    return _open(token)


@bp.get("/portal/auth/<token>")
def open_home(token: str) -> Response:
    return _open(token, "home")


@bp.get("/portal/invoice-pdf/<token>")
def open_invoice(token: str) -> Response:
    return _open(token, "related-invoice")


@bp.get("/portal/anon/<segment>")
def open_anonymous(segment: str) -> Response:
    return _page(200, "Offers", f"The offers of segment {segment}.")
