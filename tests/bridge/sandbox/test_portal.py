"""The sandbox's hosted pages, driven like a browser would (Flask's test client, real forms).

Links come from the API (``insite-*`` rels), forms are read from the pages (action, token, CSRF),
state is checked through the API client: the pages must change exactly what the API would.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.api_usages import UsageChange
from tests.bridge.sandbox.harness import BillingEnv

RETURN_URL = "https://site.test/_billing/return"
GOOD_CARD = "4242 4242 4242 4242"
DECLINING_CARD = "4000000000000002"


@dataclass
class Portal:
    env: BillingEnv
    web: FlaskClient

    def open_query(self, token: str | None) -> TestResponse:
        assert token
        return self.web.get("/portal", query_string={"query": token})

    def open_href(self, href: str | None) -> TestResponse:
        assert href
        return self.web.get(urlsplit(href).path)

    def follow(self, page: TestResponse, text: str) -> TestResponse:
        """Click the link whose text contains ``text``."""
        body = page.get_data(as_text=True)
        for href, label in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', body, re.S):
            if text in html.unescape(label):
                return self.web.get(html.unescape(href))
        raise AssertionError(f"no link {text!r} on the page")

    def submit(
        self, page: TestResponse, *, index: int = 0, drop: tuple[str, ...] = (), **fields: str
    ) -> TestResponse:
        """Post the page's ``index``-th form with its hidden fields plus ``fields``."""
        body = page.get_data(as_text=True)
        forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', body, re.S)
        assert forms, body
        action, inner = forms[index]
        data = {
            name: html.unescape(value)
            for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', inner)
        }
        data.update(fields)
        for name in drop:
            data.pop(name, None)
        return self.web.post(html.unescape(action), data=data)

    def customer(self, reference: str, **kwargs: Any) -> Any:
        return self.env.client.upsert_customer(reference, **kwargs).customer

    def link(self, reference: str, rel: str, *, offer: str | None = None) -> Any:
        customer = self.env.client.get_customer(reference, reference_offer=offer)
        found = customer.links.get(rel)
        assert found is not None, rel
        return found


@pytest.fixture
def portal(sandbox_env: BillingEnv) -> Portal:
    sandbox_env.app.config["SANDBOX_RETURN_URL"] = RETURN_URL
    return Portal(sandbox_env, sandbox_env.app.test_client())


def returned(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(RETURN_URL + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def subscription_count(env: BillingEnv) -> int:
    with env.sandbox.store.read() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0])


def invoice_states(env: BillingEnv, reference: str) -> list[str]:
    return [i.state_invoice or "" for i in env.client.list_invoices(reference_customer=reference)]


# --- subscribe ----------------------------------------------------------------------------------


def test_subscribe_to_pro_with_the_good_card(portal: Portal) -> None:
    customer = portal.customer("cust-1", name="Ada")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="pro").query)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Subscribe to Pro" in text
    assert "€34.80" in text  # the quote: 29.00 + 20% tax due now
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"

    done = portal.submit(page, payment="card", card_number=GOOD_CARD, City="Lyon", Country="fr")

    params = returned(done)
    sub = portal.env.client.get_subscription_by_id(int(params["idsub"]))
    assert params == {
        "from": "subscribe",
        "outcome": "paid",
        "idc": str(customer.id),
        "refo": "pro",
        "idsub": str(sub.id),
    }
    assert (sub.status, sub.state_subscription) == ("Active", "ActiveRunning")
    assert invoice_states(portal.env, "cust-1") == ["Paid"]
    assert [e["TypeTrigger"] for e in portal.env.events("SubscriptionStarted")] == [
        "SubscriptionStarted"
    ]
    address = portal.env.client.request(
        "GET",
        "/v1/CustomerAddressBilling",
        params={"ReferenceCustomer": "cust-1"},
        idempotent=True,
    )[1]
    assert (address["City"], address["Country"]) == ("Lyon", "FR")


