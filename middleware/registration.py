"""Registration workflows: an offer chosen **before** registering is carried through sign-up.

A pricing page sends the visitor to the site's registration page with ``?offer=pro``. The gate lets
the site register the user as usual and keeps the choice in a signed, short-lived cookie
(``bridge_offer``). The first page the user opens once signed in is answered with a redirect to
``<mount>/subscribe/pro``: the customer is upserted with that offer and sent to the hosted
``insite-subscribe`` step (options, address, payment), and comes back through ``<mount>/return``.
The cookie is cleared on the way, and only a local, validly signed offer reference is ever used.

The welcome offer (started for every new customer) lives in ``bridge.sync``; the offer chosen
after registration is the paywall's and ``<mount>/offers``' business.

What this module does not do: talk to billing (the subscribe endpoint does, at click time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge.models import FORBIDDEN_REFERENCE_CHARS, MAX_REFERENCE_LENGTH

COOKIE = "bridge_offer"
MAX_AGE = 24 * 3600
#: A valid ReferenceOffer that is also safe as one URL path segment (no ``/``, ``\\``, spaces).
OFFER_REFERENCE = re.compile(
    rf"[^{re.escape(FORBIDDEN_REFERENCE_CHARS)}/\\\s]{{1,{MAX_REFERENCE_LENGTH}}}"
)


class OfferChoice:
    def __init__(
        self,
        *,
        secret_key: str,
        register_url: str,
        offer_param: str,
        mount: str,
        secure: bool = False,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="proabono-bridge.offer")
        self.register_path = urlsplit(register_url).path or "/"
        self.offer_param = offer_param
        self.mount = mount
        self._attributes = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")

    def chosen(self, environ: Mapping[str, Any]) -> str | None:
        """The offer named on a visit to the registration page (``/register?offer=pro``)."""
        if environ.get("PATH_INFO") != self.register_path:
            return None
        values = parse_qs(str(environ.get("QUERY_STRING", ""))).get(self.offer_param)
        if not values or not OFFER_REFERENCE.fullmatch(values[0]):
            return None
        return values[0]

    def remember(self, offer: str) -> tuple[str, str]:
        value = self._serializer.dumps(offer)
        return ("Set-Cookie", f"{COOKIE}={value}; Max-Age={MAX_AGE}{self._attributes}")

    def forget(self) -> tuple[str, str]:
        return ("Set-Cookie", f"{COOKIE}=; Max-Age=0{self._attributes}")

    def pending(self, environ: Mapping[str, Any]) -> str | None:
        """The offer kept in the cookie, when it is there, signed by us and young enough."""
        header = str(environ.get("HTTP_COOKIE", ""))
        if COOKIE not in header:  # the common case costs one substring test
            return None
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value:
                try:
                    offer = self._serializer.loads(value, max_age=MAX_AGE)
                except BadSignature:
                    return None
                if isinstance(offer, str) and OFFER_REFERENCE.fullmatch(offer):
                    return offer
                return None
        return None

    def subscribe_url(self, offer: str, target: str) -> str:
        return f"{self.mount}/subscribe/{quote(offer, safe='')}?next={quote(target, safe='/')}"
