"""bridge.errors: one root, classification by Code then status, and what each error carries."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import (
    ApiErrorItem,
    BillingConflict,
    BillingError,
    BillingInvalid,
    BillingNotFound,
    BillingRefused,
    BillingUnauthorized,
    BillingUnavailable,
    BridgeError,
    CappingReached,
    ConfigError,
    ConfigProblem,
    PaymentMethodMissing,
    UsageNoneMatching,
    error_class_for,
)

MISSING = "Error.Customer.PaymentSettings.Missing"
CAPPING = "Error.Customer.Billing.CappingReached"
NONE_MATCHING = "Error.Api.Usage.NoneMatching"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, MISSING, PaymentMethodMissing),
        (403, CAPPING, CappingReached),
        (403, NONE_MATCHING, UsageNoneMatching),
        (404, NONE_MATCHING, UsageNoneMatching),
        (403, "Error.Api.Customer.Unaccessible", BillingRefused),
        (403, "Error.Customer.Anonymize.HasDueInvoices", BillingRefused),
        (403, None, BillingRefused),
        (401, None, BillingUnauthorized),
        (404, "Error.Api.Customer.NotFound", BillingNotFound),
        (404, None, BillingNotFound),
        (409, None, BillingConflict),
        (400, None, BillingInvalid),
        (422, "Error.Api.Customer.Email.Invalid", BillingInvalid),
        (429, None, BillingUnavailable),
        (500, None, BillingUnavailable),
        (503, None, BillingUnavailable),
        (599, None, BillingUnavailable),
        (418, None, BillingError),
        (302, None, BillingError),
    ],
    ids=lambda value: str(value).rsplit(".", 1)[-1].strip("'>"),
)
def test_error_class_for(status: int, code: str | None, expected: type[BillingError]) -> None:
    assert error_class_for(status, code) is expected


@pytest.mark.parametrize(
    "cls",
    [
        BillingUnavailable,
        BillingUnauthorized,
        BillingRefused,
        PaymentMethodMissing,
        CappingReached,
        UsageNoneMatching,
        BillingNotFound,
        BillingConflict,
        BillingInvalid,
    ],
)
def test_every_billing_error_is_caught_by_the_roots(cls: type[BillingError]) -> None:
    with pytest.raises(BridgeError):
        raise cls("x")
    assert issubclass(cls, BillingError)


@pytest.mark.parametrize("cls", [PaymentMethodMissing, CappingReached, UsageNoneMatching])
def test_business_refusals_are_refusals(cls: type[BillingError]) -> None:
    assert issubclass(cls, BillingRefused)


def test_a_config_error_is_a_bridge_error_but_not_a_billing_error() -> None:
    assert issubclass(ConfigError, BridgeError)
    assert not issubclass(ConfigError, BillingError)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"Code": "Error.Api.Customer.Unaccessible", "Message": "No access", "Target": "Email"},
            ApiErrorItem("Error.Api.Customer.Unaccessible", "No access", "Email"),
        ),
        ({"Code": "Error.X"}, ApiErrorItem("Error.X", None)),
        ({"Message": "Only a message", "Exception": "trace"}, ApiErrorItem(None, "Only a message")),
        ({"Code": 42, "Message": None}, ApiErrorItem("42", None)),
        ("Plain text error", ApiErrorItem(None, "Plain text error")),
        (None, ApiErrorItem(None, None)),
    ],
    ids=["full", "code-only", "message-only", "numeric-code", "text", "null"],
)
def test_api_error_item_from_json(data: Any, expected: ApiErrorItem) -> None:
    assert ApiErrorItem.from_json(data) == expected


def test_a_billing_error_carries_what_a_handler_needs() -> None:
    items = (ApiErrorItem(CAPPING, "Too many unpaid invoices"),)
    error = CappingReached(
        "Too many unpaid invoices",
        status=403,
        code=CAPPING,
        method="POST",
        path="/v1/Usage",
        errors=items,
        retry_after=None,
    )

    assert str(error) == f"POST /v1/Usage HTTP 403 {CAPPING}: Too many unpaid invoices"
    assert (error.status, error.code, error.method, error.path) == (
        403,
        CAPPING,
        "POST",
        "/v1/Usage",
    )
    assert (error.api_message, error.errors) == ("Too many unpaid invoices", items)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "boom"),
        ({"method": "GET", "path": "/v1/Usages"}, "GET /v1/Usages: boom"),
        ({"status": 503}, "HTTP 503: boom"),
        ({"code": "Error.X"}, "Error.X: boom"),
    ],
    ids=["message-only", "method-and-path", "status-only", "code-only"],
)
def test_a_billing_error_message_shows_only_what_it_has(kwargs: dict[str, Any], text: str) -> None:
    assert str(BillingError("boom", **kwargs)) == text


def test_retry_after_is_kept_for_the_caller() -> None:
    assert BillingUnavailable("slow down", status=429, retry_after=30.0).retry_after == 30.0


def test_a_config_error_lists_every_problem() -> None:
    problems = [
        ConfigProblem("billing.url", "unsupported billing URL 'ftp://x'", "use https://..."),
        ConfigProblem("billing.api_key", "missing"),
    ]

    error = ConfigError(problems, source="bridge.toml")

    assert error.problems == tuple(problems)
    assert str(error).splitlines() == [
        "2 configuration problems in bridge.toml:",
        "  - billing.url: unsupported billing URL 'ftp://x' (use https://...)",
        "  - billing.api_key: missing",
    ]


def test_a_single_config_problem_is_singular() -> None:
    error = ConfigError([ConfigProblem("billing.url", "bad")])

    assert str(error) == "1 configuration problem:\n  - billing.url: bad"
