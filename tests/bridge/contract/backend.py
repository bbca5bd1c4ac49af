"""What a contract scenario may ask of a backend: a client, and a few "given" set-up steps.

Every backend answers the same scenarios with the same assertions:

* ``responses``: canned, reference-shaped answers behind request matchers (``canned_backend``);
* ``sandbox-inprocess`` / ``sandbox-http``: the sandbox billing service, through ``sandbox://`` or
  a real loopback port (``sandbox_backend``).

A ``given_*`` step states a fact about the account before the scenario acts. The sandbox makes it
true through its API (and its ``/_sandbox`` admin API where a real account would use its
BackOffice or the payment pages); the canned backend records it so that its answers to the calls
that follow say so.
"""

from __future__ import annotations

from typing import Protocol

from bridge.client import ProAbonoClient
from bridge.models import Subscription

#: The sandbox's succeeding test card (the canned backend knows only this one).
GOOD_CARD = "4242424242424242"


class Backend(Protocol):
    name: str
    client: ProAbonoClient

    def given_no_customer(self, reference_customer: str) -> None:
        """Nobody has this reference yet."""

    def given_customer(
        self, reference_customer: str, *, email: str | None = None, name: str | None = None
    ) -> None:
        """The customer exists, with no payment method and no subscription."""

    def given_payment_card(self, reference_customer: str, card: str = GOOD_CARD) -> None:
        """The customer registered this card (as through the payment pages)."""

    def given_subscription(
        self, reference_customer: str, reference_offer: str, *, started: bool
    ) -> Subscription:
        """A subscription to the offer: ``ActiveRunning`` when ``started``, else ``DraftAgent``.

        A started subscription runs whatever the customer's payment method; afterwards the
        customer has exactly the payment method the ``given_payment_card`` steps gave (none by
        default), as after a card was removed.
        """
        ...
