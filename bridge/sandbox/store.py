"""The sandbox's SQLite file: schema, numbered migrations, WAL, one writer lock, pooled connections.

Every write runs in ``with store.write() as conn:``: one process-wide lock per file (SQLite allows
one writer anyway; the lock keeps threads from spinning on ``SQLITE_BUSY``), ``BEGIN IMMEDIATE``
so another process (the ``advance`` command) is serialised too, commit on success, rollback on any
exception. Reads use ``with store.read() as conn:``, a deferred transaction: a consistent snapshot
under WAL, never blocked by the writer.

Connections are pooled rather than bound to threads, so a thread-per-request server does not leak
one connection per request. Dates are stored as fixed-width UTC text, so they sort as strings.

What this module does not do: know what the rows mean (``billing``, ``views``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

MIGRATIONS: tuple[str, ...] = (
    # 1: the whole model
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE customers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        segment TEXT NOT NULL,
        reference TEXT NOT NULL,
        email TEXT, name TEXT, language TEXT,
        status TEXT NOT NULL DEFAULT 'Enabled',
        reference_affiliation TEXT, date_affiliation TEXT,
        metadata TEXT,
        address TEXT NOT NULL DEFAULT '{}',
        type_payment TEXT,
        card_number TEXT,
        note_invoice TEXT,
        is_auto_billing INTEGER NOT NULL DEFAULT 1,
        links_epoch INTEGER NOT NULL DEFAULT 0,
        date_created TEXT NOT NULL,
        UNIQUE (segment, reference)
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        customer_id INTEGER NOT NULL REFERENCES customers(id),
        buyer_id INTEGER REFERENCES customers(id),
        offer TEXT NOT NULL,
        state TEXT NOT NULL,
        state_after_term TEXT,
        terms TEXT NOT NULL,
        title TEXT,
        metadata TEXT,
        date_created TEXT NOT NULL,
        date_start TEXT,
        date_period_start TEXT,
        date_period_end TEXT,
        date_term TEXT,
        date_end TEXT,
        date_update TEXT NOT NULL,
        is_trial INTEGER NOT NULL DEFAULT 0,
        count_periods INTEGER NOT NULL DEFAULT 0,
        upgrade_from INTEGER REFERENCES subscriptions(id)
    );
    CREATE INDEX subscriptions_customer ON subscriptions(customer_id);
    CREATE INDEX subscriptions_state_period ON subscriptions(state, date_period_end);
    CREATE TABLE subscription_features (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions(id),
        feature TEXT NOT NULL,
        is_included INTEGER,
        is_enabled INTEGER,
        quantity_included INTEGER,
        quantity_current INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subscription_id, feature)
    );
    CREATE TABLE invoices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        customer_id INTEGER NOT NULL REFERENCES customers(id),
        subscription_id INTEGER,
        full_number TEXT NOT NULL UNIQUE,
        amount_subtotal INTEGER NOT NULL,
        amount_total INTEGER NOT NULL,
        state TEXT NOT NULL,
        type_payment TEXT,
        date_issue TEXT NOT NULL,
        date_update TEXT NOT NULL,
        date_payment TEXT,
        date_payment_limit TEXT,
        note TEXT
    );
    CREATE INDEX invoices_customer ON invoices(customer_id, state);
    CREATE TABLE balance_lines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        customer_id INTEGER NOT NULL REFERENCES customers(id),
        subscription_id INTEGER,
        feature TEXT,
        label TEXT NOT NULL,
        amount_subtotal INTEGER NOT NULL,
        amount_total INTEGER NOT NULL,
        quantity INTEGER,
        state_move TEXT NOT NULL,
        type_line TEXT NOT NULL,
        key_charge TEXT,
        date_move TEXT,
        date_period_start TEXT,
        date_period_end TEXT,
        invoice_id INTEGER REFERENCES invoices(id)
    );
    CREATE INDEX balance_customer ON balance_lines(customer_id, state_move);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        date_trigger TEXT NOT NULL
    );
    CREATE TABLE webhook_targets (
        url TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL,
        validated TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT
    );
    CREATE TABLE deliveries (
        event_seq INTEGER NOT NULL REFERENCES events(seq),
        url TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        delivered TEXT,
        last_status INTEGER,
        PRIMARY KEY (event_seq, url)
    );
    -- when each subscription next needs attention: its term (or period end) while active,
    -- its start while its start is delayed
    CREATE VIEW subscriptions_due AS
        SELECT id, CASE WHEN date_term IS NOT NULL AND date_term < date_period_end
                        THEN date_term ELSE date_period_end END AS due
        FROM subscriptions WHERE state LIKE 'Active%'
        UNION ALL
        SELECT id, date_start AS due FROM subscriptions WHERE state = 'DraftDelayedStart';
    CREATE INDEX deliveries_due ON deliveries(delivered, next_attempt);
    -- ids in distinct ranges, as a real account has: an id of one kind is never valid as another
    INSERT INTO sqlite_sequence(name, seq) VALUES
        ('customers', 233700), ('subscriptions', 140960), ('invoices', 549000),
        ('balance_lines', 71000);
    """,
)

_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_db(value: datetime | None) -> str | None:
    """Fixed-width UTC text (sorts like the instant it names)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime(_DATE_FORMAT)


def from_db(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, _DATE_FORMAT).replace(tzinfo=UTC)


def must_date(value: str | None) -> datetime:
    parsed = from_db(value)
    if parsed is None:
        raise ValueError("a required date is missing")
    return parsed


class Store:
    """One SQLite file. Share one ``Store`` per file per process (``transport`` does)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._pool: list[sqlite3.Connection] = []
        self._closed = False
        with self._borrow() as conn:
            self._migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise RuntimeError(f"the sandbox store {self.path} is closed")
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # pragma: no cover - only after an interrupted statement
                conn.rollback()
            with self._pool_lock:
                if self._closed or len(self._pool) >= 16:
                    conn.close()
                else:
                    self._pool.append(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                for number, script in enumerate(MIGRATIONS, start=1):
                    if number <= version:
                        continue
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised with every other writer of this file."""
        with self._write_lock, self._borrow() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot (never waits for the writer under WAL)."""
        with self._borrow() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def get_setting(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def setting_or_create(self, key: str, make: str) -> str:
        """The stored value, or ``make`` stored now (first writer wins)."""
        with self.write() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            conn.execute("INSERT INTO settings(key, value) VALUES (?, ?)", (key, make))
            return make

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit our transaction)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
