"""Integrated purchasing on the sandbox: quote, confirm, the confirmation page, and refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cms_adapters.base import SiteUser
from tests.middleware.test_sandbox_e2e import Site


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Site]:
    w = Site(tmp_path)
    yield w
    w.bridge.close()


def starter_member(world: Site, uid: str, *, card: str | None = "4242424242424242") -> str:
    """A user on the starter offer (10 downloads a month, extra ones priced), all included used."""
    reference = f"user-{uid}"
    client = world.bridge.client
    client.upsert_customer(reference, email=f"{uid}@example.com")
    if card:
        client.request(
            "POST",
            "/_sandbox/Customer/PaymentMethod",
            params={"ReferenceCustomer": reference},
            body={"CardNumber": card},
            idempotent=False,
        )
        client.create_subscription(reference, "starter", try_start=True)
    else:  # started on a bank transfer, settled, then left without any payment method
        client.update_payment_settings(reference, type_payment="ExternalBank")
        client.create_subscription(reference, "starter", try_start=True)
        for path, body in (
            ("/_sandbox/Customer/Arrears", None),
            ("/_sandbox/Customer/PaymentMethod", {}),
        ):
            client.request(
                "POST", path, params={"ReferenceCustomer": reference}, body=body, idempotent=False
            )
    from bridge.client import UsageChange

    client.record_usage(UsageChange(reference, "downloads", increment=10))
    world.users[uid] = SiteUser(id=uid, email=f"{uid}@example.com")
    return reference


def post_json(world: Site, path: str, body: dict[str, Any], user: str, **headers: str) -> Any:
    return world.client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Remote-User": user, **headers},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def test_a_member_out_of_downloads_is_offered_to_buy_one_more(world) -> None:
    starter_member(world, "ada")
    denied = world.get("/downloads/report.pdf", user="ada")
    assert denied.status_code == 402
    assert b"/_billing/purchase?feature=downloads&amp;increment=1&amp;next=" in denied.data


def test_quote_then_confirm_records_the_usage_and_reopens_the_door(world) -> None:
    reference = starter_member(world, "ada")
    quote = post_json(world, "/_billing/quote", {"feature": "downloads", "increment": 1}, "ada")
    assert quote.status_code == 200
    offer = quote.json
    assert offer["amount_due"] > 0
    assert offer["free"] is False
    assert offer["feature"] == "downloads"
    done = post_json(world, "/_billing/confirm", {"token": offer["token"]}, "ada")
    assert done.status_code == 200
    usage = world.bridge.client.get_usage(reference, "downloads")
    assert usage is not None
    assert usage.quantity_current == 11


def test_a_quote_is_only_good_for_the_user_who_saw_it(world) -> None:
    starter_member(world, "ada")
    starter_member(world, "bob")
    quote = post_json(world, "/_billing/quote", {"feature": "downloads", "increment": 1}, "ada")
    stolen = post_json(world, "/_billing/confirm", {"token": quote.json["token"]}, "bob")
    assert stolen.status_code == 403
    forged = post_json(world, "/_billing/confirm", {"token": "forged"}, "ada")
    assert forged.status_code == 400
    assert forged.json["error"] == "quote_expired"


def test_without_a_payment_method_the_refusal_says_what_to_do(world) -> None:
    starter_member(world, "ada", card=None)
    answer = post_json(world, "/_billing/quote", {"feature": "downloads", "increment": 1}, "ada")
    assert answer.status_code == 402
    assert answer.json == {
        "error": "payment_method_missing",
        "links": {"payment": "/_billing/payment"},
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"feature": "downloads"},
        {"feature": "downloads", "increment": 0},
        {"feature": "downloads", "increment": "many"},
        {"feature": "downloads", "increment": 1, "quantity": 3},
        {"feature": "x" * 60, "increment": 1},
    ],
    ids=["empty", "no-change", "zero", "not-a-number", "two-changes", "long-feature"],
)
def test_bad_purchase_requests_are_400s(world, body) -> None:
    starter_member(world, "ada")
    assert post_json(world, "/_billing/quote", body, "ada").status_code == 400


def test_anonymous_and_cross_site_requests_are_refused(world) -> None:
    starter_member(world, "ada")
    anonymous = world.client.post(
        "/_billing/quote",
        data=json.dumps({"feature": "downloads", "increment": 1}),
        content_type="application/json",
    )
    assert anonymous.status_code == 401
    cross = post_json(
        world,
        "/_billing/quote",
        {"feature": "downloads", "increment": 1},
        "ada",
        Origin="https://evil.example",
    )
    assert cross.status_code == 403


def test_the_confirmation_page_buys_and_returns(world) -> None:
    reference = starter_member(world, "ada")
    page = world.get(
        "/_billing/purchase?feature=downloads&increment=1&next=/downloads/r.pdf", user="ada"
    )
    assert page.status_code == 200
    assert b"Confirm" in page.data
    token = re.search(rb'name="token" value="([^"]+)"', page.data)
    assert token is not None
    done = world.client.post(
        "/_billing/purchase",
        data={"token": token.group(1).decode(), "next": "/downloads/r.pdf"},
        headers={"X-Remote-User": "ada"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/downloads/r.pdf"
    usage = world.bridge.client.get_usage(reference, "downloads")
    assert usage is not None
    assert usage.quantity_current == 11


def test_a_price_that_changed_since_the_quote_is_never_charged(world) -> None:
    from bridge.client import UsageChange

    reference = starter_member(world, "ada")
    client = world.bridge.client
    client.record_usage(UsageChange(reference, "downloads", quantity_current=9))  # 1 included left
    quote = post_json(world, "/_billing/quote", {"feature": "downloads", "increment": 1}, "ada")
    assert quote.json["free"] is True
    client.record_usage(UsageChange(reference, "downloads", increment=1))  # used meanwhile
    answer = post_json(world, "/_billing/confirm", {"token": quote.json["token"]}, "ada")
    assert answer.status_code == 409
    assert answer.json["error"] == "quote_changed"
    assert answer.json["amount_due"] > 0, "the new price comes back to be confirmed"
    usage = client.get_usage(reference, "downloads")
    assert usage is not None
    assert usage.quantity_current == 10, "nothing was recorded at the old price"
