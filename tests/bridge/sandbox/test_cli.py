"""``proabono-bridge sandbox``: ``advance`` moves the shared clock; serving answers over HTTP."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from bridge.sandbox import cli
from tests.bridge.sandbox.harness import in_process, make_client, make_sandbox


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments() -> None:
    served = parse(["--db", "b.db", "--port", "9000"])
    assert (served.action, served.port, served.host) == ("serve", 9000, "127.0.0.1")
    advanced = parse(["advance", "31d", "--db", "b.db"])
    assert (advanced.action, advanced.duration) == ("advance", "31d")


def test_advance_runs_renewals_seen_by_a_running_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "billing.db"
    app = make_sandbox(db)
    with in_process(db, app) as url, make_client(url, app) as client:
        client.request(
            "POST", "/_sandbox/Clock/Pin", body={"Now": "2025-03-03T09:00:00Z"}, idempotent=False
        )
        client.upsert_customer("cust-1")
        sub = client.create_subscription("cust-1", "welcome", try_start=True)
        assert client.get_subscription_by_id(sub.id or 0).state_subscription == "ActiveRunning"
        assert cli.run(parse(["advance", "14d", "--db", str(db)])) == 0
        assert "sandbox clock is now 2025-03-17T09:00:00.00Z" in capsys.readouterr().out
        assert client.get_subscription_by_id(sub.id or 0).state_subscription == "EndedComplete"


def test_advance_refuses_a_bad_duration(tmp_path: Path) -> None:
    assert cli.run(parse(["advance", "soon", "--db", str(tmp_path / "b.db")])) == 2
    assert cli.run(parse(["advance", "--db", str(tmp_path / "b.db")])) == 2


def test_serve_answers_over_http(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    command = [sys.executable, "-m", "bridge.sandbox.cli", "--db", str(tmp_path / "b.db")]
    process = subprocess.Popen(
        [*command, "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode()  # printed once the port is bound
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        response = requests.get(
            match.group(1) + "/v1/Offers", auth=("sandbox-agent", "sandbox-key"), timeout=5
        )
        assert response.status_code == 200
        assert response.json()["TotalItems"] >= 3
    finally:
        process.terminate()
        process.wait(10)


DAILY_CATALOG = """
[[segment]]
reference = "daily"
currency = "USD"
[[offer]]
reference = "daily"
amount_recurrence = 100
duration_recurrence = 1
unit_recurrence = "Day"
"""


def test_advance_prices_renewals_with_the_catalog_the_server_uses(tmp_path: Path) -> None:
    db = tmp_path / "billing.db"
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(DAILY_CATALOG)
    app = make_sandbox(db, catalog_path=catalog)
    with in_process(db, app) as url, make_client(url, app) as client:
        client.request(
            "POST", "/_sandbox/Clock/Pin", body={"Now": "2025-03-03T09:00:00Z"}, idempotent=False
        )  # so the CLI, on the system clock, shares the time
        client.upsert_customer("cust-1")
        client.request(
            "POST",
            "/_sandbox/Customer/PaymentMethod",
            params={"ReferenceCustomer": "cust-1"},
            body={"CardNumber": "4242424242424242"},
            idempotent=False,
        )
        client.create_subscription("cust-1", "daily", try_start=True)
        assert cli.run(parse(["advance", "1d", "--db", str(db)])) == 0  # no --catalog given
        invoices = client.list_invoices(reference_customer="cust-1").items
        assert [(i.amount_subtotal, i.currency) for i in invoices] == [(100, "USD"), (100, "USD")]
