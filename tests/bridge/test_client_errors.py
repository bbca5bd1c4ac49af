"""ProAbonoClient, when things go wrong: typed errors, what they carry, and what is retried.

Sleeps are recorded, never slept: the fake's client has ``jitter=lambda: 0.5``, so with the default
policy (base 0.25 s) the backoff waits are 0.125 s then 0.25 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bridge.client import ProAbonoClient, UsageChange
from bridge.errors import (
    ApiErrorItem,
    BillingConflict,
    BillingError,
    BillingInvalid,
    BillingNotFound,
    BillingRefused,
    BillingUnauthorized,
    BillingUnavailable,
    CappingReached,
    PaymentMethodMissing,
    UsageNoneMatching,
)
from tests.bridge import payloads
from tests.bridge.fake_billing import AGENT_KEY, API_KEY, BASIC_AUTH, FakeBilling

DOWNLOAD = UsageChange("cust-42", "feat-downloads", increment=1)
SEATS = UsageChange("cust-42", "feat-users", quantity_current=4)
SUPPORT_ON = UsageChange("cust-42", "feat-support", is_enabled=True)

BACKOFF = [0.125, 0.25]


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


# --- HTTP errors become typed errors ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    status: int
    answer: Any
    error: type[BillingError]
    code: str | None
    message: str


def _refusal(status: int, code: str, message: str, error: type[BillingError]) -> Refusal:
    return Refusal(status, payloads.error(code, message), error, code, message)


REFUSALS = {
    "401-empty-body": Refusal(401, None, BillingUnauthorized, None, "Unauthorized"),
    "403-payment-method-missing": _refusal(
        403, "Error.Customer.PaymentSettings.Missing", "No payment method", PaymentMethodMissing
    ),
    "403-capping-reached": _refusal(
        403, "Error.Customer.Billing.CappingReached", "Too many unpaid invoices", CappingReached
    ),
    "403-usage-none-matching": _refusal(
        403, "Error.Api.Usage.NoneMatching", "No subscription has it", UsageNoneMatching
    ),
    "404-usage-none-matching": _refusal(
        404, "Error.Api.Usage.NoneMatching", "No subscription has it", UsageNoneMatching
    ),
    "403-unknown-code": _refusal(
        403, "Error.Api.Customer.Unaccessible", "You cannot access that Customer", BillingRefused
    ),
    "404-not-found": _refusal(
        404, "Error.Api.Customer.NotFound", "Customer not found", BillingNotFound
    ),
    "409-conflict": _refusal(
        409, "Error.Api.Subscription.State", "Subscription is not active", BillingConflict
    ),
    "400-bad-request": _refusal(400, "Error.Api.Request", "Malformed request", BillingInvalid),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_an_error_answer_is_a_typed_error_with_what_a_handler_needs(
    billing: FakeBilling, case: str
) -> None:
    refusal = REFUSALS[case]
    billing.reply("POST", "/v1/Usage", refusal.answer, status=refusal.status)

    with pytest.raises(BillingError) as caught:
        billing.client.record_usage(DOWNLOAD)

    error = caught.value
    assert type(error) is refusal.error
    assert (error.status, error.code, error.method, error.path) == (
        refusal.status,
        refusal.code,
        "POST",
        "/v1/Usage",
    )
    assert error.api_message == refusal.message
    assert str(error).startswith(f"POST /v1/Usage HTTP {refusal.status}")
    assert billing.outcomes() == [refusal.status], "a 4xx is never asked again"


def test_business_refusals_can_be_caught_as_one_family(billing: FakeBilling) -> None:
    capping = payloads.error("Error.Customer.Billing.CappingReached", "Too many unpaid invoices")
    billing.reply("POST", "/v1/Usage", capping, status=403)

    with pytest.raises(BillingRefused) as caught:
        billing.client.record_usage(DOWNLOAD)
    assert caught.value.code == "Error.Customer.Billing.CappingReached"


def test_a_422_keeps_every_error_item(billing: FakeBilling) -> None:
    answer = [
        payloads.error("Error.Api.Customer.Email.Invalid", "Email is invalid", Target="Email"),
        payloads.error("Error.Api.Customer.Language.Invalid", "Language is unknown"),
    ]
    billing.reply("POST", "/v1/Customer", answer, status=422)

    with pytest.raises(BillingInvalid) as caught:
        billing.client.upsert_customer("cust-42", email="not-an-email", language="xx")

    error = caught.value
    assert error.status == 422
    assert error.errors == (
        ApiErrorItem("Error.Api.Customer.Email.Invalid", "Email is invalid", "Email"),
        ApiErrorItem("Error.Api.Customer.Language.Invalid", "Language is unknown"),
    )
    assert error.code == "Error.Api.Customer.Email.Invalid"
    assert "Email is invalid" in str(error)
    assert "Language is unknown" in str(error)
    assert billing.outcomes() == [422]


def test_a_500_that_persists_is_unavailable_after_the_retries(billing: FakeBilling) -> None:
    for _ in range(3):
        billing.reply(
            "GET",
            "/v1/Customer",
            payloads.error("Error.Api.Internal", "Internal error", Exception="NullReference"),
            status=500,
        )

    with pytest.raises(BillingUnavailable) as caught:
        billing.client.get_customer("cust-42")

    assert (caught.value.status, caught.value.method, caught.value.path) == (
        500,
        "GET",
        "/v1/Customer",
    )
    assert billing.outcomes() == [500, 500, 500]
    assert billing.sleeps == BACKOFF


@pytest.mark.parametrize(
    "answer",
    ["<html><body>Please sign in to the Wi-Fi</body></html>", "Service Unavailable"],
    ids=["html-page", "plain-text"],
)
def test_a_200_that_is_not_json_is_unavailable(billing: FakeBilling, answer: str) -> None:
    billing.reply("GET", "/v1/Customer", answer)

    with pytest.raises(BillingUnavailable, match="not JSON") as caught:
        billing.client.get_customer("cust-42")
    assert caught.value.status == 200


def test_a_200_of_the_wrong_shape_is_unavailable(billing: FakeBilling) -> None:
    billing.reply("GET", "/v1/Customer", [payloads.customer()])

    with pytest.raises(BillingUnavailable, match="unexpected answer shape"):
        billing.client.get_customer("cust-42")


# --- errors and logs never carry secrets or the query string ----------------------------------


@dataclass(frozen=True)
class Failure:
    """The same bad answer to every attempt of ``GET /v1/Customer``."""

    answer: Any
    status: int = 200
    headers: dict[str, str] | None = None
    attempts: int = 1


FAILURES = {
    "401": Failure(None, 401),
    "403": Failure(payloads.error("Error.Api.Customer.Unaccessible", "No access"), 403),
    "422": Failure([payloads.error("Error.Api.Invalid", "Bad request")], 422),
    "500": Failure(None, 500, attempts=3),
    "429-retry-after-too-long": Failure(None, 429, {"Retry-After": "3600"}),
    "connection-error": Failure(
        requests.ConnectionError("https://x/v1/Customer?ReferenceCustomer=cust-42"), attempts=3
    ),
    "read-timeout": Failure(requests.ReadTimeout("read timed out"), attempts=3),
    "html-200": Failure("<html>login</html>"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_an_error_never_shows_the_keys_nor_the_query(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.client")
    with FakeBilling() as fake:
        bad = FAILURES[failure]
        for _ in range(bad.attempts):
            fake.reply("GET", "/v1/Customer", bad.answer, status=bad.status, headers=bad.headers)
        with pytest.raises(BillingError) as caught:
            fake.client.get_customer("cust-42", reference_offer="offer-starter")

    shown = [str(caught.value), repr(caught.value), *map(str, caught.value.args)]
    shown += [record.getMessage() for record in caplog.records]
    secrets = [API_KEY, AGENT_KEY, BASIC_AUTH.split()[1]]
    query = ["ReferenceCustomer", "cust-42", "offer-starter", "?"]
    leaks = [(text, word) for text in shown for word in secrets + query if word in text]
    assert leaks == []
    assert "GET /v1/Customer" in str(caught.value)


# --- retries: what is replayed, and how long the client waits --------------------------------


@dataclass(frozen=True)
class Write:
    """A call, its route, and the answer that ends it well."""

    call: Callable[[ProAbonoClient], Any]
    method: str
    path: str
    answer: Any


REPLAYABLE = {
    "get_customer": Write(
        lambda c: c.get_customer("cust-42"), "GET", "/v1/Customer", payloads.customer()
    ),
    "list_usages": Write(
        lambda c: c.list_usages("cust-42"), "GET", "/v1/Usages", payloads.page([payloads.usage()])
    ),
    "upsert_customer": Write(
        lambda c: c.upsert_customer("cust-42", email="john@doe.com"),
        "POST",
        "/v1/Customer",
        payloads.customer(),
    ),
    "record_usage-absolute-quantity": Write(
        lambda c: c.record_usage(SEATS), "POST", "/v1/Usage", payloads.usage()
    ),
    "record_usage-switch": Write(
        lambda c: c.record_usage(SUPPORT_ON), "POST", "/v1/Usage", payloads.on_off_usage()
    ),
    "quote_usage": Write(
        lambda c: c.quote_usage(DOWNLOAD), "POST", "/v1/Quoting/Usage", payloads.quote()
    ),
    "set_subscription_date_term": Write(
        lambda c: c.set_subscription_date_term(140960, datetime(2025, 12, 31, tzinfo=UTC)),
        "POST",
        "/v1/Subscription/140960/DateTerm",
        payloads.subscription(),
    ),
}

NOT_REPLAYABLE = {
    "create_subscription": Write(
        lambda c: c.create_subscription("cust-42", "offer-starter", try_start=True),
        "POST",
        "/v1/Subscription",
        payloads.subscription(),
    ),
    "record_usage-increment": Write(
        lambda c: c.record_usage(DOWNLOAD), "POST", "/v1/Usage", payloads.usage()
    ),
    "start_subscription": Write(
        lambda c: c.start_subscription(140960),
        "POST",
        "/v1/Subscription/140960/Start",
        payloads.subscription(),
    ),
    "upgrade_subscription": Write(
        lambda c: c.upgrade_subscription(140960, "offer-pro"),
        "POST",
        "/v1/Subscription/140960/Upgrade",
        payloads.subscription(),
    ),
    "add_balance_line": Write(
        lambda c: c.add_balance_line("cust-42", 1500),
        "POST",
        "/v1/BalanceLine",
        payloads.balance_line(),
    ),
    "bill_customer": Write(
        lambda c: c.bill_customer("cust-42"), "POST", "/v1/Billing/Customer", payloads.invoice()
    ),
}

EVERY_CALL = {**REPLAYABLE, **NOT_REPLAYABLE}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("name", list(REPLAYABLE))
def test_a_replayable_call_is_retried_after_a_5xx(
    billing: FakeBilling, name: str, status: int
) -> None:
    call = REPLAYABLE[name]
    billing.reply(
        call.method, call.path, payloads.error("Error.Api.Internal", "boom"), status=status
    )
    billing.reply(call.method, call.path, call.answer)

    call.call(billing.client)

    assert billing.outcomes() == [status, 200]
    assert billing.sleeps == BACKOFF[:1]


@pytest.mark.parametrize("name", list(NOT_REPLAYABLE))
def test_a_call_that_could_act_twice_is_not_retried_after_a_500(
    billing: FakeBilling, name: str
) -> None:
    call = NOT_REPLAYABLE[name]
    billing.reply(call.method, call.path, payloads.error("Error.Api.Internal", "boom"), status=500)

    with pytest.raises(BillingUnavailable) as caught:
        call.call(billing.client)

    assert caught.value.status == 500
    assert billing.outcomes() == [500]
    assert billing.sleeps == []


@pytest.mark.parametrize("name", list(EVERY_CALL))
def test_a_429_waits_what_retry_after_says_for_any_call(billing: FakeBilling, name: str) -> None:
    call = EVERY_CALL[name]
    billing.reply(call.method, call.path, None, status=429, headers={"Retry-After": "2"})
    billing.reply(call.method, call.path, call.answer)

    call.call(billing.client)

    assert billing.outcomes() == [429, 200]
    assert billing.sleeps == [2.0]


def test_retry_after_as_an_http_date_is_counted_from_the_injected_clock(
    billing: FakeBilling,
) -> None:
    # The fake clock reads 2025-02-12 10:10:44.12 UTC.
    later = {"Retry-After": "Wed, 12 Feb 2025 10:10:47 GMT"}
    billing.reply("GET", "/v1/Customer", None, status=503, headers=later)
    billing.reply("GET", "/v1/Customer", payloads.customer())

    billing.client.get_customer("cust-42")

    assert billing.sleeps == [pytest.approx(2.88)]


@pytest.mark.parametrize("seconds", ["16", "3600"])
def test_a_retry_after_beyond_the_budget_fails_at_once(billing: FakeBilling, seconds: str) -> None:
    billing.reply("GET", "/v1/Customer", None, status=429, headers={"Retry-After": seconds})

    with pytest.raises(BillingUnavailable) as caught:
        billing.client.get_customer("cust-42")

    assert (caught.value.status, caught.value.retry_after) == (429, float(seconds))
    assert billing.outcomes() == [429]
    assert billing.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("refused"), requests.ConnectTimeout("connect timed out")],
    ids=["connection-refused", "connect-timeout"],
)
@pytest.mark.parametrize("name", list(EVERY_CALL))
def test_a_request_that_never_left_is_retried_for_any_call(
    billing: FakeBilling, name: str, failure: Exception
) -> None:
    call = EVERY_CALL[name]
    billing.reply(call.method, call.path, failure)
    billing.reply(call.method, call.path, call.answer)

    call.call(billing.client)

    assert billing.outcomes() == [type(failure).__name__, 200]
    assert billing.sleeps == BACKOFF[:1]


def test_an_unreachable_service_is_unavailable_after_the_retries(billing: FakeBilling) -> None:
    for _ in range(3):
        billing.reply("POST", "/v1/Usage", requests.ConnectionError("refused"))

    with pytest.raises(BillingUnavailable, match="unreachable") as caught:
        billing.client.record_usage(DOWNLOAD)

    assert caught.value.status is None
    assert billing.outcomes() == ["ConnectionError"] * 3
    assert billing.sleeps == BACKOFF


@pytest.mark.parametrize("name", list(REPLAYABLE))
def test_a_read_timeout_is_retried_for_a_replayable_call(billing: FakeBilling, name: str) -> None:
    call = REPLAYABLE[name]
    billing.reply(call.method, call.path, requests.ReadTimeout("read timed out"))
    billing.reply(call.method, call.path, call.answer)

    call.call(billing.client)

    assert billing.outcomes() == ["ReadTimeout", 200]


@pytest.mark.parametrize("name", list(NOT_REPLAYABLE))
def test_a_read_timeout_is_not_retried_for_a_call_that_could_act_twice(
    billing: FakeBilling, name: str
) -> None:
    call = NOT_REPLAYABLE[name]
    billing.reply(call.method, call.path, requests.ReadTimeout("read timed out"))

    with pytest.raises(BillingUnavailable, match="ReadTimeout"):
        call.call(billing.client)
    assert billing.outcomes() == ["ReadTimeout"]


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (4, 5)])
def test_the_retries_option_bounds_the_attempts(retries: int, attempts: int) -> None:
    with FakeBilling(retries=retries) as fake:
        for _ in range(attempts):
            fake.reply("GET", "/v1/Customer", None, status=503)

        with pytest.raises(BillingUnavailable):
            fake.client.get_customer("cust-42")

        assert fake.outcomes() == [503] * attempts
        assert fake.sleeps == [0.125, 0.25, 0.5, 1.0][: attempts - 1]


def test_the_retry_budget_bounds_the_total_wait() -> None:
    # Waits would be 0.125 then 0.25: a 0.3 s budget leaves room for the first only.
    with FakeBilling(retry_budget=0.3) as fake:
        for _ in range(2):
            fake.reply("GET", "/v1/Customer", None, status=503)

        with pytest.raises(BillingUnavailable):
            fake.client.get_customer("cust-42")

        assert fake.sleeps == [0.125]


def test_a_retry_is_logged_with_the_path_only(
    billing: FakeBilling, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.client")
    billing.reply("GET", "/v1/Customer", None, status=503)
    billing.reply("GET", "/v1/Customer", payloads.customer())

    billing.client.get_customer("cust-42")

    [record] = caplog.records
    assert record.getMessage() == "billing GET /v1/Customer: HTTP 503, retrying in 0.12s"
