"""Fresh hosted-page links (portal, restart, payment method, offers, subscribe), at click time.

Hosted links are bearer credentials that expire: they are fetched from the billing service when the
user clicks one of the bridge's own stable URLs (``/_billing/portal``...), used for one redirect,
and never cached, logged or written into HTML.

A link comes as an ``href`` (a ready URL) or as an encrypted ``query`` that opens the in-site portal
installed on the site (``[billing] portal_url``, the reference's ``?pa_query=`` form).

What this module does not do: answer HTTP (``middleware``) or decide who may click (the gate).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import quote

from bridge.client import ProAbonoClient
from bridge.errors import BillingNotFound, BridgeError
from bridge.models import Customer, Link


class Action(StrEnum):
    PORTAL = "portal"
    RESTART = "restart"
    PAYMENT = "payment"
    OFFERS = "offers"
    SUBSCRIBE = "subscribe"


class LinkUnavailable(BridgeError):
    """The billing service offers no such link for this customer now (nothing to restart...)."""


def link_url(link: Link, portal_url: str | None) -> str:
    """The URL a browser should open for ``link``."""
    if link.href:
        return link.href
    if link.query and portal_url:
        separator = "&" if "?" in portal_url else "?"
        return f"{portal_url}{separator}pa_query={quote(link.query, safe='')}"
    if link.query:
        raise LinkUnavailable(
            f"link {link.rel!r} needs the in-site portal: set [billing] portal_url"
        )
    raise LinkUnavailable(f"link {link.rel!r} has neither href nor query")


def hosted_url(
    client: ProAbonoClient,
    reference_customer: str,
    action: Action,
    *,
    offer: str | None = None,
    portal_url: str | None = None,
    profile: Mapping[str, str | None] | None = None,
) -> str:
    """Fetch a fresh link for ``action`` and return the URL to redirect to.

    A customer the billing service does not know yet is created first (with ``profile``: email,
    name, language), so a user's first click on "subscribe" or "portal" never dead-ends.
    """
    if action is Action.SUBSCRIBE:
        if not offer:
            raise LinkUnavailable("subscribe needs an offer reference")
        customer = _upsert(client, reference_customer, profile, offer=offer)
        return link_url(_need(customer, "insite-subscribe"), portal_url)
    if action is Action.RESTART:
        subscription = client.get_subscription(reference_customer)
        link = subscription.links.get("insite-restart") if subscription else None
        if link is None:
            raise LinkUnavailable("no suspended subscription to restart")
        return link_url(link, portal_url)
    try:
        customer = client.get_customer(reference_customer)
    except BillingNotFound:
        customer = _upsert(client, reference_customer, profile)
    if action is Action.PORTAL:
        return link_url(_need(customer, "insite-home"), portal_url)
    if action is Action.PAYMENT:
        return link_url(_need(customer, "insite-register"), portal_url)
    upgrade = customer.links.get("insite-collection-upgrade")
    return link_url(upgrade or _need(customer, "insite-collection-offers"), portal_url)


def _upsert(
    client: ProAbonoClient,
    reference_customer: str,
    profile: Mapping[str, str | None] | None,
    *,
    offer: str | None = None,
) -> Customer:
    profile = profile or {}
    return client.upsert_customer(
        reference_customer,
        email=profile.get("email"),
        name=profile.get("name"),
        language=profile.get("language"),
        reference_offer=offer,
    ).customer


def _need(customer: Customer, rel: str) -> Link:
    link = customer.links.get(rel)
    if link is None:
        raise LinkUnavailable(f"the billing service gave no {rel!r} link for this customer")
    return link
