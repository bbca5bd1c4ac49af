"""What the canned backend checks on the wire: ``responses`` matchers for query and JSON body.

``wire(query=..., body=...)`` accepts a request only with exactly the expected query names and
body fields (required ones with their value, or a predicate on it, plus the optional ones), so a
client that sends a parameter the reference does not declare for that call, or forgets one, is
refused like a closed port, with the reason in the error.

What this module does not do: answer (``canned_backend``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.bridge.contract.canned_world import NOW, date

CUSTOMER_FIELDS = {"Email", "Name", "Language", "ReferenceOffer", "ReferenceAffiliation"}
ADDRESS_FIELDS = {
    "Company", "FirstName", "LastName", "AddressLine1", "AddressLine2", "ZipCode", "City",
    "Country", "Region", "Phone", "TaxInformation",
}  # fmt: skip
USAGE_CHANGES = ("Increment", "QuantityCurrent", "IsEnabled")
PAGING = {"Page", "SizePage"}
REFERENCE_FORBIDDEN = set('<>;"=?&')


def is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def is_valid_reference(value: Any) -> bool:
    return is_text(value) and len(value) <= 50 and not REFERENCE_FORBIDDEN & set(value)


@dataclass(frozen=True)
class Sent:
    query: dict[str, str]
    body: Any


def sent_of(request: Any) -> Sent:
    query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    return Sent(query, None if request.body is None else json.loads(request.body))


#: A field's expected value: the value itself, or a predicate on it.
Expected = Mapping[str, Any]


def _mismatch(kind: str, actual: Any, required: Expected, optional: Collection[str]) -> str | None:
    if not isinstance(actual, Mapping):
        return f"{kind} is not an object: {actual!r}"
    for key, want in required.items():
        if key not in actual:
            return f"{kind} lacks {key}"
        if not (want(actual[key]) if callable(want) else actual[key] == want):
            return f"{kind} has {key}={actual[key]!r}"
    unexpected = set(actual) - set(required) - set(optional)
    return f"{kind} has unexpected {sorted(unexpected)}" if unexpected else None


def _one_change(body: Any) -> str | None:
    given = [name for name in USAGE_CHANGES if name in body]
    return None if len(given) == 1 else f"a usage change needs one of {USAGE_CHANGES}: {given}"


def usage_body(reference_customer: Any) -> tuple[Expected, set[str]]:
    required = {
        "ReferenceCustomer": reference_customer,
        "ReferenceFeature": is_text,
        "DateStamp": date(NOW),
    }
    return required, {"IdSubscription", *USAGE_CHANGES}


def wire(
    *,
    query: Expected | None = None,
    optional_query: Collection[str] = (),
    body: Expected | None = None,
    optional_body: Collection[str] = (),
    batch: bool = False,
) -> Callable[[Any], tuple[bool, str]]:
    """A ``responses`` matcher: exactly these query names, and this body (``None``: no body)."""

    def match(request: Any) -> tuple[bool, str]:
        sent = sent_of(request)
        problem = _mismatch("query", sent.query, query or {}, optional_query)
        if problem is None and body is None and sent.body is not None:
            problem = f"unexpected body {sent.body!r}"
        elif problem is None and body is not None:
            items = sent.body if batch and isinstance(sent.body, list) else [sent.body]
            if batch and not isinstance(sent.body, list):
                problem = "a batch body is an array"
            for item in items:
                problem = problem or _mismatch("body", item, body, optional_body)
                if problem is None and optional_body and set(USAGE_CHANGES) <= set(optional_body):
                    problem = _one_change(item)
        return problem is None, problem or ""

    return match
