"""The gate in front of a site over HTTP (reverse proxy mode), and the app factory servers run."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from bridge.errors import ConfigError
from middleware.app import create_app
from middleware.gate import Gate
from middleware.proxy import ReverseProxy
from tests.middleware.billing_double import BASE, BillingDouble

seen: list[dict[str, Any]] = []


@Request.application
def upstream_site(request: Request) -> Response:
    seen.append({"path": request.full_path, "headers": dict(request.headers), "body": request.data})
    if request.path == "/redirect":
        return Response("", status=302, headers={"Location": "/elsewhere"})
    response = Response(
        f"<html><body>upstream {request.method} {request.path}</body></html>",
        content_type="text/html",
    )
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, upstream_site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_requests_and_answers_pass_through(upstream) -> None:
    seen.clear()
    client = Client(ReverseProxy(upstream))
    response = client.post(
        "/free/page?x=1",
        data=b"payload",
        headers={"X-Custom": "yes"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 200
    assert b"upstream POST /free/page" in response.data
    assert response.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    sent = seen[-1]
    assert sent["path"] == "/free/page?x=1"
    assert sent["body"] == b"payload"
    assert sent["headers"]["X-Custom"] == "yes"
    assert sent["headers"]["X-Forwarded-For"] == "192.0.2.7"


def test_redirects_are_passed_on_not_followed(upstream) -> None:
    response = Client(ReverseProxy(upstream)).get("/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "/elsewhere"


def test_an_unreachable_upstream_is_a_502() -> None:
    response = Client(ReverseProxy("http://127.0.0.1:9", connect_timeout=0.5)).get("/")
    assert response.status_code == 502
    assert response.headers["Cache-Control"] == "no-store"


def test_create_app_wraps_the_upstream_and_gates_it(upstream, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        f"""
[billing]
url = "{BASE}"
agent_key = "agent"
api_key = "key"
retries = 0

[site]
upstream = "{upstream}"

[adapter]
kind = "header"
trusted_proxies = ["127.0.0.1"]

[[rule]]
path = "/premium/**"
feature = "premium-articles"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "k" * 32)
    seen.clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(upstream)
        billing = BillingDouble(rsps)
        billing.member("user-alice", "premium-articles")
        app = create_app(config, sync=False)
        assert isinstance(app, Gate)
        client = Client(app)
        env = {"REMOTE_ADDR": "127.0.0.1"}
        denied = client.get("/premium/x", environ_base=env)
        assert denied.status_code == 402
        assert seen == [], "a denied request never reaches the site"
        allowed = client.get("/premium/x", headers={"X-Remote-User": "alice"}, environ_base=env)
        assert allowed.status_code == 200
        assert b"upstream GET /premium/x" in allowed.data
        assert "private" in allowed.headers["Cache-Control"]


def test_create_app_without_a_site_says_how_to_name_one(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('[billing]\nurl = "https://api-1.proabono.com"\nagent_key="a"\napi_key="k"\n')
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "k" * 32)
    with pytest.raises(ConfigError) as caught:
        create_app(config)
    assert caught.value.problems[0].key == "site.app"
    assert "upstream" in caught.value.problems[0].hint


def test_create_app_reports_an_app_that_cannot_be_imported(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[billing]\nurl = "https://api-1.proabono.com"\nagent_key="a"\napi_key="k"\n'
        '[site]\napp = "no_such_module_here:app"\n'
    )
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "k" * 32)
    with pytest.raises(ConfigError, match="cannot load"):
        create_app(config)


def decoding_upstream(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """An upstream that decodes the path once more, as PHP and many servers do."""
    path = environ["PATH_INFO"]
    secret = path.startswith("/premium")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(b"MEMBER " if secret else b"free ") + path.encode()]


@pytest.mark.parametrize(
    "request_line",
    ["GET /%2570remium/x HTTP/1.1", "GET http://x/%2570remium/x HTTP/1.1"],
    ids=["origin-form", "absolute-form"],
)
def test_double_encoded_paths_reach_the_upstream_as_the_gate_saw_them(request_line) -> None:
    import socket

    from waitress.server import create_server

    from tests.middleware.billing_double import make_config

    up = make_server("127.0.0.1", 0, decoding_upstream, threaded=True)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    config = make_config()
    from bridge.service import Bridge
    from cms_adapters.header import HeaderAdapter

    gate = Gate(
        ReverseProxy(f"http://127.0.0.1:{up.server_port}"),
        adapter=HeaderAdapter(),
        bridge=Bridge(config),
    )
    server = create_server(gate, host="127.0.0.1", port=0)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=10) as sock:
            sock.sendall(request_line.encode() + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert b"MEMBER" not in answer, answer
    finally:
        # Closed by the server's own thread (its loop then ends), never under a select() running.
        server.trigger.pull_trigger(server.close)
        serving.join(timeout=10)
        up.shutdown()


def test_chunked_bodies_reach_the_upstream(upstream) -> None:
    seen.clear()
    body = b"x" * 200_000
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/free/upload",
        "QUERY_STRING": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "192.0.2.7",
    }
    status: list[str] = []
    answer = ReverseProxy(upstream)(environ, lambda s, h, e=None: status.append(s))
    b"".join(answer)
    assert status[0].startswith("200")
    assert seen[-1]["body"] == body


def test_the_forwarded_host_comes_from_the_configuration_and_the_proxy_secret_stays_here(
    upstream,
) -> None:
    seen.clear()
    client = Client(ReverseProxy(upstream, public_host="www.example.com"))
    client.get(
        "/free/page",
        headers={"Host": "evil.example", "X-Bridge-Proxy-Secret": "s3cret"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    sent = seen[-1]["headers"]
    assert sent["X-Forwarded-Host"] == "www.example.com"
    assert "X-Bridge-Proxy-Secret" not in sent
