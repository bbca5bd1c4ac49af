"""Django glue: ``application = wrap(get_wsgi_application())`` in the project's ``wsgi.py``.

Settings come from ``settings.PROABONO_BRIDGE``, a dict with the keys of ``bridge.toml``
(``{"billing": {...}, "site": {...}, "rule": [...], ...}``), or from the file named by
``settings.PROABONO_BRIDGE_CONFIG``. Relative paths (sandbox database, state store) are resolved
against ``settings.BASE_DIR`` when the project defines it. When ``PROABONO_BRIDGE`` names no
``adapter`` kind, the site's users are Django's own, asked in process (Django's session engine and
auth API: :mod:`cms_adapters.django.in_process`); the ``adapter`` section may still give that
adapter's options (``{"language_field": "language"}``).

The gate wraps the whole WSGI application, so it sees every request Django serves (views, static
files through whitenoise, errors) and nothing reaches a view un-gated. The decision of a request is
``request.environ["bridge.decision"]``; ``bridge_decision(request)`` reads it.

Where ``wsgi.py`` cannot change (or under ASGI), ``"middleware.django.GateMiddleware"`` first in
``settings.MIDDLEWARE`` does the same from inside Django: it sees what reaches Django's middleware
(not what a server or an outer WSGI layer answers before), and converts responses both ways.

What this module does not do: decide anything (``middleware.gate``) or read users
(``cms_adapters.django``); it only maps Django settings onto their keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
from django.http import HttpResponse, StreamingHttpResponse  # type: ignore[import-untyped]

from bridge.config import Config, config_from_mapping, load_config
from bridge.errors import ConfigError, ConfigProblem
from bridge.service import Bridge
from cms_adapters.base import Adapter
from cms_adapters.django import django_adapter
from cms_adapters.registry import build_adapter
from middleware.gate import Decision, Gate, WSGIApp

SETTING = "PROABONO_BRIDGE"
FILE_SETTING = "PROABONO_BRIDGE_CONFIG"


def wrap(
    application: WSGIApp,
    *,
    adapter: Adapter | None = None,
    config: Config | None = None,
    bridge: Bridge | None = None,
    settings: Any = None,
) -> Gate:
    """``application`` (Django's WSGI handler) behind the gate, configured from ``settings``
    (default: ``django.conf.settings``). Pass ``config``, ``bridge`` or ``adapter`` to bypass the
    settings for that part."""
    settings = django_settings if settings is None else settings
    if bridge is None:
        bridge = Bridge(config or config_from_settings(settings))
    if adapter is None:
        adapter = adapter_from_settings(bridge.config, settings)
    return Gate(application, adapter=adapter, bridge=bridge, clock=bridge.clock)


def config_from_settings(settings: Any = None) -> Config:
    """The bridge's ``Config`` from ``PROABONO_BRIDGE_CONFIG`` (a file) or ``PROABONO_BRIDGE``."""
    settings = django_settings if settings is None else settings
    file = getattr(settings, FILE_SETTING, None)
    if file:
        return load_config(file)
    data = getattr(settings, SETTING, None)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING} must be a dict with the keys of bridge.toml, not "
            f"{type(data).__name__}"
        )
    base_dir = getattr(settings, "BASE_DIR", None)
    return config_from_mapping(
        data, base_dir=Path(base_dir) if base_dir else None, source=f"settings.{SETTING}"
    )


def adapter_from_settings(config: Config, settings: Any = None) -> Adapter:
    """The configured adapter; Django's own users, in process, when no ``kind`` is named."""
    settings = django_settings if settings is None else settings
    data = getattr(settings, SETTING, None)
    section = data.get("adapter") if isinstance(data, Mapping) else None
    named = getattr(settings, FILE_SETTING, None) or (
        isinstance(section, Mapping) and "kind" in section
    )
    if named:
        return build_adapter(config.adapter)
    try:
        return django_adapter(**dict(config.adapter.options))
    except (TypeError, ValueError) as exc:
        raise ConfigError([ConfigProblem("adapter", str(exc))]) from exc


REQUEST_KEY = "bridge.django_request"


class GateMiddleware:
    """The gate as a Django middleware: put it first in ``settings.MIDDLEWARE``.

    The request's ``environ`` (``META`` under ASGI) goes through the same ``Gate`` as ``wrap``
    builds; the rest of the middleware chain and the view run as its wrapped application. A
    response that passed the gate is Django's own (cookies, streaming, file responses intact) with
    the gate's headers (``Cache-Control: private``, ``Vary: Cookie``); the gate's own answers
    (paywall, ``/_billing/...``) become ``HttpResponse`` objects.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.gate = wrap(self._django)

    def _django(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        response = self.get_response(environ[REQUEST_KEY])
        environ[REQUEST_KEY + ".response"] = response
        status = f"{response.status_code} {response.reason_phrase}"
        start_response(status, list(response.items()))  # cookies stay on the response object
        return response

    def __call__(self, request: Any) -> Any:
        environ: dict[str, Any] = getattr(request, "environ", None) or request.META
        environ.setdefault("wsgi.input", request)  # ASGI: the request reads its own body
        environ[REQUEST_KEY] = request
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured.append((status, headers))
            return None

        body: Iterable[bytes] = self.gate(environ, start_response)
        original: Any = environ.pop(REQUEST_KEY + ".response", None)
        del environ[REQUEST_KEY]
        status, headers = captured[-1]
        passed_through = original is not None and body is original
        if passed_through:
            for name in list(original.headers):
                del original.headers[name]
            _set_headers(original, headers)
            return original
        if original is not None:  # the gate rewrote the page (HTML injection): stream it
            response = StreamingHttpResponse(body, status=int(status.split()[0]))
            response.cookies = original.cookies
        else:
            response = HttpResponse(b"".join(body), status=int(status.split()[0]))
            for name in list(response.headers):
                del response.headers[name]
        response.reason_phrase = status.partition(" ")[2] or None
        _set_headers(response, headers)
        return response


def _set_headers(response: Any, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if name.lower() == "set-cookie":
            response.cookies.load(SimpleCookie(value))
        elif name in response.headers:
            response.headers[name] = f"{response.headers[name]}, {value}"
        else:
            response.headers[name] = value


def bridge_decision(request: Any) -> Decision | None:
    """The gate's decision for ``request`` (None on ungated paths)."""
    environ = getattr(request, "environ", None) or getattr(request, "META", {})
    decision = environ.get("bridge.decision")
    return decision if isinstance(decision, Decision) else None