def test_a_declined_card_shows_an_error_and_starts_nothing(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="pro").query)

    refused = portal.submit(page, payment="card", card_number=DECLINING_CARD)

    assert refused.status_code == 402
    assert "Your card was declined" in refused.get_data(as_text=True)
    assert subscription_count(portal.env) == 0
    assert invoice_states(portal.env, "cust-1") == []
    assert portal.env.events("SubscriptionStarted") == []
    settings = portal.env.client.request(
        "GET",
        "/v1/CustomerSettingsPayment",
        params={"ReferenceCustomer": "cust-1"},
        idempotent=True,
    )[1]
    assert settings["TypePayment"] == "Undefined"  # the declined card was not kept


def test_an_invalid_card_number_is_refused_on_the_page(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="pro").query)
    refused = portal.submit(page, payment="card", card_number="1234")
    assert refused.status_code == 422
    assert "Not a valid card number" in refused.get_data(as_text=True)
    assert subscription_count(portal.env) == 0


def test_the_free_welcome_offer_needs_no_card(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="welcome").query)
    assert "card_number" not in page.get_data(as_text=True)

    params = returned(portal.submit(page))

    assert (params["from"], params["outcome"], params["refo"]) == (
        "subscribe",
        "nocharge",
        "welcome",
    )
    sub = portal.env.client.get_subscription_by_id(int(params["idsub"]))
    assert sub.state_subscription == "ActiveRunning"
    assert invoice_states(portal.env, "cust-1") == []


def test_a_trial_starts_without_a_card(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="pro-trial").query)
    params = returned(portal.submit(page, payment="card", card_number=""))
    assert params["outcome"] == "nocharge"
    home = portal.open_href(portal.link("cust-1", "insite-home").href)
    assert "Free trial: 7 days left" in home.get_data(as_text=True)


def test_subscribing_to_a_draft_created_by_the_site(portal: Portal) -> None:
    portal.customer("cust-1")
    draft = portal.env.client.create_subscription("cust-1", "starter")
    assert draft.state_subscription == "DraftAgent"
    page = portal.open_query(draft.links.get("insite-subscribe").query)  # type: ignore[union-attr]
    params = returned(portal.submit(page, payment="card", card_number=GOOD_CARD))
    assert (params["idsub"], params["outcome"]) == (str(draft.id), "paid")
    assert portal.env.client.get_subscription_by_id(draft.id or 0).status == "Active"


def test_pay_offline_leaves_an_invoice_to_pay(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="starter").query)
    params = returned(portal.submit(page, payment="offline"))
    assert params["outcome"] == "pending"
    assert invoice_states(portal.env, "cust-1") == ["DueOffline"]


def test_without_a_return_url_a_done_page_is_shown(portal: Portal) -> None:
    portal.env.app.config["SANDBOX_RETURN_URL"] = None
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="welcome").query)
    done = portal.submit(page)
    assert done.status_code == 200
    assert "All done" in done.get_data(as_text=True)


# --- register -----------------------------------------------------------------------------------


def test_registering_a_card_starts_the_draft_waiting_for_payment(portal: Portal) -> None:
    portal.customer("cust-1")
    draft = portal.env.client.create_subscription("cust-1", "starter")
    page = portal.open_query(portal.link("cust-1", "insite-register").query)
    assert "starts your subscription" in page.get_data(as_text=True)

    params = returned(portal.submit(page, card_number=GOOD_CARD, Name="Ada Lovelace"))

    assert (params["from"], params["outcome"], params["idsub"]) == (
        "subscribe",
        "paid",
        str(draft.id),
    )
    assert portal.env.client.get_subscription_by_id(draft.id or 0).state_subscription == (
        "ActiveRunning"
    )
    assert portal.env.client.get_customer("cust-1").name == "Ada Lovelace"


