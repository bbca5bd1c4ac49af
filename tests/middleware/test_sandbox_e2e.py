"""End to end on the embedded sandbox: a site user becomes a customer, gets the welcome offer,
reads premium pages, and every hosted link the bridge hands out opens a sandbox page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.test import Client

from bridge.config import config_from_mapping
from bridge.service import Bridge
from bridge.sync import Sync
from cms_adapters.base import SiteUser
from cms_adapters.header import HeaderAdapter
from middleware.gate import Gate
from tests.middleware.billing_double import MEMBER_CONTENT, site


class Site:
    def __init__(self, tmp: Path) -> None:
        config = config_from_mapping(
            {
                "billing": {"url": f"sandbox://{tmp / 'billing.db'}"},
                "site": {"base_url": "https://site.example"},
                "registration": {"welcome_offer": "welcome"},
                "rule": [
                    {"path": "/premium/**", "feature": "premium-articles"},
                    {"path": "/pro/**", "feature": "seats"},
                    {"path": "/downloads/*", "feature": "downloads"},
                ],
                "state": {"path": str(tmp / "state.db")},
                "inject": {"enabled": False},
            },
            env={"BRIDGE_SECRET_KEY": "s" * 32},
        )
        self.bridge = Bridge(config)
        self.users: dict[str, SiteUser] = {}
        self.sync = Sync(
            self.bridge.client,
            self.bridge.state_store,
            reference_for=self.bridge.reference_for,
            get_user=self.users.get,
            welcome_offer="welcome",
            on_change=self.bridge.refresh,
        )
        adapter = HeaderAdapter(trusted_proxies=["127.0.0.1"])
        self.gate = Gate(site, adapter=adapter, bridge=self.bridge, sync=self.sync)
        self.client = Client(self.gate)

    def get(self, path: str, user: str | None = None):
        headers = {"X-Remote-User": user} if user else {}
        return self.client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})

    def register(self, uid: str, email: str) -> None:
        self.users[uid] = SiteUser(id=uid, email=email, name=uid.title(), language="en")
        self.get("/premium/welcome", user=uid)  # the first request that identifies the user
        self.sync.tick()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Site]:
    w = Site(tmp_path)
    yield w
    w.bridge.close()


def test_a_new_user_gets_the_welcome_offer_and_reads_premium_pages(world) -> None:
    assert world.get("/premium/a", user="alice").status_code == 402
    world.register("alice", "alice@example.com")
    customer = world.bridge.client.get_customer("user-alice")
    assert customer.email == "alice@example.com"
    subscription = world.bridge.client.get_subscription("user-alice")
    assert subscription is not None
    assert subscription.reference_offer == "welcome"
    assert subscription.is_active
    response = world.get("/premium/a", user="alice")
    assert response.status_code == 200
    assert MEMBER_CONTENT in response.data


def test_an_email_change_reaches_the_customer(world) -> None:
    world.register("alice", "alice@example.com")
    world.users["alice"] = SiteUser(id="alice", email="alice@new.example", name="Alice")
    world.gate.identity.forget()  # the identity memo expired
    world.get("/premium/a", user="alice")
    world.sync.tick()
    assert world.bridge.client.get_customer("user-alice").email == "alice@new.example"


@pytest.mark.parametrize(
    ("endpoint", "title"),
    [
        ("portal", b"Billing portal"),
        ("payment", b"Contact details and payment method"),
        ("offers", b"Change offer"),
        ("subscribe/pro", b"Subscribe"),
    ],
)
def test_every_link_opens_a_hosted_page_served_under_the_mount(world, endpoint, title) -> None:
    world.register("alice", "alice@example.com")
    redirect = world.get(f"/_billing/{endpoint}", user="alice")
    assert redirect.status_code == 303
    location = urlsplit(redirect.headers["Location"])
    assert (location.scheme, location.netloc) == ("https", "site.example")
    assert location.path.startswith("/_billing/sandbox/portal")
    page = world.client.get(f"{location.path}?{location.query}")
    assert page.status_code == 200
    assert title in page.data
    assert b"Alice (user-alice)" in page.data


def test_the_sandbox_api_is_not_exposed_through_the_site(world) -> None:
    for path in ("/_billing/sandbox/v1/Customers", "/_billing/sandbox/_sandbox/Clock"):
        assert world.get(path).status_code == 404


def test_a_forged_hosted_link_is_refused(world) -> None:
    page = world.client.get("/_billing/sandbox/portal?pa_query=forged")
    assert page.status_code == 403


def cookie_of(response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie set")


def test_an_offer_chosen_before_registering_leads_to_its_subscribe_page(world) -> None:
    visit = world.get("/register?offer=pro")
    assert visit.status_code == 200, "the site's own registration page answers"
    assert "HttpOnly" in cookie_of(visit, "bridge_offer")
    world.users["zoe"] = SiteUser(id="zoe", email="zoe@example.com", name="Zoe")
    after = world.get("/account", user="zoe")  # the first page once registered and signed in
    assert after.status_code == 303
    assert after.headers["Location"] == "/_billing/subscribe/pro?next=/account"
    assert "Max-Age=0" in cookie_of(after, "bridge_offer")
    hosted = world.get(after.headers["Location"], user="zoe")
    location = urlsplit(hosted.headers["Location"])
    page = world.client.get(f"{location.path}?{location.query}")
    assert page.status_code == 200
    assert b"Subscribe" in page.data
    world.sync.tick()
    assert world.bridge.client.get_subscription("user-zoe") is None, "no welcome offer on top"

    # The hosted step: the user pays with a test card; the sandbox sends them back to the site.
    done = submit(world, page, payment="card", card_number="4242 4242 4242 4242")
    assert done.status_code == 303
    back = urlsplit(done.headers["Location"])
    assert (back.netloc, back.path) == ("site.example", "/_billing/return")
    assert "from=subscribe" in back.query
    assert "outcome=paid" in back.query
    home = world.get(f"{back.path}?{back.query}&next=/premium/welcome", user="zoe")
    assert home.status_code == 303
    assert home.headers["Location"] == "/premium/welcome"
    subscription = world.bridge.client.get_subscription("user-zoe")
    assert subscription is not None
    assert subscription.reference_offer == "pro"
    assert subscription.is_active
    assert world.get("/premium/welcome", user="zoe").status_code == 200


def submit(world: Site, page: Any, **fields: str) -> Any:
    """Post the hosted page's first form with its hidden fields plus ``fields``."""
    body = page.get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', body, re.S)
    assert forms, body
    action, inner = forms[0]
    data = {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', inner)
    }
    data.update(fields)
    return world.client.post(html.unescape(action), data=data)


def test_a_forged_or_malformed_offer_choice_is_ignored(world) -> None:
    world.client.set_cookie("bridge_offer", "pro", domain="localhost")
    assert world.get("/account", user="zoe").status_code == 200
    visit = world.get("/register?offer=a%3Cb")
    assert not any(h.startswith("bridge_offer=") for h in visit.headers.getlist("Set-Cookie"))


def test_pricing_page_for_visitors_leads_to_registration_with_the_offer(world) -> None:
    page = world.get("/_billing/pricing")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for offer in (b"starter", b"pro"):
        assert b'data-offer="' + offer + b'"' in page.data
    assert b'href="/register?offer=pro"' in page.data


def test_pricing_page_for_members_marks_their_offer_and_subscribes_directly(world) -> None:
    world.register("alice", "alice@example.com")
    page = world.get("/_billing/pricing?embed=1", user="alice")
    assert not page.data.startswith(b"<!doctype"), "embed answers the grid alone"
    assert b'href="/_billing/subscribe/pro"' in page.data
    welcome = page.data.split(b'data-offer="welcome"')[1].split(b"</section>")[0]
    assert b"Your current offer" in welcome
    assert b"9.00 EUR / month" in page.data
