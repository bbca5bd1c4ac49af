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
#: How much of the end of a page is searched for ``</body>`` before the rest is.
_BODY_END_TAIL = 1024


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


#: Bytes rare in HTML, rarest first: the marker is looked for by the first of these it holds.
_RARE_BYTES = b"!|^~`@$*{}[]%;#?:"
#: Places holding the rare byte but not the marker, past which ``Marker.replace`` lets
#: ``bytes.replace`` scan the rest (a page full of ``!`` costs no more than before).
_MAX_FALSE_HITS = 32


class Marker:
    """The links marker, found fast.

    ``bytes.replace`` compares the common bytes of HTML over and over (about 0.3 ns a byte);
    ``memchr`` looks for one byte ten times as fast. So the marker's rarest byte (``!`` in
    ``<!-- billing:links -->``) is looked for, and each place it occurs compared with the whole
    marker: a page of 50 KiB, with a handful of ``!``, is read in a few microseconds.
    """

    __slots__ = ("_anchor", "_offset", "short", "text")

    def __init__(self, text: bytes, *, short: int = 4096) -> None:
        if not text:
            raise ValueError("the links marker cannot be empty")
        self.text = text
        self.short = short  # shorter data is left to bytes.replace (faster there than Python)
        self._offset = next((text.index(rare) for rare in _RARE_BYTES if rare in text), -1)
        self._anchor = text[self._offset : self._offset + 1] if self._offset >= 0 else b""

    def __len__(self) -> int:
        return len(self.text)

    def replace(self, data: bytes, replacement: bytes) -> bytes:
        """``data.replace(marker, replacement)``, faster: ``data`` itself when it holds none."""
        text = self.text
        offset = self._offset
        if offset < 0 or len(data) < self.short:
            return data.replace(text, replacement)
        anchor = self._anchor
        size = len(text)
        find = data.find
        pieces: list[bytes] = []
        start = 0  # where the data not yet copied begins
        false_hits = 0
        hit = find(anchor, offset)
        while hit >= 0:
            begin = hit - offset
            if data.startswith(text, begin):
                pieces += (data[start:begin], replacement)
                start = begin + size
                hit = find(anchor, start + offset)
                continue
            false_hits += 1
            if false_hits > _MAX_FALSE_HITS:
                pieces.append(data[start:].replace(text, replacement))
                return b"".join(pieces)
            hit = find(anchor, hit + 1)
        if not pieces:
            return data
        pieces.append(data[start:])
        return b"".join(pieces)


def inject_into(body: Iterable[bytes], notices: Notices, marker: Marker) -> Iterable[bytes]:
    """``body`` with the notices in: rewritten at once when it is a list (most frameworks' bodies
    are: nothing to stream), else streamed chunk by chunk by ``InjectedBody``."""
    if type(body) is list and len(body) == 1:
        return [inject_page(body[0], notices, marker)[0]]
    return InjectedBody(body, notices, marker)


def inject_page(
    data: bytes, notices: Notices, marker: Marker, banner_done: bool = False
) -> tuple[bytes, bool]:
    """``data`` with the links at every marker and the banner before the last ``</body>`` (any
    case), unless ``banner_done``; returns whether the banner is now in."""
    # (The same object back when there is no marker.)
    if len(data) < marker.short:
        data = data.replace(marker.text, notices.links)
    else:
        data = marker.replace(data, notices.links)
    if not banner_done and notices.banner is not None:
        at = body_end(data)
        if at >= 0:
            data = data[:at] + notices.banner + data[at:]
            banner_done = True
    return data, banner_done


def body_end(data: bytes) -> int:
    """Where the last ``</body>`` (any case) of ``data`` starts; -1 when there is none.

    A page closes its body near its end, so the end is searched first: finding it costs the same
    on a page of 1 MiB as on one of 1 KiB. The last one is the page's own: an earlier
    ``</body>`` can only be text in a script or a comment.
    """
    tail = max(0, len(data) - _BODY_END_TAIL)
    found = list(_BODY_END.finditer(data, tail))
    if not found and tail:
        found = list(_BODY_END.finditer(data, 0, tail + len(BODY_END) - 1))
    return found[-1].start() if found else -1


class InjectedBody:
    """Wraps a WSGI body iterable; ``close()`` is passed on as PEP 3333 requires."""

    def __init__(self, body: Iterable[bytes], notices: Notices, marker: Marker) -> None:
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
