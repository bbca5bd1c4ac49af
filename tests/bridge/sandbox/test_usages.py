"""Rights: Usages, Usage read/write, the batch, and the several-subscriptions rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bridge.client import UsageChange
from bridge.errors import BillingInvalid, PaymentMethodMissing, UsageNoneMatching
from tests.bridge.sandbox.harness import BillingEnv, billing_env


def test_no_usages_before_a_subscription_starts_is_204(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    status, body = billing.client.request(
        "GET", "/v1/Usages", params={"ReferenceCustomer": "cust-1"}, idempotent=True
    )
    assert (status, body) == (204, None)
    assert billing.client.get_usage("cust-1", "downloads") is None


def test_get_usage_of_a_feature_not_granted_is_404_none_matching(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    with pytest.raises(UsageNoneMatching) as info:
        billing.client.request(
            "GET",
            "/v1/Usage",
            params={"ReferenceCustomer": "cust-1", "ReferenceFeature": "downloads"},
            idempotent=True,
        )
    assert info.value.status == 404


def test_usage_write_without_started_subscription_is_refused(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome")  # a draft
    with pytest.raises(UsageNoneMatching):
        billing.client.record_usage(UsageChange("cust-1", "downloads", increment=1))


def test_usage_kinds_increment_quantity_and_switch(billing: BillingEnv) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    client.create_subscription("cust-1", "welcome", try_start=True)
    assert (
        client.record_usage(UsageChange("cust-1", "downloads", increment=2)).quantity_current == 2
    )
    assert (
        client.record_usage(UsageChange("cust-1", "downloads", increment=-1)).quantity_current == 1
    )
    assert client.record_usage(UsageChange("cust-1", "seats", quantity_current=1)).remaining == 0
    switched = client.record_usage(UsageChange("cust-1", "premium-articles", is_enabled=False))
    assert (switched.is_included, switched.is_enabled) == (True, False)
    usage = client.get_usage("cust-1", "downloads")
    assert usage is not None
    assert (usage.quantity_included, usage.quantity_current, usage.remaining) == (3, 1, 2)


def test_wrong_kind_of_change_for_the_feature_is_422(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    with pytest.raises(BillingInvalid) as info:
        billing.client.record_usage(UsageChange("cust-1", "premium-articles", increment=1))
    assert info.value.status == 422


def test_extra_units_need_a_payment_method(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.update_payment_settings("cust-1", type_payment="ExternalBank")
    sub = billing.client.create_subscription("cust-1", "starter", try_start=True)
    assert sub.state_subscription == "ActiveRunning"
    billing.client.upsert_customer("cust-2")
    billing.client.create_subscription("cust-2", "welcome", try_start=True)
    # within the included 10 downloads: free; beyond: billed to the balance
    billing.client.record_usage(UsageChange("cust-1", "downloads", increment=12))
    lines = billing.client.list_balance(reference_customer="cust-1")
    assert [
        (line.reference_feature, line.quantity_billed, line.amount_subtotal) for line in lines
    ] == [("downloads", 2, 100)]
    assert lines.computations == {"AmountSubtotal": 100, "AmountTotal": 120}


def test_several_subscriptions_sum_quantities_and_any_enables(billing: BillingEnv) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    billing.register_card("cust-1")
    first = client.create_subscription("cust-1", "starter", try_start=True)
    client.create_subscription("cust-1", "pro", try_start=True)
    client.record_usage(
        UsageChange("cust-1", "premium-articles", is_enabled=False, id_subscription=first.id)
    )
    usages = {u.reference_feature: u for u in client.get_usages("cust-1")}
    assert usages["downloads"].quantity_included == 110
    assert usages["seats"].quantity_included == 6
    assert usages["premium-articles"].is_enabled is True
    only_first = client.list_usages("cust-1", id_subscription=first.id)
    assert {u.reference_feature: u.quantity_included for u in only_first}["downloads"] == 10


UNLIMITED_CATALOG = """
[[segment]]
reference = "seg"
[[feature]]
reference = "api-calls"
type = "Consumption"
[[offer]]
reference = "small"
amount_recurrence = 0
features = [{ reference = "api-calls", quantity = 100 }]
[[offer]]
reference = "unlimited"
amount_recurrence = 0
features = [{ reference = "api-calls" }]
"""


def test_unlimited_wins_over_quantities(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(UNLIMITED_CATALOG)
    with billing_env("in-process", tmp_path / "b.db", catalog_path=catalog) as env:
        env.client.upsert_customer("cust-1")
        env.client.create_subscription("cust-1", "small", try_start=True)
        env.client.create_subscription("cust-1", "small", try_start=True)
        summed = env.client.get_usage("cust-1", "api-calls")
        assert summed is not None
        assert (summed.quantity_included, summed.is_unlimited) == (200, False)
        env.client.create_subscription("cust-1", "unlimited", try_start=True)
        env.client.record_usage(UsageChange("cust-1", "api-calls", increment=1000))
        usage = env.client.get_usage("cust-1", "api-calls")
        assert usage is not None
        assert usage.is_unlimited
        assert usage.remaining is None


def test_batch_is_all_or_nothing(billing: BillingEnv) -> None:
    client = billing.client
    client.upsert_customer("cust-1")
    client.create_subscription("cust-1", "welcome", try_start=True)
    answers = client.record_usages(
        [
            UsageChange("cust-1", "downloads", increment=1),
            UsageChange("cust-1", "seats", quantity_current=1),
        ]
    )
    assert [u.reference_feature for u in answers] == ["downloads", "seats"]
    with pytest.raises(UsageNoneMatching):
        client.record_usages(
            [
                UsageChange("cust-1", "downloads", increment=1),
                UsageChange("cust-1", "no-such-feature", increment=1),
            ]
        )
    assert client.get_usage("cust-1", "downloads").quantity_current == 1  # type: ignore[union-attr]


def test_batch_over_50_is_refused(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    stamp = billing.now().strftime("%Y-%m-%dT%H:%M:%S.00Z")
    body = [
        {
            "ReferenceCustomer": "cust-1",
            "ReferenceFeature": "downloads",
            "Increment": 1,
            "DateStamp": stamp,
        }
    ] * 51
    with pytest.raises(BillingInvalid) as info:
        billing.client.request("POST", "/v1/Usages", body=body, idempotent=False)
    assert info.value.status == 422


def test_future_date_stamp_is_refused(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.create_subscription("cust-1", "welcome", try_start=True)
    future = billing.now() + timedelta(hours=1)
    with pytest.raises(BillingInvalid) as info:
        billing.client.record_usage(
            UsageChange("cust-1", "downloads", increment=1, date_stamp=future)
        )
    assert (info.value.status, info.value.errors[0].target) == (422, "DateStamp")
    assert billing.client.get_usage("cust-1", "downloads").quantity_current == 0  # type: ignore[union-attr]


def test_paid_extra_without_payment_method_is_refused(billing: BillingEnv) -> None:
    billing.client.upsert_customer("cust-1")
    billing.client.update_payment_settings("cust-1", type_payment="ExternalBank")
    billing.client.create_subscription("cust-1", "starter", try_start=True)
    billing.client.request(
        "POST",
        "/_sandbox/Customer/PaymentMethod",
        params={"ReferenceCustomer": "cust-1"},
        body={},
        idempotent=False,
    )
    billing.client.record_usage(UsageChange("cust-1", "downloads", increment=10))  # included
    with pytest.raises(PaymentMethodMissing):
        billing.client.record_usage(UsageChange("cust-1", "downloads", increment=1))
    assert billing.client.get_usage("cust-1", "downloads").quantity_current == 10  # type: ignore[union-attr]
