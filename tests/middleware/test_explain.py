"""``proabono-bridge explain``: an admin sees the same reasoning the gate applies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from middleware.cli import main
from tests.middleware.billing_double import BASE, BillingDouble

CONFIG = f"""
[billing]
url = "{BASE}"
agent_key = "agent"
api_key = "key"
retries = 0

[[rule]]
path = "/premium/**"
feature = "premium-articles"

[[rule]]
path = "/"
query = {{ feed = "*" }}
any = ["premium-feeds", "premium-articles"]
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "bridge.toml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "k" * 32)
    return str(path)


@pytest.fixture
def billing() -> Iterator[BillingDouble]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BillingDouble(rsps)


def explain(capsys: pytest.CaptureFixture[str], config: str, *args: str) -> list[str]:
    assert main(["explain", "--config", config, *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_member(capsys, config, billing) -> None:
    billing.member("user-alice", "premium-articles")
    out = explain(capsys, config, "/free/../premium/x", "--user", "alice")
    assert "path forms: /free/../premium/x, /premium/x" in out
    assert out[2].startswith("rule: rule[0] /premium/** needs premium-articles")
    assert "user: alice -> customer user-alice" in out
    assert "  premium-articles: OnOff, enabled" in out
    assert out[-1] == "decision: allow"


def test_suspended_member(capsys, config, billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    out = explain(capsys, config, "/?feed=rss2", "--user", "bob")
    assert "needs any of premium-feeds, premium-articles" in out[2]
    assert "subscription: offer-starter Suspended/SuspendedPaymentDue" in out
    assert out[-1] == "decision: deny suspended"


def test_ungated_and_anonymous_and_bad_paths(capsys, config, billing) -> None:
    assert explain(capsys, config, "/free")[-1] == "rule: none matches -> the site answers, ungated"
    assert explain(capsys, config, "/premium/x")[-1] == "user: anonymous -> deny login_required"
    assert "refused with 400" in explain(capsys, config, "/../x")[-1]
    assert billing.calls == []


def test_outage(capsys, config, billing) -> None:
    billing.down = True
    out = explain(capsys, config, "/premium/x", "--user", "alice")
    assert out[-1].startswith("billing: unavailable")
    assert out[-1].endswith("-> deny billing_unavailable")
