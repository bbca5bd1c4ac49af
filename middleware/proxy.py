"""``ReverseProxy``: a WSGI app that forwards every request to an upstream HTTP site, so the gate
can stand in front of sites that are not Python (WordPress on PHP, anything over HTTP).

Requests and answers are streamed both ways (no whole-body buffering); hop-by-hop headers are
dropped; repeated headers such as ``Set-Cookie`` keep their separate values; the upstream's
redirects are passed on, not followed; ``X-Forwarded-For`` / ``-Host`` / ``-Proto`` tell the site
who asked (the host from ``[site] base_url``, not from the client); the shared secret a trusted
proxy adds for the header adapter is not passed on. Chunked request bodies are streamed too. An
unreachable upstream is a 502 page, never a 500.

What this module does not do: gate (``middleware.gate`` wraps this app like any other).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from middleware.paths import raw_request_path

log = logging.getLogger("bridge.proxy")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
CHUNK = 64 * 1024


class ReverseProxy:
    def __init__(
        self,
        upstream: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        session: requests.Session | None = None,
        public_host: str | None = None,
        drop_headers: tuple[str, ...] = ("X-Bridge-Proxy-Secret",),
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self.timeout = (connect_timeout, timeout)
        self.session = session or requests.Session()
        self.public_host = public_host
        self.drop = frozenset(h.lower() for h in drop_headers)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        url = self.upstream + self._target(environ)
        try:
            response = self.session.request(
                str(environ.get("REQUEST_METHOD", "GET")),
                url,
                headers=self._headers(environ),
                data=self._body(environ),
                stream=True,
                allow_redirects=False,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            log.warning("upstream %s unreachable: %s", self.upstream, type(exc).__name__)
            body = b"Bad Gateway: the site is not answering.\n"
            start_response(
                "502 Bad Gateway",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [body]
        headers = [
            (name, value)
            for name, value in response.raw.headers.items()
            if name.lower() not in HOP_BY_HOP
        ]
        start_response(f"{response.status_code} {response.reason}", headers)
        return _Stream(response)

    @staticmethod
    def _target(environ: dict[str, Any]) -> str:
        """The request target sent upstream: the client's own spelling of the path (absolute-form
        included) or, without it, ``PATH_INFO`` encoded back exactly once. The upstream then
        decodes it to what the gate matched its rules against, never one level further."""
        raw = raw_request_path(environ)
        if raw is not None:
            path = raw
        else:
            path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "/"))
            path = quote(path.encode("latin-1"), safe="/;:@&=+$,~!*'()")
        query = environ.get("QUERY_STRING")
        return f"{path}?{query}" if query else path

    def _headers(self, environ: dict[str, Any]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").title()
                if name.lower() not in HOP_BY_HOP and name.lower() not in self.drop:
                    headers[name] = str(value)
        for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
            if environ.get(key):
                headers[name] = str(environ[key])
        client = str(environ.get("REMOTE_ADDR", ""))
        forwarded = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        host = self.public_host or environ.get("HTTP_HOST")
        if host:  # from the configuration when given: the client's Host header is not trusted
            headers["X-Forwarded-Host"] = str(host)
        headers["X-Forwarded-Proto"] = str(environ.get("wsgi.url_scheme", "http"))
        headers["Accept-Encoding"] = headers.get("Accept-Encoding", "identity")
        return headers

    @staticmethod
    def _body(environ: dict[str, Any]) -> Iterator[bytes] | bytes | None:
        length = str(environ.get("CONTENT_LENGTH") or "")
        stream = environ.get("wsgi.input")
        if stream is None:
            return None
        if length.isdigit():
            size = int(length)
            return stream.read(size) if size <= CHUNK else _read(stream, size)
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        if chunked or environ.get("wsgi.input_terminated"):  # a length-less body, up to EOF
            return iter(lambda: bytes(stream.read(CHUNK)), b"")
        return None


def _read(stream: Any, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


class _Stream:
    """The upstream body, chunk by chunk, with the connection released on close."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from self.response.raw.stream(CHUNK, decode_content=False)

    def close(self) -> None:
        self.response.close()
