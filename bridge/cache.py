"""The entitlement cache: ``CustomerState`` snapshots by ReferenceCustomer, in process.

* A warm hit is one dict lookup and one clock read under an uncontended lock: no billing call.
* A miss fills through the ``fetch`` function, one fill per customer at a time (single-flight):
  N concurrent requests for a cold customer make one fetch, and all N get its result.
* Errors are never cached as rights. When a fill fails, the last snapshot is served while it is
  younger than ``stale_ttl`` (flagged ``stale``); a customer never seen before gets the error,
  which the gate turns into ``billing_unavailable``, never into "no subscription". While a stale
  snapshot serves, no new fill is tried for that customer for ``retry_after`` seconds, so an
  outage costs one failed call per known customer every few seconds, not one per request.
* ``invalidate(ref)`` expires a snapshot at once (it stays only as the outage fallback), and a
  fill already in flight for that customer answers its waiters but is not stored (it may predate
  the change that caused the invalidation).

What this module does not do: build snapshots (``bridge.entitlements``) or share them between
processes (the Redis backend, a later module).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bridge.entitlements import CustomerState
from bridge.errors import BillingError

log = logging.getLogger("bridge.cache")


@dataclass
class _Flight:
    """One fill in progress: waiters block on ``done`` and read ``state`` or ``error``."""

    done: threading.Event = field(default_factory=threading.Event)
    state: CustomerState | None = None
    error: BillingError | None = None
    invalidated: bool = False


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    fills: int = 0
    stale_served: int = 0
    errors: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class EntitlementStore:
    """Snapshots with per-entry expiry (``CustomerState.expires_at``), bounded in size."""

    def __init__(
        self,
        fetch: Callable[[str], CustomerState],
        *,
        stale_ttl: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        fill_timeout: float = 30.0,
        retry_after: float = 5.0,
    ) -> None:
        self._fetch = fetch
        self.retry_after = retry_after
        # customer → (no new fill before, the error): during an outage each customer costs one
        # failed call per ``retry_after``, not one per request.
        self._failed: dict[str, tuple[float, BillingError]] = {}
        self.stale_ttl = stale_ttl
        self.clock = clock
        self.fill_timeout = fill_timeout
        self.max_entries = max_entries
        # Insertion-ordered dict: a hit is one lock-free lookup; when full, the oldest fill goes.
        self._entries: dict[str, CustomerState] = {}
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, reference_customer: str) -> CustomerState:
        """The customer's snapshot: cached while fresh, else fetched (or stale on an outage)."""
        state = self._entries.get(reference_customer)
        if state is not None and self.clock() < state.expires_at:
            self.stats.hits += 1  # not under the lock: a lost count is cheaper than a lock
            return state
        with self._lock:
            # Checked again under the lock: a fill may have landed since the lock-free look.
            state = self._entries.get(reference_customer)
            if state is not None and self.clock() < state.expires_at:
                self.stats.hits += 1
                return state
            self.stats.misses += 1
            failed = self._failed.get(reference_customer)
            recent_failure = failed is not None and self.clock() < failed[0]
        if (
            recent_failure
            and state is not None
            and self.clock() - state.fetched_at <= self.stale_ttl
        ):
            with self._lock:
                self.stats.stale_served += 1
            return replace(state, stale=True)  # billing just failed for them: no new call yet
        with self._lock:
            flight = self._flights.get(reference_customer)
            leader = flight is None
            if flight is None:
                flight = self._flights[reference_customer] = _Flight()
        if leader:
            self._fill(reference_customer, flight)
        elif not flight.done.wait(self.fill_timeout):
            flight.error = flight.error or BillingError("entitlement fill timed out")
        if flight.state is not None:
            return flight.state
        return self._stale_or_raise(reference_customer, state, flight.error)

    def prefetch(self, reference_customer: str) -> None:
        """Start filling a customer's snapshot in the background (if no fill is under way and
        billing was not just failing for them); the caller does not wait."""
        with self._lock:
            failed = self._failed.get(reference_customer)
            if reference_customer in self._flights or (failed and self.clock() < failed[0]):
                return
            flight = self._flights[reference_customer] = _Flight()
        threading.Thread(target=self._fill, args=(reference_customer, flight), daemon=True).start()

    def peek(self, reference_customer: str) -> CustomerState | None:
        """The cached snapshot, fresh or not, without fetching (for ``explain`` and status)."""
        with self._lock:
            return self._entries.get(reference_customer)

    def invalidate(self, reference_customer: str) -> None:
        """The next ``get`` refetches. The old snapshot stays only as an outage fallback."""
        with self._lock:
            self._failed.pop(reference_customer, None)
            state = self._entries.get(reference_customer)
            if state is not None:
                self._entries[reference_customer] = replace(state, expires_at=0.0)
            flight = self._flights.get(reference_customer)
            if flight is not None:
                flight.invalidated = True

    def invalidate_all(self) -> None:
        with self._lock:
            for key, state in list(self._entries.items()):
                self._entries[key] = replace(state, expires_at=0.0)
            for flight in self._flights.values():
                flight.invalidated = True

    def __len__(self) -> int:
        return len(self._entries)

    def _fill(self, reference_customer: str, flight: _Flight) -> None:
        try:
            flight.state = self._fetch(reference_customer)
        except BillingError as exc:
            flight.error = exc
            log.warning("entitlements for %s unavailable: %s", reference_customer, exc)
        finally:
            with self._lock:
                self.stats.fills += 1
                if flight.error is not None:
                    self.stats.errors += 1
                    if len(self._failed) >= self.max_entries:
                        self._failed.clear()
                    self._failed[reference_customer] = (
                        self.clock() + self.retry_after,
                        flight.error,
                    )
                else:
                    self._failed.pop(reference_customer, None)
                    if flight.state is not None and not flight.invalidated:
                        self._store(reference_customer, flight.state)
                self._flights.pop(reference_customer, None)
            flight.done.set()

    def _store(self, reference_customer: str, state: CustomerState) -> None:
        entries = self._entries
        entries.pop(reference_customer, None)
        while len(entries) >= self.max_entries:
            del entries[next(iter(entries))]
        entries[reference_customer] = state

    def _stale_or_raise(
        self, reference_customer: str, last: CustomerState | None, error: BillingError | None
    ) -> CustomerState:
        if last is not None and self.clock() - last.fetched_at <= self.stale_ttl:
            with self._lock:
                self.stats.stale_served += 1
            return replace(last, stale=True)
        raise error or BillingError(f"no entitlements for {reference_customer}")
