"""Seed the demo: four users (password ``demo``) in four billing situations. Idempotent.

=======  ==========================================================================
nina     a customer without subscription: premium pages show "See the offers"
alice    ``pro``, paid with the good test card: premium articles, 100 downloads
sam      ``pro`` on the declining card, renewal failed: ``SuspendedPaymentDue``
wendy    the free 14-day ``welcome`` offer (what every new registrant gets)
=======  ==========================================================================

Everything billing-side goes through the real client and the sandbox's admin API, as a site and a
payment page would; nothing writes the sandbox database directly:

1. site users are created in ``site.db`` (the site's own table), then pushed to billing with the
   bridge's bulk sync (``Sync.bulk``, as ``proabono-bridge sync`` does), which records them as
   synced so lazy sync does not push them again;
2. sam needs a month of history (a renewal that failed). So that nobody else's dates move, his
   month is played in the past: the sandbox clock is pinned 32 days ago, the customers are
   created, sam subscribes with the declining card, the clock advances 32 days (the renewal
   fails and suspends him), and the clock is unpinned: the sandbox is back on real time, which
   never went backwards;
3. alice and wendy then subscribe in the present, nina stays without subscription.

A user, a customer or a subscription that exists already is left alone, so a second run changes
nothing. (If the sandbox clock was moved by hand before sam is seeded, his month is played by
advancing the clock forward instead: the whole sandbox is then ahead of real time.)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.client import ProAbonoClient
from bridge.service import Bridge
from bridge.sync import Sync
from cms_adapters.flask_login import FlaskLoginAdapter
from examples.demo_site.app import DEFAULT_INSTANCE, create_site, load_demo_config
from examples.demo_site.models import User, db, users_query

PASSWORD = "demo"  # noqa: S105 - the demo users' published password
GOOD_CARD = "4242424242424242"
DECLINING_CARD = "4000000000000002"
HISTORY = timedelta(days=32)  # more than a month: sam's first renewal falls inside it


@dataclass(frozen=True)
class DemoUser:
    username: str
    email: str
    situation: str
    shows: str


USERS = (
    DemoUser(
        "nina",
        "nina@example.com",
        "customer without subscription",
        'premium pages answer 402 with "See the offers"',
    ),
    DemoUser(
        "alice",
        "alice@example.com",
        "active Pro, good card",
        "premium articles and downloads (100 a month)",
    ),
    DemoUser(
        "sam",
        "sam@example.com",
        "Pro suspended: renewal declined",
        'a banner and "Restart my subscription"',
    ),
    DemoUser(
        "wendy",
        "wendy@example.com",
        "free 14-day Welcome offer",
        "premium articles and 3 downloads, like every new registrant",
    ),
)


class Admin:
    """The sandbox's admin API (``/_sandbox/...``), through the bridge's own client."""

    def __init__(self, client: ProAbonoClient) -> None:
        self.client = client

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, idempotent=False, **kwargs)[1]

    def card(self, reference: str, number: str) -> None:
        self.call(
            "POST",
            "/_sandbox/Customer/PaymentMethod",
            params={"ReferenceCustomer": reference},
            body={"CardNumber": number},
        )

    def clock(self) -> dict[str, Any]:
        clock: dict[str, Any] = self.call("GET", "/_sandbox/Clock")
        return clock

    def pin(self, at: datetime) -> None:
        self.call("POST", "/_sandbox/Clock/Pin", body={"Now": at.isoformat()})

    def unpin(self) -> None:
        self.call("POST", "/_sandbox/Clock/Pin", body={"Unpin": True})

    def advance(self, delta: timedelta) -> None:
        self.call("POST", "/_sandbox/Clock/Advance", body={"Seconds": int(delta.total_seconds())})


def ensure_site_users(app: Any) -> dict[str, str]:
    """The demo users in the site's own table (created when missing); username → user id."""
    ids: dict[str, str] = {}
    with app.app_context():
        session = db()
        for demo in USERS:
            user = session.query(User).filter_by(username=demo.username).first()
            if user is None:
                user = User(username=demo.username, email=demo.email, name=demo.username.title())
                user.set_password(PASSWORD)
                session.add(user)
                session.commit()
            ids[demo.username] = str(user.id)
    return ids


def seed(instance_dir: Path = DEFAULT_INSTANCE, *, out: Any = None) -> dict[str, str]:
    """Seed ``instance_dir``; returns username → ReferenceCustomer."""
    out = out or sys.stdout
    instance_dir = Path(instance_dir).resolve()
    site = create_site(instance_dir)
    ids = ensure_site_users(site)
    bridge = Bridge(load_demo_config(instance_dir))
    try:
        client = bridge.client
        admin = Admin(client)
        refs = {name: bridge.reference_for(user_id) for name, user_id in ids.items()}
        adapter = FlaskLoginAdapter(app=site, users_query=users_query)
        sync = Sync(
            client,
            bridge.state_store,
            reference_for=bridge.reference_for,
            get_user=adapter.get_user,
            welcome_offer=None,  # the demo decides who has what
        )

        sam = refs["sam"]
        backdate = client.get_subscription(sam) is None
        clock = admin.clock()
        on_real_time = not clock.get("OffsetSeconds") and not clock.get("Pinned")
        if backdate and on_real_time:
            admin.pin(datetime.now(UTC) - HISTORY)
        try:
            summary = sync.bulk(adapter.iter_users(), concurrency=1)
            print(f"  customers: {summary.line()}", file=out)
            if summary.failed:
                raise RuntimeError("; ".join(summary.errors))
            if backdate:
                admin.card(sam, DECLINING_CARD)
                client.create_subscription(sam, "pro", try_start=True)
                admin.advance(HISTORY)  # the renewal is declined: SuspendedPaymentDue
        finally:
            if backdate and on_real_time:
                admin.unpin()

        if client.get_subscription(refs["alice"]) is None:
            admin.card(refs["alice"], GOOD_CARD)
            client.create_subscription(refs["alice"], "pro", try_start=True)
        if client.get_subscription(refs["wendy"]) is None:
            client.create_subscription(refs["wendy"], "welcome", try_start=True)

        for demo in USERS:
            sub = client.get_subscription(refs[demo.username])
            state = (
                "no subscription"
                if sub is None
                else f"{sub.reference_offer} {sub.state_subscription}"
            )
            print(f"  {demo.username:6} {refs[demo.username]:8} {state}", file=out)
        return refs
    finally:
        bridge.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed the demo site's users and billing.")
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE, help="instance folder")
    args = parser.parse_args(argv)
    print(f"Seeding {args.instance}")
    seed(args.instance)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
