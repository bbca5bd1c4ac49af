"""Outbound webhooks: a delivery worker that drains the ``events`` outbox to configured URLs.

Events are written by the API in the transaction that caused them (``events.emit``); this module
never runs inside an API request. ``WebhookDispatcher.deliver_due(now)`` does one round and is what
tests call (no thread, no sleep); ``start()`` runs rounds in a daemon thread until ``stop()``.

Per the reference:

* each target is validated first by a POST whose JSON body carries ``Code`` and no ``TypeTrigger``;
  until it answers 200 nothing else is sent to it (events wait, they are not lost);
* every POST carries ``x-proabono-key`` and ``x-proabono-signature`` =
  base64(sha256(key + secret)) (the signature does not cover the body);
* only a 200 counts as delivered; anything else (3xx included) is retried with exponential backoff
  (``BACKOFF_BASE`` doubling up to ``BACKOFF_CAP``), forever, as ProAbono retries "until a 200";
* a target only receives events recorded after it was first seen (no replay of old history).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

import requests

from bridge.sandbox.service import Sandbox, WebhookTarget
from bridge.sandbox.store import to_db

log = logging.getLogger("bridge.sandbox.webhooks")

Poster = Callable[[str, bytes, Mapping[str, str], float], int]

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
TIMEOUT = 10.0
BATCH = 100


def signature(key: str, secret: str) -> str:
    return base64.b64encode(hashlib.sha256((key + secret).encode("utf-8")).digest()).decode()


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 10 s, 20 s, 40 s... capped at one hour."""
    wait: timedelta = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    return min(BACKOFF_CAP, wait)


def requests_poster(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST with ``requests``; a transport failure counts as status 0 (not delivered)."""
    try:
        response = requests.post(
            url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        log.info("webhook %s unreachable: %s", url, type(exc).__name__)
        return 0
    response.close()
    return response.status_code


class WebhookDispatcher:
    def __init__(
        self,
        service: Sandbox,
        targets: Iterable[WebhookTarget],
        *,
        poster: Poster = requests_poster,
        interval: float = 1.0,
    ) -> None:
        self.service = service
        self.targets = {target.url: target for target in targets}
        self.poster = poster
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _headers(self, target: WebhookTarget) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "x-proabono-key": target.key,
            "x-proabono-signature": signature(target.key, target.secret),
        }

    def _register(self) -> None:
        """Known targets get a cursor at the newest event; deliveries are fanned out past it."""
        with self.service.store.write() as conn:
            newest = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            for target in self.targets.values():
                conn.execute(
                    "INSERT OR IGNORE INTO webhook_targets(url, cursor) VALUES (?, ?)",
                    (target.url, newest),
                )
                row = conn.execute(
                    "SELECT cursor FROM webhook_targets WHERE url = ?", (target.url,)
                ).fetchone()
                pending = conn.execute(
                    "SELECT seq, type, date_trigger FROM events WHERE seq > ? ORDER BY seq",
                    (row["cursor"],),
                ).fetchall()
                for event in pending:
                    if target.triggers is None or event["type"] in target.triggers:
                        conn.execute(
                            "INSERT OR IGNORE INTO deliveries(event_seq, url, next_attempt)"
                            " VALUES (?, ?, ?)",
                            (event["seq"], target.url, event["date_trigger"]),
                        )
                if pending:
                    conn.execute(
                        "UPDATE webhook_targets SET cursor = ? WHERE url = ?",
                        (pending[-1]["seq"], target.url),
                    )

    def _validate(self, now: datetime) -> None:
        with self.service.store.read() as conn:
            waiting = conn.execute(
                "SELECT url, attempts FROM webhook_targets WHERE validated IS NULL"
                " AND (next_attempt IS NULL OR next_attempt <= ?)",
                (to_db(now),),
            ).fetchall()
        for row in waiting:
            target = self.targets.get(row["url"])
            if target is None:
                continue
            body = json.dumps({"Code": secrets.token_hex(8), "IdBusiness": 1}).encode()
            status = self.poster(target.url, body, self._headers(target), TIMEOUT)
            with self.service.store.write() as conn:
                if status == 200:
                    conn.execute(
                        "UPDATE webhook_targets SET validated = ?, attempts = 0 WHERE url = ?",
                        (to_db(now), target.url),
                    )
                else:
                    attempts = row["attempts"] + 1
                    conn.execute(
                        "UPDATE webhook_targets SET attempts = ?, next_attempt = ? WHERE url = ?",
                        (attempts, to_db(now + backoff(attempts)), target.url),
                    )

    def deliver_due(self, now: datetime | None = None) -> int:
        """One round: validate new targets, then POST every delivery due by ``now``.

        Returns how many deliveries succeeded (got a 200) in this round.
        """
        now = now or self.service.now()
        self._register()
        self._validate(now)
        with self.service.store.read() as conn:
            due = conn.execute(
                "SELECT d.event_seq, d.url, d.attempts, e.body FROM deliveries d"
                " JOIN events e ON e.seq = d.event_seq"
                " JOIN webhook_targets t ON t.url = d.url"
                " WHERE d.delivered IS NULL AND d.next_attempt <= ? AND t.validated IS NOT NULL"
                " ORDER BY d.event_seq LIMIT ?",
                (to_db(now), BATCH),
            ).fetchall()
        delivered = 0
        for row in due:
            target = self.targets.get(row["url"])
            if target is None:
                continue
            status = self.poster(target.url, row["body"].encode(), self._headers(target), TIMEOUT)
            attempts = row["attempts"] + 1
            with self.service.store.write() as conn:
                if status == 200:
                    delivered += 1
                    conn.execute(
                        "UPDATE deliveries SET delivered = ?, attempts = ?, last_status = ?"
                        " WHERE event_seq = ? AND url = ?",
                        (to_db(now), attempts, status, row["event_seq"], row["url"]),
                    )
                else:
                    conn.execute(
                        "UPDATE deliveries SET attempts = ?, last_status = ?, next_attempt = ?"
                        " WHERE event_seq = ? AND url = ?",
                        (
                            attempts,
                            status,
                            to_db(now + backoff(attempts)),
                            row["event_seq"],
                            row["url"],
                        ),
                    )
        return delivered

    # --- the worker thread ---

    def start(self) -> None:
        if self._thread is not None or not self.targets:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # a round failing must not kill the worker
                log.exception("webhook delivery round failed")
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
