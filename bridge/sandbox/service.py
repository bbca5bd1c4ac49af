"""One sandbox: its store, catalog, clock, link signer and webhook targets, and how time passes.

``Sandbox`` is what the Flask app, the in-process transport and the ``advance`` command share.
Before every API call the sandbox catches up with its clock (``catch_up``): renewals, trial ends,
terms and overdue invoices due by "now" are applied first, in time order, so an answer never shows
a state that time has already changed. ``advance`` moves the clock and catches up at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bridge.sandbox.catalog import Catalog, catalog_from_text, load_catalog
from bridge.sandbox.clock import BaseClock, SandboxClock, system_clock
from bridge.sandbox.ledger import Tx
from bridge.sandbox.links import DEFAULT_MAX_AGE, LinkSigner
from bridge.sandbox.renewals import next_due, run_due
from bridge.sandbox.store import Store, to_db

CATALOG_SETTING = "catalog_toml"
LINK_SECRET_SETTING = "link_secret"  # noqa: S105 - the name of a setting, not a secret


@dataclass(frozen=True)
class WebhookTarget:
    """A configured webhook: where to POST, the ``x-proabono-key`` it carries, its secret."""

    url: str
    key: str = "sandbox-webhook"
    secret: str = "sandbox-webhook-secret"  # noqa: S105 - a sandbox default, not a secret
    triggers: frozenset[str] | None = None  # None = every event


class Sandbox:
    def __init__(
        self,
        db_path: str | Path,
        *,
        catalog: Catalog | None = None,
        catalog_path: str | Path | None = None,
        clock: BaseClock | None = None,
        link_secret: str | None = None,
        link_max_age: int = DEFAULT_MAX_AGE,
    ) -> None:
        self.store = Store(db_path)
        self.catalog = catalog or self._catalog(catalog_path)
        self.clock = SandboxClock(self.store, clock or system_clock)
        secret = link_secret or self.store.setting_or_create(
            LINK_SECRET_SETTING, secrets.token_urlsafe(32)
        )
        self.links = LinkSigner(secret, self.clock.now, max_age=link_max_age)
        self.link_secret = secret  # the hosted pages key their CSRF tokens with it

    def _catalog(self, path: str | Path | None) -> Catalog:
        """The catalog file given, remembered in the database; else the remembered one, else the
        demo catalog. So ``sandbox advance`` prices renewals with the catalog the server uses."""
        if path is not None:
            text = Path(path).read_text(encoding="utf-8")
            catalog = catalog_from_text(text, str(path))
            with self.store.write() as conn:
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (CATALOG_SETTING, text),
                )
            return catalog
        stored = self.store.get_setting(CATALOG_SETTING)
        if stored is not None:
            return catalog_from_text(stored, f"{self.store.path} (catalog remembered)")
        return load_catalog()

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction at "now", after everything due by now has happened."""
        with self.store.write() as conn:
            tx = Tx(conn, self.catalog, self.now())
            run_due(tx)
            yield tx

    def catch_up(self) -> int:
        """Apply what is due by now; cheap (one indexed read) when nothing is."""
        now = self.now()
        with self.store.read() as conn:
            due = next_due(conn)
        if due is None or due > (to_db(now) or ""):
            return 0
        with self.store.write() as conn:
            return run_due(Tx(conn, self.catalog, now))

    def advance(self, delta: timedelta) -> tuple[datetime, int]:
        now = self.clock.advance(delta)
        return now, self.catch_up()

    def close(self) -> None:
        self.store.close()
