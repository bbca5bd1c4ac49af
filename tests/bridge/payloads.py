"""Reference-shaped JSON answers of ProAbono API Live, as builder functions.

Every builder returns what the service would send (PascalCase fields, ``"2025-02-12T10:10:44.00Z"``
dates, amounts in cents, ``Links`` arrays of ``{rel, href?, query?, type?}``), with the example
values of ``shared/reference/proabono-api.md`` (``cust-42``, ``demo-eur``, ``offer-starter``...).
Nullable fields are omitted, as the reference's examples do. Keyword overrides replace fields; the
value ``ABSENT`` removes one (``usage(QuantityCurrent=ABSENT)`` is an unlimited usage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

JSON = dict[str, Any]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: An override value that removes the field from the payload.
ABSENT: Any = _Absent()

SEGMENT_HOST = "https://demo-eur.proabono.com"


def _build(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> JSON:
    merged = {**base, **overrides}
    return {key: value for key, value in merged.items() if value is not ABSENT}


def link(rel: str, *, href: str | None = None, query: str | None = None, **extra: str) -> JSON:
    """One element of a ``Links`` array (``type`` goes through ``extra``)."""
    return _build({"rel": rel}, {"href": href or ABSENT, "query": query or ABSENT, **extra})


def page(
    items: Sequence[Any],
    *,
    page: int = 1,
    size_page: int = 10,
    total: int | None = None,
    path: str = "/v1/Subscriptions",
    **overrides: Any,
) -> JSON:
    """A list envelope; ``total`` defaults to the item count (a single, complete page).

    A ``next`` link to ``path`` is added when more items follow, as in the reference's example.
    """
    total_items = len(items) if total is None else total
    links = []
    if page * size_page < total_items:
        links.append(link("next", href=f"{path}?Page={page + 1}"))
    return _build(
        {
            "Page": page,
            "SizePage": size_page,
            "Count": len(items),
            "TotalItems": total_items,
            "DateGenerated": "2025-05-10T18:33:16.28Z",
            "Items": list(items),
            "Links": links,
        },
        overrides,
    )


def error(code: str, message: str, **overrides: Any) -> JSON:
    """One error item: alone for most statuses, in an array for 422."""
    return _build({"Code": code, "Message": message}, overrides)


def customer(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 233700,
            "IdSegment": 69,
            "ReferenceCustomer": "cust-42",
            "ReferenceSegment": "demo-eur",
            "Currency": "EUR",
            "Name": "John Doe",
            "Email": "john@doe.com",
            "Language": "en",
            "Status": "Enabled",
            "ReferenceAffiliation": "janesmith",
            "DateAffiliation": "2025-12-03T17:07:35.04Z",
            "Metadata": {"Gender": "Male", "Incomes": 150000, "Kids": 3},
            "Links": [
                link("insite-home", href=f"{SEGMENT_HOST}/portal-auth/Ae8Kd2"),
                link("insite-collection-offers", query="c4Tq9Lm"),
                link("insite-register", query="r7Xw2Pz"),
            ],
        },
        overrides,
    )


def billing_address(**overrides: Any) -> JSON:
    return _build(
        {
            "Company": "Doe Industries",
            "FirstName": "John",
            "LastName": "Doe",
            "AddressLine1": "12 rue de la Paix",
            "ZipCode": "75002",
            "City": "Paris",
            "Country": "FR",
            "Region": "FR-75",
            "Phone": "+33102030405",
            "TaxInformation": "FR1234567890",
        },
        overrides,
    )


def payment_settings(**overrides: Any) -> JSON:
    return _build(
        {
            "TypePayment": "ExternalBank",
            "ModeBilling": "Auto",
            "IsGreyListed": False,
            "NoteInvoice": "PO.123456 - Thank you for your trust.",
            "DateNextBilling": "2025-08-29T20:36:53.00Z",
        },
        overrides,
    )


def feature(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 48896,
            "ReferenceFeature": "feat-users",
            "TitleLocalized": "Active Users",
            "TypeFeature": "Limitation",
            "IsVisible": True,
            "Metadata": {},
        },
        overrides,
    )


def offer_feature(**overrides: Any) -> JSON:
    """A Limitation feature as an offer or a subscription carries it."""
    return _build(
        {
            "Id": 48896,
            "ReferenceFeature": "feat-users",
            "IsVisible": True,
            "TitleLocalized": "Active Users",
            "TypeFeature": "Limitation",
            "PricingLocalized": "+€7.00/extra unit",
            "Properties": "UpdatableBeforeSubscription, UpdatableAfterSubscription, FreeInTrial",
            "QuantityIncluded": 5,
            "QuantityCurrent": 2,
        },
        overrides,
    )


def on_off_feature(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 48897,
            "ReferenceFeature": "feat-support",
            "IsVisible": True,
            "TitleLocalized": "Premium Support",
            "TypeFeature": "OnOff",
            "IsIncluded": True,
            "IsEnabled": True,
        },
        overrides,
    )


def offer(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 64400,
            "IdSegment": 69,
            "ReferenceOffer": "offer-starter",
            "ReferenceSegment": "demo-eur",
            "Name": "Premium",
            "IsVisible": True,
            "IsPriced": True,
            "TitleLocalized": "Premium",
            "PricingLocalized": "€190.00/month(s)",
            "Currency": "EUR",
            "AmountUpFront": 0,
            "PricingSubtotal": 19000,
            "PricingTotal": 22800,
            "AmountRecurrence": 19000,
            "DurationRecurrence": 1,
            "UnitRecurrence": "Month",
            "Features": [offer_feature(), on_off_feature()],
            "Links": [
                link("insite-home", href=f"{SEGMENT_HOST}/portal-anon/Xq81"),
                link("insite-subscribe", query="s9Vb3Kd"),
            ],
        },
        overrides,
    )


def subscription(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 140960,
            "IdCustomer": 233700,
            "IdSegment": 69,
            "IdOffer": 64400,
            "IdCustomerBuyer": 233700,
            "ReferenceCustomer": "cust-42",
            "ReferenceSegment": "demo-eur",
            "ReferenceOffer": "offer-starter",
            "ReferenceCustomerBuyer": "cust-42",
            "Status": "Active",
            "StateSubscription": "ActiveRunning",
            "Currency": "EUR",
            "TitleLocalized": "Premium Pro+",
            "DateStart": "2025-03-12T10:10:44.00Z",
            "DatePeriodStart": "2025-03-12T10:10:44.00Z",
            "DatePeriodEnd": "2025-04-12T10:10:44.00Z",
            "DateNextBilling": "2025-04-12T10:10:44.00Z",
            "IsTrial": False,
            "IsEngaged": False,
            "IsCustomerBillable": True,
            "IsPaymentCappingReached": False,
            "AmountRecurrence": 25000,
            "DurationRecurrence": 1,
            "UnitRecurrence": "Month",
            "PricingSubtotal": 25000,
            "PricingTotal": 30000,
            "Features": [offer_feature(), on_off_feature()],
            "Metadata": {
                "Site": "www.johndoe.com",
                "AccountingReference": "456-xyz",
                "IdPartner": 3,
            },
            "Links": [
                link("self", href="/v1/Subscription/140960"),
                link("insite-home", href=f"{SEGMENT_HOST}/portal-auth/Ae8Kd2"),
                link("insite-related-subscription", query="rs5Hn1"),
                link("insite-upgrade", query="up2Wq7"),
            ],
            "DateUpdate": "2025-08-09T13:17:39.88Z",
        },
        overrides,
    )


def usage(**overrides: Any) -> JSON:
    """A Limitation usage: 3 of 10 seats taken."""
    return _build(
        {
            "IdSegment": 69,
            "IdFeature": 48896,
            "IdCustomer": 233700,
            "IdSubscription": 140960,
            "ReferenceSegment": "demo-eur",
            "ReferenceFeature": "feat-users",
            "ReferenceCustomer": "cust-42",
            "TypeFeature": "Limitation",
            "QuantityIncluded": 10,
            "QuantityCurrent": 3,
            "DatePeriodStart": "2025-03-29T21:35:32.00Z",
            "DatePeriodEnd": "2025-04-29T21:35:32.00Z",
        },
        overrides,
    )


def on_off_usage(**overrides: Any) -> JSON:
    return usage(
        **{
            "IdFeature": 48897,
            "ReferenceFeature": "feat-support",
            "TypeFeature": "OnOff",
            "IsIncluded": True,
            "IsEnabled": True,
            "QuantityIncluded": ABSENT,
            "QuantityCurrent": ABSENT,
            **overrides,
        }
    )


def quote_detail(**overrides: Any) -> JSON:
    return _build(
        {
            "IdSubscription": 140960,
            "IdFeature": 48896,
            "LabelLocalized": "Feature - prorated adjustment - Active Users",
            "AmountTotalDue": 6875,
            "DatePeriodStart": "2025-03-29T21:35:32.00Z",
            "DatePeriodEnd": "2025-04-29T21:35:32.00Z",
            "QuantityReported": 1,
            "QuantityBilled": 1,
            "AmountSubtotal": 5729,
            "AmountTotal": 6875,
        },
        overrides,
    )


def quote(**overrides: Any) -> JSON:
    return _build(
        {
            "IdSubscription": 140960,
            "AmountTotalDue": 31875,
            "PricingLocalized": "€ 318.75",
            "DatePeriodStart": "2025-03-29T21:35:32.00Z",
            "DatePeriodEnd": "2025-04-29T21:35:32.00Z",
            "AmountSubtotal": 25000,
            "AmountTotal": 31875,
            "Details": [quote_detail()],
            "NextTerm": {
                "AmountTotalDue": 30000,
                "PricingLocalized": "€ 300.00",
                "DatePeriodStart": "2025-04-29T21:35:32.00Z",
                "DatePeriodEnd": "2025-05-29T21:35:32.00Z",
                "AmountSubtotal": 25000,
                "AmountTotal": 30000,
                "Details": [],
            },
        },
        overrides,
    )


def invoice(**overrides: Any) -> JSON:
    return _build(
        {
            "Id": 549013,
            "IdCustomer": 233700,
            "IdSegment": 69,
            "ReferenceCustomer": "cust-42",
            "ReferenceSegment": "demo-eur",
            "FullNumber": "S-3.00000033",
            "Currency": "EUR",
            "AmountSubtotal": 109500,
            "AmountTotal": 131400,
            "Status": "Due",
            "StateInvoice": "DueOffline",
            "TypePayment": "ExternalBank",
            "DateIssue": "2025-02-12T10:10:44.00Z",
            "DateUpdate": "2025-02-12T10:10:44.00Z",
            "DatePaymentLimit": "2025-03-14T10:10:44.00Z",
            "Links": [
                link("insite-home", href=f"{SEGMENT_HOST}/portal-auth/Ae8Kd2"),
                link(
                    "insite-related-invoice",
                    href=f"{SEGMENT_HOST}/portal-inv-pdf/Pq3Zr8",
                    type="application/pdf",
                ),
                link("insite-collection-invoice", query="ci4Ty6"),
            ],
        },
        overrides,
    )


def balance_line(**overrides: Any) -> JSON:
    return _build(
        {
            "IdCustomer": 233700,
            "IdSegment": 69,
            "IdSubscription": 140960,
            "ReferenceCustomer": "cust-42",
            "ReferenceSegment": "demo-eur",
            "LabelLocalized": "Setup fee",
            "PricingLocalized": "€600.00",
            "AmountSubtotal": 50000,
            "AmountTotal": 60000,
            "Currency": "EUR",
            "DateMove": "2025-02-12T10:10:44.00Z",
            "StateMove": "Due",
            "TypeLine": "Manual",
            "KeyCharge": "Service",
            "QuantityReported": 1,
            "QuantityBilled": 1,
        },
        overrides,
    )
