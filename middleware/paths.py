"""Canonical request paths, so that no spelling of a gated URL slips past its rule.

The canonical form of a path is: percent-decoded once (an encoded ``%2F`` becomes a separator, so
``/premium%2Fx`` is ``/premium/x``), decoded as UTF-8, backslashes read as slashes (as some servers
do), ``;params`` dropped from every segment, ``//`` collapsed, ``.`` and ``..`` resolved. A path
that has no canonical form (NUL or other control bytes, invalid UTF-8, ``..`` above the root) is
refused with ``BadPath``, which the gate answers with 400.

The gate matches rules against **every** form returned by ``path_forms``: the path the application
will see and its canonical form (plus the raw request URI when the server passes it on). A request
is gated when any form matches, so an application that normalises differently from us cannot be
tricked into serving member content.

What this module does not do: match rules (``middleware.rules``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes


class BadPath(ValueError):
    """The request path cannot be canonicalised; the gate answers 400."""


# Anything that could make the canonical form differ from the path as given.
_NEEDS_WORK = re.compile(r"%|//|/\.|;|\\|[\x00-\x1f\x7f]|\.$|[^\x00-\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def canonical_path(path: str, *, decode: bool = True) -> str:
    """The canonical form of ``path`` (a str of URL characters or already-decoded text).

    ``decode=False`` skips percent-decoding, for WSGI's ``PATH_INFO`` which the server has decoded
    once already (decoding it again would turn ``%2570`` into ``p``).
    """
    if not path.startswith("/"):
        path = "/" + path
    if _NEEDS_WORK.search(path) is None:
        return path
    text = _percent_decode(path) if decode else path
    if _CONTROL.search(text):
        raise BadPath("control character in path")
    segments: list[str] = []
    for segment in text.replace("\\", "/").split("/"):
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise BadPath("'..' above the root")
            segments.pop()
            continue
        segments.append(segment)
    trailing = text.endswith(("/", "/.", "/..")) and bool(segments)
    return "/" + "/".join(segments) + ("/" if trailing else "")


def _percent_decode(path: str) -> str:
    try:
        raw = unquote_to_bytes(path)
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPath("path is not valid UTF-8") from exc


def wsgi_path(environ: Mapping[str, Any]) -> str:
    """``PATH_INFO`` as text: WSGI carries its bytes as latin-1; paths on the web are UTF-8."""
    raw = environ.get("PATH_INFO") or "/"
    try:
        return str(raw).encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        raise BadPath("path is not valid UTF-8") from exc


def raw_request_path(environ: Mapping[str, Any]) -> str | None:
    """The path part of the request line as the client sent it, when the server passes it on."""
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri:
        return None
    uri = str(uri)
    if "://" in uri.split("?", 1)[0]:  # absolute-form request line
        uri = "/" + uri.split("://", 1)[1].partition("/")[2]
    return uri.split("?", 1)[0].split("#", 1)[0] or "/"


def path_forms(environ: Mapping[str, Any]) -> tuple[str, ...]:
    """Every form of the request path a rule must be matched against (first: what the app sees).

    Raises ``BadPath`` when any form cannot be canonicalised.
    """
    path_info = environ.get("PATH_INFO") or "/"
    raw = raw_request_path(environ) if "RAW_URI" in environ or "REQUEST_URI" in environ else None
    if (
        path_info.isascii()
        and path_info.startswith("/")
        and _NEEDS_WORK.search(path_info) is None
        and (raw is None or raw == path_info)
    ):
        return (path_info,)  # the common case: nothing to decode, nothing to resolve
    seen = wsgi_path(environ)
    forms = [seen, canonical_path(seen, decode=False)]
    if raw is not None and raw != seen:
        forms.append(canonical_path(raw))
    return tuple(dict.fromkeys(forms))
