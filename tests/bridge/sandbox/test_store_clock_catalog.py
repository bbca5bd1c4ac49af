"""The store (migrations, WAL, transactions), the clock and the catalog file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.sandbox.catalog import CatalogError, load_catalog
from bridge.sandbox.clock import FixedClock, SandboxClock, parse_duration
from bridge.sandbox.store import MIGRATIONS, Store


def test_store_migrates_once_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "nested" / "b.db")
    assert store.schema_version == len(MIGRATIONS)
    with store.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.write() as conn:
        conn.execute("INSERT INTO settings(key, value) VALUES ('k', 'v')")
    store.close()
    reopened = Store(tmp_path / "nested" / "b.db")
    assert reopened.get_setting("k") == "v"
    assert reopened.schema_version == len(MIGRATIONS)
    reopened.close()


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "b.db")

    def failing_write() -> None:
        with store.write() as conn:
            conn.execute("INSERT INTO settings(key, value) VALUES ('k', 'v')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_write()
    assert store.get_setting("k") is None
    store.close()


def test_clock_offset_is_shared_through_the_database(tmp_path: Path) -> None:
    base = FixedClock(datetime(2025, 1, 1, tzinfo=UTC))
    one = SandboxClock(Store(tmp_path / "b.db"), base)
    other = SandboxClock(Store(tmp_path / "b.db"), base)
    one.advance(timedelta(days=2))
    assert other.now() == datetime(2025, 1, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="forward"):
        one.advance(timedelta(seconds=-1))


def test_a_pinned_clock_is_shared_whatever_the_base(tmp_path: Path) -> None:
    server = SandboxClock(Store(tmp_path / "b.db"), FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    command = SandboxClock(Store(tmp_path / "b.db"))  # the system clock
    server.advance(timedelta(days=1))
    command.pin(datetime(2025, 1, 1, tzinfo=UTC))  # resets the offset
    command.advance(timedelta(hours=1))
    assert server.now() == command.now() == datetime(2025, 1, 1, 1, tzinfo=UTC)
    server.pin(None)
    assert server.now() == datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("31d", 31 * 86400),
        ("12h", 43200),
        ("90m", 5400),
        ("2w", 1209600),
        ("45", 45),
        ("1.5h", 5400),
        ("1h30m", 5400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "d", "-1d", "3 days", "1y"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_demo_catalog_ships_the_documented_offers() -> None:
    catalog = load_catalog()
    welcome = catalog.offer("welcome")
    assert welcome is not None
    assert (welcome.amount_recurrence, welcome.duration_recurrence, welcome.unit_recurrence) == (
        0,
        14,
        "Day",
    )
    starter = catalog.offer("starter")
    assert starter is not None
    downloads = starter.feature("downloads")
    assert downloads is not None
    assert (downloads.quantity, downloads.extra_price) == (10, 50)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "segment"),
        ('[[segment]]\nreference = "s"\n[[feature]]\nreference = "f"\ntype = "Odd"', "type"),
        ('[[segment]]\nreference = "a?b"', "must not contain"),
        (
            '[[segment]]\nreference = "s"\n[[offer]]\nreference = "o"\n'
            'features = [{reference="x"}]',
            "unknown feature",
        ),
        (
            '[[segment]]\nreference = "s"\n[[offer]]\nreference = "o"\n'
            'unit_recurrence = "Fortnight"',
            "unit_recurrence",
        ),
        ("not toml [", "TOML"),
    ],
)
def test_bad_catalogs_say_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(toml)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)
