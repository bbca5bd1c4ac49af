"""What the gate costs per request: a bare Flask hello-world vs the same app behind the gate.

Three apps are called in process, through WSGI, in the same run, alternating request by request
(in a shuffled order each round) so that machine noise hits them alike: the bare app, the gated
app with HTML injection off, and with it on (the links block is then written into the page).
Each overhead is the median of the paired differences with the bare request of the same round.
The gated request is a gated path, with a signed session cookie to verify (memoised) and a warm
entitlement cache. Billing is answered by a counting transport on the client's own session, so
the calls made after warm-up are counted. With ``--page-kib`` the page is an article of that size
(injection reads every byte of it, looking for the links marker).

    .venv/bin/python benchmarks/gate.py [--requests 20000] [--page-kib 50]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest, Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.client import ProAbonoClient
from bridge.config import config_from_mapping
from bridge.service import Bridge
from cms_adapters.signed_cookie import SignedCookieAdapter
from middleware import gate as gate_module
from middleware.gate import Gate

USAGES = {
    "Page": 1,
    "SizePage": 100,
    "Count": 1,
    "TotalItems": 1,
    "Items": [{"ReferenceFeature": "premium-articles", "TypeFeature": "OnOff", "IsEnabled": True}],
}
SUBSCRIPTION = {"Id": 1, "Status": "Active", "StateSubscription": "ActiveRunning"}


class CountingBilling(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        self.calls += 1
        response = Response()
        response.status_code = 200
        path = request.path_url or ""
        response._content = json.dumps(USAGES if "/v1/Usages" in path else SUBSCRIPTION).encode()
        response.request = request
        return response

    def close(self) -> None:
        pass


def hello_app(page_kib: int = 0) -> Flask:
    """The hello-world page, or with ``page_kib``, an article of about that many KiB (the links
    marker in its navigation, at the top, as sites place it)."""
    app = Flask("hello")
    paragraph = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8 + "</p>\n"
    article = paragraph * (page_kib * 1024 // len(paragraph))

    @app.route("/premium/<slug>")
    def premium(slug: str) -> str:
        return (
            f"<html><body><nav><!-- billing:links --></nav><h1>{slug}</h1>{article}</body></html>"
        )

    return app


def environ(cookie: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/premium/hello",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "bench",
        "HTTP_COOKIE": f"theme=dark; bridge_user={cookie}; _ga=GA1.2.3",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REMOTE_ADDR": "127.0.0.1",
    }


def call(app: Callable[..., Any], env: dict[str, Any]) -> bytes:
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(s)

    body = app(dict(env), start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    assert status, "the app never started its response"
    assert status[0].startswith("200"), status
    return data


def timings(app: Callable[..., Any], env: dict[str, Any], n: int) -> list[int]:
    out = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call(app, env)
        out.append(time.perf_counter_ns() - start)
    return out


def gated_app(
    inject: bool, billing: CountingBilling, adapter: SignedCookieAdapter, page_kib: int = 0
) -> Gate:
    config = config_from_mapping(
        {
            "billing": {"url": "https://api-1.proabono.com", "agent_key": "a", "api_key": "k"},
            "rule": [{"path": "/premium/**", "feature": "premium-articles"}],
            "inject": {"enabled": inject},
        },
        env={"BRIDGE_SECRET_KEY": "benchmark-secret-key-0123456789"},
    )
    session = requests.Session()
    session.mount("https://", billing)
    client = ProAbonoClient("https://api-1.proabono.com", "a", "k", session=session)
    app = hello_app(page_kib).wsgi_app
    return Gate(app, adapter=adapter, bridge=Bridge(config, client=client))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per app (20000)")
    parser.add_argument(
        "--page-kib", type=int, default=0, help="serve an article of this size (KiB) instead"
    )
    args = parser.parse_args()
    size = f"{args.page_kib} KiB page" if args.page_kib else "hello-world"

    billing = CountingBilling()
    adapter = SignedCookieAdapter(secret_key="site-secret-for-the-benchmark")  # noqa: S106
    apps: dict[str, Callable[..., Any]] = {
        f"bare Flask {size}": hello_app(args.page_kib),
        "behind gate, injection off": gated_app(False, billing, adapter, args.page_kib),
        "behind gate, injection on": gated_app(True, billing, adapter, args.page_kib),
    }
    env = environ(adapter.sign("42"))

    for name, app in apps.items():  # warm-up: identity memo + snapshot
        page = call(app, env)
        assert (b"billing-links" in page) is name.endswith("on"), name
    warm_calls = billing.calls
    for _ in range(2000):
        for app in apps.values():
            call(app, env)

    # Alternate the apps request by request, so that drift of the machine (other processes,
    # frequency changes) hits them alike, in a shuffled order each round (whichever runs right
    # after another pays for the caches that one left behind); garbage collection off while
    # timing, as timeit does. An overhead is the median of the paired differences with the bare
    # request of the same round.
    times: dict[str, list[int]] = {name: [] for name in apps}
    rounds = list(apps.items())
    shuffle = random.Random(1).shuffle
    gc.collect()
    gc.disable()
    try:
        for _ in range(args.requests):
            shuffle(rounds)
            for name, app in rounds:
                times[name] += timings(app, env, 1)
    finally:
        gc.enable()
    bare_name = next(iter(apps))
    bare = times[bare_name]
    compiled = not str(gate_module.__file__).endswith(".py")
    print(f"gate code                  : {'compiled (make compiled)' if compiled else 'Python'}")
    print(f"requests per app           : {len(bare)}")
    print(f"{bare_name:<27}: median {statistics.median(bare) / 1000:7.2f} us/request")
    for name in list(apps)[1:]:
        gated = times[name]
        overhead = statistics.median(g - b for g, b in zip(gated, bare, strict=True)) / 1000
        ratio = statistics.median(gated) / statistics.median(bare)
        print(
            f"{name:<27}: median {statistics.median(gated) / 1000:7.2f} us/request, "
            f"overhead {overhead:5.2f} us ({ratio:.2f}x)"
        )
    print(f"billing calls (warm)       : {billing.calls - warm_calls}")
    print(
        f"billing calls (cold fills) : {warm_calls} ({warm_calls // (len(apps) - 1)} per gated app)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
