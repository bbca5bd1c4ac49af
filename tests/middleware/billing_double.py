"""A site wrapped by a ``Gate``, with billing answered at the transport seam by ``responses``.

``BillingDouble`` serves the reference's shapes (from ``tests.bridge.payloads``) for a few
customers whose usages and subscription the test sets, counts the calls, and can go down.
``SiteUnderGate`` bundles the gate, a werkzeug test client and an injected clock.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from flask import Flask, Response
from flask import request as flask_request
from werkzeug.test import Client, TestResponse

from bridge.config import Config, config_from_mapping
from bridge.service import Bridge
from bridge.shared import RedisSnapshots
from cms_adapters.header import HeaderAdapter
from middleware.flask import ProAbonoBridge
from middleware.gate import Gate
from tests.bridge import payloads

BASE = "https://api-2.proabono.com"
NOW = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)
MEMBER_CONTENT = b"<p>member-only content</p>"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Account:
    usages: list[dict[str, Any]] = field(default_factory=list)
    subscription: dict[str, Any] | None = None
    restart_href: str | None = None


class BillingDouble:
    def __init__(self, mock: responses.RequestsMock) -> None:
        self.accounts: dict[str, Account] = {}
        self.down = False
        self.calls: list[str] = []
        self.upserts: list[dict[str, Any]] = []
        self.created_subscriptions: list[tuple[str, str, str | None]] = []
        any_path = re.compile(re.escape(BASE) + r"/v1/.*")
        for method in ("GET", "POST"):
            mock.add_callback(method, any_path, callback=self._answer)

    def member(self, ref: str, *features: str, **quantities: tuple[int, int | None]) -> Account:
        usages = [
            payloads.on_off_usage(
                ReferenceCustomer=ref, ReferenceFeature=f, DatePeriodEnd=payloads.ABSENT
            )
            for f in features
        ]
        for feature, (included, current) in quantities.items():
            usages.append(
                payloads.usage(
                    ReferenceCustomer=ref,
                    ReferenceFeature=feature.replace("_", "-"),
                    TypeFeature="Consumption",
                    QuantityIncluded=included,
                    QuantityCurrent=payloads.ABSENT if current is None else current,
                    DatePeriodEnd=payloads.ABSENT,
                )
            )
        account = Account(
            usages, payloads.subscription(ReferenceCustomer=ref, DatePeriodEnd=payloads.ABSENT)
        )
        self.accounts[ref] = account
        return account

    def subscribed(self, ref: str, status: str, state: str) -> Account:
        links = [payloads.link("insite-restart", href=f"https://pay.example/restart/{ref}")]
        sub = payloads.subscription(
            ReferenceCustomer=ref,
            Status=status,
            StateSubscription=state,
            Links=links,
            DatePeriodEnd=payloads.ABSENT,
        )
        account = Account([], sub)
        self.accounts[ref] = account
        return account

    def billing_calls(self) -> int:
        return len(self.calls)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url or "")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append(f"{request.method} {url.path}")
        if self.down:
            raise requests.ConnectionError("billing is down")
        ref = query.get("ReferenceCustomer", "")
        account = self.accounts.get(ref)
        if url.path == "/v1/Usages":
            if account is None or not account.usages:
                return 204, {}, ""
            return 200, {}, json.dumps(payloads.page(account.usages, path="/v1/Usages"))
        if url.path == "/v1/Subscription" and request.method == "GET":
            if account is None or account.subscription is None:
                error = payloads.error("Error.Api.Subscription.NotFound", "No subscription")
                return 404, {}, json.dumps(error)
            return 200, {}, json.dumps(account.subscription)
        if url.path == "/v1/Customer" and request.method == "GET":
            return 200, {}, json.dumps(self._customer(ref))
        if url.path == "/v1/Customer" and request.method == "POST":
            body = json.loads(request.body or "{}")
            self.upserts.append(body)
            ref = body["ReferenceCustomer"]
            created = ref not in self.accounts
            self.accounts.setdefault(ref, Account())
            answer = self._customer(ref, offer=body.get("ReferenceOffer"))
            return (201 if created else 200), {}, json.dumps(answer)
        if url.path == "/v1/Subscription" and request.method == "POST":
            body = json.loads(request.body or "{}")
            ref = body["ReferenceCustomer"]
            self.created_subscriptions.append((ref, body["ReferenceOffer"], query.get("TryStart")))
            account = self.accounts.setdefault(ref, Account())
            account.subscription = payloads.subscription(
                ReferenceCustomer=ref,
                ReferenceOffer=body["ReferenceOffer"],
                DatePeriodEnd=payloads.ABSENT,
            )
            return 201, {}, json.dumps(account.subscription)
        return 404, {}, json.dumps(payloads.error("Error.NotFound", "unknown path"))

    @staticmethod
    def _customer(ref: str, offer: str | None = None) -> dict[str, Any]:
        links = [
            payloads.link("insite-home", href=f"https://pay.example/portal/{ref}"),
            payloads.link("insite-collection-offers", href=f"https://pay.example/offers/{ref}"),
            payloads.link("insite-register", href=f"https://pay.example/register/{ref}"),
        ]
        if offer:
            links.append(
                payloads.link(
                    "insite-subscribe", href=f"https://pay.example/subscribe/{ref}/{offer}"
                )
            )
        return payloads.customer(ReferenceCustomer=ref, Links=links)


def html_page(title: str, body: bytes = MEMBER_CONTENT) -> bytes:
    return (
        b"<html><head><title>"
        + title.encode()
        + b"</title></head><body>"
        + body
        + b"</body></html>"
    )


def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The wrapped site: every page is member content, cacheable and with an ETag, as sites do."""
    environ_seen.append(dict(environ))
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/api/"):
        body, kind = b'{"secret": "member-only"}', "application/json"
    else:
        body, kind = html_page(path), "text/html; charset=utf-8"
    if environ.get("HTTP_IF_NONE_MATCH") == '"v1"':
        start_response("304 Not Modified", [("ETag", '"v1"')])
        return []
    start_response(
        "200 OK",
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "public, max-age=600, s-maxage=3600"),
            ("ETag", '"v1"'),
            ("Surrogate-Control", "max-age=3600"),
        ],
    )
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


