"""The sandbox's Flask app factory: ``create_app(db_path, ...)``.

One app serves the API (``/v1/...``, Basic auth), the admin API (``/_sandbox/...``, same auth) and
the minimal hosted pages (``/portal/...``, no auth: their tokens are the credential). The app keeps
its ``Sandbox`` in ``app.extensions["proabono_sandbox"]`` and its webhook worker in
``app.extensions["proabono_sandbox_webhooks"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import Flask, Response, request

from bridge.sandbox import (
    admin,
    api_billing,
    api_catalog,
    api_customers,
    api_quoting,
    api_subscriptions,
    api_usages,
    portal,
)
from bridge.sandbox.api import CaseInsensitivePaths, check_auth, install_error_handlers
from bridge.sandbox.catalog import Catalog
from bridge.sandbox.clock import BaseClock
from bridge.sandbox.links import DEFAULT_MAX_AGE
from bridge.sandbox.service import Sandbox, WebhookTarget
from bridge.sandbox.webhooks import Poster, WebhookDispatcher, requests_poster

DEFAULT_AGENT_KEY = "sandbox-agent"
DEFAULT_API_KEY = "sandbox-key"


def create_app(
    db_path: str | Path,
    *,
    catalog_path: str | Path | None = None,
    clock: BaseClock | None = None,
    agent_key: str = DEFAULT_AGENT_KEY,
    api_key: str = DEFAULT_API_KEY,
    webhooks: Sequence[WebhookTarget | str] = (),
    link_secret: str | None = None,
    catalog: Catalog | None = None,
    public_url: str | None = None,
    link_max_age: int = DEFAULT_MAX_AGE,
    start_webhook_worker: bool = True,
    webhook_poster: Poster = requests_poster,
) -> Flask:
    """A sandbox over the SQLite file ``db_path`` (created, and migrated, when needed).

    ``clock`` is the base clock (aware UTC); the sandbox adds the offset stored in the database.
    ``webhooks`` are URLs or ``WebhookTarget``s; their worker thread starts with the app unless
    ``start_webhook_worker`` is false (tests then call ``deliver_due``). ``public_url`` is the base
    of hosted-page links (default: the URL the request came in on).
    """
    service = Sandbox(
        db_path,
        catalog=catalog,
        catalog_path=catalog_path,
        clock=clock,
        link_secret=link_secret,
        link_max_age=link_max_age,
    )
    app = Flask("bridge.sandbox")
    app.config["SANDBOX_PUBLIC_URL"] = public_url
    app.extensions["proabono_sandbox"] = service
    targets = [WebhookTarget(url=t) if isinstance(t, str) else t for t in webhooks]
    dispatcher = WebhookDispatcher(service, targets, poster=webhook_poster)
    app.extensions["proabono_sandbox_webhooks"] = dispatcher

    @app.before_request
    def _authenticate() -> Response | None:
        if not request.path.startswith(("/v1/", "/_sandbox/")):
            return None
        refused = check_auth(agent_key, api_key)
        if refused is None and request.path.startswith("/v1/"):
            service.catch_up()  # renewals, trial ends... due by now happen before any answer
        return refused

    install_error_handlers(app)
    for module in (
        api_customers,
        api_subscriptions,
        api_catalog,
        api_usages,
        api_quoting,
        api_billing,
        admin,
        portal,
    ):
        app.register_blueprint(module.bp)
    app.wsgi_app = CaseInsensitivePaths(app.wsgi_app)  # type: ignore[method-assign]
    if start_webhook_worker:
        dispatcher.start()
    return app


def sandbox_of(app: Flask) -> Sandbox:
    found: Sandbox = app.extensions["proabono_sandbox"]
    return found


def webhooks_of(app: Flask) -> WebhookDispatcher:
    found: WebhookDispatcher = app.extensions["proabono_sandbox_webhooks"]
    return found


def close_app(app: Flask) -> None:
    """Stop the webhook worker and close the database connections."""
    webhooks_of(app).stop()
    sandbox_of(app).close()
