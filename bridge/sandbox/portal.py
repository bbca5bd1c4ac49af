"""The sandbox's hosted pages: what ProAbono hosts for a site, usable offline in a browser.

Entry points (the link token is the credential; no other auth):

* ``GET /portal?query=TOKEN`` (or ``pa_query=``) opens a ``query`` link: the catalogue
  (``collection-offers``), change offer (``collection-upgrade``, ``upgrade``), subscribe, register
  (contact details + card), restart, pay an invoice (``charge``), the invoices list;
* ``GET /portal/auth/TOKEN``: the portal home; ``GET /portal/invoice-pdf/TOKEN``: one invoice (a
  PDF when ``fpdf2`` is installed, else printable HTML); ``GET /portal/anon/SEG``: the offers;
* ``POST /portal/action/<name>``: the workflows (``portal_flows``). Each form carries its link
  token and a CSRF token (an HMAC of the link token keyed with the sandbox link secret): missing →
  400, wrong → 403, and nothing changes.

A forged, expired or revoked token answers a 403 page. After a workflow the browser is sent (303)
to ``SANDBOX_RETURN_URL`` with ``from``, ``outcome``, ``idc``, ``refo``, ``idsub``; without a
return URL a "done" page is shown. Every URL is built under ``request.script_root``, so the pages
also work mounted under a site (``SCRIPT_NAME``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for

from bridge.sandbox import portal_flows as flows
from bridge.sandbox import portal_views as views
from bridge.sandbox import subscriptions
from bridge.sandbox.api import sandbox
from bridge.sandbox.errors import ApiError, ValidationFailed
from bridge.sandbox.ledger import Row, Tx, customer_by_id, has_payment_method, segment_of
from bridge.sandbox.links import LinkInvalid
from bridge.sandbox.periods import money
from bridge.sandbox.portal_flows import Contact, Declined, Outcome, Payment
from bridge.sandbox.views import ADDRESS_FIELDS

bp = Blueprint("sandbox_portal", __name__, template_folder="templates")

TITLES = {
    "home": "Billing portal",
    "collection-offers": "Choose an offer",
    "register": "Contact details and payment method",
    "subscribe": "Subscribe",
    "collection-upgrade": "Change offer",
    "related-subscription": "Billing portal",
    "upgrade": "Change offer",
    "restart": "Restart your subscription",
    "related-invoice": "Invoice",
    "charge": "Pay an invoice",
    "collection-invoice": "Your invoices",
}
CONTACT_FIELDS = ("FirstName", "LastName", "Company", "AddressLine1", "ZipCode", "City", "Country")
MAX_FIELD = 200
DECLINED = "Your card was declined. Nothing was charged and nothing changed: try another card."


class Refused(Exception):
    """Answer this page instead (403 link pages, 400/403 CSRF pages)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Link:
    token: str
    purpose: str
    payload: dict[str, Any]
    customer: Row | None

    @property
    def who(self) -> Row:
        assert self.customer is not None
        return self.customer

    def get(self, key: str) -> Any:
        return self.payload.get(key)


@dataclass
class Form:
    """The values to show again after a refusal, and the message."""

    error: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)


# --- plumbing -----------------------------------------------------------------------------------


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'",
    )
    return response


def page(template: str, status: int = 200, **context: Any) -> Response:
    html = render_template(f"portal/{template}", **context)
    return Response(html, status=status, mimetype="text/html")


def message(status: int, title: str, text: str, **context: Any) -> Response:
    return page("message.html", status, title=title, text=text, **context)


def csrf_token(token: str) -> str:
    key = sandbox().link_secret.encode()
    return hmac.new(
        key, b"proabono-sandbox.portal-csrf:" + token.encode(), hashlib.sha256
    ).hexdigest()


def query_url(purpose: str, customer: Row, **payload: Any) -> str:
    """A fresh ``query`` link of ``customer``, under the script root (for the pages' buttons)."""
    token = sandbox().links.token(purpose, c=customer["id"], e=customer["links_epoch"], **payload)
    return url_for("sandbox_portal.open_query", query=token)


