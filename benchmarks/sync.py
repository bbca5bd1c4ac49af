"""Bulk sync speed: N site users pushed to the in-process sandbox, then a second, idempotent run.

    .venv/bin/python benchmarks/sync.py [--users 10000] [--concurrency 4]

Prints users/s of the first run (every user is a new customer: one upsert each) and the number
of billing writes of the second run (0: nothing changed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.client import ProAbonoClient
from bridge.state import StateStore
from bridge.sync import Sync
from cms_adapters.base import SiteUser


def users(count: int) -> Iterator[SiteUser]:
    for i in range(1, count + 1):
        yield SiteUser(id=str(i), email=f"user{i}@example.com", name=f"User {i}", language="en")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client = ProAbonoClient(f"sandbox://{tmp}/billing.db", "sandbox-agent", "sandbox-key")
        sync = Sync(
            client,
            StateStore(Path(tmp) / "state.db"),
            reference_for=lambda uid: f"user-{uid}",
            get_user=lambda uid: None,
        )
        start = time.perf_counter()
        first = sync.bulk(users(args.users), concurrency=args.concurrency)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        second = sync.bulk(users(args.users), concurrency=args.concurrency)
        again = time.perf_counter() - start
    print(f"users                  : {args.users} (concurrency {args.concurrency})")
    print(f"first run              : {first.line()} in {elapsed:.1f} s")
    print(f"rate                   : {args.users / elapsed:.0f} users/s")
    print(f"second run             : {second.line()} in {again:.1f} s")
    print(f"second run writes      : {second.writes}")
    return 0 if first.failed == 0 and second.writes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
