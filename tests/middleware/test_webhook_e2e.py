"""The sandbox sends real notifications; the next request of that user sees them, no TTL wait."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from bridge.config import config_from_mapping
from bridge.sandbox import transport
from bridge.sandbox.app import create_app
from bridge.sandbox.service import WebhookTarget
from bridge.service import Bridge
from cms_adapters.header import HeaderAdapter
from middleware.gate import Gate

SECRET = "whsec-e2e-0123456789"
MARKER = b"<!-- billing:links -->"


def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"<html><body><p>member page</p>" + MARKER + b"</body></html>"
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


class World:
    def __init__(self, tmp: Path) -> None:
        db = tmp / "billing.db"
        self.posted: list[int] = []
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.site: Client | None = None

        def poster(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
            assert self.site is not None
            self.bodies.append((body, dict(headers)))
            response = self.site.post("/_billing/webhook", data=body, headers=dict(headers))
            self.posted.append(response.status_code)
            return response.status_code

        self.sandbox = create_app(
            db,
            webhooks=[WebhookTarget("https://site.example/_billing/webhook", "wh-key", SECRET)],
            start_webhook_worker=False,
            webhook_poster=poster,
        )
        transport.install(db, self.sandbox)
        config = config_from_mapping(
            {
                "billing": {"url": f"sandbox://{db}", "webhook_secret": SECRET},
                "site": {"base_url": "https://site.example"},
                "rule": [{"path": "/premium/**", "feature": "premium-articles"}],
                "state": {"path": str(tmp / "state.db")},
            },
            env={"BRIDGE_SECRET_KEY": "s" * 32},
        )
        self.bridge = Bridge(config)
        gate = Gate(page, adapter=HeaderAdapter(trusted_proxies=["127.0.0.1"]), bridge=self.bridge)
        self.site = Client(gate)
        self.db = db

    def get(self, path: str, user: str) -> Any:
        assert self.site is not None
        return self.site.get(
            path, headers={"X-Remote-User": user}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        )

    def deliver(self) -> int:
        delivered: int = self.sandbox.extensions["proabono_sandbox_webhooks"].deliver_due()
        return delivered


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    transport.uninstall(w.db)
    w.bridge.close()


def test_a_suspension_reaches_the_users_next_page_through_the_webhook(world) -> None:
    client = world.bridge.client
    client.upsert_customer("user-alice", email="alice@example.com")
    subscription = client.create_subscription("user-alice", "welcome", try_start=True)
    world.deliver()  # the validation handshake, then CustomerAdded, SubscriptionStarted...
    assert world.posted, "the sandbox posted to the bridge"
    assert set(world.posted) == {200}, "the handshake and every event were accepted"
    assert world.get("/premium/a", user="alice").status_code == 200
    assert b"billing-banner" not in world.get("/account", user="alice").data

    assert subscription.id is not None
    client.suspend_subscription(subscription.id)  # an admin suspends it in the back office
    assert world.deliver() >= 1
    denied = world.get("/premium/a", user="alice")  # well within the 5 minute ttl
    assert denied.status_code == 402
    assert b'data-reason="suspended"' in denied.data
    account = world.get("/account", user="alice").data
    assert b"billing-banner" in account
    assert b'href="/_billing/restart"' in account


def test_a_redelivered_notification_is_acknowledged_but_not_processed_twice(world) -> None:
    client = world.bridge.client
    world.deliver()  # the webhook is registered and validated
    client.upsert_customer("user-bob", email="bob@example.com")
    client.create_subscription("user-bob", "welcome", try_start=True)
    assert world.deliver() >= 1
    event, headers = next((b, h) for b, h in world.bodies if b'"TypeTrigger"' in b)
    assert world.site is not None
    again = world.site.post("/_billing/webhook", data=event, headers=headers)
    assert again.status_code == 200
    assert again.json == {"outcome": "duplicate ignored"}
