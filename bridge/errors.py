"""Every error the bridge raises, rooted at one class so callers can catch the product as a whole.

::

    BridgeError
    ├── ConfigError                       every problem of a configuration, with key paths
    └── BillingError                      a billing call failed: status, Code, Message, method, path
        ├── BillingUnavailable            no usable answer: connect error, timeout, 429, 5xx
        ├── BillingUnauthorized           401: the agent key / API key pair is wrong
        ├── BillingRefused                403: a business refusal, branch on ``code``
        │   ├── PaymentMethodMissing      Error.Customer.PaymentSettings.Missing
        │   ├── CappingReached            Error.Customer.Billing.CappingReached
        │   └── UsageNoneMatching         Error.Api.Usage.NoneMatching (sent as 403 or 404)
        ├── BillingNotFound               404: unknown reference or id
        ├── BillingConflict               409: duplicate reference or state conflict
        └── BillingInvalid                400 / 422: the request was rejected; ``errors`` lists why

What this module does not do: decide whether to retry (``bridge.retry``) or how a denial looks to a
site visitor (``middleware``). A refusal is classified by its ProAbono ``Code`` first and its HTTP
status second, because the reference sends ``Error.Api.Usage.NoneMatching`` with either 403 or 404.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class BridgeError(Exception):
    """Root of every error proabono-bridge raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where (``key``), what, and how to fix it."""

    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.key}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(BridgeError):
    """The configuration is unusable. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        head = f"{count} configuration problem{'s' if count != 1 else ''}{where}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


@dataclass(frozen=True)
class ApiErrorItem:
    """One element of ProAbono's error body: ``{"Code", "Message", "Target"}``."""

    code: str | None
    message: str | None
    target: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> ApiErrorItem:
        if not isinstance(data, Mapping):
            return cls(code=None, message=str(data) if data is not None else None)
        return cls(
            code=_str_or_none(data.get("Code")),
            message=_str_or_none(data.get("Message")),
            target=_str_or_none(data.get("Target")),
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class BillingError(BridgeError):
    """A billing call failed. Carries what a handler or a log line needs, never the credentials."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str = "",
        path: str = "",
        errors: Sequence[ApiErrorItem] = (),
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api_message = message
        self.method = method
        self.path = path
        self.errors = tuple(errors)
        self.retry_after = retry_after
        parts = [f"{method} {path}".strip()]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(code)
        prefix = " ".join(p for p in parts if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class BillingUnavailable(BillingError):
    """The billing service gave no usable answer (connect error, timeout, 429 or 5xx). Transient."""


class BillingUnauthorized(BillingError):
    """401: the agent key / API key pair was refused. A configuration problem, not transient."""


class BillingRefused(BillingError):
    """403: the keys are fine but the action is refused for a business reason; see ``code``."""


class PaymentMethodMissing(BillingRefused):
    """The change is billable and the customer has no payment method registered."""


class CappingReached(BillingRefused):
    """Too many unpaid invoices: the customer must pay what is due first."""


class UsageNoneMatching(BillingRefused):
    """No started subscription of the customer contains that feature."""


class BillingNotFound(BillingError):
    """404: the reference or id is unknown to the billing service."""


class BillingConflict(BillingError):
    """409: duplicate reference or a state that does not allow the change."""


class BillingInvalid(BillingError):
    """400 or 422: the billing service rejected the request; ``errors`` has one item per problem."""


CODE_CLASSES: Mapping[str, type[BillingError]] = {
    "Error.Customer.PaymentSettings.Missing": PaymentMethodMissing,
    "Error.Customer.Billing.CappingReached": CappingReached,
    "Error.Api.Usage.NoneMatching": UsageNoneMatching,
}

STATUS_CLASSES: Mapping[int, type[BillingError]] = {
    400: BillingInvalid,
    401: BillingUnauthorized,
    403: BillingRefused,
    404: BillingNotFound,
    409: BillingConflict,
    422: BillingInvalid,
    429: BillingUnavailable,
}


def error_class_for(status: int, code: str | None) -> type[BillingError]:
    """The exception class for an HTTP error answer: by ``Code`` first, then by status."""
    if code and code in CODE_CLASSES:
        return CODE_CLASSES[code]
    if status in STATUS_CLASSES:
        return STATUS_CLASSES[status]
    if status >= 500:
        return BillingUnavailable
    return BillingError
