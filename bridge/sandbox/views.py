"""Rows and catalog entries as the reference's JSON: PascalCase, cents, ``...00Z`` dates.

Builders return plain dicts whose ``None`` values ``clean`` drops (the reference omits null
fields). Links are passed in by the caller (``links.py`` decides which rels an object gets).

What this module does not do: decide anything (``billing``...) or read the request (``api``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bridge.models import format_datetime
from bridge.sandbox.catalog import Catalog, FeatureDef, OfferDef, OfferFeature, Segment
from bridge.sandbox.ledger import Row, status_of, terms_of
from bridge.sandbox.periods import money, recurrence_label, with_tax
from bridge.sandbox.store import from_db

Json = dict[str, Any]
LinkList = Sequence[Json]

ADDRESS_FIELDS = (
    "Company",
    "FirstName",
    "LastName",
    "AddressLine1",
    "AddressLine2",
    "ZipCode",
    "City",
    "Country",
    "Region",
    "Phone",
    "TaxInformation",
)


def clean(value: Any) -> Any:
    """Drop ``None`` members of every object, recursively (nullable fields are omitted)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def date(value: str | datetime | None) -> str | None:
    if value is None:
        return None
    parsed = from_db(value) if isinstance(value, str) else value
    return None if parsed is None else format_datetime(parsed)


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def customer_json(customer: Row, segment: Segment, links: LinkList | None) -> Json:
    return {
        "Id": customer["id"],
        "IdSegment": segment.id,
        "ReferenceCustomer": customer["reference"],
        "ReferenceSegment": segment.reference,
        "Currency": segment.currency,
        "Name": customer["name"],
        "Email": customer["email"],
        "Language": customer["language"],
        "Status": customer["status"],
        "ReferenceAffiliation": customer["reference_affiliation"],
        "DateAffiliation": date(customer["date_affiliation"]),
        "Metadata": _json_or_none(customer["metadata"]),
        "Links": list(links) if links is not None else None,
    }


def address_json(customer: Row) -> Json:
    stored = json.loads(customer["address"])
    return {name: stored.get(name) for name in ADDRESS_FIELDS}


def payment_settings_json(customer: Row, next_billing: str | None) -> Json:
    return {
        "TypePayment": customer["type_payment"] or "Undefined",
        "ModeBilling": "Auto",
        "IsGreyListed": False,
        "IsAutoBilling": bool(customer["is_auto_billing"]),
        "NoteInvoice": customer["note_invoice"],
        "DateNextBilling": date(next_billing),
    }


def feature_json(feature: FeatureDef) -> Json:
    return {
        "Id": feature.id,
        "ReferenceFeature": feature.reference,
        "TitleLocalized": feature.title,
        "DescriptionLocalized": feature.description,
        "TypeFeature": feature.type,
        "IsVisible": feature.visible,
        "Metadata": feature.metadata,
    }


def _extra_label(price: int | None, currency: str) -> str | None:
    return None if not price else f"+{money(price, currency)}/extra unit"


def offer_feature_json(item: OfferFeature, currency: str) -> Json:
    feature = item.feature
    on_off = feature.type == "OnOff"
    return {
        "Id": feature.id,
        "ReferenceFeature": feature.reference,
        "IsVisible": feature.visible,
        "TitleLocalized": feature.title,
        "DescriptionLocalized": feature.description,
        "TypeFeature": feature.type,
        "PricingLocalized": _extra_label(item.extra_price, currency),
        "Properties": item.properties,
        "IsIncluded": item.included if on_off else None,
        "IsEnabled": item.enabled if on_off else None,
        "QuantityIncluded": None if on_off else item.quantity,
        "QuantityCurrent": None if on_off or item.unlimited else 0,
        "Metadata": feature.metadata,
    }


