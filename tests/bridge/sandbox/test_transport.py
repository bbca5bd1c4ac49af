"""The in-process transport: a real ``requests.Response``, one app per database file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.client import ProAbonoClient
from bridge.sandbox import transport
from bridge.sandbox.app import close_app


@pytest.fixture
def cleanup() -> Iterator[list[Path]]:
    paths: list[Path] = []
    yield paths
    for path in paths:
        app = transport.uninstall(path)
        if app is not None:
            close_app(app)


def test_mount_answers_with_a_real_response(tmp_path: Path, cleanup: list[Path]) -> None:
    db = tmp_path / "billing.db"
    cleanup.append(db)
    session = requests.Session()
    base = transport.mount(session, str(db))
    assert base == "http://sandbox.invalid"
    session.auth = ("sandbox-agent", "sandbox-key")
    response = session.post(
        base + "/v1/Customer", json={"ReferenceCustomer": "cust-1"}, timeout=(1.0, 2.0)
    )
    assert (response.status_code, response.reason) == (201, "CREATED")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["ReferenceCustomer"] == "cust-1"
    assert response.url == base + "/v1/Customer"
    assert response.request is not None
    assert response.request.method == "POST"
    missing = session.get(base + "/v1/Customer?ReferenceCustomer=nobody", timeout=1)
    assert (missing.status_code, missing.reason) == (404, "NOT FOUND")
    assert not missing.ok


def test_one_app_per_database_file_shared_by_every_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleanup: list[Path]
) -> None:
    monkeypatch.chdir(tmp_path)
    cleanup.append(tmp_path / "data" / "billing.db")
    with ProAbonoClient("sandbox://data/billing.db", "sandbox-agent", "sandbox-key") as first:
        first.upsert_customer("cust-1", name="Ada")
    absolute = f"sandbox://{tmp_path / 'data' / 'billing.db'}"
    with ProAbonoClient(absolute, "sandbox-agent", "sandbox-key") as second:
        assert second.get_customer("cust-1").name == "Ada"
    assert (tmp_path / "data" / "billing.db").exists()
    assert transport.app_for("data/billing.db") is transport.app_for(tmp_path / "data/billing.db")


def test_default_sandbox_uses_the_demo_catalog_and_keys(
    tmp_path: Path, cleanup: list[Path]
) -> None:
    db = tmp_path / "demo.db"
    cleanup.append(db)
    with ProAbonoClient(f"sandbox://{db}", "sandbox-agent", "sandbox-key") as client:
        offers = {o.reference_offer for o in client.list_offers()}
        assert {"welcome", "starter", "pro"} <= offers
        features = {f.reference_feature: f.type_feature for f in client.list_features()}
        assert features == {
            "premium-articles": "OnOff",
            "downloads": "Consumption",
            "seats": "Limitation",
        }


def test_a_session_not_mounted_never_reaches_the_network() -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(transport.BASE_URL + "/v1/Customers", timeout=2)


def test_the_environ_carries_decoded_paths_unicode_queries_and_headers(
    tmp_path: Path, cleanup: list[Path]
) -> None:
    db = tmp_path / "billing.db"
    cleanup.append(db)
    with ProAbonoClient(f"sandbox://{db}", "sandbox-agent", "sandbox-key") as client:
        client.upsert_customer("zo\u00eb-\u03a9 1", name="Zo\u00eb \u00c5str\u00f6m")
        assert client.get_customer("zo\u00eb-\u03a9 1").name == "Zo\u00eb \u00c5str\u00f6m"
    session = requests.Session()
    base = transport.mount(session, str(db))
    percent_encoded = session.get(
        base + "/v1/%43ustomer",
        params={"ReferenceCustomer": "zo\u00eb-\u03a9 1"},
        auth=("sandbox-agent", "sandbox-key"),
        timeout=1,
    )
    assert percent_encoded.status_code == 200
    assert percent_encoded.json()["Name"] == "Zo\u00eb \u00c5str\u00f6m"
    refused = session.get(
        base + "/v1/Customer", params={"ReferenceCustomer": "x"}, auth=("a", "b"), timeout=1
    )
    assert refused.status_code == 401  # the Authorization header reached the sandbox


def test_what_an_app_writes_through_the_legacy_write_callable_is_kept() -> None:
    def legacy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]

    session = requests.Session()
    session.mount(transport.BASE_URL, transport.SandboxAdapter(legacy))  # type: ignore[arg-type]
    response = session.get(transport.BASE_URL + "/anything", timeout=1)

    assert response.content == b"written returned"
