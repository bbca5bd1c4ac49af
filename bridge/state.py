"""The bridge's local state: a SQLite file (``[state] path``) that survives restarts and outages.

It keeps, per site user, the customer reference and the fingerprint of the fields last pushed to
billing; a sync watermark; the **outbox** of billing writes not yet accepted (attempts, next try,
last error: nothing a user did is lost while billing is down); and the ids of webhook
notifications already handled (bounded retention), so a redelivery is not processed twice.

Safe for several threads (a connection per thread) and several processes on one host (WAL mode,
``BEGIN IMMEDIATE`` for writes, a busy timeout). Schema changes are numbered migrations.

What this module does not do: call billing (``bridge.sync`` drains the outbox).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        reference TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        synced_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        reference TEXT NOT NULL,
        payload TEXT NOT NULL,
        coalesce_key TEXT UNIQUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try REAL NOT NULL,
        last_error TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_try);
    CREATE TABLE webhooks_seen (id TEXT PRIMARY KEY, seen_at REAL NOT NULL);
    CREATE INDEX webhooks_seen_at ON webhooks_seen (seen_at);
    """,
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    reference: str
    payload: dict[str, Any]
    attempts: int
    next_try: float
    last_error: str | None


class StateStore:
    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._migrate()

    # --- plumbing ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread; check_same_thread off only so close() can reach them all.
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        """Close every thread's connection to the file."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- users ------------------------------------------------------------------------------

    def fingerprint(self, user_id: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT fingerprint FROM users WHERE user_id = ?", (user_id,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def record_synced(self, user_id: str, reference: str, fingerprint: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO users (user_id, reference, fingerprint, synced_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "reference = excluded.reference, fingerprint = excluded.fingerprint, "
                "synced_at = excluded.synced_at",
                (user_id, reference, fingerprint, self.clock()),
            )

    def synced_count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM users").fetchone()[0])

    # --- outbox -----------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        reference: str,
        payload: dict[str, Any],
        *,
        coalesce_key: str | None = None,
    ) -> None:
        """Add a billing write. With ``coalesce_key``, a pending write with the same key is
        replaced by this newer one (two profile changes → one upsert of the latest profile)."""
        now = self.clock()
        body = json.dumps(payload, sort_keys=True)
        with self._write() as conn:
            if coalesce_key is not None:
                conn.execute(
                    "INSERT INTO outbox "
                    "(kind, reference, payload, coalesce_key, next_try, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (coalesce_key) DO UPDATE SET "
                    "payload = excluded.payload, "
                    "next_try = min(outbox.next_try, excluded.next_try)",
                    (kind, reference, body, coalesce_key, now, now),
                )
            else:
                conn.execute(
                    "INSERT INTO outbox (kind, reference, payload, next_try, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (kind, reference, body, now, now),
                )

    def due(self, limit: int = 50, *, lease: float = 60.0) -> list[OutboxItem]:
        """Claim up to ``limit`` writes that are due: they are this caller's for ``lease``
        seconds (another worker or process will not deliver them too); ``done`` or ``failed``
        settles them, and a crashed worker's claims come due again when the lease ends."""
        now = self.clock()
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, kind, reference, payload, attempts, next_try, last_error FROM outbox "
                "WHERE next_try <= ? ORDER BY next_try, id LIMIT ?",
                (now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET next_try = ? WHERE id = ?", [(now + lease, r[0]) for r in rows]
            )
        return [
            OutboxItem(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])
            for row in rows
        ]

    def done(self, item: OutboxItem) -> None:
        """Remove a delivered write, unless it was replaced by a newer one meanwhile."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM outbox WHERE id = ? AND payload = ?",
                (item.id, json.dumps(item.payload, sort_keys=True)),
            )

    def release(self, item: OutboxItem) -> None:
        """Give a claimed write back untouched (it was not tried): due again at its old time."""
        with self._write() as conn:
            conn.execute("UPDATE outbox SET next_try = ? WHERE id = ?", (item.next_try, item.id))

    def failed(self, item: OutboxItem, error: str, next_try: float) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try = ? "
                "WHERE id = ?",
                (error[:500], next_try, item.id),
            )

    def outbox_depth(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def pending(self) -> list[OutboxItem]:
        rows = (
            self._connection()
            .execute(
                "SELECT id, kind, reference, payload, attempts, next_try, last_error FROM outbox "
                "ORDER BY id"
            )
            .fetchall()
        )
        return [
            OutboxItem(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])
            for row in rows
        ]

    # --- webhooks ---------------------------------------------------------------------------

    def first_sighting(self, notification_id: str) -> bool:
        """True the first time an id is seen (and records it); False for a redelivery."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO webhooks_seen (id, seen_at) VALUES (?, ?)",
                (notification_id, self.clock()),
            )
            return cursor.rowcount == 1

    def prune_webhooks(self, older_than: float) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM webhooks_seen WHERE seen_at < ?", (self.clock() - older_than,)
            )
            return cursor.rowcount

    def webhooks_seen(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM webhooks_seen").fetchone()[0])