def offer_json(
    offer: OfferDef, *, links: LinkList | None, ignore_features: bool = False, pricing: bool = True
) -> Json:
    segment = offer.segment
    price = offer.amount_recurrence
    body: Json = {
        "Id": offer.id,
        "IdSegment": segment.id,
        "ReferenceOffer": offer.reference,
        "ReferenceSegment": segment.reference,
        "Name": offer.name,
        "IsVisible": offer.visible,
        "IsPriced": offer.is_priced,
        "StateLife": "Ok",
        "TitleLocalized": offer.name,
        "DescriptionLocalized": offer.description,
        "Currency": segment.currency,
        "Features": None
        if ignore_features
        else [offer_feature_json(f, segment.currency) for f in offer.features],
        "Metadata": offer.metadata,
        "Links": list(links) if links is not None else None,
    }
    if pricing:
        body.update(
            {
                "PricingLocalized": recurrence_label(
                    price, segment.currency, offer.duration_recurrence, offer.unit_recurrence
                ),
                "AmountUpFront": offer.amount_up_front,
                "AmountTrial": offer.amount_trial,
                "DurationTrial": offer.duration_trial,
                "UnitTrial": offer.unit_trial,
                "PricingSubtotal": price,
                "PricingTotal": with_tax(price, segment.tax_percent),
                "AmountRecurrence": price,
                "DurationRecurrence": offer.duration_recurrence,
                "UnitRecurrence": offer.unit_recurrence,
                "CountRecurrences": offer.count_recurrences,
                "CountMinRecurrences": offer.count_min_recurrences,
                "AmountTermination": offer.amount_termination,
            }
        )
    return body


def subscription_feature_json(row: Row, catalog: Catalog, offer: OfferDef | None) -> Json:
    feature = catalog.feature(row["feature"])
    granted = offer.feature(row["feature"]) if offer else None
    on_off = feature is not None and feature.type == "OnOff"
    unlimited = not on_off and row["quantity_included"] is None
    currency = offer.segment.currency if offer else "EUR"
    return {
        "Id": feature.id if feature else None,
        "ReferenceFeature": row["feature"],
        "IsVisible": feature.visible if feature else True,
        "TypeFeature": feature.type if feature else None,
        "TitleLocalized": feature.title if feature else row["feature"],
        "DescriptionLocalized": feature.description if feature else None,
        "PricingLocalized": _extra_label(granted.extra_price if granted else None, currency),
        "IsIncluded": bool(row["is_included"]) if on_off else None,
        "IsEnabled": bool(row["is_enabled"]) if on_off else None,
        "QuantityIncluded": None if on_off else row["quantity_included"],
        "QuantityCurrent": None if on_off or unlimited else row["quantity_current"],
    }