def home_url(customer: Row) -> str:
    token = sandbox().links.token("home", c=customer["id"], e=customer["links_epoch"])
    return url_for("sandbox_portal.open_home", token=token)


def invoice_url(customer: Row, id_invoice: int) -> str:
    token = sandbox().links.token(
        "related-invoice", c=customer["id"], e=customer["links_epoch"], i=id_invoice
    )
    return url_for("sandbox_portal.open_invoice", token=token)


def load(token: str, expected: tuple[str, ...] | None = None) -> Link:
    service = sandbox()
    try:
        purpose, payload = service.links.load(token)
    except LinkInvalid:
        raise Refused(
            message(
                403, "Link expired", "This link is no longer valid: ask the site for a new one."
            )
        ) from None
    if expected is not None and purpose not in expected:
        raise Refused(message(403, "Link expired", "This link does not open this page."))
    customer = None
    if "c" in payload:
        with service.store.read() as conn:
            customer = customer_by_id(conn, int(payload["c"]))
        if (
            customer is None
            or customer["links_epoch"] != payload.get("e")
            or customer["status"] != "Enabled"
        ):
            raise Refused(
                message(403, "Link expired", "This link was revoked: ask the site for a new one.")
            )
    return Link(token, purpose, payload, customer)


def display_name(customer: Row) -> str:
    return f"{customer['name'] or customer['reference']} ({customer['reference']})"


def base_context(link: Link) -> dict[str, Any]:
    customer = link.customer
    context: dict[str, Any] = {
        "title": TITLES[link.purpose],
        "token": link.token,
        "csrf": csrf_token(link.token),
    }
    if customer is not None:
        context.update(
            customer_name=display_name(customer),
            home=home_url(customer),
            invoices_url=query_url("collection-invoice", customer),
        )
    return context


def contact_values(customer: Row, form: Form) -> dict[str, str]:
    stored = json.loads(customer["address"] or "{}")
    values = {name: str(stored.get(name) or "") for name in CONTACT_FIELDS}
    values["Name"] = customer["name"] or ""
    values.update(form.values)
    return values


# --- reading forms ------------------------------------------------------------------------------


def read_contact() -> Contact:
    problems: list[ApiError] = []
    address: dict[str, str] = {}
    for name in CONTACT_FIELDS:
        value = request.form.get(name, "").strip()
        if len(value) > MAX_FIELD:
            problems.append(ApiError(422, "Invalid", f"{name} is too long", name))
        elif value:
            address[name] = value
    country = address.get("Country")
    if country is not None:
        if len(country) != 2 or not country.isalpha():
            problems.append(ApiError(422, "Invalid", "Country is a 2-letter code (FR, US...)"))
        address["Country"] = country.upper()
    name = request.form.get("Name", "").strip()
    if len(name) > MAX_FIELD:
        problems.append(ApiError(422, "Invalid", "The name is too long", "Name"))
    if problems:
        raise ValidationFailed(problems)
    assert all(k in ADDRESS_FIELDS for k in address)
    return Contact(name=name or None, address=address)


def read_payment() -> Payment:
    choice = request.form.get("payment", "card")
    number = "".join(request.form.get("card_number", "").split()).replace("-", "")
    if choice == "offline":
        return Payment(offline=True)
    if choice == "onfile" and not number:
        return Payment()
    return Payment(card_number=number or None)


def kept_values() -> dict[str, str]:
    """What the customer typed (never the card number), to show again after a refusal."""
    return {k: v for k, v in request.form.items() if k in (*CONTACT_FIELDS, "Name", "payment")}


