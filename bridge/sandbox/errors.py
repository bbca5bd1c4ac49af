"""The sandbox's refusals, in the reference's error shape (``{Code, Message, Target?}``).

``ApiError`` is one error with its HTTP status; ``ValidationFailed`` is the 422 answer, which the
reference sends as an **array** of errors. The billing rules raise these; ``api`` renders them.
Codes the reference names are used as is; the others follow its ``Error.Api.<Thing>.<Why>`` style.
"""

from __future__ import annotations

from typing import Any

PAYMENT_MISSING = "Error.Customer.PaymentSettings.Missing"
CAPPING_REACHED = "Error.Customer.Billing.CappingReached"
USAGE_NONE_MATCHING = "Error.Api.Usage.NoneMatching"
CUSTOMER_UNACCESSIBLE = "Error.Api.Customer.Unaccessible"


class ApiError(Exception):
    """One error answer: ``status`` and the reference's ``{Code, Message, Target}`` body."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target

    def item(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Code": self.code, "Message": self.message}
        if self.target is not None:
            body["Target"] = self.target
        return body


class ValidationFailed(Exception):
    """422: every problem of a request at once, answered as an array."""

    def __init__(self, items: list[ApiError]) -> None:
        super().__init__("; ".join(str(i) for i in items))
        self.items = items


def invalid(target: str, message: str, code: str = "Error.Api.Validation.Invalid") -> ApiError:
    return ApiError(422, code, message, target)


def not_found(thing: str, message: str) -> ApiError:
    return ApiError(404, f"Error.Api.{thing}.NotFound", message)


def state_conflict(message: str) -> ApiError:
    return ApiError(409, "Error.Api.Subscription.StateInvalid", message)


def payment_missing() -> ApiError:
    return ApiError(
        403,
        PAYMENT_MISSING,
        "The customer has no payment method registered for this billable change",
    )


def capping_reached() -> ApiError:
    return ApiError(
        403, CAPPING_REACHED, "The customer has too many unpaid invoices: pay them first"
    )


def usage_none_matching(status: int) -> ApiError:
    return ApiError(
        status, USAGE_NONE_MATCHING, "No started subscription of that customer has that feature"
    )
