"""Webhook handling: the reference's signature, fail-closed, handshake, de-duplication."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from bridge.webhooks import WebhookHandler, signature_ok

SECRET = "whsec-0123456789"
KEY = "wh-key-42"
# Computed by hand from the reference: base64(sha256(key + secret)), not by the code under test.
SIGNATURE = base64.b64encode(hashlib.sha256((KEY + SECRET).encode()).digest()).decode()


class Recorder:
    def __init__(self) -> None:
        self.invalidated: list[str] = []
        self.seen: set[str] = set()

    def first(self, notification_id: str) -> bool:
        if notification_id in self.seen:
            return False
        self.seen.add(notification_id)
        return True


def handler(secret: str | None = SECRET) -> tuple[WebhookHandler, Recorder]:
    rec = Recorder()
    return WebhookHandler(secret, invalidate=rec.invalidated.append, first_sighting=rec.first), rec


def headers(key: str = KEY, signature: str = SIGNATURE) -> dict[str, str]:
    return {"x-proabono-key": key, "x-proabono-signature": signature}


def notification(trigger: str = "SubscriptionSuspendedPaymentDue", **extra: Any) -> bytes:
    body = {
        "Id": "trg_42",
        "IdBusiness": 42,
        "DateTrigger": "2026-09-14T15:11:43.75Z",
        "TypeTrigger": trigger,
        "Customer": {"Id": 42, "ReferenceCustomer": "user-7", "Status": "Enabled"},
    }
    body.update(extra)
    return json.dumps(body).encode()


def test_signature_is_the_references() -> None:
    assert signature_ok(KEY, SIGNATURE, SECRET)
    assert not signature_ok(KEY, SIGNATURE, "other-secret")
    assert not signature_ok("other-key", SIGNATURE, SECRET)
    assert not signature_ok(KEY, "", SECRET)
    assert not signature_ok(None, SIGNATURE, SECRET)


def test_rights_event_invalidates_the_customer() -> None:
    h, rec = handler()
    result = h.handle(headers(), notification())
    assert result.status == 200
    assert rec.invalidated == ["user-7"]


def test_redelivery_is_acknowledged_and_ignored() -> None:
    h, rec = handler()
    h.handle(headers(), notification())
    again = h.handle(headers(), notification())
    assert again.status == 200
    assert again.outcome == "duplicate ignored"
    assert rec.invalidated == ["user-7"]


@pytest.mark.parametrize(
    ("hdrs", "status"),
    [
        (headers(signature="forged"), 401),
        (headers(key="another"), 401),
        ({}, 401),
    ],
    ids=["forged-signature", "other-key", "no-headers"],
)
def test_forged_notifications_change_nothing(hdrs, status) -> None:
    h, rec = handler()
    assert h.handle(hdrs, notification()).status == status
    assert rec.invalidated == []
    assert rec.seen == set(), "a forged id must not block the genuine delivery"


def test_without_a_secret_everything_is_refused() -> None:
    h, rec = handler(secret=None)
    assert h.handle(headers(), notification()).status == 503
    assert rec.invalidated == []


def test_validation_handshake_is_answered() -> None:
    h, _ = handler()
    result = h.handle(headers(), json.dumps({"Code": "123456"}).encode())
    assert result.status == 200
    assert result.outcome == "validation received"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b"[1,2]", 400), (b"{}", 400), (b"x" * 300_000, 413)],
    ids=["not-json", "array", "neither", "huge"],
)
def test_bad_bodies(body, status) -> None:
    h, rec = handler()
    assert h.handle(headers(), body).status == status
    assert rec.invalidated == []


def test_unknown_and_non_rights_events_are_acknowledged_and_ignored() -> None:
    h, rec = handler()
    assert h.handle(headers(), notification("SomethingNew", Id="trg_1")).status == 200
    assert (
        h.handle(headers(), notification("InvoiceDebitPaymentAutoFailed", Id="trg_2")).status == 200
    )
    assert rec.invalidated == [], "a payment failure is not a loss of rights"


def test_two_concurrent_deliveries_of_one_notification_invalidate_once(tmp_path) -> None:
    import threading

    from bridge.state import StateStore

    store = StateStore(tmp_path / "state.db")
    invalidated: list[str] = []
    lock = threading.Lock()

    def invalidate(reference: str) -> None:
        with lock:
            invalidated.append(reference)

    h = WebhookHandler(SECRET, invalidate=invalidate, first_sighting=store.first_sighting)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        result = h.handle(headers(), notification())
        with lock:
            outcomes.append(result.outcome)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert invalidated == ["user-7"]
    assert sorted(outcomes).count("duplicate ignored") == 5
