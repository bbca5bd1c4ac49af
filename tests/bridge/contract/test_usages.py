"""Rights and purchasing: usages of each kind, quotes, billable changes, the batch."""

from __future__ import annotations

import pytest

from bridge.client import UsageChange
from bridge.errors import PaymentMethodMissing, UsageNoneMatching
from tests.bridge.contract.backend import Backend


def test_no_usages_before_a_subscription_starts(backend: Backend) -> None:
    backend.given_customer("cust-1")

    page = backend.client.list_usages("cust-1")

    assert (len(page), page.total_items, page.has_next) == (0, 0, False)
    assert backend.client.get_usages("cust-1") == []
    assert backend.client.get_usage("cust-1", "downloads") is None


def test_a_usage_change_without_started_subscription_is_refused(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "welcome", started=False)

    with pytest.raises(UsageNoneMatching) as caught:
        backend.client.record_usage(UsageChange("cust-1", "downloads", increment=1))

    assert caught.value.code == "Error.Api.Usage.NoneMatching"
    assert caught.value.status in (403, 404)  # the reference says to accept either


def test_usage_changes_of_each_kind(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "welcome", started=True)
    client = backend.client

    assert (
        client.record_usage(UsageChange("cust-1", "downloads", increment=2)).quantity_current == 2
    )
    assert (
        client.record_usage(UsageChange("cust-1", "downloads", increment=-1)).quantity_current == 1
    )
    assert client.record_usage(UsageChange("cust-1", "seats", quantity_current=1)).remaining == 0
    switched = client.record_usage(UsageChange("cust-1", "premium-articles", is_enabled=False))
    assert (switched.is_included, switched.is_enabled) == (True, False)

    downloads = client.get_usage("cust-1", "downloads")
    assert downloads is not None
    assert (downloads.quantity_included, downloads.quantity_current, downloads.remaining) == (
        3,
        1,
        2,
    )
    articles = client.get_usage("cust-1", "premium-articles")
    assert articles is not None
    assert articles.is_enabled is False


def test_an_increment_within_the_included_quantity_quotes_zero(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "starter", started=True)

    quote = backend.client.quote_usage(UsageChange("cust-1", "downloads", increment=10))

    assert (quote.amount_due, quote.is_free) == (0, True)
    assert quote.next_term is not None


def test_consumption_beyond_the_included_quantity_quotes_the_extra_units(
    backend: Backend,
) -> None:
    backend.given_customer("cust-1")
    backend.given_payment_card("cust-1")
    backend.given_subscription("cust-1", "starter", started=True)

    quote = backend.client.quote_usage(UsageChange("cust-1", "downloads", increment=12))

    # 2 downloads beyond the 10 included, 50 cents each, 20% tax
    assert (quote.amount_subtotal, quote.amount_total, quote.amount_due) == (100, 120, 120)
    assert [d.quantity_billed for d in quote.details] == [2]
    assert quote.next_term is not None
    assert quote.next_term.amount_subtotal == 900  # the fee: consumption starts again at zero
    usage = backend.client.get_usage("cust-1", "downloads")
    assert usage is not None
    assert usage.quantity_current == 0


def test_a_billable_change_without_payment_method_is_refused(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "starter", started=True)
    client = backend.client

    assert client.record_usage(UsageChange("cust-1", "downloads", increment=10)).remaining == 0
    beyond = UsageChange("cust-1", "downloads", increment=1)
    with pytest.raises(PaymentMethodMissing) as quoted:
        client.quote_usage(beyond)
    with pytest.raises(PaymentMethodMissing) as recorded:
        client.record_usage(beyond)

    for caught in (quoted, recorded):
        assert (caught.value.status, caught.value.code) == (
            403,
            "Error.Customer.PaymentSettings.Missing",
        )
    usage = client.get_usage("cust-1", "downloads")
    assert usage is not None
    assert usage.quantity_current == 10


def test_a_batch_of_usage_changes_is_all_or_nothing(backend: Backend) -> None:
    backend.given_customer("cust-1")
    backend.given_subscription("cust-1", "welcome", started=True)
    client = backend.client

    applied = client.record_usages(
        [
            UsageChange("cust-1", "downloads", increment=1),
            UsageChange("cust-1", "seats", quantity_current=1),
        ]
    )
    assert [(u.reference_feature, u.quantity_current) for u in applied] == [
        ("downloads", 1),
        ("seats", 1),
    ]
    with pytest.raises(UsageNoneMatching):
        client.record_usages(
            [
                UsageChange("cust-1", "downloads", increment=1),
                UsageChange("cust-1", "no-such-feature", increment=1),
            ]
        )

    usage = client.get_usage("cust-1", "downloads")
    assert usage is not None
    assert usage.quantity_current == 1


def test_quoting_a_subscription_needs_a_payment_method_only_when_it_costs(
    backend: Backend,
) -> None:
    backend.given_customer("cust-1")
    client = backend.client

    assert client.quote_subscription("cust-1", "welcome").is_free
    with pytest.raises(PaymentMethodMissing):
        client.quote_subscription("cust-1", "starter")
    backend.given_payment_card("cust-1")
    quote = client.quote_subscription("cust-1", "starter")

    assert (quote.amount_subtotal, quote.amount_total, quote.amount_due) == (900, 1080, 1080)
    assert quote.next_term is not None
    assert quote.next_term.amount_subtotal == 900
    assert client.get_subscription("cust-1") is None  # a quote creates nothing
