"""Flask glue: ``ProAbonoBridge(app)`` or ``ProAbonoBridge().init_app(app)``.

Settings come from ``app.config["BRIDGE_*"]`` with the keys of ``bridge.toml``
(``BRIDGE_BILLING = {...}``, ``BRIDGE_RULES = [...]``...), or from a file named by
``app.config["BRIDGE_CONFIG"]``. The gate wraps ``app.wsgi_app``, so it sees every request the app
serves (views, static files, errors) and nothing reaches a view un-gated. The extension is kept in
``app.extensions["proabono_bridge"]``; ``bridge_decision()`` reads the current request's decision.
``sync=True`` also syncs the users the gate identifies to billing customers, in the background.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request

from bridge.config import Config, config_from_prefixed, load_config
from bridge.service import Bridge
from bridge.sync import Sync
from cms_adapters.base import Adapter
from cms_adapters.registry import build_adapter
from middleware.app import make_sync
from middleware.gate import Decision, Gate

EXTENSION = "proabono_bridge"


class ProAbonoBridge:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        adapter: Adapter | None = None,
        config: Config | None = None,
        bridge: Bridge | None = None,
        sync: bool | Sync = False,
    ) -> None:
        self.adapter = adapter
        self.config = config
        self._bridge = bridge
        self._sync = sync
        self.sync: Sync | None = None
        self.gate: Gate | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        bridge = self._bridge or Bridge(self.config or self._config(app))
        adapter = self.adapter or build_adapter(bridge.config.adapter)
        if isinstance(self._sync, Sync):
            self.sync = self._sync
        elif self._sync:  # users the gate identifies become customers, in the background
            self.sync = make_sync(bridge, adapter)
            self.sync.start()
        self.gate = Gate(
            app.wsgi_app, adapter=adapter, bridge=bridge, sync=self.sync, clock=bridge.clock
        )
        app.wsgi_app = self.gate  # type: ignore[method-assign]
        app.extensions[EXTENSION] = self

    @staticmethod
    def _config(app: Flask) -> Config:
        if app.config.get("BRIDGE_CONFIG"):
            return load_config(app.config["BRIDGE_CONFIG"])
        settings = {k: v for k, v in app.config.items() if k != "BRIDGE_CONFIG"}
        return config_from_prefixed(settings, base_dir=Path(app.root_path))

    @property
    def bridge(self) -> Bridge:
        assert self.gate is not None, "call init_app first"
        return self.gate.bridge


def bridge_decision() -> Decision | None:
    """The gate's decision for the current request (None on ungated paths)."""
    decision: Any = request.environ.get("bridge.decision")
    return decision if isinstance(decision, Decision) else None
