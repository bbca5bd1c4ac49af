"""Subscriptions: starting, drafts, the current one, termination, upgrade, suspension."""

from __future__ import annotations

import pytest

from bridge.errors import PaymentMethodMissing
from bridge.models import Usage
from tests.bridge.contract.backend import Backend


def rights(backend: Backend, reference_customer: str) -> dict[str, Usage]:
    return {u.reference_feature or "": u for u in backend.client.get_usages(reference_customer)}


def test_the_welcome_offer_starts_with_try_start_and_grants_its_features(
    backend: Backend,
) -> None:
    backend.given_customer("cust-1")

    sub = backend.client.create_subscription("cust-1", "welcome", try_start=True)

    assert (sub.status, sub.state_subscription, sub.reference_offer) == (
        "Active",
        "ActiveRunning",
        "welcome",
    )
    usages = rights(backend, "cust-1")
    assert set(usages) == {"premium-articles", "downloads", "seats"}
    articles = usages["premium-articles"]
    assert (articles.type_feature, articles.is_included, articles.is_enabled) == (
        "OnOff",
        True,
        True,
    )
    downloads, seats = usages["downloads"], usages["seats"]
    assert (downloads.type_feature, downloads.quantity_included, downloads.remaining) == (
        "Consumption",
        3,
        3,
    )
    assert (seats.type_feature, seats.quantity_included, seats.remaining) == ("Limitation", 1, 1)
    assert {u.id_subscription for u in usages.values()} == {sub.id}


def test_without_try_start_a_subscription_is_a_draft_granting_nothing(backend: Backend) -> None:
    backend.given_customer("cust-1")

    sub = backend.client.create_subscription("cust-1", "welcome")

    assert (sub.status, sub.state_subscription) == ("Draft", "DraftAgent")
    assert sub.links.get("insite-subscribe") is not None
    assert backend.client.get_usages("cust-1") == []


def test_a_paid_offer_without_payment_method_stays_draft(backend: Backend) -> None:
    backend.given_customer("cust-1")

    sub = backend.client.create_subscription("cust-1", "starter", try_start=True)

    assert (sub.status, sub.state_subscription) == ("Draft", "DraftAgent")
    assert sub.is_customer_billable is False
    assert backend.client.get_usages("cust-1") == []
    with pytest.raises(PaymentMethodMissing) as caught:
        backend.client.start_subscription(sub.id or 0)
    assert (caught.value.status, caught.value.code) == (
        403,
        "Error.Customer.PaymentSettings.Missing",
    )
    assert backend.client.get_subscription_by_id(sub.id or 0).status == "Draft"


def test_the_current_subscription_is_found_by_customer_and_by_id(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_customer("cust-2")
    sub = backend.given_subscription("cust-1", "welcome", started=True)

    current = backend.client.get_subscription("cust-1")
    by_id = backend.client.get_subscription_by_id(sub.id or 0)

    assert current is not None
    assert (current.id, current.reference_customer, current.reference_offer) == (
        sub.id,
        "cust-1",
        "welcome",
    )
    assert by_id.id == sub.id
    self_link = by_id.links.get("self")
    assert self_link is not None
    assert self_link.href == f"/v1/Subscription/{sub.id}"
    assert by_id.links.get("insite-upgrade") is not None
    assert backend.client.get_subscription("cust-2") is None


def test_immediate_termination_ends_it_and_its_rights(backend: Backend) -> None:
    backend.given_customer("cust-1")
    sub = backend.given_subscription("cust-1", "welcome", started=True)

    ended = backend.client.terminate_subscription(sub.id or 0, immediate=True)

    assert (ended.status, ended.state_subscription) == ("Ended", "EndedTerminated")
    assert ended.date_end is not None
    assert backend.client.get_usages("cust-1") == []


def test_termination_by_default_waits_for_the_end_of_term(backend: Backend) -> None:
    backend.given_customer("cust-1")
    sub = backend.given_subscription("cust-1", "starter", started=True)

    ending = backend.client.terminate_subscription(sub.id or 0)

    assert (ending.status, ending.state_subscription) == ("Active", "ActiveDelayedTermination")
    assert (ending.status_after_term, ending.state_subscription_after_term) == (
        "Ended",
        "EndedTerminated",
    )
    assert ending.links.get("insite-restart") is not None  # it can still be cancelled
    assert "downloads" in rights(backend, "cust-1")  # rights last until the term


def test_an_upgrade_ends_the_old_subscription_and_starts_the_new_one(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_payment_card("cust-1")
    old = backend.given_subscription("cust-1", "starter", started=True)

    new = backend.client.upgrade_subscription(old.id or 0, "pro", immediate=True)

    assert new.id != old.id
    assert (new.reference_offer, new.status, new.state_subscription) == (
        "pro",
        "Active",
        "ActiveRunning",
    )
    before = backend.client.get_subscription_by_id(old.id or 0)
    assert (before.status, before.state_subscription) == ("Ended", "EndedUpgrade")
    usages = rights(backend, "cust-1")
    assert (usages["downloads"].quantity_included, usages["seats"].quantity_included) == (100, 5)
    assert {u.id_subscription for u in usages.values()} == {new.id}


def test_a_suspended_subscription_offers_restart_and_start_resumes_it(backend: Backend) -> None:
    backend.given_customer("cust-1")
    sub = backend.given_subscription("cust-1", "welcome", started=True)

    suspended = backend.client.suspend_subscription(sub.id or 0)

    assert (suspended.status, suspended.state_subscription) == ("Suspended", "SuspendedAgent")
    restart = suspended.links.get("insite-restart")
    assert restart is not None
    assert restart.query
    assert backend.client.get_usages("cust-1") == []

    resumed = backend.client.start_subscription(sub.id or 0)

    assert (resumed.status, resumed.state_subscription) == ("Active", "ActiveRunning")
    assert "premium-articles" in rights(backend, "cust-1")


def test_a_customer_without_subscription_lists_none(backend: Backend) -> None:
    backend.given_customer("cust-1")

    page = backend.client.list_subscriptions(reference_customer="cust-1")

    assert (len(page), page.total_items) == (0, 0)
    assert list(backend.client.iter_subscriptions(reference_customer="cust-1")) == []


def test_the_customer_gains_the_upgrade_catalog_link_while_a_subscription_runs(
    backend: Backend,
) -> None:
    backend.given_customer("cust-1")
    draft = backend.given_subscription("cust-1", "welcome", started=False)

    assert backend.client.get_customer("cust-1").links.get("insite-collection-upgrade") is None
    backend.client.start_subscription(draft.id or 0)
    upgrade = backend.client.get_customer("cust-1").links.get("insite-collection-upgrade")
    assert upgrade is not None
    assert upgrade.query
    backend.client.terminate_subscription(draft.id or 0, immediate=True)
    assert backend.client.get_customer("cust-1").links.get("insite-collection-upgrade") is None