def finish(customer: Row, outcome: Outcome) -> Response:
    """The post-workflow redirect back to the site (303), or a "done" page."""
    params: dict[str, Any] = {"from": outcome.origin, "outcome": outcome.outcome}
    params["idc"] = customer["id"]
    if outcome.reference_offer:
        params["refo"] = outcome.reference_offer
    if outcome.id_subscription is not None:
        params["idsub"] = outcome.id_subscription
    target = current_app.config.get("SANDBOX_RETURN_URL")
    if target:
        separator = "&" if "?" in str(target) else "?"
        response = Response(status=303)
        response.headers["Location"] = f"{target}{separator}{urlencode(params)}"
        return response
    words = {
        "paid": "Payment received. Thank you!",
        "nocharge": "Done: nothing was charged.",
        "pending": "Done: your invoice awaits your offline payment.",
        "registered": "Your details were saved.",
        "due": "Done: a payment is still due.",
    }
    return message(
        200, "All done", words.get(outcome.outcome, "Done."), home=home_url(customer), done=params
    )


# --- pages --------------------------------------------------------------------------------------


def home_page(link: Link, form: Form | None = None, status: int = 200) -> Response:
    service = sandbox()
    customer = link.who
    with service.transaction() as tx:
        segment = segment_of(tx.catalog, customer)
        subs = views.current_subscriptions(tx.conn, customer)
        cards = [views.subscription_card(tx.conn, s, tx.catalog, tx.now) for s in subs]
        invoices = tx.all(
            "SELECT * FROM invoices WHERE customer_id = ? ORDER BY id DESC LIMIT 5",
            (customer["id"],),
        )
        rows = [views.invoice_row(i, segment.currency) for i in invoices]
        unpaid = len(flows.unpaid_invoices(tx.conn, customer))
    for card in cards:
        sid = card["id"]
        card["upgrade_url"] = query_url("collection-upgrade", customer, s=sid)
        card["restart_url"] = query_url("restart", customer, s=sid)
        card["subscribe_url"] = query_url("subscribe", customer, s=sid)
    for row in rows:
        row["url"] = invoice_url(customer, row["id"])
        row["pay_url"] = query_url("charge", customer, i=row["id"])
    focus = link.get("s")
    if focus is not None:
        cards.sort(key=lambda c: c["id"] != focus)
    return page(
        "home.html",
        status,
        **base_context(link),
        subscriptions=cards,
        invoices=rows,
        unpaid=unpaid,
        email=customer["email"],
        payment=views.payment_label(customer),
        register_url=query_url("register", customer),
        offers_url=query_url("collection-offers", customer),
        error=(form or Form()).error,
    )


def offers_page(link: Link) -> Response:
    service = sandbox()
    customer = link.who
    upgrading = link.purpose in ("collection-upgrade", "upgrade")
    with service.store.read() as conn:
        active = views.active_subscription(conn, customer)
        if link.get("s") is not None:
            chosen = conn.execute(
                "SELECT * FROM subscriptions WHERE id = ? AND customer_id = ?",
                (link.get("s"), customer["id"]),
            ).fetchone()
            active = chosen or active
    if upgrading and active is None:
        return message(
            409,
            "Change offer",
            "You have no running subscription to change.",
            home=home_url(customer),
        )
    offers = views.visible_offers(service.catalog, customer)
    cards = []
    for offer in offers:
        card = views.offer_card(offer)
        card["current"] = active is not None and active["offer"] == offer.reference
        if active is not None:  # one running subscription: choosing an offer changes it
            card["url"] = query_url("upgrade", customer, o=offer.reference, s=active["id"])
        else:
            card["url"] = query_url("subscribe", customer, o=offer.reference)
        cards.append(card)
    return page(
        "offers.html",
        **base_context(link),
        offers=cards,
        upgrading=upgrading or active is not None,
    )


def _payment_context(customer: Row, quote: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "on_file": views.payment_label(customer),
        "has_card": customer["type_payment"] == "Card",
        "quote": quote,
    }


