"""Users to customers: lazy upserts through the outbox, outages, welcome offer, bulk sync."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from bridge.client import ProAbonoClient
from bridge.sandbox import transport
from bridge.sandbox.app import close_app, create_app
from bridge.state import StateStore
from bridge.sync import Sync
from cms_adapters.base import SiteUser
from tests.middleware.billing_double import BASE, Account, BillingDouble


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, rsps: responses.RequestsMock, tmp: Path, welcome: str | None = None) -> None:
        self.billing = BillingDouble(rsps)
        self.clock = Clock()
        self.users: dict[str, SiteUser] = {}
        self.state = StateStore(tmp / "state.db", clock=self.clock)
        self.changed: list[str] = []
        self.sync = Sync(
            ProAbonoClient(BASE, "agent", "key", retries=0),
            self.state,
            reference_for=lambda uid: f"user-{uid}",
            get_user=self.users.get,
            welcome_offer=welcome,
            on_change=self.changed.append,
            clock=self.clock,
        )

    def add(self, uid: str, email: str, name: str = "Ada", language: str = "en") -> SiteUser:
        self.users[uid] = SiteUser(id=uid, email=email, name=name, language=language)
        return self.users[uid]


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def world(rsps: responses.RequestsMock, tmp_path: Path) -> World:
    return World(rsps, tmp_path)


def test_first_sighting_creates_the_customer_with_the_owned_fields(world) -> None:
    world.add("7", "ada@example.com", "Ada Lovelace", "fr")
    world.sync.observe("7")
    world.sync.tick()
    assert world.billing.upserts == [
        {
            "ReferenceCustomer": "user-7",
            "Email": "ada@example.com",
            "Name": "Ada Lovelace",
            "Language": "fr",
        }
    ]
    world.sync.observe("7")
    world.sync.tick()
    assert len(world.billing.upserts) == 1, "an unchanged user is not pushed again"


def test_an_email_change_is_pushed(world) -> None:
    world.add("7", "ada@example.com")
    world.sync.observe("7")
    world.sync.tick()
    world.add("7", "ada@lovelace.example")
    world.sync.observe("7")
    world.sync.tick()
    assert world.billing.upserts[-1]["Email"] == "ada@lovelace.example"
    assert world.billing.upserts[-1]["ReferenceCustomer"] == "user-7", "the reference never changes"


def test_nothing_is_lost_while_billing_is_down(world) -> None:
    world.add("7", "ada@example.com")
    world.billing.down = True
    world.sync.observe("7")
    world.sync.tick()
    world.add("7", "ada@new.example")  # changed again during the outage
    world.sync.observe("7")
    world.sync.tick()
    assert world.billing.upserts == []
    pending = world.state.pending()
    assert len(pending) == 1, "two changes of one user coalesce into one write"
    assert pending[0].attempts >= 1
    assert "billing" in (pending[0].last_error or "")
    world.billing.down = False
    world.clock.now += 3600
    world.sync.tick()
    assert [u["Email"] for u in world.billing.upserts] == ["ada@new.example"]
    assert world.state.outbox_depth() == 0


def test_welcome_offer_starts_for_new_customers_only(rsps, tmp_path) -> None:
    world = World(rsps, tmp_path, welcome="welcome")
    world.add("7", "ada@example.com")
    world.sync.observe("7")
    world.sync.tick()
    assert world.billing.created_subscriptions == [("user-7", "welcome", "true")]
    assert world.changed == ["user-7"], "rights are re-read after the welcome subscription"
    world.billing.accounts["user-8"] = Account()
    world.add("8", "known@example.com")  # already a customer: 200, not 201
    world.sync.observe("8")
    world.sync.tick()
    assert [s[0] for s in world.billing.created_subscriptions] == ["user-7"]


def test_bulk_sync_is_idempotent(world) -> None:
    users = [world.add(str(i), f"u{i}@example.com") for i in range(1, 31)]
    first = world.sync.bulk(iter(users), concurrency=4)
    assert (first.created, first.updated, first.unchanged, first.failed) == (30, 0, 0, 0)
    writes = len(world.billing.upserts)
    second = world.sync.bulk(iter(users), concurrency=4)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 30)
    assert len(world.billing.upserts) == writes, "a second run makes zero writes"


def test_bulk_sync_matches_existing_customers_instead_of_duplicating(world) -> None:
    world.billing.accounts["user-1"] = Account()
    summary = world.sync.bulk([world.add("1", "a@x.example"), world.add("2", "b@x.example")])
    assert (summary.created, summary.updated) == (1, 1)


def test_bulk_sync_against_a_remote_service_overlaps_at_most_concurrency_calls(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert = world.sync.client.upsert_customer
    three_in_flight = threading.Barrier(3, timeout=10)  # fails unless 3 calls overlap
    lock = threading.Lock()
    in_flight = peak = calls = 0

    def counting_upsert(*args: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, peak, calls
        with lock:
            in_flight += 1
            calls += 1
            first = calls <= 3
            peak = max(peak, in_flight)
        try:
            if first:
                three_in_flight.wait()
            return upsert(*args, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(world.sync.client, "upsert_customer", counting_upsert)
    users = [world.add(str(i), f"u{i}@example.com") for i in range(1, 41)]
    summary = world.sync.bulk(users, concurrency=3)

    assert summary.created == 40
    assert peak == 3


def test_bulk_sync_against_the_in_process_sandbox_runs_in_the_calling_thread(
    tmp_path: Path,
) -> None:
    app = create_app(tmp_path / "billing.db", start_webhook_worker=False)
    threads: set[int] = set()
    app.before_request(lambda: threads.add(threading.get_ident()))
    transport.install(tmp_path / "billing.db", app)
    try:
        client = ProAbonoClient(
            f"sandbox://{tmp_path / 'billing.db'}", "sandbox-agent", "sandbox-key"
        )
        sync = Sync(
            client,
            StateStore(tmp_path / "state.db"),
            reference_for=lambda uid: f"user-{uid}",
            get_user=lambda uid: None,
        )
        users = [SiteUser(id=str(i), email=f"u{i}@example.com") for i in range(1, 21)]
        summary = sync.bulk(users, concurrency=4)
        assert client.get_customer("user-20").email == "u20@example.com"
    finally:
        close_app(transport.uninstall(tmp_path / "billing.db") or app)

    assert summary.created == 20
    # Threads cannot run an in-process service faster (one GIL): they only add hand-offs.
    assert threads == {threading.get_ident()}


def test_bulk_sync_resumes_after_an_outage(world) -> None:
    users = [world.add(str(i), f"u{i}@example.com") for i in range(1, 11)]
    world.sync.bulk(users[:4])
    world.billing.down = True
    failed = world.sync.bulk(users)
    assert failed.failed == 6
    assert failed.unchanged == 4
    world.billing.down = False
    resumed = world.sync.bulk(users)
    assert (resumed.created, resumed.unchanged, resumed.failed) == (6, 4, 0)


def test_dry_run_writes_nothing(world) -> None:
    summary = world.sync.bulk([world.add("1", "a@x.example")], dry_run=True)
    assert summary.updated == 1
    assert world.billing.upserts == []


def test_an_interrupted_bulk_sync_completes_when_run_again(world) -> None:
    users = [world.add(str(i), f"u{i}@example.com") for i in range(1, 21)]

    def interrupted():
        for n, user in enumerate(users):
            if n == 8:
                raise KeyboardInterrupt  # the admin pressed Ctrl-C
            yield user

    with pytest.raises(KeyboardInterrupt):
        world.sync.bulk(interrupted(), concurrency=2)
    done = len(world.billing.upserts)
    assert 0 < done <= 8
    again = world.sync.bulk(users, concurrency=2)
    assert (again.created, again.unchanged, again.failed) == (20 - done, done, 0)
    assert len(world.billing.upserts) == 20, "every user pushed exactly once overall"


def test_writes_not_tried_during_an_outage_keep_their_turn(world) -> None:
    for uid in ("1", "2", "3"):
        world.add(uid, f"u{uid}@example.com")
        world.sync.observe(uid)
    world.billing.down = True
    world.sync.tick()
    pending = world.state.pending()
    assert [p.attempts for p in pending] == [1, 0, 0], "only the first was tried"
    assert pending[1].next_try <= world.clock.now, "the others are due again, not leased away"
