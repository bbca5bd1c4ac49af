"""``proabono-bridge sandbox``: the embedded billing service's own commands, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.client import ProAbonoClient
from middleware.cli import main


def test_advance_moves_the_sandbox_clock_for_every_client_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "billing.db"
    client = ProAbonoClient(f"sandbox://{db}", "sandbox-agent", "sandbox-key")
    client.upsert_customer("user-1", email="a@example.com")
    client.create_subscription("user-1", "welcome", try_start=True)
    before = client.get_subscription("user-1")
    assert before is not None
    assert before.is_active
    assert main(["sandbox", "advance", "15d", "--db", str(db)]) == 0
    assert "sandbox clock is now" in capsys.readouterr().out
    after = client.get_subscription("user-1")
    assert after is not None
    assert (after.status, after.state_subscription) == ("Ended", "EndedComplete"), "14 days over"
    assert client.get_usages("user-1") == [], "and its rights are gone"


def test_advance_needs_a_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "advance", "--db", str(tmp_path / "b.db")]) == 2
    assert "give a duration" in capsys.readouterr().err
