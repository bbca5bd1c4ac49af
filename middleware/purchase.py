"""Integrated purchasing: quote the cost of a change (one more download, one more seat), let the
user confirm, and record it so that the billing service invoices it.

* ``POST <mount>/quote`` (JSON ``{"feature": "downloads", "increment": 1}``, or ``"quantity"``
  for an absolute Limitation, or ``"enable": true`` for an OnOff option) answers the quote:
  ``amount_due`` (cents), ``pricing`` (the billing service's own wording), ``next_term``, ``free``
  and a ``token``.
* ``POST <mount>/confirm`` (``{"token": ...}``) records the quoted change, if the price is still the
  one quoted (otherwise 409 with the new quote: the user never pays what they did not see).
* ``GET <mount>/purchase?feature=downloads&increment=1&next=/downloads/x`` is a ready-made
  confirmation page; its form posts back to ``<mount>/purchase`` and returns to ``next``.

The token is signed with ``[site] secret_key``, bound to the user and to the quoted change and
price, and expires after ``TOKEN_MAX_AGE``: it is the proof of a quote this user saw, which also
makes confirmation immune to cross-site forgery (another site cannot read a quote). Refusals come
back with the reason a site can act on: ``payment_method_missing`` (with the payment link),
``capping_reached``, ``no_subscription``, ``billing_unavailable``.

What this module does not do: decide rights (the gate) or fetch hosted links (the endpoints).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.api_usages import UsageChange
from bridge.errors import (
    BillingError,
    BillingUnavailable,
    CappingReached,
    PaymentMethodMissing,
    UsageNoneMatching,
)
from bridge.models import Quote
from middleware.http import private_headers, safe_next
from middleware.paywall import DenyResponse, plain, redirect

if TYPE_CHECKING:
    from middleware.gate import Gate

log = logging.getLogger("bridge.purchase")

TOKEN_MAX_AGE = 600
MAX_BODY = 16 * 1024
MAX_UNITS = 10_000


class BadPurchase(ValueError):
    """The request does not describe a change the bridge can quote."""


@dataclass(frozen=True)
class Change:
    """What the user wants to buy: exactly one of increment / quantity / enable."""

    feature: str
    increment: int | None = None
    quantity: int | None = None
    enable: bool | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Change:
        feature = data.get("feature")
        if not isinstance(feature, str) or not 0 < len(feature) <= 50:
            raise BadPurchase("feature: a feature reference is required")
        given = [k for k in ("increment", "quantity", "enable") if data.get(k) not in (None, "")]
        if len(given) != 1:
            raise BadPurchase("give exactly one of increment, quantity or enable")
        key = given[0]
        raw = data[key]
        if key == "enable":
            if isinstance(raw, str):
                raw = raw.lower() in ("1", "true", "yes", "on")
            if not isinstance(raw, bool):
                raise BadPurchase("enable: true or false")
            return cls(feature, enable=raw)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise BadPurchase(f"{key}: a whole number") from None
        if isinstance(raw, bool) or abs(number) > MAX_UNITS or (key == "increment" and number <= 0):
            raise BadPurchase(f"{key}: out of range")
        if key == "quantity" and number < 0:
            raise BadPurchase("quantity: not negative")
        return (
            cls(feature, increment=number) if key == "increment" else cls(feature, quantity=number)
        )

    def usage(self, reference_customer: str) -> UsageChange:
        return UsageChange(
            reference_customer,
            self.feature,
            increment=self.increment,
            quantity_current=self.quantity,
            is_enabled=self.enable,
        )

    def as_json(self) -> dict[str, Any]:
        values = {"increment": self.increment, "quantity": self.quantity, "enable": self.enable}
        return {"feature": self.feature, **{k: v for k, v in values.items() if v is not None}}


def quote_json(change: Change, quote: Quote, token: str) -> dict[str, Any]:
    next_term = quote.next_term
    return {
        **change.as_json(),
        "amount_due": quote.amount_due,
        "currency": quote.currency,
        "pricing": quote.pricing_localized,
        "free": quote.is_free,
        "next_term": None
        if next_term is None
        else {"amount": next_term.amount_due, "pricing": next_term.pricing_localized},
        "token": token,
    }


class Purchases:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        secret = gate.config.site.secret_key or ""
        self._tokens = URLSafeTimedSerializer(secret, salt="proabono-bridge.purchase")

    # --- HTTP --------------------------------------------------------------------------------

    def handle(self, name: str, environ: dict[str, Any], method: str) -> DenyResponse:
        if name == "purchase" and method in ("GET", "HEAD"):
            return self._page(environ)
        if method != "POST":
            allow = "GET, HEAD, POST" if name == "purchase" else "POST"
            return plain("405 Method Not Allowed", "Method Not Allowed\n", extra=[("Allow", allow)])
        if not self._same_origin(environ):
            return _json(403, {"error": "cross_site_request"})
        try:
            data = self._read(environ)
        except BadPurchase as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})
        reference = self._customer(environ)
        if reference is None:
            return _json(401, {"error": "login_required"})
        if name == "quote":
            return self._quote(reference, data)
        if name == "confirm":
            return self._confirm(reference, data)
        return self._purchase_form(reference, data)

    def _customer(self, environ: Mapping[str, Any]) -> str | None:
        try:
            user = self.gate.identify(environ)
        except Exception:
            log.exception("identifying the user failed")
            return None
        return None if user is None else self.gate.bridge.reference_for(user)

    def _same_origin(self, environ: Mapping[str, Any]) -> bool:
        """A browser's Origin (when it sends one) must be the site's own."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin or origin == "null":
            return origin != "null"
        return str(origin).rstrip("/") == self.gate.config.site.base_url.rstrip("/")

    @staticmethod
    def _read(environ: Mapping[str, Any]) -> dict[str, Any]:
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            raise BadPurchase("body missing or too large")
        stream = environ.get("wsgi.input")
        body = stream.read(int(length)) if stream is not None and int(length) else b""
        content_type = str(environ.get("CONTENT_TYPE", "")).lower()
        if content_type.startswith("application/json"):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                raise BadPurchase("body is not JSON") from None
            if not isinstance(data, dict):
                raise BadPurchase("body must be a JSON object")
            return data
        fields = parse_qs(body.decode("utf-8", "replace"))
        return {key: values[0] for key, values in fields.items()}

    # --- the two steps -----------------------------------------------------------------------

    def quote(self, reference: str, change: Change) -> tuple[Quote, str]:
        quote = self.gate.bridge.client.quote_usage(change.usage(reference))
        token = self._tokens.dumps({"c": reference, **change.as_json(), "a": quote.amount_due})
        return quote, token

    def _quote(self, reference: str, data: Mapping[str, Any]) -> DenyResponse:
        try:
            change = Change.parse(data)
            quote, token = self.quote(reference, change)
        except BadPurchase as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})
        except BillingError as exc:
            return self._refusal(exc)
        return _json(200, quote_json(change, quote, token))

    def confirm(self, reference: str, token: str) -> DenyResponse | None:
        """Record the quoted change; None when done, else the JSON answer explaining why not."""
        try:
            claim = self._tokens.loads(token, max_age=TOKEN_MAX_AGE)
        except BadSignature:
            return _json(400, {"error": "quote_expired", "message": "ask for a new quote"})
        if not isinstance(claim, dict) or claim.get("c") != reference:
            return _json(403, {"error": "not_your_quote"})
        try:
            change = Change.parse(claim)
            quote, fresh = self.quote(reference, change)  # the price must still be the one seen
            if quote.amount_due != claim.get("a"):
                return _json(409, {"error": "quote_changed", **quote_json(change, quote, fresh)})
            self.gate.bridge.client.record_usage(change.usage(reference))
        except BadPurchase as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})
        except BillingError as exc:
            return self._refusal(exc)
        finally:
            self.gate.bridge.refresh(reference)  # rights changed (or may have): read them again
        return None

    def _confirm(self, reference: str, data: Mapping[str, Any]) -> DenyResponse:
        token = data.get("token")
        if not isinstance(token, str):
            return _json(400, {"error": "bad_request", "message": "token: the quote's token"})
        refused = self.confirm(reference, token)
        return refused or _json(200, {"ok": True})

    def _refusal(self, exc: BillingError) -> DenyResponse:
        mount = self.gate.mount
        if isinstance(exc, PaymentMethodMissing):
            return _json(
                402, {"error": "payment_method_missing", "links": {"payment": f"{mount}/payment"}}
            )
        if isinstance(exc, CappingReached):
            return _json(402, {"error": "capping_reached", "links": {"portal": f"{mount}/portal"}})
        if isinstance(exc, UsageNoneMatching):
            return _json(402, {"error": "no_subscription", "links": {"offers": f"{mount}/offers"}})
        if not isinstance(exc, BillingUnavailable):
            log.warning("purchase refused: %s", exc)
            return _json(422, {"error": "refused", "message": exc.api_message})
        return _json(503, {"error": "billing_unavailable"}, retry_after=True)

    # --- the ready-made page -----------------------------------------------------------------

    def _page(self, environ: dict[str, Any]) -> DenyResponse:
        query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        next_url = safe_next(query.get("next"))
        reference = self._customer(environ)
        if reference is None:
            target = f"{self.gate.mount}/purchase?{environ.get('QUERY_STRING', '')}"
            return redirect(f"{self.gate.config.site.login_url}?next={quote(target, safe='/')}")
        try:
            change = Change.parse(query)
            offer, token = self.quote(reference, change)
        except BadPurchase as exc:
            return plain("400 Bad Request", f"{exc}\n")
        except BillingError as exc:
            refused = self._refusal(exc)
            return _page(refused.status, "This cannot be bought now", _refusal_text(refused), None)
        if offer.is_free:
            what = "This is included in your subscription."
        else:
            price = (
                offer.pricing_localized or f"{offer.amount_due / 100:.2f} {offer.currency or ''}"
            )
            what = f"This costs {price}, added to your next invoice or charged now."
        label = "Continue" if offer.is_free else "Confirm"
        form = (
            f'<form method="post" action="{html.escape(self.gate.mount)}/purchase">'
            f'<input type="hidden" name="token" value="{html.escape(token)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            f'<button class="cta" type="submit">{label}</button>'
            f' <a href="{html.escape(next_url)}">Cancel</a></form>'
        )
        units = change.increment or change.quantity
        title = f"{units} {change.feature}" if units else change.feature
        return _page("200 OK", f"Confirm: {title}", what, form)

    def _purchase_form(self, reference: str, data: Mapping[str, Any]) -> DenyResponse:
        token = data.get("token")
        next_url = safe_next(data.get("next") if isinstance(data.get("next"), str) else None)
        if not isinstance(token, str):
            return plain("400 Bad Request", "Missing quote.\n")
        refused = self.confirm(reference, token)
        if refused is None:
            return redirect(next_url)
        return _page(
            refused.status, "This purchase did not go through", _refusal_text(refused), None
        )