environ_seen: list[dict[str, Any]] = []

RULES = [
    {"path": "/premium/**", "feature": "premium-articles"},
    {"path": "/api/**", "feature": "premium-articles", "methods": ["GET"]},
    {"path": "/downloads/*", "feature": "downloads", "min_remaining": 1},
    {"path": "/members-only/**", "feature": "premium-articles", "deny": "404"},
    {"path": "/pro/**", "feature": "pro-tools", "deny": "redirect:/pricing"},
    {"path": "/news/**", "feature": "premium-articles", "on_outage": "allow"},
    {"path": "/**", "feature": "premium-feeds", "query": {"feed": "*"}},
]
#: Rules none of which looks at the method or the query: the gate then routes on the path alone.
PATH_ONLY_RULES = [rule for rule in RULES if "methods" not in rule and "query" not in rule]


def make_config(**sections: Any) -> Config:
    data: dict[str, Any] = {
        "billing": {"url": BASE, "agent_key": "agent", "api_key": "key", "retries": 0},
        "site": {"base_url": "https://site.example", "login_url": "/login"},
        "rule": RULES,
        "inject": {"enabled": False},
    }
    data.update(sections)
    return config_from_mapping(data, env={"BRIDGE_SECRET_KEY": "s" * 32})


def flask_site() -> Flask:
    """The same site as ``site``, written as a Flask app (Flask answers HEAD and 304 itself)."""
    app = Flask("site")
    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]

    @app.route("/", defaults={"path": ""}, methods=methods)
    @app.route("/<path:path>", methods=methods)
    def page(path: str) -> Response:
        environ_seen.append(dict(flask_request.environ))
        if path.startswith("api/"):
            response = Response(b'{"secret": "member-only"}', content_type="application/json")
        else:
            response = Response(html_page("/" + path), content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "public, max-age=600, s-maxage=3600"
        response.headers["Surrogate-Control"] = "max-age=3600"
        response.set_etag("v1")
        return response.make_conditional(flask_request)

    return app


SITE_KINDS = ["wsgi", "flask"]
CACHE_BACKENDS = ["memory", "redis"]


def shared_cache(backend: str) -> RedisSnapshots | None:
    """None for the in-process cache; a Redis-backed one (own key prefix) for "redis"."""
    if backend == "memory":
        return None
    import redis

    from tests.services import require_redis

    client = redis.Redis.from_url(require_redis())
    return RedisSnapshots(client, prefix=f"pbtest-{uuid.uuid4().hex[:12]}")


class SiteUnderGate:
    """A site of either kind behind the gate, with billing at the transport seam."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        kind: str = "wsgi",
        *,
        shared: RedisSnapshots | None = None,
        **sections: Any,
    ) -> None:
        self.billing = BillingDouble(mock)
        self.clock = Clock()
        config = make_config(**sections)
        if shared is not None:
            shared.clock = self.clock
        self.bridge = Bridge(config, shared=shared, clock=self.clock)
        adapter = HeaderAdapter(trusted_proxies=["127.0.0.1"])
        if kind == "flask":
            app = flask_site()
            extension = ProAbonoBridge(app, adapter=adapter, bridge=self.bridge)
            assert extension.gate is not None
            self.gate = extension.gate
            self.client = Client(app)
        else:
            self.gate = Gate(site, adapter=adapter, bridge=self.bridge, clock=self.clock)
            self.client = Client(self.gate)
        environ_seen.clear()

    def close(self) -> None:
        self.bridge.close()

    def get(
        self, path: str, user: str | None = None, method: str = "GET", **headers: str
    ) -> TestResponse:
        all_headers = dict(headers)
        if user is not None:
            all_headers["X-Remote-User"] = user
        return self.client.open(
            path, method=method, headers=all_headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        )


@contextmanager
def site_under_gate(kind: str = "wsgi", **sections: Any) -> Iterator[SiteUnderGate]:
    """A ``SiteUnderGate`` with billing at the transport seam, closed after; alice is a member
    with premium articles, everyone else has no subscription."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        world = SiteUnderGate(rsps, kind=kind, **sections)
        world.billing.member("user-alice", "premium-articles")
        try:
            yield world
        finally:
            world.close()