def subscribe_page(link: Link, form: Form | None = None, status: int = 200) -> Response:
    form = form or Form()
    service = sandbox()
    customer = link.who
    replaced: Row | None = None
    with service.transaction() as tx:
        if link.get("s") is not None:
            sub = tx.one(
                "SELECT * FROM subscriptions WHERE id = ? AND customer_id = ?",
                (link.get("s"), customer["id"]),
            )
            if sub is None or not sub["state"].startswith("Draft"):
                return message(
                    409,
                    "Subscribe",
                    "This subscription has already started or ended.",
                    home=home_url(customer),
                )
            offer = tx.catalog.offer(sub["offer"])
            quote = views.quote_draft(tx, sub)
        else:
            offer = tx.catalog.offer(str(link.get("o")), segment_of(tx.catalog, customer))
            if offer is None:
                return message(404, "Subscribe", "This offer does not exist any more.")
            active = views.active_subscription(tx.conn, customer)
            if active is not None:
                replaced = active
            else:
                quote = views.quote_offer(tx, customer, offer)
    assert offer is not None
    if replaced is not None:  # one running subscription: subscribing changes its offer
        token = sandbox().links.token(
            "upgrade",
            c=customer["id"],
            e=customer["links_epoch"],
            o=offer.reference,
            s=replaced["id"],
        )
        return upgrade_page(
            Link(token, "upgrade", {"o": offer.reference, "s": replaced["id"]}, customer),
            form,
            status,
            via_subscribe=True,
        )
    return page(
        "subscribe.html",
        status,
        **base_context(link),
        action=url_for("sandbox_portal.act", name="subscribe"),
        offer=views.offer_card(offer),
        contact=contact_values(customer, form),
        error=form.error,
        choice=form.values.get("payment"),
        **_payment_context(customer, quote),
    )


def upgrade_page(
    link: Link, form: Form | None = None, status: int = 200, *, via_subscribe: bool = False
) -> Response:
    if link.get("o") is None:
        return offers_page(link)
    form = form or Form()
    service = sandbox()
    customer = link.who
    with service.transaction() as tx:
        old = _target_subscription(tx, link)
        offer = tx.catalog.offer(str(link.get("o")), segment_of(tx.catalog, customer))
        if old is None or offer is None:
            return message(
                409, "Change offer", "There is nothing to change.", home=home_url(customer)
            )
        if old["offer"] == offer.reference:
            return message(
                200, "Change offer", "You already have this offer.", home=home_url(customer)
            )
        quote = views.quote_upgrade(tx, old, offer)
        current = views.subscription_card(tx.conn, old, tx.catalog, tx.now)
    return page(
        "upgrade.html",
        status,
        **base_context(link),
        action=url_for("sandbox_portal.act", name="upgrade"),
        offer=views.offer_card(offer),
        current=current,
        via_subscribe=via_subscribe,
        error=form.error,
        choice=form.values.get("payment"),
        **_payment_context(customer, quote),
    )


def _target_subscription(tx: Tx, link: Link) -> Row | None:
    customer = link.who
    if link.get("s") is not None:
        return tx.one(
            "SELECT * FROM subscriptions WHERE id = ? AND customer_id = ?",
            (link.get("s"), customer["id"]),
        )
    return views.active_subscription(tx.conn, customer)


def register_page(link: Link, form: Form | None = None, status: int = 200) -> Response:
    form = form or Form()
    customer = link.who
    with sandbox().store.read() as conn:
        drafts = conn.execute(
            "SELECT * FROM subscriptions WHERE customer_id = ? AND state IN (?, ?)",
            (customer["id"], *flows.DRAFTS_WAITING_FOR_PAYMENT),
        ).fetchall()
    return page(
        "register.html",
        status,
        **base_context(link),
        action=url_for("sandbox_portal.act", name="register"),
        contact=contact_values(customer, form),
        error=form.error,
        drafts=len(drafts),
        choice=form.values.get("payment"),
        **_payment_context(customer, None),
    )


