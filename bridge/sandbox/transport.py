"""The in-process transport: ``sandbox://PATH`` billing URLs, served without a socket.

``mount(session, path)`` mounts ``SandboxAdapter`` on a ``requests.Session`` for the base URL
``http://sandbox.invalid`` (a reserved TLD that never resolves, so a mis-mounted session fails
loudly instead of calling the network) and returns that base URL. The adapter turns each
``PreparedRequest`` into a WSGI call on the sandbox app and builds a real ``requests.Response``
(status, reason, headers, body, ``url``, ``request``), so the client takes exactly the code path it
takes over HTTP.

There is one app (hence one store, one writer lock) per resolved database file per process, shared
by every session that mounts it. ``install(path, app)`` registers a ready-made app for a path first
(tests use it to inject a clock or webhooks); ``uninstall(path)`` forgets it.

The ``timeout`` every client call sends is accepted but cannot interrupt an in-process call.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

BASE_URL = "http://sandbox.invalid"

_apps: dict[Path, Flask] = {}
_lock = threading.Lock()


def resolve(path: str | Path) -> Path:
    """The database file a ``sandbox://`` path names (relative paths against the cwd)."""
    if not str(path):
        raise ValueError("sandbox:// needs a database file path, e.g. sandbox://billing.db")
    resolved = Path(path).expanduser().resolve()
    resolved.parent.mkdir(parents=True, exist_ok=True)
    return resolved


def app_for(path: str | Path) -> Flask:
    """The process-wide sandbox app of that file, created with the defaults on first use."""
    resolved = resolve(path)
    with _lock:
        app = _apps.get(resolved)
        if app is None:
            from bridge.sandbox.app import create_app

            app = create_app(resolved)
            _apps[resolved] = app
        return app


def install(path: str | Path, app: Flask) -> None:
    """Use ``app`` for every later ``mount`` of ``path`` in this process."""
    with _lock:
        _apps[resolve(path)] = app


def uninstall(path: str | Path) -> Flask | None:
    with _lock:
        return _apps.pop(resolve(path), None)


class SandboxAdapter(BaseAdapter):
    """A ``requests`` transport adapter that calls a WSGI app in process."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method or "GET",
            headers=headers,
            data=body if isinstance(body, bytes) else None,
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(dict(response_headers.items()))
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = content
        response._content_consumed = True  # type: ignore[attr-defined]
        response.raw = io.BytesIO(content)
        response.url = url
        response.request = request
        response.connection = self  # type: ignore[assignment]
        return response

    def close(self) -> None:
        """Nothing to release: the app outlives sessions (it is shared per database file)."""


def mount(session: requests.Session, path: str) -> str:
    """Mount the sandbox of database file ``path`` on ``session``; returns the base URL."""
    session.mount(BASE_URL, SandboxAdapter(app_for(path)))
    return BASE_URL
