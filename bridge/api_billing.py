"""Invoices, balance and billing of ProAbono API Live.

What this module owns: ``/v1/Invoices``, ``/v1/Invoice``, ``/v1/Balance``, ``/v1/BalanceLine``
and ``/v1/Billing/Customer``.

What it does not do: HTTP, retries or errors (``bridge.transport``), quote a change before it
is billed (``bridge.api_usages``), customers or subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from bridge.models import BalanceLine, Invoice, Page, format_datetime
from bridge.transport import DEFAULT_PAGE_SIZE, ApiTransport, _body, _query, _require


class BillingApi(ApiTransport):
    """Invoices, balance and billing calls; a part of :class:`bridge.client.ProAbonoClient`."""

    def list_invoices(
        self,
        *,
        reference_customer: str | None = None,
        id_subscription: int | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Invoice]:
        """Debit invoices and credit notes together (the service has no filter); 204 → empty."""
        params = _query(
            ReferenceSegment=self.segment,
            ReferenceCustomer=reference_customer,
            IdSubscription=id_subscription,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(Invoice, "/v1/Invoices", params)

    def iter_invoices(
        self, *, reference_customer: str | None = None, size_page: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Invoice]:
        params = _query(ReferenceSegment=self.segment, ReferenceCustomer=reference_customer)
        return self._iterate(Invoice, "/v1/Invoices", params, self._size(size_page))

    def get_invoice(self, id_invoice: int) -> Invoice:
        path = f"/v1/Invoice/{int(id_invoice)}"
        return self._one(Invoice, self._get(path), "GET", path)

    def get_invoice_by_number(self, full_number: str) -> Invoice:
        params = _query(
            FullNumber=_require("full_number", full_number), ReferenceSegment=self.segment
        )
        return self._one(Invoice, self._get("/v1/Invoice", params), "GET", "/v1/Invoice")

    def list_balance(
        self,
        *,
        reference_customer: str | None = None,
        id_subscription: int | None = None,
        reference_feature: str | None = None,
        merged: bool | None = None,
        page: int = 1,
        size_page: int = DEFAULT_PAGE_SIZE,
    ) -> Page[BalanceLine]:
        """``GET /v1/Balance``: lines not yet invoiced; ``computations`` has the totals."""
        params = _query(
            ReferenceCustomer=reference_customer,
            IdSubscription=id_subscription,
            ReferenceFeature=reference_feature,
            Merged=merged,
            Page=page,
            SizePage=self._size(size_page),
        )
        return self._page(BalanceLine, "/v1/Balance", params)

    def add_balance_line(
        self,
        reference_customer: str,
        amount: int,
        *,
        label: str | None = None,
        quantity: int | None = None,
        type_line: str | None = None,
        key_charge: str | None = None,
        id_subscription: int | None = None,
        date: datetime | None = None,
        ensure_billable: bool | None = None,
    ) -> BalanceLine:
        """``POST /v1/BalanceLine`` (amount in cents, negative = credit). Never replayed on 5xx."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError("amount is an integer number of cents")
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            IdSubscription=id_subscription,
            Amount=amount,
            TypeLine=type_line,
            KeyCharge=key_charge,
            Label=label,
            Quantity=quantity,
            Date=format_datetime(date) if date else None,
        )
        params = _query(EnsureBillable=ensure_billable)
        data = self._post("/v1/BalanceLine", params=params, body=body, idempotent=False)
        return self._one(BalanceLine, data, "POST", "/v1/BalanceLine")

    def bill_customer(
        self,
        reference_customer: str,
        *,
        ensure_billable: bool | None = None,
        date_start: datetime | None = None,
        date_end: datetime | None = None,
        force_offline: bool | None = None,
        note_localized: str | None = None,
    ) -> Invoice:
        """``POST /v1/Billing/Customer``: invoice the balance now."""
        body = _body(
            ReferenceCustomer=_require("reference_customer", reference_customer),
            EnsureBillable=ensure_billable,
            DateStart=format_datetime(date_start) if date_start else None,
            DateEnd=format_datetime(date_end) if date_end else None,
            ForceOffline=force_offline,
            NoteLocalized=note_localized,
        )
        data = self._post("/v1/Billing/Customer", body=body, idempotent=False)
        return self._one(Invoice, data, "POST", "/v1/Billing/Customer")
