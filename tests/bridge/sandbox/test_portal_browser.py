"""One real browser run of the hosted pages: headless Chromium subscribes with a test card.

The sandbox is served over HTTP on a loopback port, ``SANDBOX_RETURN_URL`` points at a tiny local
page, and the browser must land there with the workflow's outcome. A screenshot of the portal home
goes to ``/tmp/portal.png`` (``BRIDGE_PORTAL_SCREENSHOT`` overrides the path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import pytest
from flask import Flask

from bridge.sandbox.app import close_app
from tests.bridge.sandbox.harness import make_client, make_sandbox, serve_http
from tests.services import require_chromium

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def return_page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<!doctype html><title>Back on the site</title><h1>Back on the site</h1>"]


def test_subscribe_in_a_real_browser(tmp_path: Path) -> None:
    chromium = require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    app = make_sandbox(tmp_path / "billing.db")
    try:
        landed = _run(app, chromium, sync_api)
    finally:
        close_app(app)
    params = {k: v[0] for k, v in parse_qs(landed.query).items()}
    assert (params["from"], params["outcome"], params["refo"]) == ("subscribe", "paid", "pro")
    assert params["idsub"].isdigit()
    assert params["idc"].isdigit()


def _run(app: Flask, chromium: str, sync_api: Any) -> SplitResult:
    site_page = serve_http(return_page)  # type: ignore[arg-type]
    with site_page as site, serve_http(app) as url, make_client(url, app) as client:
        app.config["SANDBOX_RETURN_URL"] = f"{site}/_billing/return"
        client.upsert_customer("cust-1", name="Ada Lovelace", email="ada@example.test")
        customer = client.get_customer("cust-1", reference_offer="pro")
        subscribe = customer.links.get("insite-subscribe")
        home = customer.links.get("insite-home")
        assert subscribe is not None
        assert home is not None
        assert home.href is not None

        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(f"{url}/portal?pa_query={subscribe.query}")
                assert "Subscribe to Pro" in page.content()
                page.fill("#City", "Paris")
                page.fill("#Country", "FR")
                page.fill("#card_number", "4242 4242 4242 4242")
                with page.expect_navigation(url=f"{site}/_billing/return?**"):
                    page.click("button[type=submit]")
                landed: SplitResult = urlsplit(str(page.url))
                assert page.title() == "Back on the site"

                page.goto(home.href)
                assert "Ada Lovelace (cust-1)" in page.content()
                assert "Card •••• 4242" in page.content()
                page.screenshot(
                    path=os.environ.get("BRIDGE_PORTAL_SCREENSHOT", "/tmp/portal.png"),  # noqa: S108
                    full_page=True,
                )
            finally:
                browser.close()

    return landed
