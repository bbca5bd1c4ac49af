"""Redis behind the entitlement cache, for several workers or hosts (``[cache] backend = "redis"``).

* Snapshots are stored in Redis until their own expiry (plus ``stale_ttl``, so an outage can still
  be served from the last known rights). Each worker keeps its in-process cache in front, bounded
  to ``local_ttl`` seconds so a missed invalidation message heals quickly.
* Single-flight across workers: the worker that misses takes a short lock (``SET NX PX``) and
  fetches; the others wait briefly for its snapshot to appear, then fetch themselves if it does not
  (a crashed worker never blocks the rest).
* Invalidation deletes the shared snapshot and is published; every worker's listener drops its
  local copy at once.
* Webhook ids are de-duplicated in Redis (``SET NX EX``), so a redelivery to another worker is
  still recognised.

What this module does not do: decide rights or talk to billing (it wraps the ``fetch`` given).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from bridge.entitlements import CustomerState, FeatureRight, SubscriptionSummary
from bridge.errors import BillingError

log = logging.getLogger("bridge.shared")

WEBHOOK_RETENTION = 7 * 86400
FAILED: Any = object()  # what ``_try`` answers when Redis could not be reached

# KEYS: generation, snapshot; ARGV: generation seen before the fetch, snapshot, ttl in ms.
_SET_IF_GENERATION = """
local now = redis.call('GET', KEYS[1]) or ''
if now ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""
# KEYS: lock; ARGV: token.
_DELETE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def dump_state(state: CustomerState) -> str:
    sub = state.subscription
    return json.dumps(
        {
            "customer": state.reference_customer,
            "rights": [asdict(right) for right in state.rights.values()],
            "subscription": None
            if sub is None
            else {
                **asdict(sub),
                "date_period_end": sub.date_period_end.isoformat() if sub.date_period_end else None,
                "date_end": sub.date_end.isoformat() if sub.date_end else None,
            },
            "fetched_at": state.fetched_at,
            "expires_at": state.expires_at,
        }
    )


def load_state(text: str | bytes) -> CustomerState:
    data: dict[str, Any] = json.loads(text)
    sub = data["subscription"]
    summary = None
    if sub is not None:
        for key in ("date_period_end", "date_end"):
            sub[key] = datetime.fromisoformat(sub[key]) if sub[key] else None
        summary = SubscriptionSummary(**sub)
    rights = {r["reference_feature"]: FeatureRight(**r) for r in data["rights"]}
    return CustomerState(
        reference_customer=data["customer"],
        rights=MappingProxyType(rights),
        subscription=summary,
        fetched_at=float(data["fetched_at"]),
        expires_at=float(data["expires_at"]),
    )


