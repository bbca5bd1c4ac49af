"""The gate feeds lazy sync: identified users are queued, never waited on."""

from __future__ import annotations

from pathlib import Path

import responses
from werkzeug.test import Client

from bridge.service import Bridge
from cms_adapters.header import HeaderAdapter
from middleware.gate import Gate
from tests.bridge.test_sync import World
from tests.middleware.billing_double import make_config
from tests.middleware.billing_double import site as wsgi_site


def test_the_gate_feeds_lazy_sync_without_making_requests_wait(tmp_path: Path) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        world = World(rsps, tmp_path)
        world.add("alice", "alice@example.com")
        world.billing.member("user-alice", "premium-articles")
        gate = Gate(
            wsgi_site,
            adapter=HeaderAdapter(trusted_proxies=["127.0.0.1"]),
            bridge=Bridge(make_config()),
            sync=world.sync,
        )
        client = Client(gate)
        for _ in range(5):
            client.get(
                "/premium/x",
                headers={"X-Remote-User": "alice"},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )
        assert world.billing.upserts == [], "requests only queue the sighting"
        world.sync.tick()
        assert [u["Email"] for u in world.billing.upserts] == ["alice@example.com"]
