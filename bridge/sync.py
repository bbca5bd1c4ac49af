"""Site users → billing customers: lazy upserts through the outbox, a worker, and bulk sync.

* ``observe(user_id)`` is called by the gate when it identifies a user afresh (at most once per
  credential and identity TTL). It only queues the id: the request never waits on billing. The
  worker reads the user record, compares its fingerprint with the one last pushed, and puts an
  upsert in the outbox when they differ (a new user, a changed email, name or language).
* ``drain()`` delivers due outbox writes. A billing outage leaves them in the outbox with a
  backoff (nothing is lost); a refused write (422) is kept with its error for an admin to see.
  A customer created by the upsert (201) gets the welcome offer when one is configured (free or
  trial, started with ``TryStart``, never asking for payment details).
* ``bulk(users)`` walks every user in id order with bounded concurrency, writes only what changed
  (so a second run writes nothing and an interrupted run resumes where it matters), and reports
  created / updated / unchanged / failed. Customers are matched by ReferenceCustomer, never
  duplicated.

ReferenceCustomer comes from the stable user id (``[site] customer_reference``), never the email.

What this module does not do: read a CMS (it is given ``get_user``) or decide rights.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.client import ProAbonoClient
from bridge.errors import BillingError, BillingInvalid, BillingRefused, BillingUnavailable
from bridge.state import OutboxItem, StateStore

log = logging.getLogger("bridge.sync")

UPSERT = "upsert"
WELCOME = "welcome"
BACKOFF_BASE = 30.0
BACKOFF_MAX = 3600.0
REFUSED_RETRY = 6 * 3600.0


class Profile(Protocol):
    """What sync needs of a site user (``cms_adapters.base.SiteUser`` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def extra(self) -> Mapping[str, str]: ...
    @property
    def fingerprint(self) -> str: ...


def customer_payload(user: Profile, reference: str) -> dict[str, Any]:
    """The ``POST /v1/Customer`` fields the bridge owns for this user (absent values left out)."""
    payload: dict[str, Any] = {"ReferenceCustomer": reference, "UserId": user.id}
    for key, value in (("Email", user.email), ("Name", user.name), ("Language", user.language)):
        if value:
            payload[key] = value
    if user.extra:
        payload["Metadata"] = dict(user.extra)
    payload["Fingerprint"] = user.fingerprint
    return payload


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return self.created + self.updated

    def line(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, failed {self.failed}"
        )


class Sync:
    def __init__(
        self,
        client: ProAbonoClient,
        state: StateStore,
        *,
        reference_for: Callable[[str], str],
        get_user: Callable[[str], Profile | None],
        welcome_offer: str | None = None,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.state = state
        self.reference_for = reference_for
        self.get_user = get_user
        self.welcome_offer = welcome_offer
        self.on_change = on_change or (lambda reference: None)
        self.clock = clock
        self._observed: queue.Queue[str] = queue.Queue(maxsize=10_000)
        self._no_welcome: dict[str, None] = {}  # customers who chose an offer themselves
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # --- lazy sync ----------------------------------------------------------------------------

    def observe(self, user_id: str) -> None:
        """Note that a user was seen. Never blocks: when the queue is full, a later sighting
        retries."""
        try:
            self._observed.put_nowait(user_id)
        except queue.Full:
            log.debug("sync queue full, %s will be synced on a later sighting", user_id)

    def notice(self, user: Profile) -> bool:
        """Queue an upsert when the user's synced fields changed since the last push."""
        if self.state.fingerprint(user.id) == user.fingerprint:
            return False
        reference = self.reference_for(user.id)
        self.state.enqueue(
            UPSERT, reference, customer_payload(user, reference), coalesce_key=f"upsert:{user.id}"
        )
        return True

    def process_observed(self) -> int:
        """Read every user seen since the last call and queue the upserts they need."""
        noticed = 0
        while True:
            try:
                user_id = self._observed.get_nowait()
            except queue.Empty:
                return noticed
            try:
                user = self.get_user(user_id)
            except Exception:
                log.exception("reading user %s for sync failed", user_id)
                continue
            if user is not None and self.notice(user):
                noticed += 1

    def decline_welcome(self, reference: str) -> None:
        """This customer chose an offer before registering: no welcome offer for them (recorded
        in the state file too, so a sync worker of another process knows it)."""
        self._no_welcome[reference] = None
        while len(self._no_welcome) > 10_000:
            del self._no_welcome[next(iter(self._no_welcome))]
        self.state.set_meta(f"no-welcome:{reference}", "1")

    def _welcome_declined(self, reference: str) -> bool:
        return reference in self._no_welcome or bool(self.state.get_meta(f"no-welcome:{reference}"))

    # --- the outbox ---------------------------------------------------------------------------

    def drain(self, limit: int = 50) -> int:
        """Deliver due outbox writes; return how many were accepted."""
        delivered = 0
        claimed = self.state.due(limit)
        for position, item in enumerate(claimed):
            try:
                self._deliver(item)
            except BillingUnavailable as exc:
                self._retry_later(item, exc, self._backoff(item.attempts))
                for waiting in claimed[position + 1 :]:  # billing is down: the rest waits too
                    self.state.release(waiting)
                break
            except (BillingInvalid, BillingRefused) as exc:
                log.error("billing refused %s for %s: %s", item.kind, item.reference, exc)
                self._retry_later(item, exc, REFUSED_RETRY)
            except BillingError as exc:
                self._retry_later(item, exc, self._backoff(item.attempts))
            else:
                self.state.done(item)
                delivered += 1
        return delivered

    def _deliver(self, item: OutboxItem) -> None:
        if item.kind == UPSERT:
            self._upsert(item.payload)
        elif item.kind == WELCOME:
            self._welcome(item.reference)
        else:
            log.error("unknown outbox item %s dropped", item.kind)

    def _upsert(self, payload: Mapping[str, Any]) -> bool:
        """Push one profile; True when the customer was created. Records the fingerprint."""
        reference = str(payload["ReferenceCustomer"])
        result = self.client.upsert_customer(
            reference,
            email=payload.get("Email"),
            name=payload.get("Name"),
            language=payload.get("Language"),
            metadata=payload.get("Metadata"),
        )
        self.state.record_synced(str(payload["UserId"]), reference, str(payload["Fingerprint"]))
        if result.created and self.welcome_offer and not self._welcome_declined(reference):
            try:
                self._welcome(reference)
            except BillingError as exc:
                log.warning("welcome offer for %s postponed: %s", reference, exc)
                self.state.enqueue(WELCOME, reference, {}, coalesce_key=f"welcome:{reference}")
        return result.created

    def _welcome(self, reference: str) -> None:
        """Start the welcome offer, unless the customer already has a subscription."""
        if not self.welcome_offer or self._welcome_declined(reference):
            return
        if self.client.get_subscription(reference) is not None:
            return
        self.client.create_subscription(reference, self.welcome_offer, try_start=True)
        self.on_change(reference)

    def _retry_later(self, item: OutboxItem, error: BillingError, delay: float) -> None:
        self.state.failed(item, str(error), self.clock() + delay)

    @staticmethod
    def _backoff(attempts: int) -> float:
        return float(min(BACKOFF_MAX, BACKOFF_BASE * 2**attempts))

    # --- the worker ---------------------------------------------------------------------------

    def start(self, interval: float = 5.0) -> None:
        """Run ``process_observed`` and ``drain`` in a daemon thread every ``interval`` seconds."""
        if self._worker is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                self.tick()

        self._worker = threading.Thread(target=loop, name="proabono-bridge-sync", daemon=True)
        self._worker.start()

    def tick(self) -> None:
        try:
            self.process_observed()
            self.drain()
        except Exception:  # the worker must survive anything one round throws
            log.exception("sync round failed")

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10)
            self._worker = None

    # --- bulk ---------------------------------------------------------------------------------

    def bulk(
        self,
        users: Iterable[Profile],
        *,
        dry_run: bool = False,
        concurrency: int = 4,
        progress: Callable[[SyncSummary], None] | None = None,
    ) -> SyncSummary:
        """Upsert every user whose synced fields changed; at most ``concurrency`` calls at once."""
        summary = SyncSummary()
        lock = threading.Lock()

        def push(user: Profile) -> None:
            reference = self.reference_for(user.id)
            try:
                created = self._upsert(customer_payload(user, reference))
            except BillingError as exc:
                with lock:
                    summary.failed += 1
                    summary.errors.append(f"{user.id}: {exc}")
                return
            with lock:
                if created:
                    summary.created += 1
                else:
                    summary.updated += 1

        def changed() -> Iterator[Profile]:
            for user in users:
                if self.state.fingerprint(user.id) == user.fingerprint:
                    summary.unchanged += 1
                elif dry_run:
                    summary.updated += 1
                else:
                    yield user
                if progress is not None:
                    progress(summary)

        if concurrency <= 1 or self.client.in_process:
            # An in-process sandbox answers under this process's GIL: threads would only add
            # hand-offs and contention (they halve the rate), so its calls run one by one here.
            for user in changed():
                push(user)
        else:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                in_flight: set[Future[None]] = set()
                for user in changed():
                    in_flight.add(pool.submit(push, user))
                    if len(in_flight) >= 2 * concurrency:  # stream: never hold every user
                        _, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                wait(in_flight)
        if progress is not None:
            progress(summary)
        return summary