def _refusal_text(response: DenyResponse) -> str:
    try:
        reason = json.loads(response.body).get("error", "")
    except ValueError:
        reason = ""
    return {
        "payment_method_missing": "Add a payment method first, then try again.",
        "capping_reached": "Please pay your outstanding invoices first.",
        "no_subscription": "This needs a subscription: see the offers.",
        "quote_changed": "The price changed since you saw it: please check it again.",
        "quote_expired": "This confirmation has expired: please start again.",
        "billing_unavailable": "Billing is temporarily unavailable: please try again in a minute.",
    }.get(reason, "The billing service refused this purchase.")


def _json(status: int, payload: Mapping[str, Any], *, retry_after: bool = False) -> DenyResponse:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after:
        headers.append(("Retry-After", "30"))
    line = f"{status} {HTTPStatus(status).phrase}"
    return DenyResponse(line, private_headers(headers, no_store=True), body)


def _page(status: str, title: str, text: str, form: str | None) -> DenyResponse:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "background:#f6f7f9;color:#1d2330;margin:0}main{max-width:32rem;margin:12vh auto;"
        "padding:2rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}"
        ".cta{padding:.7rem 1.2rem;border:0;border-radius:8px;background:#2454d6;color:#fff;"
        "font-weight:600;cursor:pointer}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form or ''}</main></body></html>"
    ).encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    return DenyResponse(status, private_headers(headers, no_store=True), body)
