"""The sandbox as a contract backend: the "given" steps done through its API and admin API.

What this module does not do: run the sandbox (``tests.bridge.sandbox.harness.billing_env`` does,
with a fixed clock shared by the client and the service, in process or on a random loopback port).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.client import ProAbonoClient
from bridge.models import Subscription
from tests.bridge.contract.backend import GOOD_CARD
from tests.bridge.sandbox.harness import BillingEnv, billing_env


class SandboxBackend:
    def __init__(self, name: str, env: BillingEnv) -> None:
        self.name = name
        self.env = env
        self.client: ProAbonoClient = env.client
        self._with_card: set[str] = set()

    def given_no_customer(self, reference_customer: str) -> None:
        """A fresh sandbox has no customer at all."""

    def given_customer(
        self, reference_customer: str, *, email: str | None = None, name: str | None = None
    ) -> None:
        self.client.upsert_customer(reference_customer, email=email, name=name)

    def given_payment_card(self, reference_customer: str, card: str = GOOD_CARD) -> None:
        self.env.register_card(reference_customer, card)
        self._with_card.add(reference_customer)

    def given_subscription(
        self, reference_customer: str, reference_offer: str, *, started: bool
    ) -> Subscription:
        if not started:
            return self.client.create_subscription(reference_customer, reference_offer)
        if reference_customer in self._with_card:
            sub = self.client.create_subscription(
                reference_customer, reference_offer, try_start=True
            )
        else:
            # Start on a bank transfer, settle it, then leave the customer without any
            # payment method: a running subscription whose card was removed.
            self.client.update_payment_settings(reference_customer, type_payment="ExternalBank")
            sub = self.client.create_subscription(
                reference_customer, reference_offer, try_start=True
            )
            self.env.pay_arrears(reference_customer)
            self.env.admin(
                "POST",
                "/_sandbox/Customer/PaymentMethod",
                params={"ReferenceCustomer": reference_customer},
                body={},
            )
        assert sub.state_subscription == "ActiveRunning", sub.state_subscription
        return self.client.get_subscription_by_id(sub.id or 0)


@contextmanager
def sandbox_backend(name: str, db_path: Path) -> Iterator[SandboxBackend]:
    transport = {"sandbox-inprocess": "in-process", "sandbox-http": "http"}[name]
    with billing_env(transport, db_path) as env:
        yield SandboxBackend(name, env)
