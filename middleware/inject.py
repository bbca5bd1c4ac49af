"""HTML injection: a lifecycle banner before ``</body>`` and a links block at a marker.

Only uncompressed ``text/html`` answers with status 200 are touched. A page whose length the site
declared (it has the page whole already) is rewritten in one piece and gets its new
``Content-Length`` (``inject_page``; the gate holds the start of the response for it). Any other
page streams through ``InjectedBody``: never buffered whole, chunks pass as they come, holding back
only the few bytes that could be the start of a marker or of ``</body>`` split across two chunks;
its ``Content-Length`` is dropped (the server then streams or closes the connection).

What the banner and links say comes from ``Notices`` (built from the user's snapshot by the gate);
every link points at the bridge's own endpoints, never at a hosted page.

What this module does not do: decide who sees what (``middleware.gate``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from bridge.entitlements import CustomerState
from middleware.http import CACHE_HEADERS

BODY_END = b"</body>"
_BODY_END = re.compile(re.escape(BODY_END), re.IGNORECASE)


@dataclass(frozen=True)
class Notices:
    """The banner (or None) and the links block for one user's page."""

    banner: bytes | None
    links: bytes

    @property
    def empty(self) -> bool:
        return self.banner is None and not self.links


NO_NOTICES = Notices(None, b"")


def notices_for(
    state: CustomerState | None, *, mount: str, now: float, trial_warning: float
) -> Notices:
    """What to show: restart when suspended, payment when missing, offers as a trial ends."""
    if state is None:
        return NO_NOTICES
    sub = state.subscription
    banner: tuple[str, str, str] | None = None
    links = [("Manage my subscription", f"{mount}/portal")]
    if sub is not None and sub.needs_payment_method:
        banner = ("Your subscription is waiting for a payment method.", "Add one", "payment")
        links.append(("Add a payment method", f"{mount}/payment"))
    elif sub is not None and sub.is_suspended:
        banner = ("Your subscription is suspended.", "Restart it", "restart")
        links.append(("Restart my subscription", f"{mount}/restart"))
    elif sub is not None and sub.is_trial and sub.date_period_end is not None:
        left = sub.date_period_end.timestamp() - now
        if 0 < left <= trial_warning:
            ends = datetime.fromtimestamp(sub.date_period_end.timestamp(), UTC)
            banner = (f"Your trial ends on {ends:%d %B %Y}.", "See the offers", "offers")
    return _render(banner, tuple(links), mount)


@lru_cache(maxsize=256)
def _render(
    banner: tuple[str, str, str] | None, links: tuple[tuple[str, str], ...], mount: str
) -> Notices:
    """The HTML, rendered once per distinct message: a page view only looks it up."""
    return Notices(_banner(banner, mount) if banner else None, _links(links))


def _banner(banner: tuple[str, str, str], mount: str) -> bytes:
    text, label, endpoint = (html.escape(part) for part in banner)
    return (
        '<div class="billing-banner" role="status" style="position:sticky;bottom:0;padding:.8rem;'
        'background:#fff4ce;border-top:1px solid #e0c560;text-align:center;font-family:sans-serif">'
        f'{text} <a href="{html.escape(mount)}/{endpoint}">{label}</a></div>'
    ).encode()


def _links(links: tuple[tuple[str, str], ...]) -> bytes:
    items = "".join(
        f'<li><a href="{html.escape(url)}">{html.escape(label)}</a></li>' for label, url in links
    )
    return f'<ul class="billing-links">{items}</ul>'.encode()


#: The response headers injection looks at, by their name as sites spell it (learned as names
#: are seen, bounded): a response's headers are then read without case folding each name.
OTHER_HEADER, CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING, CACHE_HEADER = range(5)
HEADER_KINDS: dict[str, int] = {}
_MAX_HEADER_KINDS = 1024
_BY_LOWER_NAME = {
    "content-type": CONTENT_TYPE,
    "content-length": CONTENT_LENGTH,
    "content-encoding": CONTENT_ENCODING,
}


def header_kind(name: str) -> int:
    """What ``name`` is to injection (``CONTENT_TYPE``, ..., ``CACHE_HEADER`` for the headers
    ``private_headers`` rewrites, ``OTHER_HEADER``); remembered in ``HEADER_KINDS``."""
    lower = name.lower()
    kind = _BY_LOWER_NAME.get(lower, CACHE_HEADER if lower in CACHE_HEADERS else OTHER_HEADER)
    if len(HEADER_KINDS) < _MAX_HEADER_KINDS:
        HEADER_KINDS[name] = kind
    return kind


def inject_into(body: Iterable[bytes], notices: Notices, marker: bytes) -> Iterable[bytes]:
    """``body`` with the notices in: rewritten at once when it is a list (most frameworks' bodies
    are: nothing to stream), else streamed chunk by chunk by ``InjectedBody``."""
    if type(body) is list and len(body) == 1:
        return [inject_page(body[0], notices, marker)[0]]
    return InjectedBody(body, notices, marker)


def inject_page(
    data: bytes, notices: Notices, marker: bytes, banner_done: bool = False
) -> tuple[bytes, bool]:
    """``data`` with the links at every marker and the banner before the first ``</body>`` (any
    case), unless ``banner_done``; returns whether the banner is now in."""
    data = data.replace(marker, notices.links)  # the same object back when there is no marker
    if not banner_done and notices.banner is not None:
        found = _BODY_END.search(data)
        if found is not None:
            at = found.start()
            data = data[:at] + notices.banner + data[at:]
            banner_done = True
    return data, banner_done


class InjectedBody:
    """Wraps a WSGI body iterable; ``close()`` is passed on as PEP 3333 requires."""

    def __init__(self, body: Iterable[bytes], notices: Notices, marker: bytes) -> None:
        self._body = body
        self._notices = notices
        self._marker = marker
        self._hold = max(len(marker), len(BODY_END)) - 1

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        banner_done = self._notices.banner is None
        for chunk in self._body:
            if not chunk:
                continue
            pending, banner_done = inject_page(
                pending + chunk, self._notices, self._marker, banner_done
            )
            if len(pending) > self._hold:
                cut = len(pending) - self._hold
                yield pending[:cut]
                pending = pending[cut:]
        if pending:
            pending, _ = inject_page(pending, self._notices, self._marker, banner_done)
            yield pending

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