def test_registering_a_card_alone(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-register").query)
    assert "payment method" in page.get_data(as_text=True)
    params = returned(portal.submit(page, card_number=GOOD_CARD))
    assert (params["from"], params["outcome"]) == ("portal", "registered")
    home = portal.open_href(portal.link("cust-1", "insite-home").href)
    assert "Card •••• 4242" in home.get_data(as_text=True)


def test_registering_a_declining_card_on_a_draft_changes_nothing(portal: Portal) -> None:
    portal.customer("cust-1")
    draft = portal.env.client.create_subscription("cust-1", "starter")
    page = portal.open_query(portal.link("cust-1", "insite-register").query)
    refused = portal.submit(page, card_number=DECLINING_CARD)
    assert refused.status_code == 402
    assert portal.env.client.get_subscription_by_id(draft.id or 0).state_subscription == (
        "DraftAgent"
    )


# --- restart, pay an invoice --------------------------------------------------------------------


def _suspended(portal: Portal) -> Any:
    env = portal.env
    portal.customer("cust-1")
    env.register_card("cust-1")
    sub = env.client.create_subscription("cust-1", "starter", try_start=True)
    env.register_card("cust-1", DECLINING_CARD)
    env.advance("31d")
    suspended = env.client.get_subscription_by_id(sub.id or 0)
    assert suspended.state_subscription == "SuspendedPaymentDue"
    return suspended


def test_restart_a_subscription_suspended_for_payment(portal: Portal) -> None:
    suspended = _suspended(portal)
    page = portal.open_query(suspended.links.get("insite-restart").query)
    text = page.get_data(as_text=True)
    assert "Due now: €10.80" in text
    assert "Payment failed" in text

    refused = portal.submit(page, payment="onfile")  # the declining card on file
    assert refused.status_code == 402
    assert portal.env.client.get_subscription_by_id(suspended.id).state_subscription == (
        "SuspendedPaymentDue"
    )

    params = returned(portal.submit(page, payment="card", card_number=GOOD_CARD))

    assert (params["from"], params["outcome"], params["idsub"]) == (
        "restart",
        "paid",
        str(suspended.id),
    )
    assert portal.env.client.get_subscription_by_id(suspended.id).state_subscription == (
        "ActiveRunning"
    )
    assert "ProblemAuto" not in invoice_states(portal.env, "cust-1")
    assert portal.env.events("SubscriptionRestarted") != []


def test_pay_an_unpaid_invoice(portal: Portal) -> None:
    _suspended(portal)
    invoices = portal.env.client.list_invoices(reference_customer="cust-1")
    unpaid = next(i for i in invoices if i.state_invoice == "ProblemAuto")
    page = portal.open_query(unpaid.links.get("insite-charge").query)  # type: ignore[union-attr]
    assert "Pay invoice" in page.get_data(as_text=True)
    params = returned(portal.submit(page, payment="card", card_number=GOOD_CARD))
    assert (params["from"], params["outcome"]) == ("invoice", "paid")
    assert sorted(invoice_states(portal.env, "cust-1")) == ["Paid", "Paid"]


def test_invoices_list_and_invoice_document(portal: Portal) -> None:
    portal.customer("cust-1", name="Ada")
    portal.env.register_card("cust-1")
    portal.env.client.create_subscription("cust-1", "starter", try_start=True)
    invoice = portal.env.client.list_invoices(reference_customer="cust-1").items[0]
    listing = portal.open_query(invoice.links.get("insite-collection-invoice").query)  # type: ignore[union-attr]
    assert invoice.full_number or "?" in listing.get_data(as_text=True)
    document = portal.open_href(invoice.links.get("insite-related-invoice").href)  # type: ignore[union-attr]
    assert document.status_code == 200
    if document.mimetype == "application/pdf":  # fpdf2 installed
        assert document.get_data().startswith(b"%PDF")
    else:
        assert document.mimetype == "text/html"
        text = document.get_data(as_text=True)
        assert "Subscription - recurring fee" in text
        assert "€10.80" in text


# --- home, terminate, upgrade -------------------------------------------------------------------


def test_home_shows_subscription_usage_invoices_and_card(portal: Portal) -> None:
    portal.customer("cust-1", name="Ada")
    portal.env.register_card("cust-1")
    portal.env.client.create_subscription("cust-1", "starter", try_start=True)
    portal.env.client.record_usage(UsageChange("cust-1", "downloads", increment=3))
    page = portal.open_href(portal.link("cust-1", "insite-home").href)
    text = page.get_data(as_text=True)
    for expected in (
        "Ada (cust-1)",
        "Starter",
        "Active",
        "Current period ends on 3 April 2025",
        "3 of 10 downloads used",
        "0 of 1 seats in use",
        "Card •••• 4242",
        "S-1.00000001",
        "Paid",
        "Change offer",
    ):
        assert expected in text, expected


def test_terminate_at_end_of_term_needs_confirmation(portal: Portal) -> None:
    portal.customer("cust-1")
    sub = portal.env.client.create_subscription("cust-1", "welcome", try_start=True)
    home = portal.open_href(portal.link("cust-1", "insite-home").href)

    refused = portal.submit(home)
    assert refused.status_code == 422
    assert "confirm" in refused.get_data(as_text=True)
    assert portal.env.client.get_subscription_by_id(sub.id or 0).state_subscription == (
        "ActiveRunning"
    )

    params = returned(portal.submit(home, confirm="yes"))

    assert (params["from"], params["idsub"], params["refo"]) == (
        "terminate",
        str(sub.id),
        "welcome",
    )
    after = portal.env.client.get_subscription_by_id(sub.id or 0)
    assert after.state_subscription == "ActiveDelayedTermination"
    keep = portal.open_query(after.links.get("insite-restart").query)  # type: ignore[union-attr]
    assert "Keep your subscription" in keep.get_data(as_text=True)
    assert returned(portal.submit(keep))["from"] == "restart"
    assert portal.env.client.get_subscription_by_id(sub.id or 0).state_subscription == (
        "ActiveRunning"
    )


def test_upgrade_starter_to_pro(portal: Portal) -> None:
    portal.customer("cust-1")
    portal.env.register_card("cust-1")
    old = portal.env.client.create_subscription("cust-1", "starter", try_start=True)
    portal.env.advance("15d")
    catalogue = portal.open_query(portal.link("cust-1", "insite-collection-upgrade").query)
    assert "Your current offer" in catalogue.get_data(as_text=True)
    page = portal.follow(catalogue, "Switch to Pro")
    assert "Switch to Pro" in page.get_data(as_text=True)
    assert "Refund on recurring flat fee" in page.get_data(as_text=True)

    params = returned(portal.submit(page, payment="onfile"))

    assert (params["from"], params["outcome"], params["refo"]) == ("upgrade", "paid", "pro")
    new = portal.env.client.get_subscription_by_id(int(params["idsub"]))
    assert (new.reference_offer, new.state_subscription) == ("pro", "ActiveRunning")
    assert portal.env.client.get_subscription_by_id(old.id or 0).state_subscription == (
        "EndedUpgrade"
    )


def test_catalogue_subscribes_when_there_is_no_subscription(portal: Portal) -> None:
    portal.customer("cust-1")
    catalogue = portal.open_query(portal.link("cust-1", "insite-collection-offers").query)
    text = catalogue.get_data(as_text=True)
    assert "Welcome" in text
    assert "Pro (7-day trial)" not in text  # not visible
    page = portal.follow(catalogue, "Choose Welcome")
    params = returned(portal.submit(page))
    assert params["refo"] == "welcome"


# --- security -----------------------------------------------------------------------------------


def test_csrf_missing_or_forged_changes_nothing(portal: Portal) -> None:
    portal.customer("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="welcome").query)
    missing = portal.submit(page, drop=("csrf",))
    assert missing.status_code == 400
    forged = portal.submit(page, csrf="0" * 64)
    assert forged.status_code == 403
    other = portal.open_query(portal.link("cust-1", "insite-register").query)
    csrf_of_other = re.search(r'name="csrf" value="([^"]+)"', other.get_data(as_text=True))
    assert csrf_of_other is not None
    assert portal.submit(page, csrf=csrf_of_other.group(1)).status_code == 403
    assert subscription_count(portal.env) == 0


def test_forged_expired_and_revoked_tokens_answer_403(portal: Portal) -> None:
    portal.customer("cust-1")
    token = portal.link("cust-1", "insite-subscribe", offer="welcome").query
    page = portal.open_query(token)
    assert portal.open_query(token[:-3] + "abc").status_code == 403
    assert portal.submit(page, token=token[:-3] + "abc").status_code == 403
    register = portal.link("cust-1", "insite-register").query
    assert portal.submit(page, token=register).status_code == 403  # another page's token
    portal.env.advance("2d")
    assert portal.open_query(token).status_code == 403
    assert portal.submit(page).status_code == 403
    assert subscription_count(portal.env) == 0
    fresh = portal.link("cust-1", "insite-subscribe", offer="welcome").query
    fresh_page = portal.open_query(fresh)
    portal.env.client.revoke_customer_links("cust-1")
    assert portal.submit(fresh_page).status_code == 403
    assert subscription_count(portal.env) == 0


def test_pages_escape_customer_names(portal: Portal) -> None:
    portal.customer("cust-1", name="<script>alert(1)</script>")
    for page in (
        portal.open_href(portal.link("cust-1", "insite-home").href),
        portal.open_query(portal.link("cust-1", "insite-register").query),
        portal.open_query(portal.link("cust-1", "insite-subscribe", offer="pro").query),
    ):
        text = page.get_data(as_text=True)
        assert "<script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_urls_stay_under_the_script_root(portal: Portal) -> None:
    portal.customer("cust-1")
    mounted = portal.env.app.test_client()
    token = portal.link("cust-1", "insite-home").href.rsplit("/", 1)[1]
    page = mounted.get(f"/portal/auth/{token}", base_url="https://site.test/_billing/sandbox/")
    text = page.get_data(as_text=True)
    links = re.findall(r'(?:href|action)="([^"]+)"', text)
    assert links
    assert all(link.startswith("/_billing/sandbox/portal") for link in links), links


def test_editing_details_keeps_the_card_on_file(portal: Portal) -> None:
    portal.customer("cust-1", name="Ada")
    portal.env.register_card("cust-1")
    page = portal.open_query(portal.link("cust-1", "insite-register").query)
    params = returned(portal.submit(page, card_number="", Name="Ada L."))
    assert (params["from"], params["outcome"]) == ("portal", "registered")
    customer = portal.env.client.get_customer("cust-1")
    assert customer.name == "Ada L."


def test_anonymous_offer_links_show_the_offer_but_do_not_subscribe(portal: Portal) -> None:
    offer = portal.env.client.request(
        "GET", "/v1/Offer", params={"ReferenceOffer": "pro"}, idempotent=True
    )[1]
    token = next(x["query"] for x in offer["Links"] if x["rel"] == "insite-subscribe")
    page = portal.open_query(token)
    assert page.status_code == 200
    assert "Sign in on the site" in page.get_data(as_text=True)
    assert "Pro" in page.get_data(as_text=True)
    csrf = re.search(r"[0-9a-f]{64}", page.get_data(as_text=True))
    assert csrf is None  # no form to post
    refused = portal.web.post("/portal/action/subscribe", data={"token": token, "csrf": "x"})
    assert refused.status_code == 403
    assert subscription_count(portal.env) == 0


def test_related_subscription_opens_the_portal_home(portal: Portal) -> None:
    portal.customer("cust-1")
    sub = portal.env.client.create_subscription("cust-1", "welcome", try_start=True)
    page = portal.open_query(sub.links.get("insite-related-subscription").query)  # type: ignore[union-attr]
    assert page.status_code == 200
    assert "Welcome" in page.get_data(as_text=True)


def test_subscribing_while_a_subscription_runs_changes_its_offer(portal: Portal) -> None:
    portal.customer("cust-1")
    welcome = portal.env.client.create_subscription("cust-1", "welcome", try_start=True)
    page = portal.open_query(portal.link("cust-1", "insite-subscribe", offer="starter").query)
    assert page.status_code == 200
    assert "It replaces your current offer" in page.get_data(as_text=True)
    params = returned(portal.submit(page, payment="card", card_number=GOOD_CARD))
    assert (params["from"], params["refo"]) == ("upgrade", "starter")
    assert portal.env.client.get_subscription_by_id(welcome.id or 0).state_subscription == (
        "EndedUpgrade"
    )
