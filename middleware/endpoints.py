"""The bridge's own endpoints, under the mount (``/_billing`` by default).

==========================  ==========================================================
``GET portal``              303 to a fresh portal link (``insite-home``)
``GET restart``             303 to a fresh ``insite-restart`` of the suspended subscription
``GET payment``             303 to ``insite-register`` (contact details + payment method)
``GET offers``              303 to the offers, or the upgrade offers with an active subscription
``GET subscribe/<offer>``   customer upserted with that offer, 303 to ``insite-subscribe``
``GET return``              back from a hosted page: rights re-read, 303 to a safe local ``next``
``POST webhook``            ProAbono notifications (``bridge.webhooks``): verified, de-duplicated
``GET pricing``             the offers grid (``middleware.pricing``), anonymous or signed in
``POST quote``, ``confirm``  integrated purchasing (``middleware.purchase``), JSON
``GET/POST purchase``       its ready-made confirmation page
==========================  ==========================================================

Links are fetched at click time, used for one redirect and never cached or logged: every answer
here is ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``. A visitor who is not
signed in is sent to the login page and comes back to the same endpoint.

What this module does not do: render pages beyond redirects (paywall, pricing, purchase).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from bridge.entitlements import Reason
from bridge.errors import BillingError
from bridge.links import Action, LinkUnavailable
from bridge.webhooks import MAX_BODY, WebhookResult
from middleware.http import private_headers, request_target, safe_next, wants_json
from middleware.paywall import DenyResponse, plain, redirect
from middleware.pricing import render as render_pricing
from middleware.purchase import Purchases
from middleware.registration import OFFER_REFERENCE

if TYPE_CHECKING:
    from middleware.gate import Gate, StartResponse

log = logging.getLogger("bridge.endpoints")

LINK_ACTIONS = {
    "portal": Action.PORTAL,
    "restart": Action.RESTART,
    "payment": Action.PAYMENT,
    "offers": Action.OFFERS,
}
SANDBOX_PAGES = ("/sandbox/portal", "/sandbox/static/")


def no_referrer(response: DenyResponse) -> DenyResponse:
    return DenyResponse(
        response.status, [*response.headers, ("Referrer-Policy", "no-referrer")], response.body
    )


class Endpoints:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.mount = gate.mount
        self.hosted = gate.bridge.hosted_pages()
        self.purchases = Purchases(gate)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sub = str(environ.get("PATH_INFO", ""))[len(self.mount) :]
        if self.hosted is not None and sub.startswith(SANDBOX_PAGES):
            return self._sandbox_page(self.hosted, environ, start_response)
        return self.gate.send(self.handle(environ), environ, start_response)

    def _sandbox_page(
        self, hosted: Any, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """The in-process sandbox's hosted pages (only those: never its API or admin)."""
        inner = dict(environ)
        inner["SCRIPT_NAME"] = str(environ.get("SCRIPT_NAME", "")) + self.mount + "/sandbox"
        inner["PATH_INFO"] = str(environ.get("PATH_INFO", ""))[len(self.mount) + len("/sandbox") :]
        body: Iterable[bytes] = hosted(inner, start_response)
        return body

    def handle(self, environ: dict[str, Any]) -> DenyResponse:
        name = str(environ.get("PATH_INFO", ""))[len(self.mount) :].strip("/")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        action: Action | None = LINK_ACTIONS.get(name)
        offer: str | None = None
        if name.startswith("subscribe/"):
            offer = name.removeprefix("subscribe/")
            if not OFFER_REFERENCE.fullmatch(offer):
                return plain("404 Not Found", "No such offer.\n")
            action = Action.SUBSCRIBE
        if name == "webhook":
            return self._webhook(environ, method)
        if name == "pricing":
            return self._pricing(environ, method)
        if name in ("quote", "confirm", "purchase"):
            return self.purchases.handle(name, environ, method)
        if action is None and name != "return":
            return plain("404 Not Found", "Not Found\n")
        if method not in ("GET", "HEAD"):
            return plain(
                "405 Method Not Allowed", "Method Not Allowed\n", extra=[("Allow", "GET, HEAD")]
            )
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        next_url = safe_next(query["next"][0] if query.get("next") else None)
        try:
            user = self.gate.identify(environ)
        except Exception:
            log.exception("identifying the user failed")
            user = None
        if name == "return":
            if user is not None:
                self.gate.bridge.refresh(self.gate.bridge.reference_for(user))
            return redirect(next_url)
        assert action is not None
        if user is None:
            target = request_target(environ)
            if wants_json(environ):
                return self.gate.paywall.deny(Reason.LOGIN_REQUIRED, None, target, json_client=True)
            return redirect(self.gate.paywall.action_url(Reason.LOGIN_REQUIRED, target))
        return no_referrer(self._hosted(environ, user, action, offer, next_url))

    def _pricing(self, environ: dict[str, Any], method: str) -> DenyResponse:
        if method not in ("GET", "HEAD"):
            return plain(
                "405 Method Not Allowed", "Method Not Allowed\n", extra=[("Allow", "GET, HEAD")]
            )
        bridge = self.gate.bridge
        try:
            user = self.gate.identify(environ)
        except Exception:
            log.exception("identifying the user failed")
            user = None
        reference = bridge.reference_for(user) if user is not None else None
        try:
            offers = bridge.client.list_offers(
                reference_customer=reference, is_visible=True, html=False
            ).items
            current = None
            if reference is not None:
                subscription = bridge.state(reference).subscription
                current = (
                    subscription.reference_offer
                    if subscription and subscription.is_active
                    else None
                )
        except BillingError as exc:
            log.warning("pricing page: %s", exc)
            return self.gate.paywall.deny(
                Reason.BILLING_UNAVAILABLE, None, f"{self.mount}/pricing", json_client=False
            )
        if reference is None:
            registration = self.gate.config.registration
            separator = "&" if "?" in registration.register_url else "?"
            choose = f"{registration.register_url}{separator}{registration.offer_param}={{offer}}"
        else:
            choose = f"{self.mount}/subscribe/{{offer}}"
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        page = render_pricing(
            offers, choose_url=choose, current_offer=current, embed="embed" in query
        ).encode()
        headers = private_headers(
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))],
            no_store=True,
        )
        return DenyResponse("200 OK", headers, page)

    def _webhook(self, environ: dict[str, Any], method: str) -> DenyResponse:
        if method != "POST":
            return plain(
                "405 Method Not Allowed", "Method Not Allowed\n", extra=[("Allow", "POST")]
            )
        headers = {
            "x-proabono-key": str(environ.get("HTTP_X_PROABONO_KEY", "")),
            "x-proabono-signature": str(environ.get("HTTP_X_PROABONO_SIGNATURE", "")),
        }
        length = str(environ.get("CONTENT_LENGTH") or "0")
        size = int(length) if length.isdigit() else 0
        if size > MAX_BODY:
            result = WebhookResult(413, "notification too large")
        else:
            body = environ["wsgi.input"].read(size) if size and environ.get("wsgi.input") else b""
            result = self.gate.bridge.webhooks.handle(headers, body)
        payload = json.dumps({"outcome": result.outcome}).encode()
        status = f"{result.status} {HTTPStatus(result.status).phrase}"
        return DenyResponse(
            status,
            private_headers(
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
                no_store=True,
            ),
            payload,
        )

    def _hosted(
        self, environ: dict[str, Any], user: str, action: Action, offer: str | None, next_url: str
    ) -> DenyResponse:
        bridge = self.gate.bridge
        reference = bridge.reference_for(user)
        profile = self._profile(user)
        try:
            return redirect(bridge.hosted_url(reference, action, offer=offer, profile=profile))
        except LinkUnavailable as exc:
            log.info("no %s link for %s: %s", action, reference, exc)
            if action is Action.RESTART:  # nothing to restart: the portal shows what there is
                return self._hosted(environ, user, Action.PORTAL, None, next_url)
            return plain("404 Not Found", f"{exc}\n")
        except BillingError as exc:
            log.warning("hosted link %s for %s failed: %s", action, reference, exc)
            return self.gate.paywall.deny(
                Reason.BILLING_UNAVAILABLE,
                None,
                self._retry_target(action, offer, next_url),
                json_client=wants_json(environ),
            )

    def _retry_target(self, action: Action, offer: str | None, next_url: str) -> str:
        """The endpoint to try again: the same click (with its offer), back to the same page."""
        endpoint = f"subscribe/{quote(offer, safe='')}" if offer else action.value
        return f"{self.mount}/{endpoint}?next={quote(next_url)}"

    def _profile(self, user: str) -> dict[str, str | None]:
        try:
            site_user = self.gate.adapter.get_user(user)
        except Exception:
            log.exception("reading user %s failed", user)
            site_user = None
        if site_user is None:
            return {}
        return {"email": site_user.email, "name": site_user.name, "language": site_user.language}
