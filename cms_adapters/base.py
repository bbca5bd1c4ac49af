"""The adapter protocol: how the bridge recognises a CMS's logged-in user and reads its users.

An adapter answers four questions:

* ``credential(environ)``: the raw credential of the request (a session cookie's value, a header),
  or None. The gate memoises identities by it, so signatures are not re-checked on every request.
* ``identify(environ)``: the site user id of the request, or None. It must reject forged, expired
  and revoked credentials, and never raise on bad input (a tampered cookie is just "nobody"); when
  the store it reads is unreachable it raises ``IdentityUnavailable``.
* ``get_user(id)``: the ``SiteUser`` record, or None when there is no such user.
* ``iter_users(since=None)``: every user in id order, streamed (for bulk sync).

``MemoisedIdentity`` wraps any adapter with a bounded TTL cache keyed by credential: a revoked
session keeps working for at most ``ttl`` seconds (30 by default), the price of not reading the
session store on every request.

What this module does not do: know any CMS (one module per CMS) or talk to billing (``bridge``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bridge.errors import BridgeError

UserId = str
Environ = Mapping[str, Any]


class IdentityUnavailable(BridgeError):
    """The CMS's user or session store cannot be read right now (down, misconfigured).

    Not "nobody": the gate answers 503 "temporarily unavailable" instead of asking a signed-in
    member to sign in, and the identity memo keeps nothing, so recovery is immediate.
    """


@dataclass(frozen=True)
class SiteUser:
    """A user of the site, as the bridge syncs it to a billing customer."""

    id: UserId
    email: str | None = None
    name: str | None = None
    language: str | None = None
    registered_at: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Changes whenever a synced field changes (email, name, language, mapped extras)."""
        parts = [self.email or "", self.name or "", self.language or ""]
        parts += [f"{k}={v}" for k, v in sorted(self.extra.items())]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@runtime_checkable
class Adapter(Protocol):
    def credential(self, environ: Environ) -> str | None: ...

    def identify(self, environ: Environ) -> UserId | None: ...

    def get_user(self, user_id: UserId) -> SiteUser | None: ...

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]: ...


#: Longest environ value memoised as a credential source (a Cookie header is rarely above 1 KiB).
MAX_SOURCE_MEMO = 4096


class MemoisedIdentity:
    """``identify`` memoised per credential for ``ttl`` seconds (bounded, thread-safe).

    Requests without a credential are anonymous at no cost; a credential that identified nobody
    is memoised too, so a flood of forged cookies costs one check each per ``ttl``. Reads take no
    lock (a dict lookup is atomic); when full, the oldest entries go first.

    An adapter whose credential is a function of one environ value alone says so with a
    ``credential_source`` attribute (``"HTTP_COOKIE"`` for the cookie adapters): repeated requests
    with the same value are then answered from that value, without extracting the credential.
    """

    def __init__(
        self,
        adapter: Adapter,
        *,
        ttl: float = 30.0,
        max_entries: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
        on_identified: Callable[[UserId], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.on_identified = on_identified
        self.ttl = ttl
        self.max_entries = max_entries
        self.timer = timer
        self._memo: dict[str, tuple[UserId | None, float]] = {}
        self._source: str | None = getattr(adapter, "credential_source", None)
        self._by_source: dict[str, tuple[UserId | None, float]] = {}
        self._lock = threading.Lock()

    def identify(self, environ: Environ) -> UserId | None:
        raw = environ.get(self._source) if self._source is not None else None
        if raw and isinstance(raw, str):
            entry = self._by_source.get(raw)
            if entry is not None and entry[1] > self.timer():
                return entry[0]
        credential = self.adapter.credential(environ)
        if credential is None:
            return None
        now = self.timer()
        entry = self._memo.get(credential)
        if entry is None or entry[1] <= now:
            user_id = self.adapter.identify(environ)
            if user_id is not None and self.on_identified is not None:
                self.on_identified(user_id)  # e.g. lazy sync: must not block
            entry = (user_id, now + self.ttl)
            self._remember(self._memo, credential, entry)
        if raw and isinstance(raw, str) and len(raw) <= MAX_SOURCE_MEMO:
            self._remember(self._by_source, raw, entry)
        return entry[0]

    def _remember(
        self,
        memo: dict[str, tuple[UserId | None, float]],
        key: str,
        entry: tuple[UserId | None, float],
    ) -> None:
        with self._lock:
            memo.pop(key, None)
            while len(memo) >= self.max_entries:
                del memo[next(iter(memo))]
            memo[key] = entry

    def forget(self) -> None:
        with self._lock:
            self._memo.clear()
            self._by_source.clear()
