"""The local state file: fingerprints, the outbox, seen webhooks; across threads and restarts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridge.state import StateStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> StateStore:
    return StateStore(tmp_path / "state" / "bridge.db", clock=clock)


def test_fingerprints_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    first = StateStore(tmp_path / "s.db", clock=clock)
    assert first.fingerprint("42") is None
    first.record_synced("42", "user-42", "abc")
    first.record_synced("42", "user-42", "def")
    first.close()
    again = StateStore(tmp_path / "s.db", clock=clock)
    assert again.fingerprint("42") == "def"
    assert again.synced_count() == 1


def test_outbox_keeps_writes_until_done(store: StateStore, clock: Clock) -> None:
    store.enqueue("upsert", "user-1", {"Email": "a@x"})
    store.enqueue("usage", "user-1", {"Increment": 1})
    items = store.due()
    assert [i.kind for i in items] == ["upsert", "usage"]
    upsert, usage = items
    store.failed(upsert, "billing down", next_try=clock.now + 30)
    store.done(usage)
    assert store.due() == [], "the failed write waits for its next try"
    clock.now += 30
    retried = store.due()
    assert [i.kind for i in retried] == ["upsert"]
    assert retried[0].attempts == 1
    assert retried[0].last_error == "billing down"
    store.done(retried[0])
    assert store.outbox_depth() == 0


def test_a_claimed_write_is_not_handed_to_a_second_worker(store: StateStore, clock: Clock) -> None:
    store.enqueue("upsert", "user-1", {"Email": "a@x"})
    assert len(store.due()) == 1
    assert store.due() == [], "claimed by the first worker"
    clock.now += 61  # that worker died without settling it: the lease ran out
    assert len(store.due()) == 1


def test_coalesced_writes_keep_only_the_latest_payload(store: StateStore) -> None:
    store.enqueue("upsert", "user-1", {"Email": "old@x"}, coalesce_key="upsert:user-1")
    store.enqueue("upsert", "user-1", {"Email": "new@x"}, coalesce_key="upsert:user-1")
    assert [i.payload for i in store.pending()] == [{"Email": "new@x"}]


def test_a_write_replaced_while_in_flight_is_not_dropped(store: StateStore) -> None:
    store.enqueue("upsert", "user-1", {"Email": "old@x"}, coalesce_key="upsert:user-1")
    in_flight = store.due()[0]
    store.enqueue("upsert", "user-1", {"Email": "new@x"}, coalesce_key="upsert:user-1")
    store.done(in_flight)  # the old payload was delivered; the new one must still go
    assert [i.payload for i in store.pending()] == [{"Email": "new@x"}]


def test_webhook_ids_are_seen_once_and_pruned(store: StateStore, clock: Clock) -> None:
    assert store.first_sighting("trg_1")
    assert not store.first_sighting("trg_1")
    clock.now += 86400 * 8
    assert store.prune_webhooks(older_than=86400 * 7) == 1
    assert store.first_sighting("trg_1")


def test_many_threads_share_the_file(store: StateStore) -> None:
    sightings: list[bool] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(20):
            store.enqueue("usage", f"user-{n}", {"i": i})
            first = store.first_sighting("same-notification")
            with lock:
                sightings.append(first)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.outbox_depth() == 160
    assert sightings.count(True) == 1


def test_meta(store: StateStore) -> None:
    assert store.get_meta("sync.watermark") is None
    store.set_meta("sync.watermark", "2026-11-21")
    store.set_meta("sync.watermark", "2026-11-22")
    assert store.get_meta("sync.watermark") == "2026-11-22"