def restart_page(link: Link, form: Form | None = None, status: int = 200) -> Response:
    form = form or Form()
    service = sandbox()
    customer = link.who
    with service.transaction() as tx:
        sub = _target_subscription(tx, link)
        if sub is None or not (
            sub["state"].startswith("Suspended") or sub["state"] == "ActiveDelayedTermination"
        ):
            return message(
                409,
                "Restart your subscription",
                "This subscription does not need restarting.",
                home=home_url(customer),
            )
        payer = subscriptions.payer_of(tx, sub)
        segment = segment_of(tx.catalog, payer)
        arrears = [
            views.invoice_row(i, segment.currency) for i in flows.unpaid_invoices(tx.conn, payer)
        ]
        owed = sum(int(i["amount_total"]) for i in flows.unpaid_invoices(tx.conn, payer))
        quote = views.quote_restart(tx, sub)
        card = views.subscription_card(tx.conn, sub, tx.catalog, tx.now)
    return page(
        "restart.html",
        status,
        **base_context(link),
        action=url_for("sandbox_portal.act", name="restart"),
        subscription=card,
        arrears=arrears,
        owed=money(owed, segment.currency),
        needs_payment=bool(arrears) or quote["due_amount"] > 0,
        error=form.error,
        choice=form.values.get("payment"),
        **_payment_context(payer, quote),
    )


def invoices_page(link: Link) -> Response:
    customer = link.who
    with sandbox().store.read() as conn:
        segment = segment_of(sandbox().catalog, customer)
        invoices = conn.execute(
            "SELECT * FROM invoices WHERE customer_id = ? ORDER BY id DESC", (customer["id"],)
        ).fetchall()
    rows = [views.invoice_row(i, segment.currency) for i in invoices]
    for row in rows:
        row["url"] = invoice_url(customer, row["id"])
        row["pay_url"] = query_url("charge", customer, i=row["id"])
    return page("invoices.html", **base_context(link), invoices=rows)


def _invoice(link: Link) -> tuple[Row, list[Row]] | None:
    with sandbox().store.read() as conn:
        invoice = conn.execute(
            "SELECT * FROM invoices WHERE id = ? AND customer_id = ?",
            (link.get("i"), link.who["id"]),
        ).fetchone()
        if invoice is None:
            return None
        lines = conn.execute(
            "SELECT * FROM balance_lines WHERE invoice_id = ? ORDER BY id", (invoice["id"],)
        ).fetchall()
    return invoice, list(lines)


def charge_page(link: Link, form: Form | None = None, status: int = 200) -> Response:
    form = form or Form()
    customer = link.who
    found = _invoice(link)
    if found is None:
        return message(
            404, "Pay an invoice", "This invoice does not exist.", home=home_url(customer)
        )
    invoice, _ = found
    segment = segment_of(sandbox().catalog, customer)
    row = views.invoice_row(invoice, segment.currency)
    row["url"] = invoice_url(customer, invoice["id"])
    return page(
        "charge.html",
        status,
        **base_context(link),
        action=url_for("sandbox_portal.act", name="charge"),
        invoice=row,
        error=form.error,
        choice=form.values.get("payment"),
        **_payment_context(customer, None),
    )


def invoice_document(link: Link) -> Response:
    customer = link.who
    found = _invoice(link)
    if found is None:
        return message(404, "Invoice", "This invoice does not exist.")
    invoice, lines = found
    segment = segment_of(sandbox().catalog, customer)
    address = json.loads(customer["address"] or "{}")
    context: dict[str, Any] = {
        "invoice": views.invoice_row(invoice, segment.currency),
        "subtotal": money(int(invoice["amount_subtotal"]), segment.currency),
        "tax": money(
            int(invoice["amount_total"]) - int(invoice["amount_subtotal"]), segment.currency
        ),
        "tax_percent": segment.tax_percent,
        "lines": [
            {
                "label": line["label"],
                "period": " - ".join(
                    d
                    for d in (
                        views.day(line["date_period_start"]),
                        views.day(line["date_period_end"]),
                    )
                    if d
                ),
                "amount": money(int(line["amount_subtotal"]), segment.currency),
            }
            for line in lines
        ],
        "customer_name": display_name(customer),
        "address": [str(address[k]) for k in ADDRESS_FIELDS if address.get(k)],
    }
    pdf = _pdf(context)
    if pdf is not None:
        response = Response(pdf, mimetype="application/pdf")
        filename = f"{invoice['full_number']}.pdf"
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
    return page("invoice.html", title=f"Invoice {invoice['full_number']}", **context)


