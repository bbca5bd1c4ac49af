"""The sandbox's clock: an injected base clock plus an offset persisted in the database.

Time in the sandbox only moves forward. ``advance(delta)`` adds to the stored offset, so every
process sharing the SQLite file (an HTTP server, the ``advance`` command, the in-process transport)
sees the same "now". Tests inject a ``FixedClock`` as the base and never sleep; ``pin(at)`` stores
a fixed base in the database instead, so other processes (a served sandbox, the ``advance``
command) share the frozen time too.

What this module does not do: run what becomes due when time passes (``billing.run_due``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bridge.config_reader import parse_duration as parse_config_duration
from bridge.sandbox.store import Store, from_db, to_db

BaseClock = Callable[[], datetime]

OFFSET_KEY = "clock_offset_seconds"
PINNED_KEY = "clock_pinned"


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A base clock that stays where it is told to: ``FixedClock(datetime(...))``, ``advance()``."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock speaks aware UTC datetimes")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def parse_duration(text: str) -> timedelta:
    """``31d``, ``12h``, ``90m``, ``2w``, ``1h30m`` or seconds: the configuration's durations."""
    return timedelta(seconds=parse_config_duration(text))


#: Bumped by every change of a database's clock made in this process, so every clock of that
#: file re-reads it at once; a change made by another process is seen within ``SETTINGS_TTL``.
_generations: dict[str, int] = {}
SETTINGS_TTL = 0.25


class SandboxClock:
    """``now()`` = base clock + the offset stored in the sandbox database.

    The stored settings are read at most every ``SETTINGS_TTL`` seconds (an API call asks for the
    time several times), and at once after any change made in this process.
    """

    def __init__(self, store: Store, base: BaseClock = system_clock) -> None:
        self.store = store
        self.base = base
        self._file = str(store.path)
        self._cached: dict[str, str] | None = None
        self._cached_generation = -1
        self._cached_until = 0.0

    def _settings(self) -> dict[str, str]:
        generation = _generations.get(self._file, 0)
        moment = time.monotonic()
        cached = self._cached
        fresh = generation == self._cached_generation and moment < self._cached_until
        if cached is not None and fresh:
            return cached
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT key, value FROM settings WHERE key IN (?, ?)", (OFFSET_KEY, PINNED_KEY)
            ).fetchall()
        settings = {str(row[0]): str(row[1]) for row in rows}
        self._cached, self._cached_generation = settings, generation
        self._cached_until = moment + SETTINGS_TTL
        return settings

    def _changed(self) -> None:
        _generations[self._file] = _generations.get(self._file, 0) + 1

    def offset(self) -> timedelta:
        value = self._settings().get(OFFSET_KEY)
        return timedelta(seconds=float(value)) if value else timedelta(0)

    def pinned(self) -> datetime | None:
        return from_db(self._settings().get(PINNED_KEY))

    def now(self) -> datetime:
        settings = self._settings()
        pinned = from_db(settings.get(PINNED_KEY))
        current = pinned if pinned is not None else self.base()
        if current.tzinfo is None:
            raise ValueError("the base clock must return aware UTC datetimes")
        offset = settings.get(OFFSET_KEY)
        return current.astimezone(UTC) + timedelta(seconds=float(offset) if offset else 0.0)

    def pin(self, at: datetime | None) -> None:
        """Freeze the sandbox at ``at`` for every process (offset reset); None unfreezes."""
        if at is not None and at.tzinfo is None:
            raise ValueError("the clock speaks aware UTC datetimes")
        with self.store.write() as conn:
            conn.execute("DELETE FROM settings WHERE key IN (?, ?)", (OFFSET_KEY, PINNED_KEY))
            if at is not None:
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?)", (PINNED_KEY, to_db(at))
                )
        self._changed()

    def __call__(self) -> datetime:
        return self.now()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self.store.write() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (OFFSET_KEY,)).fetchone()
            seconds = float(row[0]) if row else 0.0
            seconds += delta.total_seconds()
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (OFFSET_KEY, repr(seconds)),
            )
        self._changed()
        return self.now()
