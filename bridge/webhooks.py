"""ProAbono notifications: verify, answer the validation handshake, de-duplicate, invalidate.

* Signature: ``x-proabono-signature == base64(sha256(x-proabono-key + secret))``, compared in
  constant time. The check covers the key, not the body, so the notification is a **signal**: the
  customer's rights are re-read from the API, never taken from the payload.
* Without a configured secret the handler refuses everything (fail closed).
* The validation request (no ``TypeTrigger``, a ``Code``) is answered 200; its code is logged for
  the admin who completes the validation in the BackOffice.
* A notification id already handled is acknowledged (200) and ignored (deliveries are
  at-least-once); unknown event types are acknowledged and ignored.
* Rights-affecting events (the reference's list) invalidate that customer's snapshot.

What this module does not do: speak HTTP (``middleware.endpoints`` maps ``WebhookResult`` to a
response) or store ids (``seen`` is given: the local state store, or Redis when shared).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("bridge.webhooks")

RIGHTS_EVENTS = frozenset(
    {
        "CustomerSuspended",
        "CustomerEnabled",
        "SubscriptionStarted",
        "SubscriptionUpgraded",
        "SubscriptionSuspendedAgent",
        "SubscriptionRestarted",
        "SubscriptionSuspendedPaymentInfoMissing",
        "SubscriptionSuspendedPaymentDue",
        "SubscriptionTerminated",
        "SubscriptionTerminatedForUpgrade",
        "SubscriptionTerminatedAtRenewal",
        "SubscriptionHistory",
        "SubscriptionDeleted",
        "SubscriptionUpdated",
        "SubscriptionFeaturesUpdated",
        "SubscriptionDateTermUpdated",
        "SubscriptionRenewed",
    }
)
MAX_BODY = 256 * 1024


def signature_for(key: str, secret: str) -> str:
    """What ProAbono sends in ``x-proabono-signature`` for ``x-proabono-key``."""
    digest = hashlib.sha256((key + secret).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_ok(key: str | None, signature: str | None, secret: str) -> bool:
    if not key or not signature or not secret:
        return False
    expected = signature_for(key, secret).encode()
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


@dataclass(frozen=True)
class WebhookResult:
    status: int
    outcome: str  # what happened, for the response body and the log
    reference_customer: str | None = None


class WebhookHandler:
    def __init__(
        self,
        secret: str | None,
        *,
        invalidate: Callable[[str], None],
        first_sighting: Callable[[str], bool],
    ) -> None:
        self.secret = secret or None
        self.invalidate = invalidate
        self.first_sighting = first_sighting

    def handle(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        if self.secret is None:
            log.error("webhook refused: set PROABONO_WEBHOOK_SECRET ([billing] webhook_secret)")
            return WebhookResult(503, "webhook secret not configured")
        if not signature_ok(
            headers.get("x-proabono-key"), headers.get("x-proabono-signature"), self.secret
        ):
            log.warning("webhook refused: bad or missing signature")
            return WebhookResult(401, "bad signature")
        if len(body) > MAX_BODY:
            return WebhookResult(413, "notification too large")
        try:
            payload: Any = json.loads(body or b"{}")
        except ValueError:
            return WebhookResult(400, "body is not JSON")
        if not isinstance(payload, dict):
            return WebhookResult(400, "body is not a JSON object")
        trigger = payload.get("TypeTrigger")
        if not trigger:
            code = payload.get("Code")
            if code is None:
                return WebhookResult(400, "neither a notification nor a validation request")
            log.warning("webhook validation request received, code %s", code)
            return WebhookResult(200, "validation received")
        notification_id = payload.get("Id")
        if notification_id is not None and not self.first_sighting(str(notification_id)):
            return WebhookResult(200, "duplicate ignored")
        customer = payload.get("Customer")
        reference = customer.get("ReferenceCustomer") if isinstance(customer, dict) else None
        if trigger not in RIGHTS_EVENTS:
            return WebhookResult(200, f"{trigger} ignored", reference)
        if not isinstance(reference, str) or not reference:
            return WebhookResult(200, f"{trigger} without a customer ignored")
        self.invalidate(reference)
        log.info("webhook %s: rights of %s will be re-read", trigger, reference)
        return WebhookResult(200, f"{trigger}: rights re-read", reference)
