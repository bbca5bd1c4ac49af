"""Several workers sharing snapshots, invalidations and webhook ids through a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from bridge.service import Bridge
from bridge.shared import RedisSnapshots, dump_state, load_state
from tests.middleware.billing_double import BillingDouble, Clock, make_config
from tests.services import require_redis


@pytest.fixture
def redis_client() -> Iterator[Any]:
    url = require_redis()
    import redis

    client = redis.Redis.from_url(url)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: Any) -> Iterator[str]:
    name = f"pbtest-{uuid.uuid4().hex[:10]}"
    yield name
    for key in redis_client.scan_iter(f"{name}:*"):
        redis_client.delete(key)


class Workers:
    """Two bridges (two worker processes, as far as caching goes) on one Redis and one billing."""

    def __init__(self, rsps: responses.RequestsMock, redis_client: Any, prefix: str) -> None:
        self.billing = BillingDouble(rsps)
        self.clock = Clock()
        self.bridges = [
            Bridge(
                make_config(),
                shared=RedisSnapshots(redis_client, prefix=prefix, clock=self.clock),
                clock=self.clock,
            )
            for _ in range(2)
        ]

    def usages_fetches(self) -> int:
        return self.billing.calls.count("GET /v1/Usages")

    def close(self) -> None:
        for bridge in self.bridges:
            bridge.close()


@pytest.fixture
def workers(redis_client: Any, prefix: str) -> Iterator[Workers]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        w = Workers(rsps, redis_client, prefix)
        w.billing.member("user-alice", "premium-articles")
        yield w
        w.close()


def allowed(bridge: Bridge, ref: str = "user-alice") -> bool:
    return bridge.state(ref).check(["premium-articles"]).allowed


def wait_until(condition: Any, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the other worker never saw it"
        time.sleep(0.01)


def test_a_snapshot_fetched_by_one_worker_serves_the_others(workers) -> None:
    a, b = workers.bridges
    assert allowed(a)
    assert workers.usages_fetches() == 1
    assert allowed(b)
    assert workers.usages_fetches() == 1, "the second worker read Redis, not billing"


def test_an_invalidation_reaches_every_worker(workers) -> None:
    a, b = workers.bridges
    assert allowed(a)
    assert allowed(b)
    workers.billing.subscribed("user-alice", "Suspended", "SuspendedPaymentDue")
    a.refresh("user-alice")  # e.g. the webhook landed on worker a
    wait_until(lambda: (b.store.peek("user-alice") or b.state("user-alice")).expires_at == 0.0)
    assert not allowed(b)


def test_cold_customer_on_many_threads_of_two_workers_is_fetched_once(workers) -> None:
    barrier = threading.Barrier(12)
    results: list[bool] = []
    lock = threading.Lock()

    def hit(bridge: Bridge) -> None:
        barrier.wait()
        ok = allowed(bridge)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=hit, args=(workers.bridges[i % 2],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 12
    assert workers.usages_fetches() == 1


def test_a_redelivered_webhook_on_another_worker_is_recognised(workers) -> None:
    a, b = workers.bridges
    assert a._first_sighting("trg_77")
    assert not b._first_sighting("trg_77")


def test_outage_serves_the_shared_last_known_rights_to_a_fresh_worker(workers) -> None:
    a, b = workers.bridges
    assert allowed(a)
    workers.clock.advance(600)  # past the 5 minute ttl
    workers.billing.down = True
    state = b.state("user-alice")
    assert state.stale
    assert state.check(["premium-articles"]).allowed


def test_redis_down_means_billing_alone_not_an_error(monkeypatch) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    slept: list[float] = []
    shared = RedisSnapshots(dead, prefix="x", sleep=slept.append)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        billing = BillingDouble(rsps)
        billing.member("user-alice", "premium-articles")
        bridge = Bridge(make_config(), shared=shared)
        try:
            assert allowed(bridge)
            assert slept == [], "no waiting for a lock that cannot be taken"
            assert shared.first_sighting("trg_1"), "never drop a notification"
        finally:
            bridge.close()


def test_snapshots_round_trip(workers) -> None:
    a, _ = workers.bridges
    state = a.state("user-alice")
    assert load_state(dump_state(state)) == state


def test_the_configured_backend_is_built_from_the_redis_url(prefix) -> None:
    url = require_redis()
    config = make_config(cache={"backend": "redis", "redis_url": url})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        billing = BillingDouble(rsps)
        billing.member("user-alice", "premium-articles")
        bridge = Bridge(config)
        try:
            assert isinstance(bridge.shared, RedisSnapshots)
            bridge.shared.prefix = prefix  # keep this test's keys apart from other runs
            assert allowed(bridge)
        finally:
            bridge.close()


def test_a_fetch_overtaken_by_an_invalidation_is_not_shared_as_fresh(redis_client, prefix) -> None:
    from bridge.entitlements import build_state

    clock = Clock()
    shared = RedisSnapshots(redis_client, prefix=prefix, clock=clock)

    def fetch_while_the_customer_pays(reference: str):
        state = build_state(reference, [], None, fetched_at=clock(), max_ttl=300)
        shared.invalidate(reference)  # the webhook lands on another worker meanwhile
        return state

    shared.fetcher(fetch_while_the_customer_pays)("user-zed")
    stored = shared._read("user-zed")
    assert stored is None or stored.expires_at <= clock(), "the old rights must not look fresh"
