"""Identity from a trusted reverse-proxy header (``X-Remote-User``), for sites behind an SSO proxy.

A header is trivially forged by a client, so it is believed only when the request comes from one
of ``trusted_proxies`` (the proxy's address, ``REMOTE_ADDR``) **or** carries the shared secret
header the proxy adds (compared in constant time). With neither configured, nothing is trusted.
Optional ``email_header`` / ``name_header`` / ``language_header`` describe the user for sync; the
adapter has no user table, so ``iter_users`` yields nothing (bulk sync needs a real user store).

Settings (``[adapter]`` with ``kind = "header"``): ``header``, ``trusted_proxies``,
``secret_header``, ``shared_secret`` (or env ``BRIDGE_PROXY_SECRET``), ``email_header``,
``name_header``, ``language_header``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import datetime

from cachetools import LRUCache

from cms_adapters.base import Environ, SiteUser, UserId

MAX_USER_LENGTH = 200


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


class HeaderAdapter:
    def __init__(
        self,
        *,
        header: str = "X-Remote-User",
        trusted_proxies: Iterable[str] = (),
        secret_header: str = "X-Bridge-Proxy-Secret",  # noqa: S107 (a header name)
        shared_secret: str | None = None,
        email_header: str | None = None,
        name_header: str | None = None,
        language_header: str | None = None,
    ) -> None:
        self._key = _environ_key(header)
        self._networks = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._secret_key = _environ_key(secret_header)
        self._secret = shared_secret.encode() if shared_secret else None
        self._email = _environ_key(email_header) if email_header else None
        self._name = _environ_key(name_header) if name_header else None
        self._language = _environ_key(language_header) if language_header else None
        self._last: LRUCache[UserId, SiteUser] = LRUCache(maxsize=10_000)

    def _trusted(self, environ: Environ) -> bool:
        if self._secret is not None:
            given = str(environ.get(self._secret_key, "")).encode("latin-1", "replace")
            if hmac.compare_digest(given, self._secret):
                return True
        if not self._networks:
            return False
        try:
            address = ipaddress.ip_address(str(environ.get("REMOTE_ADDR", "")))
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def credential(self, environ: Environ) -> str | None:
        user = environ.get(self._key)
        if not user:
            return None
        secret = environ.get(self._secret_key, "")
        return f"{environ.get('REMOTE_ADDR', '')}\x1f{secret}\x1f{user}"

    def identify(self, environ: Environ) -> UserId | None:
        raw = environ.get(self._key)
        if not raw or not self._trusted(environ):
            return None
        try:
            user = str(raw).encode("latin-1").decode("utf-8").strip()
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        if not user or len(user) > MAX_USER_LENGTH or any(ord(c) < 32 for c in user):
            return None
        self._last[user] = SiteUser(
            id=user,
            email=self._read(environ, self._email),
            name=self._read(environ, self._name),
            language=self._read(environ, self._language),
        )
        return user

    @staticmethod
    def _read(environ: Environ, key: str | None) -> str | None:
        if key is None or not environ.get(key):
            return None
        try:
            return str(environ[key]).encode("latin-1").decode("utf-8").strip() or None
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None

    def get_user(self, user_id: UserId) -> SiteUser | None:
        """The profile the proxy last sent for this user (the proxy is the only source)."""
        return self._last.get(user_id)

    def iter_users(self, since: datetime | None = None) -> Iterator[SiteUser]:
        return iter(())
