"""Run the sandbox billing service for tests: in process or over HTTP on a loopback port.

Reusable by every test suite that needs a billing backend::

    from tests.bridge.sandbox.harness import billing, sandbox_env  # noqa: F401  (in a conftest)

    def test_something(billing):          # runs twice: "in-process" and "http"
        billing.client.upsert_customer("cust-1")
        billing.advance("31d")

* ``make_sandbox(db_path)`` builds an app on a ``FixedClock`` (no webhook thread);
* ``serve_http(app)`` serves it on ``127.0.0.1:<random port>`` in a thread, and stops it;
* ``in_process(db_path, app)`` registers it for ``sandbox://<db_path>`` URLs;
* the ``billing`` fixture gives a ``BillingEnv`` (client, app, clock, admin helpers) per backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from bridge.client import ProAbonoClient
from bridge.sandbox import transport
from bridge.sandbox.app import close_app, create_app, sandbox_of, webhooks_of
from bridge.sandbox.clock import FixedClock, parse_duration
from bridge.sandbox.service import Sandbox
from bridge.sandbox.webhooks import WebhookDispatcher

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
AGENT_KEY = "sandbox-agent"
API_KEY = "sandbox-key"
BACKENDS = ("in-process", "http")


def make_sandbox(db_path: Path, *, start: datetime = START, **options: Any) -> Flask:
    """A sandbox app on a fixed base clock, without the webhook thread (call ``deliver_due``)."""
    options.setdefault("start_webhook_worker", False)
    return create_app(db_path, clock=FixedClock(start), **options)


@contextmanager
def serve_http(app: Flask, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a random loopback port (threaded); yields its base URL."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="sandbox-http",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def in_process(db_path: Path, app: Flask) -> Iterator[str]:
    """Make ``sandbox://<db_path>`` reach ``app``; yields that URL."""
    transport.install(db_path, app)
    try:
        yield f"sandbox://{db_path}"
    finally:
        transport.uninstall(db_path)


@dataclass
class BillingEnv:
    """A running sandbox and a ``ProAbonoClient`` pointed at it."""

    backend: str
    url: str
    app: Flask
    client: ProAbonoClient

    @property
    def sandbox(self) -> Sandbox:
        return sandbox_of(self.app)

    @property
    def webhooks(self) -> WebhookDispatcher:
        return webhooks_of(self.app)

    def now(self) -> datetime:
        return self.sandbox.now()

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the ``/_sandbox`` admin API through the client (same auth, same transport)."""
        return self.client.request(method, path, idempotent=False, **kwargs)[1]

    def advance(self, duration: str) -> Any:
        return self.admin("POST", "/_sandbox/Clock/Advance", body={"Duration": duration})

    def register_card(self, reference_customer: str, number: str = "4242424242424242") -> Any:
        return self.admin(
            "POST",
            "/_sandbox/Customer/PaymentMethod",
            params={"ReferenceCustomer": reference_customer},
            body={"CardNumber": number},
        )

    def pay_arrears(self, reference_customer: str) -> Any:
        return self.admin(
            "POST", "/_sandbox/Customer/Arrears", params={"ReferenceCustomer": reference_customer}
        )

    def events(self, type_trigger: str | None = None) -> list[dict[str, Any]]:
        params = {"TypeTrigger": type_trigger} if type_trigger else None
        items: list[dict[str, Any]] = self.admin("GET", "/_sandbox/Events", params=params)["Items"]
        return items


def make_client(url: str, app: Flask) -> ProAbonoClient:
    service = sandbox_of(app)
    return ProAbonoClient(
        url, AGENT_KEY, API_KEY, clock=service.now, sleep=lambda _: None, retries=0
    )


@contextmanager
def billing_env(backend: str, db_path: Path, **options: Any) -> Iterator[BillingEnv]:
    app = make_sandbox(db_path, **options)
    try:
        if backend == "http":
            with serve_http(app) as url, make_client(url, app) as client:
                yield BillingEnv(backend, url, app, client)
        else:
            with in_process(db_path, app) as url, make_client(url, app) as client:
                yield BillingEnv(backend, url, app, client)
    finally:
        close_app(app)


@pytest.fixture(params=BACKENDS)
def billing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BillingEnv]:
    """A client on a fresh sandbox, once in process (``sandbox://``) and once over HTTP."""
    with billing_env(request.param, tmp_path / "billing.db") as env:
        yield env


@pytest.fixture
def sandbox_env(tmp_path: Path) -> Iterator[BillingEnv]:
    """A client on a fresh in-process sandbox (the fast default for single-backend tests)."""
    with billing_env("in-process", tmp_path / "billing.db") as env:
        yield env


def advance_base(app: Flask, duration: str) -> None:
    """Move the *base* clock (as real time passing would), without running anything."""
    base = sandbox_of(app).clock.base
    assert isinstance(base, FixedClock)
    base.advance(parse_duration(duration))


class WebhookReceiver:
    """A real loopback HTTP endpoint that records POSTs and answers scripted statuses."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self.arrived = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        import json

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"null")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        with self._lock:
            self.received.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
        self.arrived.set()
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [b"ok"]

    @property
    def bodies(self) -> list[Any]:
        return [body for _, body in self.received]

    def events(self) -> list[dict[str, Any]]:
        return [b for b in self.bodies if isinstance(b, dict) and "TypeTrigger" in b]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, WebhookReceiver]]:
    receiver = WebhookReceiver()
    with serve_http(receiver) as url:  # type: ignore[arg-type]
        yield url + "/hook", receiver
