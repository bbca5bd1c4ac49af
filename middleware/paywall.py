"""Deny responses: a paywall page whose call to action fits the reason, or JSON 402 for API clients.

=========================  ==================================  ===============================
reason                     call to action                      where it leads
=========================  ==================================  ===============================
login_required             Sign in                             ``login_url?next=<this page>``
no_subscription            See the offers                      ``<mount>/offers``
feature_missing            Upgrade                             ``<mount>/offers``
quota_exhausted            Get more                            ``<mount>/purchase`` (one more)
suspended                  Restart my subscription             ``<mount>/restart``
payment_method_missing     Add a payment method                ``<mount>/payment``
billing_unavailable        Try again                           this page (503, ``Retry-After``)
=========================  ==================================  ===============================

Every denial is ``Cache-Control: no-store`` with ``Vary: Cookie``. The status is 402, except
``billing_unavailable`` (503: the outage is ours, not the user's) and the rule's ``deny = "404"``
or ``"redirect:<url>"`` forms. Site owners override the page with ``paywall.html`` (or
``paywall-<reason>.html``) in ``[site] paywall_templates``: ``string.Template`` placeholders
``$title $message $action_label $action_url $reason $feature``, all HTML-escaped.

What this module does not do: decide (``middleware.gate``) or fetch hosted links (the endpoints do,
at click time: the paywall only links to the bridge's own URLs).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import quote, urljoin

from bridge.entitlements import Reason
from middleware.http import Headers, private_headers

RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class CallToAction:
    title: str
    message: str
    label: str
    endpoint: str | None  # under the mount; None: login or this page


CALLS: dict[Reason, CallToAction] = {
    Reason.LOGIN_REQUIRED: CallToAction(
        "Sign in to continue", "This page is for members. Sign in to read it.", "Sign in", None
    ),
    Reason.NO_SUBSCRIPTION: CallToAction(
        "Subscribe to continue",
        "This page is part of a subscription. Choose the offer that suits you.",
        "See the offers",
        "offers",
    ),
    Reason.FEATURE_MISSING: CallToAction(
        "Upgrade to continue",
        "Your current subscription does not include this. Upgrade to unlock it.",
        "Upgrade",
        "offers",
    ),
    Reason.QUOTA_EXHAUSTED: CallToAction(
        "You have used your allowance",
        "Your subscription's allowance for this is used up for the current period.",
        "Get more",
        "offers",
    ),
    Reason.SUSPENDED: CallToAction(
        "Your subscription is suspended",
        "Your subscription is on hold, usually because of a payment problem. "
        "Restart it to get your access back.",
        "Restart my subscription",
        "restart",
    ),
    Reason.PAYMENT_METHOD_MISSING: CallToAction(
        "Add a payment method",
        "Your subscription is waiting for a payment method. Add one to start it.",
        "Add a payment method",
        "payment",
    ),
    Reason.BILLING_UNAVAILABLE: CallToAction(
        "Billing is temporarily unavailable",
        "We cannot check your subscription right now. Nothing is wrong with your account: "
        "please try again in a minute.",
        "Try again",
        None,
    ),
}

DEFAULT_TEMPLATE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>$title</title>
<style>
body{font-family:system-ui,sans-serif;background:#f6f7f9;color:#1d2330;margin:0}
main{max-width:32rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .75rem}p{line-height:1.5}
a.cta{display:inline-block;margin-top:1rem;padding:.7rem 1.2rem;border-radius:8px;
background:#2454d6;color:#fff;text-decoration:none;font-weight:600}
</style></head>
<body><main data-reason="$reason" data-feature="$feature">
<h1>$title</h1>
<p>$message</p>
<a class="cta" href="$action_url">$action_label</a>
</main></body></html>
""")


@dataclass(frozen=True)
class DenyResponse:
    status: str
    headers: Headers
    body: bytes


class Paywall:
    """Renders denials for one site (login URL, mount, base URL, optional templates)."""

    def __init__(
        self,
        *,
        base_url: str,
        login_url: str,
        mount: str,
        templates: Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.login_url = login_url
        self.mount = mount
        self._templates: dict[str, Template] = {}
        if templates is not None:  # read once: a denial must not cost a file read
            for path in templates.glob("paywall*.html"):
                self._templates[path.name] = Template(path.read_text(encoding="utf-8"))

    def action_url(self, reason: Reason, target: str, feature: str | None = None) -> str:
        """The local (or configured absolute) URL of the call to action for ``reason``."""
        call = CALLS[reason]
        if reason is Reason.QUOTA_EXHAUSTED and feature:  # integrated purchasing: buy one more
            return (
                f"{self.mount}/purchase?feature={quote(feature, safe='')}&increment=1"
                f"&next={quote(target, safe='/')}"
            )
        if reason is Reason.LOGIN_REQUIRED:
            separator = "&" if "?" in self.login_url else "?"
            return f"{self.login_url}{separator}next={quote(target, safe='/')}"
        if call.endpoint is None:
            return target
        return f"{self.mount}/{call.endpoint}?next={quote(target, safe='/')}"

    def links(self, reason: Reason, target: str, feature: str | None = None) -> dict[str, str]:
        """Absolute URLs for a JSON client: the action for this reason, plus the offers page."""
        action = urljoin(self.base_url, self.action_url(reason, target, feature))
        links = {"action": action}
        if reason is Reason.LOGIN_REQUIRED:
            links["login"] = action
        else:
            links["offers"] = urljoin(self.base_url, f"{self.mount.lstrip('/')}/offers")
        return links

    def deny(
        self, reason: Reason, feature: str | None, target: str, *, json_client: bool
    ) -> DenyResponse:
        status = (
            "503 Service Unavailable"
            if reason is Reason.BILLING_UNAVAILABLE
            else ("402 Payment Required")
        )
        call = CALLS[reason]
        if json_client:
            payload = {
                "error": reason.value,
                "feature": feature,
                "message": call.message,
                "links": self.links(reason, target, feature),
            }
            body = json.dumps(payload).encode()
            content_type = "application/json"
        else:
            body = self._page(reason, feature, target).encode()
            content_type = "text/html; charset=utf-8"
        headers: Headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if reason is Reason.BILLING_UNAVAILABLE:
            headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
        return DenyResponse(status, private_headers(headers, no_store=True), body)

    def _page(self, reason: Reason, feature: str | None, target: str) -> str:
        call = CALLS[reason]
        values = {
            "title": call.title,
            "message": call.message,
            "action_label": call.label,
            "action_url": self.action_url(reason, target, feature),
            "reason": reason.value,
            "feature": feature or "",
        }
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return self._template(reason).safe_substitute(escaped)

    def _template(self, reason: Reason) -> Template:
        return (
            self._templates.get(f"paywall-{reason.value}.html")
            or self._templates.get("paywall.html")
            or DEFAULT_TEMPLATE
        )


def plain(status: str, text: str, *, extra: Headers | None = None) -> DenyResponse:
    """A small text response (400, 404...) that no cache keeps."""
    body = text.encode()
    headers: Headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *(extra or []),
    ]
    return DenyResponse(status, private_headers(headers, no_store=True), body)


def redirect(location: str, status: str = "303 See Other") -> DenyResponse:
    headers: Headers = [("Location", location), ("Content-Length", "0")]
    return DenyResponse(status, private_headers(headers, no_store=True), b"")
