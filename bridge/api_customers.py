"""Customers of ProAbono API Live: the customer itself, its billing address, its payment settings.

What this module owns: ``/v1/Customer``, ``/v1/Customers``, the customer actions (suspension,
links revocation), ``/v1/CustomerAddressBilling`` and ``/v1/CustomerSettingsPayment``, and
:class:`UpsertResult`.

What it does not do: HTTP, retries or errors (``bridge.transport``), subscriptions, usages or
invoices (the other ``bridge.api_*`` mixins).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import BillingNotFound
from bridge.models import (
    WRITABLE_PAYMENT_TYPES,
    BillingAddress,
    Customer,
    Page,
    PaymentSettings,
    json_name,
)
from bridge.transport import DEFAULT_PAGE_SIZE, ApiTransport, _body, _query, _require


@dataclass(frozen=True)
class UpsertResult:
    """What ``POST /v1/Customer`` answered: the customer, and whether it was just created (201)."""

    customer: Customer
    created: bool


class CustomersApi(ApiTransport):
    """Customer calls; a part of :class:`bridge.client.ProAbonoClient`."""

    def get_customer(
        self, reference_customer: str, *, reference_offer: str | None = None
    ) -> Customer:
        """``GET /v1/Customer``; with ``reference_offer`` the links gain ``insite-subscribe``."""
        params = _query(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            ReferenceOffer=reference_offer,
        )
        return self._one(Customer, self._get("/v1/Customer", params), "GET", "/v1/Customer")

    def find_customer(self, reference_customer: str) -> Customer | None:
        """Like ``get_customer`` but ``None`` for an unknown reference."""
        try:
            return self.get_customer(reference_customer)
        except BillingNotFound:
            return None

    def upsert_customer(
        self,
        reference_customer: str,
        *,
        email: str | None = None,
        name: str | None = None,
        language: str | None = None,
        reference_offer: str | None = None,
        reference_affiliation: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> UpsertResult:
        """``POST /v1/Customer``: create (201) or update (200) by reference; only given fields."""
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            Email=email,
            Name=name,
            Language=language,
            ReferenceSegment=self.segment,
            ReferenceOffer=reference_offer,
            ReferenceAffiliation=reference_affiliation,
            Metadata=dict(metadata) if metadata is not None else None,
        )
        status, data = self.request("POST", "/v1/Customer", body=body, idempotent=True)
        return UpsertResult(
            self._one(Customer, data, "POST", "/v1/Customer"), created=status == 201
        )

    def list_customers(
        self,
        *,
        reference_feature: str | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Customer]:
        params = _query(
            ReferenceSegment=self.segment,
            ReferenceFeature=reference_feature,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Customer, "/v1/Customers", params)

    def iter_customers(
        self, *, reference_feature: str | None = None, size_page: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Customer]:
        params = _query(ReferenceSegment=self.segment, ReferenceFeature=reference_feature)
        return self._iterate(Customer, "/v1/Customers", params, self._size(size_page))

    def suspend_customer(self, reference_customer: str) -> Customer:
        """``POST /v1/Customer/Suspension``: fraud/security only; the customer loses every link."""
        return self._customer_action("/v1/Customer/Suspension", reference_customer)

    def revoke_customer_links(self, reference_customer: str) -> Customer:
        """``POST /v1/Customer/LinksRevokation``: every encrypted portal link stops working."""
        return self._customer_action("/v1/Customer/LinksRevokation", reference_customer)

    def _customer_action(self, path: str, reference_customer: str) -> Customer:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        return self._one(Customer, self._post(path, params=params, idempotent=True), "POST", path)

    def get_billing_address(self, reference_customer: str) -> BillingAddress:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        path = "/v1/CustomerAddressBilling"
        return self._one(BillingAddress, self._get(path, params), "GET", path)

    def update_billing_address(
        self, reference_customer: str, **fields: str | None
    ) -> BillingAddress:
        """Partial update: only the given fields change (``first_name="Ada"``, ``country="FR"``)."""
        known = {f for f in BillingAddress.__dataclass_fields__ if f != "extra"}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"unknown billing address field(s): {', '.join(sorted(unknown))}")
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        body = _body(**{json_name(name): value for name, value in fields.items()})
        path = "/v1/CustomerAddressBilling"
        return self._one(
            BillingAddress,
            self._post(path, params=params, body=body, idempotent=True),
            "POST",
            path,
        )

    def get_payment_settings(self, reference_customer: str) -> PaymentSettings:
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        path = "/v1/CustomerSettingsPayment"
        return self._one(PaymentSettings, self._get(path, params), "GET", path)

    def update_payment_settings(
        self,
        reference_customer: str,
        *,
        type_payment: str | None = None,
        note_invoice: str | None = None,
        is_auto_billing: bool | None = None,
    ) -> PaymentSettings:
        """Only manual payment types can be written (Card/DirectDebit come from the gateway)."""
        if type_payment is not None and type_payment not in WRITABLE_PAYMENT_TYPES:
            allowed = ", ".join(sorted(WRITABLE_PAYMENT_TYPES))
            raise ValueError(
                f"type_payment {type_payment!r} cannot be written; use one of {allowed}"
            )
        params = _query(ReferenceCustomer=_require("reference_customer", reference_customer))
        body = _body(
            TypePayment=type_payment, NoteInvoice=note_invoice, IsAutoBilling=is_auto_billing
        )
        path = "/v1/CustomerSettingsPayment"
        return self._one(
            PaymentSettings,
            self._post(path, params=params, body=body, idempotent=True),
            "POST",
            path,
        )
