"""``proabono-bridge sync`` and ``status`` on a real users table (SQLite, ``sql`` adapter)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from middleware.cli import main
from tests.middleware.billing_double import BASE, BillingDouble


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cms.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        conn.executemany(
            "INSERT INTO members (id, email, name) VALUES (?, ?, ?)",
            [(i, f"member{i}@example.com", f"Member {i}") for i in range(1, 13)],
        )
    config = tmp_path / "bridge.toml"
    config.write_text(
        f"""
[billing]
url = "{BASE}"
agent_key = "agent"
api_key = "key"
retries = 0

[adapter]
kind = "sql"
database_url = "sqlite:///{db}"
user_table = "members"
name_column = "name"

[state]
path = "state.db"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("BRIDGE_COOKIE_SECRET", "cookie-secret-0123456789")
    return config


@pytest.fixture
def billing() -> Iterator[BillingDouble]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BillingDouble(rsps)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_pushes_everyone_once_then_nothing(site, billing, capsys) -> None:
    code, out, _ = run(capsys, "sync", "--config", str(site), "--quiet")
    assert code == 0
    assert out.strip() == "created 12, updated 0, unchanged 0, failed 0"
    assert sorted(u["ReferenceCustomer"] for u in billing.upserts) == sorted(
        f"user-{i}" for i in range(1, 13)
    )
    code, out, _ = run(capsys, "sync", "--config", str(site), "--quiet")
    assert out.strip() == "created 0, updated 0, unchanged 12, failed 0"
    assert len(billing.upserts) == 12


def test_dry_run_and_status(site, billing, capsys) -> None:
    code, out, _ = run(capsys, "sync", "--config", str(site), "--quiet", "--dry-run")
    assert out.strip() == "dry run, would push: created 0, updated 12, unchanged 0, failed 0"
    assert billing.upserts == []
    code, out, _ = run(capsys, "status", "--config", str(site))
    assert code == 0
    assert "outbox: 0 pending billing write(s)" in out
    assert "last bulk sync: never" in out


def test_a_failed_sync_says_so_and_exits_non_zero(site, billing, capsys) -> None:
    billing.down = True
    code, out, err = run(capsys, "sync", "--config", str(site), "--quiet")
    assert code == 1
    assert out.strip() == "created 0, updated 0, unchanged 0, failed 12"
    assert "failed: 1: " in err
    billing.down = False
    code, out, _ = run(capsys, "sync", "--config", str(site), "--quiet")
    assert out.strip() == "created 12, updated 0, unchanged 0, failed 0"
    _, status, _ = run(capsys, "status", "--config", str(site))
    assert "users synced: 12" in status
    assert "(created 12, updated 0, unchanged 0, failed 0)" in status
