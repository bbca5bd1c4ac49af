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
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

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


def wsgi_environ(request: requests.PreparedRequest, url: str) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of a prepared request, built directly: werkzeug's
    ``EnvironBuilder`` is general-purpose and costs more than the sandbox call itself."""
    parts = urlsplit(url)
    body = request.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    data = body if isinstance(body, bytes) else b""
    host = parts.hostname or "sandbox.invalid"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method or "GET",
        "SCRIPT_NAME": "",
        # PEP 3333: the decoded path, its bytes carried as latin-1 characters.
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(data)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    environ.setdefault("HTTP_HOST", parts.netloc or host)
    return environ


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
        status_line: list[str] = []
        response_headers: list[tuple[str, str]] = []
        written: list[bytes] = []  # what the legacy write() callable was given, if anything

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            status_line[:] = [status]
            response_headers[:] = headers
            return written.append

        app_iter = self.app(wsgi_environ(request, url), start_response)
        try:
            content = b"".join([*written, *app_iter])
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        status = status_line[0]
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(dict(response_headers))
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
