"""8 threads x 200 mixed API calls (over HTTP, and in process): no error, no lost increment."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.client import UsageChange
from tests.bridge.sandbox.harness import in_process, make_client, make_sandbox, serve_http

THREADS = 8
CALLS = 200


@pytest.mark.parametrize("backend", ["http", "in-process"])
def test_mixed_calls_from_eight_threads_lose_nothing(tmp_path: Path, backend: str) -> None:
    db = tmp_path / "billing.db"
    app = make_sandbox(db)
    serving = serve_http(app) if backend == "http" else in_process(db, app)
    with serving as url:
        with make_client(url, app) as setup:
            setup.upsert_customer("shared")
            setup.create_subscription("shared", "welcome", try_start=True)
            for index in range(THREADS):
                setup.upsert_customer(f"cust-{index}")
                setup.create_subscription(f"cust-{index}", "welcome", try_start=True)

        errors: list[BaseException] = []
        shared_total = [0] * THREADS
        own_total = [0] * THREADS
        barrier = threading.Barrier(THREADS)

        def worker(index: int) -> None:
            rng = random.Random(index)
            mine = f"cust-{index}"
            try:
                with make_client(url, app) as client:
                    calls: list[Callable[[], object]] = [
                        lambda: client.get_usages(mine),
                        lambda: client.get_subscription(mine),
                        lambda: client.upsert_customer(mine, name=f"n{rng.random()}"),
                        lambda: client.list_invoices(reference_customer=mine),
                        lambda: client.quote_usage(UsageChange(mine, "downloads", increment=1)),
                        lambda: client.list_offers(),
                    ]
                    barrier.wait()
                    for call in range(CALLS):
                        kind = call % 4
                        if kind == 0:
                            step = rng.randint(1, 5)
                            client.record_usage(UsageChange("shared", "downloads", increment=step))
                            shared_total[index] += step
                        elif kind == 1:
                            step = rng.randint(1, 3)
                            client.record_usages(
                                [
                                    UsageChange(mine, "downloads", increment=step),
                                    UsageChange("shared", "downloads", increment=1),
                                ]
                            )
                            own_total[index] += step
                            shared_total[index] += 1
                        else:
                            rng.choice(calls)()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        assert errors == []
        with make_client(url, app) as check:
            shared = check.get_usage("shared", "downloads")
            assert shared is not None
            assert shared.quantity_current == sum(shared_total)
            for index in range(THREADS):
                own = check.get_usage(f"cust-{index}", "downloads")
                assert own is not None
                assert own.quantity_current == own_total[index]
