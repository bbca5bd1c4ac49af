"""The demo site (``make demo``): seeded users in their four situations, behind the real gate.

Built in a temporary instance, seeded through the real client and the sandbox admin API, and
driven with Flask's (werkzeug's) test client; the sync worker is ticked by hand instead of waiting.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.sandbox import transport
from bridge.sandbox.app import close_app
from bridge.service import Bridge
from examples.demo_site.app import create_demo, load_demo_config
from examples.demo_site.seed import PASSWORD, seed
from middleware.gate import Gate

PREMIUM = "/premium/the-long-game-of-compost"
DOWNLOAD = "/downloads/bench-cut-list.txt"


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("demo") / "instance"
    out = io.StringIO()
    seed(path, out=out)
    assert "sam    user-3   pro SuspendedPaymentDue" in out.getvalue()
    yield path
    sandbox = transport.uninstall(load_demo_config(path).billing.sandbox_path or path)
    if sandbox is not None:
        close_app(sandbox)


@pytest.fixture(scope="module")
def demo(instance: Path) -> Iterator[Flask]:
    app = create_demo(instance, start_sync=False)
    yield app
    bridge(app).close()


def gate(app: Flask) -> Gate:
    found: Gate = app.extensions["proabono_bridge"].gate
    return found


def bridge(app: Flask) -> Bridge:
    return gate(app).bridge


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def test_seeding_again_changes_nothing(instance: Path) -> None:
    out = io.StringIO()
    seed(instance, out=out)
    text = out.getvalue()
    assert "created 0, updated 0, unchanged 4" in text
    assert "nina   user-1   no subscription" in text
    assert "alice  user-2   pro ActiveRunning" in text
    assert "wendy  user-4   welcome ActiveRunning" in text


def test_free_pages_are_open_and_premium_needs_a_sign_in(demo: Flask) -> None:
    client = demo.test_client()
    home = client.get("/")
    assert home.status_code == 200
    assert "The long game of compost" in home.text
    assert client.get("/articles/seven-tools-worth-owning").status_code == 200
    paywall = client.get(PREMIUM)
    assert paywall.status_code == 402
    assert "Sign in" in paywall.text
    assert "/login?next=" in paywall.text


def test_nina_without_subscription_sees_the_offers(demo: Flask) -> None:
    client = signed_in(demo, "nina")
    paywall = client.get(PREMIUM)
    assert paywall.status_code == 402
    assert "See the offers" in paywall.text
    assert "/_billing/offers" in paywall.text
    assert client.get(DOWNLOAD).status_code == 402


def test_alice_reads_premium_and_a_download_counts(demo: Flask) -> None:
    client = signed_in(demo, "alice")
    page = client.get(PREMIUM)
    assert page.status_code == 200
    assert "The long game of compost" in page.text
    assert "private" in page.headers["Cache-Control"]
    assert "100 of 100" in client.get("/account").text

    download = client.get(DOWNLOAD)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "birch ply" in download.text

    state = bridge(demo).state("user-2")
    downloads = state.right("downloads")
    assert downloads is not None
    assert downloads.current == 1
    assert "99 of 100" in client.get("/account").text


def test_sam_suspended_is_offered_a_restart(demo: Flask) -> None:
    client = signed_in(demo, "sam")
    paywall = client.get(PREMIUM)
    assert paywall.status_code == 402
    assert "Restart my subscription" in paywall.text
    assert "/_billing/restart" in paywall.text
    home = client.get("/")
    assert "billing-banner" in home.text
    assert "Your subscription is suspended." in home.text
    account = client.get("/account")
    assert "SuspendedPaymentDue" in account.text
    assert 'href="/_billing/restart"' in account.text


def test_wendy_on_the_welcome_offer_reads_premium(demo: Flask) -> None:
    client = signed_in(demo, "wendy")
    page = client.get(PREMIUM)
    assert page.status_code == 200
    sub = bridge(demo).state("user-4").subscription
    assert sub is not None
    assert sub.reference_offer == "welcome"
    assert sub.date_period_end is not None
    left = sub.date_period_end.timestamp() - time.time()
    warned = sub.is_trial and 0 < left <= demo_trial_warning(demo)
    assert ("Your trial ends on" in page.text) == warned


def demo_trial_warning(app: Flask) -> float:
    return bridge(app).config.inject.trial_warning


def test_account_page_gets_the_links_block(demo: Flask) -> None:
    client = signed_in(demo, "alice")
    account = client.get("/account")
    assert account.status_code == 200
    assert "<!-- billing:links -->" not in account.text
    assert '<ul class="billing-links">' in account.text
    assert 'href="/_billing/portal"' in account.text
    portal = client.get("/_billing/portal")
    assert portal.status_code == 303
    assert "/_billing/sandbox/portal" in portal.headers["Location"]
    hosted = client.get(portal.headers["Location"])
    assert hosted.status_code == 200


def test_a_new_registrant_gets_the_welcome_offer(demo: Flask) -> None:
    client = demo.test_client()
    form = {"username": "zoe", "email": "zoe@example.com", "password": "secret"}
    registered = client.post("/register", data=form)
    assert registered.status_code == 302
    assert registered.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200  # the gate sees zoe: sync is told
    assert client.get(PREMIUM).status_code == 402  # not a customer yet

    sync = gate(demo).sync
    assert sync is not None
    sync.tick()  # what the worker does every 2 s

    sub = bridge(demo).client.get_subscription("user-5")
    assert sub is not None
    assert sub.reference_offer == "welcome"
    assert client.get(PREMIUM).status_code == 200
    assert "3 of 3" in client.get("/account").text


def test_an_offer_chosen_before_registering_is_carried_through(demo: Flask) -> None:
    client = demo.test_client()
    page = client.get("/register?offer=pro")
    assert page.status_code == 200
    assert "<strong>pro</strong>" in page.text
    assert 'action="/register?offer=pro"' in page.text
    form = {"username": "oscar", "email": "oscar@example.com", "password": "secret"}
    assert client.post("/register?offer=pro", data=form).status_code == 302
    first = client.get("/account")  # the bridge takes over: subscribe to the chosen offer
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/_billing/subscribe/pro")
