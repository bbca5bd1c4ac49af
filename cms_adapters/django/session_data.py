"""Django's session cookie and session data, read without Django (the remote mode's crypto).

What Django does, and what this module re-checks with the stdlib only:

* the session cookie (``sessionid``) carries the session key; when a ``Cookie`` header repeats a
  name, Django keeps the last one, and so do we;
* the database backends store ``SessionBase.encode(data)`` = ``signing.dumps(data, salt=key_salt,
  compress=True)``: ``<base64 JSON, "." prefixed when zlib-compressed>:<base62 time>:<signature>``
  where the signature is urlsafe-base64 (unpadded) of HMAC-SHA256 keyed with
  ``sha256(salt + "signer" + SECRET_KEY)`` over everything before the last ``:``; ``key_salt`` is
  ``"django.contrib.sessions." + the store class name`` (``SessionStore`` for ``db`` and
  ``cached_db``). Any of ``SECRET_KEY`` or ``SECRET_KEY_FALLBACKS`` may have signed it;
* the logged-in user's ``_auth_user_hash`` is ``salted_hmac("django.contrib.auth.models.
  AbstractBaseUser.get_session_auth_hash", password, secret, algorithm="sha256").hexdigest()``, so
  a password change (or a rotated-out secret) revokes every session of that user.

What this module does not do: touch a database (``remote``) or import Django.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

SESSION_SALT = "django.contrib.sessions.SessionStore"
AUTH_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
SESSION_KEY = "_auth_user_id"
BACKEND_SESSION_KEY = "_auth_user_backend"
HASH_SESSION_KEY = "_auth_user_hash"

#: Browsers keep cookies up to 4 KiB; anything longer is not a cookie a site set.
MAX_SESSION_KEY = 4096
#: A signed session payload is trusted, but a decompression bomb still costs nothing to refuse.
MAX_SESSION_DATA = 1 << 20
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:=+/")


def session_key(environ: Mapping[str, Any], cookie_name: str) -> str | None:
    """The session key in the request's cookie, if it could be one Django made; else None.

    Django's keys are lowercase letters and digits (32 of them); the signed-cookie backend's are
    URL-safe base64 with ``:``. Anything else (spaces, quotes, NUL, non-ASCII, over 4 KiB) is
    refused here, before any store sees it.
    """
    header = environ.get("HTTP_COOKIE")
    if not header or not isinstance(header, str):
        return None
    value = None
    for chunk in header.split(";"):
        name, sep, raw = chunk.partition("=")
        if sep and name.strip() == cookie_name:
            value = raw.strip()  # the last one wins, as in django.http.cookie.parse_cookie
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 8 <= len(value) <= MAX_SESSION_KEY or not _KEY_CHARS.issuperset(value):
        return None
    return value


def salted_hmac(key_salt: str, value: str, secret: str, algorithm: str = "sha1") -> hmac.HMAC:
    """``django.utils.crypto.salted_hmac``: HMAC keyed with ``H(key_salt + secret)``."""
    key = hashlib.new(algorithm, key_salt.encode() + secret.encode()).digest()
    return hmac.new(key, msg=value.encode(), digestmod=algorithm)


def session_auth_hash(password: str, secret: str) -> str:
    """``AbstractBaseUser.get_session_auth_hash`` for one secret."""
    return salted_hmac(AUTH_HASH_SALT, password, secret, algorithm="sha256").hexdigest()


def auth_hash_matches(session_hash: object, password: str, secrets: Iterable[str]) -> bool:
    """True when the session's hash is the user's current one under any of ``secrets``."""
    if not isinstance(session_hash, str) or not session_hash:
        return False
    given = session_hash.encode("utf-8", "replace")
    return any(
        hmac.compare_digest(given, session_auth_hash(password, secret).encode())
        for secret in secrets
    )


def _b64_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(value: str, secret: str, salt: str) -> bytes:
    digest = salted_hmac(salt + "signer", value, secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


def loads(
    session_data: object, secrets: Iterable[str], *, salt: str = SESSION_SALT
) -> dict[str, Any] | None:
    """``SessionBase.decode``: the session dictionary, or None when forged or malformed."""
    if not isinstance(session_data, str):
        return None
    value, sep, signature = session_data.rpartition(":")
    if not sep:
        return None
    try:
        given = signature.encode("ascii")
        if not any(hmac.compare_digest(given, _signature(value, s, salt)) for s in secrets):
            return None
        payload, sep, _timestamp = value.rpartition(":")
        if not sep:
            return None
        compressed = payload.startswith(".")
        data = _b64_decode(payload[1:] if compressed else payload)
        if compressed:
            inflater = zlib.decompressobj()
            data = inflater.decompress(data, MAX_SESSION_DATA)
            if inflater.unconsumed_tail:
                return None
        decoded = json.loads(data.decode("latin-1"))
    except (ValueError, UnicodeError, binascii.Error, zlib.error, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def dumps(session: Mapping[str, Any], secret: str, *, salt: str = SESSION_SALT) -> str:
    """``SessionBase.encode`` (timestamp 0): for tests and tools that write sessions."""
    data = json.dumps(session, separators=(",", ":")).encode("latin-1")
    compressed = zlib.compress(data)
    payload = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    if len(compressed) < len(data) - 1:
        payload = "." + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()
    value = payload + ":0"
    return value + ":" + _signature(value, secret, salt).decode()
