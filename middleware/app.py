"""``create_app``: the app factory servers run (``proabono-bridge serve``, gunicorn, waitress).

It reads the configuration, builds the billing side and the adapter, and wraps the configured site:
``[site] app = "module:callable"`` (a WSGI app imported in process) or ``[site] upstream =
"http://..."`` (any site over HTTP, through ``middleware.proxy``).

    gunicorn 'middleware.app:create_app("bridge.toml")'
"""

from __future__ import annotations

import importlib
import os
from typing import Any
from urllib.parse import urlsplit

from bridge.config import Config, load_config
from bridge.errors import ConfigError, ConfigProblem
from bridge.service import Bridge
from bridge.sync import Sync
from cms_adapters.base import Adapter
from cms_adapters.registry import build_adapter
from middleware.gate import Gate, WSGIApp
from middleware.proxy import ReverseProxy


def load_site(config: Config) -> WSGIApp:
    """The site to wrap, from ``[site] app`` or ``[site] upstream``."""
    if config.site.upstream:
        return ReverseProxy(config.site.upstream, public_host=urlsplit(config.site.base_url).netloc)
    if not config.site.app:
        raise ConfigError(
            [
                ConfigProblem(
                    "site.app",
                    "no site to wrap",
                    'set app = "package.module:app" (WSGI) or upstream = "http://127.0.0.1:8080"',
                )
            ],
            source=config.source,
        )
    module_name, _, attribute = config.site.app.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            [
                ConfigProblem(
                    "site.app", f"cannot load {config.site.app!r}: {exc}", "check PYTHONPATH"
                )
            ],
            source=config.source,
        ) from exc
    if not callable(target):
        raise ConfigError([ConfigProblem("site.app", f"{config.site.app!r} is not callable")])
    app: WSGIApp = target
    return app


def create_app(config_path: str | os.PathLike[str] | None = None, *, sync: bool = True) -> Gate:
    """The configured site behind the gate; with ``sync``, users are synced in the background."""
    config = load_config(config_path)
    bridge = Bridge(config)
    adapter = build_adapter(config.adapter)
    worker = make_sync(bridge, adapter) if sync else None
    if worker is not None:
        worker.start()
    return Gate(load_site(config), adapter=adapter, bridge=bridge, sync=worker)


def make_sync(bridge: Bridge, adapter: Adapter) -> Sync:
    return Sync(
        bridge.client,
        bridge.state_store,
        reference_for=bridge.reference_for,
        get_user=adapter.get_user,
        welcome_offer=bridge.config.registration.welcome_offer,
        on_change=bridge.refresh,
        clock=bridge.clock,
    )