class RedisSnapshots:
    def __init__(
        self,
        redis_client: Any,
        *,
        prefix: str = "proabono-bridge",
        stale_ttl: float = 3600.0,
        local_ttl: float = 30.0,
        lock_ttl: float = 10.0,
        wait: float = 2.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        retry_after: float = 10.0,
    ) -> None:
        self.redis = redis_client
        self.prefix = prefix
        self.stale_ttl = stale_ttl
        self.local_ttl = local_ttl
        self.lock_ttl = lock_ttl
        self.wait = wait
        self.clock = clock
        self.sleep = sleep
        self.retry_after = retry_after
        self._down_until = 0.0
        self.channel = f"{prefix}:invalidate"
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisSnapshots:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, **options)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    # --- snapshots ----------------------------------------------------------------------------

    def fetcher(self, fetch: Callable[[str], CustomerState]) -> Callable[[str], CustomerState]:
        """``fetch`` wrapped: shared snapshots first, one billing fetch across all workers."""

        def shared_fetch(reference: str) -> CustomerState:
            cached = self._read(reference)
            if cached is not None and self.clock() < cached.expires_at:
                return self._local(cached)
            lock = self._key("lock", reference)
            token = f"{id(self)}:{threading.get_ident()}:{self.clock()}"
            got = self._try(
                lambda: self.redis.set(lock, token, nx=True, px=int(self.lock_ttl * 1000))
            )
            if got is None:  # not FAILED (Redis down: fetch now), but held by another worker
                waited = 0.0
                while waited < self.wait:  # another worker is fetching: use its result
                    self.sleep(0.05)
                    waited += 0.05
                    cached = self._read(reference)
                    if cached is not None and self.clock() < cached.expires_at:
                        return self._local(cached)
            elif got is not FAILED:
                # Checked again with the lock held: another worker may have just finished.
                cached = self._read(reference) or cached
                if cached is not None and self.clock() < cached.expires_at:
                    self._try(lambda: self._release(lock, token))
                    return self._local(cached)
            generation = self._try(lambda: self.redis.get(self._key("gen", reference)))
            try:
                state = fetch(reference)
                self._write(state, generation)  # before the lock goes: waiters then find it
            except BillingError:
                if cached is not None and self.clock() - cached.fetched_at <= self.stale_ttl:
                    return replace(self._local(cached), stale=True)
                raise
            finally:
                self._try(lambda: self._release(lock, token))
            return self._local(state)

        return shared_fetch

    def _local(self, state: CustomerState) -> CustomerState:
        """The copy a worker keeps in memory: never longer than ``local_ttl``."""
        horizon = self.clock() + self.local_ttl
        return state if state.expires_at <= horizon else replace(state, expires_at=horizon)

    def _read(self, reference: str) -> CustomerState | None:
        raw = self._try(lambda: self.redis.get(self._key("snapshot", reference)))
        if raw is None or raw is FAILED:
            return None
        try:
            return load_state(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable shared snapshot for %s ignored", reference)
            return None

    def _write(self, state: CustomerState, generation: Any) -> None:
        """Store a fetched snapshot, unless the customer was invalidated while it was fetched
        (it may predate the change): then the next request fetches again."""
        if generation is FAILED:
            return
        ttl = max(1.0, state.expires_at - self.clock()) + self.stale_ttl
        key = self._key("snapshot", state.reference_customer)
        gen_key = self._key("gen", state.reference_customer)
        self._try(
            lambda: self.redis.eval(
                _SET_IF_GENERATION,
                2,
                gen_key,
                key,
                generation or b"",
                dump_state(state),
                int(ttl * 1000),
            )
        )

    def _release(self, lock: str, token: str) -> None:
        self.redis.eval(_DELETE_IF_OWNER, 1, lock, token)  # never another worker's lock

    def _try(self, call: Callable[[], Any]) -> Any:
        """Redis being down must not take the site down: ``FAILED``, and the bridge goes on with
        billing alone. After a failure Redis is left alone for ``retry_after`` seconds, so an
        outage costs one timeout, not one per request."""
        if time.monotonic() < self._down_until:
            return FAILED
        try:
            return call()
        except Exception as exc:  # redis.RedisError and socket errors
            self._down_until = time.monotonic() + self.retry_after
            log.warning("redis unavailable for %.0fs: %s", self.retry_after, exc)
            return FAILED

    # --- invalidation -------------------------------------------------------------------------

    def invalidate(self, reference: str) -> None:
        """Expire the shared snapshot (kept only as outage fallback) and tell every worker."""
        self._try(lambda: self.redis.incr(self._key("gen", reference)))
        key = self._key("snapshot", reference)
        raw = self._try(lambda: self.redis.get(key))
        if raw is not None and raw is not FAILED:
            try:
                state = replace(load_state(raw), expires_at=0.0)
                self._try(
                    lambda: self.redis.set(key, dump_state(state), px=int(self.stale_ttl * 1000))
                )
            except (ValueError, KeyError, TypeError):
                self._try(lambda: self.redis.delete(key))
        self._try(lambda: self.redis.publish(self.channel, reference))

    def listen(self, on_invalidate: Callable[[str], None]) -> None:
        """Start a daemon thread applying every worker's invalidations to this worker's cache."""
        if self._listener is not None:
            return

        def run() -> None:
            while not self._stop.is_set():
                try:
                    pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.channel)
                    first = True
                    while not self._stop.is_set():
                        message = pubsub.get_message(timeout=0.25)
                        if first:  # the server confirmed the subscription (read just now)
                            self._subscribed.set()
                            first = False
                        if message and message.get("type") == "message":
                            data = message["data"]
                            on_invalidate(data.decode() if isinstance(data, bytes) else str(data))
                    pubsub.close()
                except Exception as exc:
                    log.warning("redis invalidation listener: %s; reconnecting", exc)
                    self._stop.wait(self.retry_after)

        self._listener = threading.Thread(target=run, name="proabono-bridge-redis", daemon=True)
        self._listener.start()
        # Wait (briefly) until subscribed: an invalidation published before would be missed.
        self._subscribed.wait(2.0)

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(5)
            self._listener = None

    # --- webhooks -----------------------------------------------------------------------------

    def first_sighting(self, notification_id: str) -> bool:
        key = self._key("webhook", notification_id)
        result = self._try(lambda: self.redis.set(key, "1", nx=True, ex=WEBHOOK_RETENTION))
        # Redis down: better to process twice (a re-read is harmless) than to drop a notification.
        return result is FAILED or bool(result)
