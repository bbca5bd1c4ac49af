"""Two gate processes sharing Redis: an invalidation made through either reaches the other."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from werkzeug.test import Client

from bridge.client import ProAbonoClient
from tests.middleware.gate_worker import build
from tests.services import REDIS_URL, require_redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix() -> Iterator[str]:
    require_redis()
    name = f"pbtest-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


@pytest.fixture
def other_process(tmp_path: Path, prefix: str) -> Iterator[str]:
    db = tmp_path / "billing.db"
    ProAbonoClient(f"sandbox://{db}", "sandbox-agent", "sandbox-key").list_offers()  # create it
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.middleware.gate_worker", str(db), prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("ready "), line
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        worker.terminate()
        worker.wait(10)


def until(check, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "the other process never saw the invalidation"
        time.sleep(0.05)


def test_an_invalidation_made_in_one_process_reaches_the_other(
    tmp_path: Path, prefix: str, other_process: str
) -> None:
    gate = build(str(tmp_path / "billing.db"), prefix)
    here = Client(gate)
    env = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {"X-Remote-User": "alice"}
    client = gate.bridge.client
    client.upsert_customer("user-alice", email="alice@example.com")
    subscription = client.create_subscription("user-alice", "welcome", try_start=True)

    def there() -> int:
        return requests.get(f"{other_process}/premium/x", headers=headers, timeout=10).status_code

    assert here.get("/premium/x", headers=headers, environ_base=env).status_code == 200
    assert there() == 200  # both processes now hold alice's rights in memory

    assert subscription.id is not None
    client.suspend_subscription(subscription.id)
    gate.bridge.refresh("user-alice")  # e.g. the webhook landed in this process
    until(lambda: there() == 402)
    assert here.get("/premium/x", headers=headers, environ_base=env).status_code == 402
    gate.bridge.close()


def test_refresh_command_reaches_a_running_worker(
    tmp_path: Path, prefix: str, other_process: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from middleware.cli import main

    db = tmp_path / "billing.db"
    client = ProAbonoClient(f"sandbox://{db}", "sandbox-agent", "sandbox-key")
    client.upsert_customer("user-bob", email="bob@example.com")
    subscription = client.create_subscription("user-bob", "welcome", try_start=True)
    headers = {"X-Remote-User": "bob"}

    def there() -> int:
        return requests.get(f"{other_process}/premium/x", headers=headers, timeout=10).status_code

    assert there() == 200
    assert subscription.id is not None
    client.suspend_subscription(subscription.id)  # changed by hand in the back office
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[billing]\nurl = "sandbox://{db}"\n'
        f'[cache]\nbackend = "redis"\nredis_url = "{REDIS_URL}"\nredis_prefix = "{prefix}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "s" * 32)
    assert main(["refresh", "bob", "--config", str(config)]) == 0
    assert "refreshed user-bob" in capsys.readouterr().out
    until(lambda: there() == 402)


def test_refresh_without_redis_explains_why_it_cannot(tmp_path: Path, monkeypatch, capsys) -> None:
    from middleware.cli import main

    config = tmp_path / "bridge.toml"
    config.write_text('[billing]\nurl = "sandbox://billing.db"\n', encoding="utf-8")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "s" * 32)
    assert main(["refresh", "bob", "--config", str(config)]) == 1
    assert 'backend = "redis"' in capsys.readouterr().err
