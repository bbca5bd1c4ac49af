"""A second gate process for the shared-cache test: ``python -m tests.middleware.gate_worker
DB PREFIX`` serves a gated page on a free loopback port and prints ``ready <port>``."""

from __future__ import annotations

import sys
from typing import Any

import redis
from werkzeug.serving import make_server

from bridge.config import config_from_mapping
from bridge.service import Bridge
from bridge.shared import RedisSnapshots
from cms_adapters.header import HeaderAdapter
from middleware.gate import Gate
from tests.services import REDIS_URL


def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"member page"]


def build(db: str, prefix: str) -> Gate:
    config = config_from_mapping(
        {
            "billing": {"url": f"sandbox://{db}"},
            "rule": [{"path": "/premium/**", "feature": "premium-articles"}],
            "inject": {"enabled": False},
        },
        env={"BRIDGE_SECRET_KEY": "s" * 32},
    )
    shared = RedisSnapshots(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    bridge = Bridge(config, shared=shared)
    return Gate(page, adapter=HeaderAdapter(trusted_proxies=["127.0.0.1"]), bridge=bridge)


def main() -> None:
    db, prefix = sys.argv[1], sys.argv[2]
    server = make_server("127.0.0.1", 0, build(db, prefix), threaded=True)
    print(f"ready {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
