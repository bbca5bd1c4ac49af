"""The entitlement cache: warm hits without billing calls, stale on outage, single-flight fills."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from bridge.cache import EntitlementStore
from bridge.entitlements import CustomerState, build_state
from bridge.errors import BillingError, BillingUnavailable
from bridge.models import Usage


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Billing:
    """A fetch function whose answers the test controls, counting the calls made."""

    def __init__(self, clock: Clock, ttl: float = 300) -> None:
        self.clock = clock
        self.ttl = ttl
        self.calls = 0
        self.down = False
        self.enabled = True

    def __call__(self, ref: str) -> CustomerState:
        self.calls += 1
        if self.down:
            raise BillingUnavailable("connect error", method="GET", path="/v1/Usages")
        usage = Usage.from_json(
            {"ReferenceFeature": "premium", "TypeFeature": "OnOff", "IsEnabled": self.enabled}
        )
        return build_state(ref, [usage], None, fetched_at=self.clock(), max_ttl=self.ttl)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def billing(clock: Clock) -> Billing:
    return Billing(clock)


@pytest.fixture
def store(billing: Billing, clock: Clock) -> EntitlementStore:
    return EntitlementStore(billing, stale_ttl=3600, clock=clock)


def allowed(state: CustomerState) -> bool:
    return state.check(["premium"]).allowed


def test_a_warm_cache_makes_no_billing_call(store, billing) -> None:
    store.get("cust-1")
    for _ in range(100):
        store.get("cust-1")
    assert billing.calls == 1
    assert store.stats.hits == 100


def test_a_snapshot_expires_at_its_own_ttl(store, billing, clock) -> None:
    store.get("cust-1")
    clock.advance(299)
    store.get("cust-1")
    assert billing.calls == 1
    clock.advance(1)
    store.get("cust-1")
    assert billing.calls == 2


def test_a_snapshot_is_replaced_whole(store, billing, clock) -> None:
    assert allowed(store.get("cust-1"))
    billing.enabled = False
    clock.advance(300)
    assert not allowed(store.get("cust-1"))


def test_outage_serves_the_last_snapshot_flagged_stale(store, billing, clock) -> None:
    store.get("cust-1")
    billing.down = True
    clock.advance(1800)
    state = store.get("cust-1")
    assert allowed(state)
    assert state.stale
    assert store.stats.stale_served == 1


def test_outage_beyond_stale_ttl_is_an_error_not_a_denial(store, billing, clock) -> None:
    store.get("cust-1")
    billing.down = True
    clock.advance(3601)
    with pytest.raises(BillingUnavailable):
        store.get("cust-1")


def test_never_seen_customer_during_outage_gets_the_error(store, billing) -> None:
    billing.down = True
    with pytest.raises(BillingUnavailable):
        store.get("cust-new")


def test_errors_are_never_cached(store, billing) -> None:
    billing.down = True
    with pytest.raises(BillingError):
        store.get("cust-1")
    billing.down = False
    assert allowed(store.get("cust-1"))
    assert billing.calls == 2


def test_invalidate_refetches_but_keeps_the_snapshot_as_outage_fallback(store, billing) -> None:
    store.get("cust-1")
    store.invalidate("cust-1")
    store.get("cust-1")
    assert billing.calls == 2
    store.invalidate("cust-1")
    billing.down = True
    assert store.get("cust-1").stale


def test_invalidate_all(store, billing) -> None:
    store.get("a")
    store.get("b")
    store.invalidate_all()
    store.get("a")
    store.get("b")
    assert billing.calls == 4


def test_size_is_bounded(billing, clock) -> None:
    store = EntitlementStore(billing, max_entries=3, clock=clock)
    for ref in "abcde":
        store.get(ref)
    assert len(store) == 3


def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "threads did not reach the cache in time"
        time.sleep(0.001)


class BlockingBilling(Billing):
    """Holds every fetch until the test releases it, so requests pile up on a cold key."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.release = threading.Event()

    def __call__(self, ref: str) -> CustomerState:
        assert self.release.wait(5)
        return super().__call__(ref)


def run_concurrently(store: EntitlementStore, n: int, gate: BlockingBilling) -> list[object]:
    results: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            outcome: object = store.get("cust-cold")
        except BillingError as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    wait_until(lambda: store.stats.misses == n)
    gate.release.set()
    for t in threads:
        t.join(5)
    return results


def test_concurrent_misses_make_one_fetch(clock) -> None:
    gate = BlockingBilling(clock)
    store = EntitlementStore(gate, clock=clock)
    results = run_concurrently(store, 16, gate)
    assert gate.calls == 1
    assert len(results) == 16
    assert all(isinstance(r, CustomerState) and allowed(r) for r in results)


def test_concurrent_misses_during_outage_all_get_the_error(clock) -> None:
    gate = BlockingBilling(clock)
    gate.down = True
    store = EntitlementStore(gate, clock=clock)
    results = run_concurrently(store, 8, gate)
    assert gate.calls == 1
    assert all(isinstance(r, BillingUnavailable) for r in results)


def test_a_fill_overtaken_by_an_invalidation_is_not_stored(clock) -> None:
    gate = BlockingBilling(clock)
    store = EntitlementStore(gate, clock=clock)
    thread = threading.Thread(target=store.get, args=("cust-1",))
    thread.start()
    wait_until(lambda: store.stats.misses == 1)
    store.invalidate("cust-1")  # e.g. a webhook arrived while the fetch was on the wire
    gate.release.set()
    thread.join(5)
    store.get("cust-1")
    assert gate.calls == 2


def test_a_miss_that_loses_the_race_to_a_finished_fill_does_not_fetch_again(clock) -> None:
    billing = Billing(clock)
    store = EntitlementStore(billing, clock=clock)
    looked = threading.Event()
    original_get = store._entries.get

    class SlowLookup(dict):  # the lock-free look happens, then the leader's fill lands
        def get(self, key, default=None):  # type: ignore[override]
            found = original_get(key, default)
            if not looked.is_set():
                looked.set()
                store._entries = real  # later looks see the real entries
                store.get(key)  # another request fills meanwhile
            return found

    real = store._entries
    store._entries = SlowLookup()
    store.get("cust-1")
    assert billing.calls == 1


def test_during_an_outage_a_known_customer_costs_one_call_per_retry_interval(
    store, billing, clock
) -> None:
    store.get("cust-1")
    billing.down = True
    clock.advance(301)
    for _ in range(20):
        assert store.get("cust-1").stale
    assert billing.calls == 2, "one failed attempt, then the stale snapshot without calls"
    clock.advance(store.retry_after)
    store.get("cust-1")
    assert billing.calls == 3
