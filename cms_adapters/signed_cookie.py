"""Identity from a signed cookie the site sets at login: ``<user id>.<timestamp>.<signature>``.

For sites whose own session cannot be read (another language, a custom framework): at login the
site sets ``bridge_user`` to ``SignedCookieAdapter.sign(user_id)`` (or the same itsdangerous
``TimestampSigner`` computation in its own language: HMAC-SHA1 over the value with the key derived
from ``secret_key`` and ``salt``), and clears it at logout. The bridge accepts the cookie only with
a valid signature and younger than ``max_age``.

Settings (``[adapter] kind = "signed_cookie"``): ``cookie_name``, ``secret_key`` (or env
``BRIDGE_COOKIE_SECRET``), ``salt``, ``max_age``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from itsdangerous import BadSignature, TimestampSigner

from cms_adapters.base import Environ, SiteUser, UserId

MAX_COOKIE_LENGTH = 4096


def cookie_value(cookie_header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, without parsing the others: the first
    ``name=`` that starts a cookie (only blanks since the previous ``;``), up to the next ``;``."""
    prefix = name + "="
    at = cookie_header.find(prefix)
    while at >= 0:
        since = cookie_header.rfind(";", 0, at) + 1
        if since == at or cookie_header[since:at].isspace():
            end = cookie_header.find(";", at)
            value = cookie_header[at + len(prefix) : end if end >= 0 else None].rstrip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
        at = cookie_header.find(prefix, at + 1)
    return None


def cookie_credential(environ: Environ, name: str) -> str | None:
    """Cookie ``name`` of the request, or None when absent, empty or oversized."""
    header = environ.get("HTTP_COOKIE")
    if not header:
        return None
    value = cookie_value(str(header), name)
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return None
    return value


class SignedCookieAdapter:
    credential_source = "HTTP_COOKIE"  # the credential comes from this header alone

    def __init__(
        self,
        *,
        secret_key: str,
        cookie_name: str = "bridge_user",
        salt: str = "proabono-bridge.user",
        max_age: int = 14 * 86400,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key is required to check signed cookies")
        self.cookie_name = cookie_name
        self.max_age = max_age
        self._signer = TimestampSigner(secret_key, salt=salt)

    def sign(self, user_id: UserId) -> str:
        """The cookie value the site sets at login for ``user_id``."""
        return self._signer.sign(user_id).decode()

    def credential(self, environ: Environ) -> str | None:
        return cookie_credential(environ, self.cookie_name)

    def identify(self, environ: Environ) -> UserId | None:
        value = self.credential(environ)
        if value is None:
            return None
        try:  # WSGI carries header bytes as latin-1 text
            raw = value.encode("latin-1")
            user = self._signer.unsign(raw, max_age=self.max_age).decode("utf-8")
        except (BadSignature, UnicodeError):
            return None
        return user or None

    def get_user(self, user_id: UserId) -> SiteUser | None:
        """None: a cookie carries no profile (customers are created with their reference only)."""
        return None

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        return iter(())
