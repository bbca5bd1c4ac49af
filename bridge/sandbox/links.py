"""Hosted-page links: which ``insite-*`` rels an object carries, and their signed, expiring values.

Values are itsdangerous-signed tokens, one salt per purpose (a ``restart`` token never opens the
register page), timed with the sandbox clock and refused after ``max_age``. Each token carries the
customer's links epoch: ``LinksRevokation`` bumps it and every older token stops working.
``insite-home`` and ``insite-related-invoice`` are ready ``href`` URLs; the others are ``query``
tokens (``/portal?query=...`` opens them, as ``pa_query`` does on a real installation). Every
``insite-*`` rel has its legacy ``hosted-*`` twin with the same value.

What this module does not do: render the pages (``portal``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, Serializer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from bridge.sandbox.catalog import OfferDef
from bridge.sandbox.ledger import Row
from bridge.sandbox.views import Json

PURPOSES = (
    "home",
    "collection-offers",
    "register",
    "subscribe",
    "collection-upgrade",
    "related-subscription",
    "upgrade",
    "restart",
    "related-invoice",
    "charge",
    "collection-invoice",
)
DEFAULT_MAX_AGE = 24 * 3600


class LinkInvalid(Exception):
    """A link token that is malformed, forged, expired, of an unknown purpose or revoked."""


class _LinkSerializer(URLSafeTimedSerializer):
    """Never compressed: a link payload is a few ids, which zlib never shortens, and setting zlib
    up costs more than signing. (Compressed tokens, with their leading ".", still load.)"""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))  # compact JSON, then base64


class LinkSigner:
    def __init__(
        self, secret: str, clock: Callable[[], datetime], *, max_age: int = DEFAULT_MAX_AGE
    ) -> None:
        if max_age <= 0:
            raise ValueError("link tokens must expire")
        self.max_age = max_age
        outer_clock = clock
        derived_keys: dict[tuple[str | bytes | None, bytes, bytes], bytes] = {}

        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(outer_clock().timestamp())

            def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
                # itsdangerous derives the key (an HMAC) on every sign; one per purpose suffices.
                key = (secret_key, self.secret_keys[-1], self.salt)
                derived = derived_keys.get(key)
                if derived is None:
                    derived = derived_keys[key] = super().derive_key(secret_key)
                return derived

        self._serializers = {
            purpose: _LinkSerializer(
                secret, salt=f"proabono-sandbox.link.{purpose}", signer=ClockSigner
            )
            for purpose in PURPOSES
        }

    def token(self, purpose: str, **payload: Any) -> str:
        return f"{purpose}.{self._serializers[purpose].dumps(payload)}"

    def load(self, token: str) -> tuple[str, dict[str, Any]]:
        purpose, _, signed = token.partition(".")
        serializer = self._serializers.get(purpose)
        if serializer is None or not signed:
            raise LinkInvalid("unknown link")
        try:
            payload = serializer.loads(signed, max_age=self.max_age)
        except BadSignature as exc:  # SignatureExpired is a BadSignature
            raise LinkInvalid(type(exc).__name__) from exc
        if not isinstance(payload, dict):
            raise LinkInvalid("malformed link")
        return purpose, payload


class LinkMaker:
    """Builds the ``Links`` array of each object for one request (``base`` = public URL)."""

    def __init__(self, signer: LinkSigner, base: str) -> None:
        self.signer = signer
        self.base = base.rstrip("/")

    def _query(self, rel: str, purpose: str, customer: Row | None, **extra: Any) -> list[Json]:
        payload: dict[str, Any] = dict(extra)
        if customer is not None:
            payload.update(c=customer["id"], e=customer["links_epoch"])
        token = self.signer.token(purpose, **payload)
        return [{"rel": f"insite-{rel}", "query": token}, {"rel": f"hosted-{rel}", "query": token}]

    def _href(self, rel: str, href: str, kind: str | None = None) -> list[Json]:
        links: list[Json] = []
        for family in ("insite", "hosted"):
            link: Json = {"rel": f"{family}-{rel}", "href": href}
            if kind:
                link["type"] = kind
            links.append(link)
        return links

    def _home(self, customer: Row) -> list[Json]:
        token = self.signer.token("home", c=customer["id"], e=customer["links_epoch"])
        return self._href("home", f"{self.base}/portal/auth/{token}")

    def customer(
        self, customer: Row, *, reference_offer: str | None = None, has_active: bool = False
    ) -> list[Json]:
        if customer["status"] != "Enabled":
            return []
        links = self._home(customer)
        links += self._query("collection-offers", "collection-offers", customer)
        links += self._query("register", "register", customer)
        if reference_offer:
            links += self._query("subscribe", "subscribe", customer, o=reference_offer)
        if has_active:
            links += self._query("collection-upgrade", "collection-upgrade", customer)
        return links

    def subscription(self, subscription: Row, customer: Row) -> list[Json]:
        state = subscription["state"]
        sid = subscription["id"]
        links: list[Json] = [{"rel": "self", "href": f"/v1/Subscription/{sid}"}]
        if customer["status"] != "Enabled":
            return links
        links += self._home(customer)
        links += self._query("related-subscription", "related-subscription", customer, s=sid)
        if state.startswith("Draft"):
            links += self._query("subscribe", "subscribe", customer, s=sid)
            links.append({"rel": "related-quote", "href": f"/v1/Quoting/Subscription/{sid}/Start"})
        if state == "DraftDelayedStart":
            links += self._query("register", "register", customer, s=sid)
        if state in ("ActiveRunning", "ActiveDelayedUpgrade"):
            links += self._query("upgrade", "upgrade", customer, s=sid)
        if state.startswith("Suspended") or state == "ActiveDelayedTermination":
            links += self._query("restart", "restart", customer, s=sid)
        return links

    def offer(
        self,
        offer: OfferDef,
        *,
        customer: Row | None = None,
        id_subscription: int | None = None,
        upgrade: bool = False,
    ) -> list[Json]:
        links = self._href("home", f"{self.base}/portal/anon/{offer.segment.reference}")
        if customer is not None and customer["status"] != "Enabled":
            return links
        links += self._query("subscribe", "subscribe", customer, o=offer.reference)
        if upgrade or id_subscription is not None:
            links += self._query(
                "upgrade", "upgrade", customer, o=offer.reference, s=id_subscription
            )
        return links

    def invoice(self, invoice: Row, customer: Row) -> list[Json]:
        if customer["status"] != "Enabled":
            return []
        links = self._home(customer)
        token = self.signer.token(
            "related-invoice", c=customer["id"], e=customer["links_epoch"], i=invoice["id"]
        )
        links += self._href(
            "related-invoice", f"{self.base}/portal/invoice-pdf/{token}", "application/pdf"
        )
        links += self._query("collection-invoice", "collection-invoice", customer)
        if invoice["state"].startswith(("Problem", "Due")):
            links += self._query("charge", "charge", customer, i=invoice["id"])
        return links
