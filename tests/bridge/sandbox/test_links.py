"""Link tokens: bound to a purpose and a secret, timed by the sandbox clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from bridge.sandbox.links import LinkInvalid, LinkSigner

SECRET = "s" * 43
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def signer(now: datetime = NOW, secret: str = SECRET) -> LinkSigner:
    return LinkSigner(secret, lambda: now, max_age=3600)


def test_a_token_loads_with_its_purpose_and_payload() -> None:
    token = signer().token("restart", c=7, e=2, s=41)

    assert signer().load(token) == ("restart", {"c": 7, "e": 2, "s": 41})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("restart.", "home.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "restart." + ("A" if t.split(".")[1][0] != "A" else "B") + t.split(".", 1)[1][1:],
        lambda t: "unknown." + t.split(".", 1)[1],
    ],
    ids=["other-purpose", "tampered-signature", "tampered-payload", "unknown-purpose"],
)
def test_a_changed_token_is_refused(mangle: Callable[[str], str]) -> None:
    token = signer().token("restart", c=7, e=2, s=41)

    with pytest.raises(LinkInvalid):
        signer().load(mangle(token))


def test_another_secret_and_expiry_refuse_a_token() -> None:
    token = signer().token("home", c=7, e=0)

    with pytest.raises(LinkInvalid):
        signer(secret="t" * 43).load(token)
    with pytest.raises(LinkInvalid):
        signer(now=NOW + timedelta(seconds=3601)).load(token)
    assert signer(now=NOW + timedelta(seconds=3599)).load(token)[1] == {"c": 7, "e": 0}


def test_a_compressed_token_of_an_earlier_version_still_loads() -> None:
    # Earlier sandboxes signed with itsdangerous's default (compressing) serializer.
    class Earlier(URLSafeTimedSerializer):
        pass

    payload = {"c": 7, "e": 0, "o": "x" * 200}  # long enough for zlib to shorten
    legacy = LinkSigner(SECRET, lambda: NOW)._serializers["subscribe"]
    serializer = Earlier(SECRET, salt="proabono-sandbox.link.subscribe", signer=legacy.signer)
    signed = serializer.dumps(payload)
    assert signed.startswith(".")  # zlib-compressed, as the leading "." marks

    assert signer().load(f"subscribe.{signed}") == ("subscribe", payload)