def subscription_json(
    subscription: Row,
    customer: Row,
    buyer: Row | None,
    features: Sequence[Row],
    catalog: Catalog,
    *,
    links: LinkList | None,
    ignore_features: bool = False,
    now: datetime | None = None,
) -> Json:
    offer = catalog.offer(subscription["offer"])
    segment = catalog.segment(customer["segment"]) or catalog.default_segment
    terms = terms_of(subscription)
    state = subscription["state"]
    after = subscription["state_after_term"]
    trial_days = None
    trial_end = from_db(subscription["date_period_end"]) if subscription["is_trial"] else None
    if trial_end is not None and now is not None:
        trial_days = max(0, -((now - trial_end) // timedelta(days=1)))  # days left, rounded up
    recurrence = int(terms.get("AmountRecurrence") or 0)
    return {
        "Id": subscription["id"],
        "IdCustomer": customer["id"],
        "IdSegment": segment.id,
        "IdOffer": offer.id if offer else None,
        "IdCustomerBuyer": buyer["id"] if buyer else customer["id"],
        "ReferenceCustomer": customer["reference"],
        "ReferenceSegment": segment.reference,
        "ReferenceOffer": subscription["offer"],
        "ReferenceCustomerBuyer": buyer["reference"] if buyer else customer["reference"],
        "Status": status_of(state),
        "StateSubscription": state,
        "StatusAfterTerm": status_of(after) if after else None,
        "StateSubscriptionAfterTerm": after,
        "Currency": segment.currency,
        "TitleLocalized": subscription["title"] or (offer.name if offer else None),
        "DescriptionLocalized": offer.description if offer else None,
        "DateStart": date(subscription["date_start"]),
        "DatePeriodStart": date(subscription["date_period_start"]),
        "DatePeriodEnd": date(subscription["date_period_end"]),
        "DateEnd": date(subscription["date_end"]),
        "DateTerm": date(subscription["date_term"] or subscription["date_period_end"]),
        "DateResetConsumption": date(subscription["date_period_end"])
        if state.startswith("Active")
        else None,
        "DateNextBilling": date(subscription["date_period_end"])
        if state == "ActiveRunning"
        else None,
        "IsTrial": bool(subscription["is_trial"]),
        "IsEngaged": False,
        "CountDaysTrial": trial_days,
        "AmountUpFront": terms.get("AmountUpFront"),
        "AmountTrial": terms.get("AmountTrial"),
        "DurationTrial": terms.get("DurationTrial"),
        "UnitTrial": terms.get("UnitTrial"),
        "AmountRecurrence": recurrence,
        "DurationRecurrence": terms.get("DurationRecurrence"),
        "UnitRecurrence": terms.get("UnitRecurrence"),
        "CountRecurrences": terms.get("CountRecurrences"),
        "CountMinRecurrences": terms.get("CountMinRecurrences"),
        "AmountTermination": terms.get("AmountTermination"),
        "PricingSubtotal": recurrence,
        "PricingTotal": with_tax(recurrence, segment.tax_percent),
        "Features": None
        if ignore_features
        else [subscription_feature_json(f, catalog, offer) for f in features],
        "Metadata": _json_or_none(subscription["metadata"]),
        "Links": list(links) if links is not None else None,
        "DateUpdate": date(subscription["date_update"]),
    }


def invoice_json(invoice: Row, customer: Row, segment: Segment, links: LinkList | None) -> Json:
    state = invoice["state"]
    status = next(
        s
        for s in ("Draft", "Due", "Paid", "Problem", "Void", "Uncollectible")
        if state.startswith(s)
    )
    return {
        "Id": invoice["id"],
        "IdCustomer": customer["id"],
        "IdSegment": segment.id,
        "ReferenceCustomer": customer["reference"],
        "ReferenceSegment": segment.reference,
        "FullNumber": invoice["full_number"],
        "Currency": segment.currency,
        "AmountSubtotal": invoice["amount_subtotal"],
        "AmountTotal": invoice["amount_total"],
        "Status": status,
        "StateInvoice": state,
        "TypePayment": invoice["type_payment"],
        "DateIssue": date(invoice["date_issue"]),
        "DateUpdate": date(invoice["date_update"]),
        "DatePayment": date(invoice["date_payment"]),
        "DatePaymentLimit": date(invoice["date_payment_limit"]),
        "NoteLocalized": invoice["note"],
        "Links": list(links) if links is not None else None,
    }


def balance_line_json(line: Row, customer: Row, segment: Segment, catalog: Catalog) -> Json:
    feature = catalog.feature(line["feature"]) if line["feature"] else None
    return {
        "Id": line["id"],
        "IdCustomer": customer["id"],
        "IdSegment": segment.id,
        "IdSubscription": line["subscription_id"],
        "IdFeature": feature.id if feature else None,
        "ReferenceCustomer": customer["reference"],
        "ReferenceSegment": segment.reference,
        "ReferenceFeature": line["feature"],
        "LabelLocalized": line["label"],
        "PricingLocalized": money(line["amount_total"], segment.currency),
        "AmountSubtotal": line["amount_subtotal"],
        "AmountTotal": line["amount_total"],
        "Currency": segment.currency,
        "DateMove": date(line["date_move"]),
        "DatePeriodStart": date(line["date_period_start"]),
        "DatePeriodEnd": date(line["date_period_end"]),
        "StateMove": line["state_move"],
        "TypeLine": line["type_line"],
        "KeyCharge": line["key_charge"],
        "QuantityReported": line["quantity"],
        "QuantityBilled": line["quantity"],
    }
