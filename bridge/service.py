"""``Bridge``: the billing side assembled from a ``Config`` — client, entitlement store, links.

The gate, the framework glue and the command line all work through one ``Bridge``, so a site has one
client (one connection pool) and one cache per process.

What this module does not do: anything HTTP-facing (``middleware``) or user-model specific
(``cms_adapters``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from bridge.cache import EntitlementStore
from bridge.client import ProAbonoClient
from bridge.config import BillingConfig, Config
from bridge.entitlements import CustomerState, state_fetcher
from bridge.links import Action, hosted_url
from bridge.shared import RedisSnapshots
from bridge.state import StateStore
from bridge.webhooks import WebhookHandler


def client_from_config(billing: BillingConfig) -> ProAbonoClient:
    return ProAbonoClient(
        billing.url,
        billing.agent_key or "",
        billing.api_key or "",
        segment=billing.segment,
        timeout=billing.timeout,
        connect_timeout=billing.connect_timeout,
        retries=billing.retries,
        retry_budget=billing.retry_budget,
    )


class Bridge:
    def __init__(
        self,
        config: Config,
        *,
        client: ProAbonoClient | None = None,
        shared: RedisSnapshots | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.client = client or client_from_config(config.billing)
        self.clock = clock
        fetch = state_fetcher(self.client, max_ttl=config.cache.ttl, clock=clock)
        if shared is None and config.cache.backend == "redis" and config.cache.redis_url:
            shared = RedisSnapshots.from_url(
                config.cache.redis_url,
                prefix=config.cache.redis_prefix,
                stale_ttl=config.cache.stale_ttl,
                clock=clock,
            )
        self.shared = shared
        if shared is not None:
            fetch = shared.fetcher(fetch)
        self.store = EntitlementStore(
            fetch,
            stale_ttl=config.cache.stale_ttl,
            max_entries=config.cache.max_entries,
            clock=clock,
        )
        if shared is not None:
            shared.listen(self.store.invalidate)
        self._template = config.site.customer_reference
        self._state: StateStore | None = None
        self.webhooks = WebhookHandler(
            config.billing.webhook_secret,
            invalidate=self.refresh,
            first_sighting=self._first_sighting,
        )

    def _first_sighting(self, notification_id: str) -> bool:
        if self.shared is not None:  # several workers: the shared record is the one that counts
            return self.shared.first_sighting(notification_id)
        return self.state_store.first_sighting(notification_id)

    def close(self) -> None:
        if self.shared is not None:
            self.shared.stop()
        if self._state is not None:
            self._state.close()
        self.client.close()

    @property
    def state_store(self) -> StateStore:
        """The local state file, opened on first use (the gate alone never needs it)."""
        if self._state is None:
            self._state = StateStore(self.config.state.path, clock=self.clock)
        return self._state

    @property
    def sandbox_url(self) -> str:
        """Where the in-process sandbox's hosted pages are served on the site (under the mount)."""
        return f"{self.config.site.base_url.rstrip('/')}{self.config.site.mount}/sandbox"

    def hosted_pages(self) -> Any | None:
        """The in-process sandbox's WSGI app (its hosted pages are served under the mount), told
        where it lives and where workflows return; None for any other billing backend."""
        path = self.config.billing.sandbox_path
        if path is None:
            return None
        transport = importlib.import_module("bridge.sandbox.transport")
        app = transport.app_for(path)
        app.config["SANDBOX_PUBLIC_URL"] = self.sandbox_url
        app.config["SANDBOX_RETURN_URL"] = (
            f"{self.config.site.base_url.rstrip('/')}{self.config.site.mount}/return"
        )
        return app

    def reference_for(self, user_id: str) -> str:
        """The ReferenceCustomer of a site user: the configured template over the stable id."""
        return self._template.replace("{id}", user_id)

    def state(self, reference_customer: str) -> CustomerState:
        return self.store.get(reference_customer)

    def refresh(self, reference_customer: str) -> None:
        """Forget the snapshot: the next request reads rights afresh (after any change), in this
        worker and, with Redis, in every other one."""
        self.store.invalidate(reference_customer)
        if self.shared is not None:
            self.shared.invalidate(reference_customer)

    def hosted_url(
        self,
        reference_customer: str,
        action: Action,
        *,
        offer: str | None = None,
        profile: Mapping[str, str | None] | None = None,
    ) -> str:
        """A fresh hosted-page URL (rights are re-read on ``/_billing/return``, not here)."""
        return hosted_url(
            self.client,
            reference_customer,
            action,
            offer=offer,
            portal_url=self.config.billing.portal_url
            or (f"{self.sandbox_url}/portal" if self.config.billing.is_sandbox else None),
            profile=profile,
        )
