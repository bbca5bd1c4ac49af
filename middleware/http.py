"""Small HTTP facts the gate relies on: cache-safety headers, safe redirects, content negotiation.

What this module does not do: decide anything (``middleware.gate``) or render pages
(``middleware.paywall``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

Headers = list[tuple[str, str]]

#: Headers a CDN reads instead of Cache-Control; on a gated path they could make it share a page.
CDN_CACHE_HEADERS = frozenset(
    {"surrogate-control", "cdn-cache-control", "cloudflare-cdn-cache-control"}
)
#: Request headers that would let a non-member get member bytes through a 304 or a 206.
CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)
#: Response headers (lower-case) that ``private_headers`` rewrites or drops.
CACHE_HEADERS = frozenset({"cache-control", "vary"}) | CDN_CACHE_HEADERS
_PRIVATE = ("Cache-Control", "private")
_VARY_COOKIE = ("Vary", "Cookie")
#: What ``private_headers`` adds to headers without any of ``CACHE_HEADERS``.
PRIVATE_HEADERS = (_PRIVATE, _VARY_COOKIE)
_SHARED_DIRECTIVES = re.compile(r"^\s*(public|s-maxage\s*=.*|proxy-revalidate)\s*$", re.I)


def private_headers(
    headers: Sequence[tuple[str, str]],
    *,
    no_store: bool = False,
    has_cache_headers: bool | None = None,
) -> Headers:
    """``headers`` made safe for a response that depends on who asks.

    ``Cache-Control`` loses ``public`` / ``s-maxage`` and gains ``private`` (or becomes
    ``no-store``); CDN-specific cache headers are dropped; ``Vary`` gains ``Cookie``. A caller
    that already looked for ``CACHE_HEADERS`` passes what it found as ``has_cache_headers``.
    """
    if has_cache_headers is None:
        has_cache_headers = False
        for name, _ in headers:  # a loop, not any(): this runs on every gated response
            if name.lower() in CACHE_HEADERS:
                has_cache_headers = True
                break
    if not no_store and not has_cache_headers:
        return [*headers, *PRIVATE_HEADERS]  # the common case: nothing to rewrite
    out: Headers = []
    directives: list[str] = []
    vary: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cache-control":
            directives += [d.strip() for d in value.split(",") if d.strip()]
        elif lower == "vary":
            vary += [v.strip() for v in value.split(",") if v.strip()]
        elif lower not in CDN_CACHE_HEADERS:
            out.append((name, value))
    if no_store:
        directives = ["no-store"]
    else:
        directives = [d for d in directives if not _SHARED_DIRECTIVES.match(d)]
        if not any(d.lower() in ("private", "no-store") for d in directives):
            directives.insert(0, "private")
    out.append(("Cache-Control", ", ".join(directives)))
    if "*" not in vary and not any(v.lower() == "cookie" for v in vary):
        vary.append("Cookie")
    out.append(("Vary", ", ".join(vary)))
    return out


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to redirect to, or ``default``: never another site (``//evil``, ``/\\evil``,
    ``http:evil``, ``javascript:``), never a header-splitting control character."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    # A header value must stay ASCII: ``/café`` goes out as ``/caf%C3%A9``.
    return quote(value, safe="/?&=%#:@!$'()*+,;~[]")


def request_target(environ: Mapping[str, Any]) -> str:
    """The local path and query of the current request, for a ``next=`` parameter."""
    path = quote(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "/")), safe="/")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def wants_json(environ: Mapping[str, Any]) -> bool:
    """True for API and XHR clients: ``X-Requested-With: XMLHttpRequest`` or an ``Accept`` that
    asks for JSON and not HTML."""
    if str(environ.get("HTTP_X_REQUESTED_WITH", "")).lower() == "xmlhttprequest":
        return True
    accept = str(environ.get("HTTP_ACCEPT", "")).lower()
    return ("json" in accept) and "text/html" not in accept


def header_index(headers: Sequence[tuple[str, str]], name: str) -> int | None:
    """Where the first header ``name`` (any case) is in ``headers``; None when absent."""
    lower = name.lower()
    for index, (key, _) in enumerate(headers):
        if key.lower() == lower:
            return index
    return None


def without_headers(headers: Sequence[tuple[str, str]], *names: str) -> Headers:
    drop = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in drop]