def _pdf(context: Mapping[str, Any]) -> bytes | None:
    """The invoice as a PDF when ``fpdf2`` is installed (it is an optional dependency)."""
    try:
        from fpdf import FPDF  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    doc: Any = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=16)
    invoice = context["invoice"]
    doc.cell(0, 10, _latin(f"Invoice {invoice['number']}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=11)
    for text in (f"Issued {invoice['date']}", context["customer_name"], *context["address"]):
        doc.cell(0, 7, _latin(text), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    for line in context["lines"]:
        doc.cell(130, 7, _latin(f"{line['label']} {line['period']}"))
        doc.cell(0, 7, _latin(line["amount"]), align="R", new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    for label, value in (
        ("Subtotal", context["subtotal"]),
        (f"Tax ({context['tax_percent']:g}%)", context["tax"]),
        ("Total", invoice["amount"]),
        ("Status", invoice["words"]),
    ):
        doc.cell(130, 7, _latin(label))
        doc.cell(0, 7, _latin(value), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def _latin(text: str) -> str:
    text = text.replace("€", "EUR ").replace("\u2013", "-")
    return text.encode("latin-1", "replace").decode("latin-1")


def anonymous_page(link: Link) -> Response:
    offer_ref = link.get("o")
    offer = sandbox().catalog.offer(str(offer_ref)) if offer_ref else None
    offers = [offer] if offer is not None else [o for o in sandbox().catalog.offers if o.visible]
    return page(
        "offers.html",
        title="Offers",
        offers=[views.offer_card(o) for o in offers],
        anonymous=True,
    )


PAGES: dict[str, Callable[[Link], Response]] = {
    "home": home_page,
    "related-subscription": home_page,
    "collection-offers": offers_page,
    "collection-upgrade": offers_page,
    "upgrade": upgrade_page,
    "subscribe": subscribe_page,
    "register": register_page,
    "restart": restart_page,
    "charge": charge_page,
    "collection-invoice": invoices_page,
    "related-invoice": invoice_document,
}


def show(link: Link) -> Response:
    if link.customer is None:
        return anonymous_page(link)
    sandbox().catch_up()
    return PAGES[link.purpose](link)


@bp.get("/portal")
def open_query() -> Response:
    token = request.args.get("query") or request.args.get("pa_query") or ""
    try:
        return show(load(token))
    except Refused as refused:
        return refused.response


@bp.get("/portal/auth/<token>")
def open_home(token: str) -> Response:
    try:
        return show(load(token, ("home",)))
    except Refused as refused:
        return refused.response


@bp.get("/portal/invoice-pdf/<token>")
def open_invoice(token: str) -> Response:
    try:
        return show(load(token, ("related-invoice",)))
    except Refused as refused:
        return refused.response


@bp.get("/portal/anon/<segment>")
def open_anonymous(segment: str) -> Response:
    found = sandbox().catalog.segment(segment)
    offers = [o for o in sandbox().catalog.offers if o.visible and o.segment == found]
    return page(
        "offers.html",
        title="Offers",
        offers=[views.offer_card(o) for o in offers],
        anonymous=True,
    )


# --- workflows ----------------------------------------------------------------------------------

Flow = Callable[[Tx, Link], Outcome]


def _subscribe(tx: Tx, link: Link) -> Outcome:
    sid = link.get("s")
    offer = None
    if sid is None:
        offer = tx.catalog.offer(str(link.get("o")), segment_of(tx.catalog, link.who))
        if offer is None:
            raise ApiError(404, "Error.Api.Offer.NotFound", "This offer does not exist any more")
        if views.active_subscription(tx.conn, link.who) is not None:
            raise ApiError(409, "Conflict", "You already have a running subscription")
    return flows.subscribe(
        tx,
        link.who,
        offer=offer,
        id_subscription=None if sid is None else int(sid),
        contact=read_contact(),
        payment=read_payment(),
    )


def _upgrade(tx: Tx, link: Link) -> Outcome:
    old = _target_subscription(tx, link)
    offer = tx.catalog.offer(str(link.get("o")), segment_of(tx.catalog, link.who))
    if old is None or offer is None:
        raise ApiError(409, "Conflict", "There is nothing to change")
    return flows.upgrade(tx, link.who, old["id"], offer, read_payment())


def _register(tx: Tx, link: Link) -> Outcome:
    payment = read_payment()
    contact = read_contact()
    if not payment.card_number and not payment.offline and not has_payment_method(link.who):
        raise ApiError(422, "Required", "Enter a card number")
    return flows.register(tx, link.who, contact, payment)


def _restart(tx: Tx, link: Link) -> Outcome:
    sub = _target_subscription(tx, link)
    if sub is None:
        raise ApiError(404, "NotFound", "No such subscription")
    return flows.restart(tx, link.who, sub["id"], read_payment())


def _charge(tx: Tx, link: Link) -> Outcome:
    return flows.charge(tx, link.who, int(link.get("i")), read_payment())


def _terminate(tx: Tx, link: Link) -> Outcome:
    if request.form.get("confirm") != "yes":
        raise ApiError(422, "Required", "Tick the box to confirm the termination")
    try:
        sid = int(request.form.get("subscription", ""))
    except ValueError:
        raise ApiError(422, "Invalid", "Which subscription?") from None
    return flows.terminate(tx, link.who, sid)


ACTIONS: dict[str, tuple[tuple[str, ...], Flow, Callable[[Link, Form, int], Response]]] = {
    "subscribe": (("subscribe",), _subscribe, subscribe_page),
    "upgrade": (("upgrade",), _upgrade, upgrade_page),
    "register": (("register",), _register, register_page),
    "restart": (("restart",), _restart, restart_page),
    "charge": (("charge",), _charge, charge_page),
    "terminate": (("home", "related-subscription"), _terminate, home_page),
}


def check_csrf(token: str) -> None:
    sent = request.form.get("csrf", "")
    if not sent:
        raise Refused(message(400, "Form expired", "Reload the page and try again."))
    if not hmac.compare_digest(sent.encode(), csrf_token(token).encode()):
        raise Refused(message(403, "Form refused", "Reload the page and try again."))


@bp.post("/portal/action/<name>")
def act(name: str) -> Response:
    if name not in ACTIONS:
        return message(404, "Not found", "No such page.")
    purposes, flow, again = ACTIONS[name]
    token = request.form.get("token", "")
    try:
        link = load(token, purposes)
        if link.customer is None:
            return message(403, "Sign in first", "Open this page from the site, signed in.")
        check_csrf(token)
    except Refused as refused:
        return refused.response
    service = sandbox()
    try:
        with service.transaction() as tx:
            outcome = flow(tx, link)
    except Declined:
        return again(link, Form(DECLINED, kept_values()), 402)
    except ValidationFailed as exc:
        text = " ".join(item.message for item in exc.items)
        return again(link, Form(text, kept_values()), 422)
    except ApiError as exc:
        return again(link, Form(_explain(exc), kept_values()), 422)
    return finish(link.who, outcome)


def _explain(exc: ApiError) -> str:
    if exc.code == "Error.Customer.PaymentSettings.Missing":
        return "A payment is needed: enter a card number."
    if exc.code == "Error.Customer.Billing.CappingReached":
        return "Some invoices are unpaid: pay them first."
    return exc.message
