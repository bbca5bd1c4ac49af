"""The demo catalog as the account's configuration, read from the same TOML file the sandbox ships.

The canned backend needs the offers and features a real account would have configured in its
BackOffice; reading them from ``bridge/sandbox/demo_catalog.toml`` keeps both sides of the contract
suite on one catalog. This module reads the file with ``tomllib`` only: it does not use the
sandbox's own catalog loader, so a bug there cannot leak into the canned answers.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class CatalogFeature:
    reference: str
    title: str
    description: str
    type: str
    id: int


@dataclass(frozen=True)
class Grant:
    """A feature as an offer includes it: a quantity (None = unlimited) or an OnOff switch."""

    feature: CatalogFeature
    quantity: int | None
    enabled: bool
    extra_price: int | None


@dataclass(frozen=True)
class CatalogOffer:
    reference: str
    name: str
    description: str
    visible: bool
    amount_up_front: int
    amount_recurrence: int
    duration_recurrence: int
    unit_recurrence: str
    count_recurrences: int | None
    grants: tuple[Grant, ...]
    id: int

    @property
    def is_priced(self) -> bool:
        return bool(
            self.amount_up_front
            or self.amount_recurrence
            or any(g.extra_price for g in self.grants)
        )

    @property
    def needs_payment_to_start(self) -> bool:
        return bool(self.amount_up_front or self.amount_recurrence)

    def grant(self, reference_feature: str) -> Grant | None:
        return next((g for g in self.grants if g.feature.reference == reference_feature), None)


@dataclass(frozen=True)
class Catalog:
    segment: str
    currency: str
    tax_percent: int
    features: tuple[CatalogFeature, ...]
    offers: tuple[CatalogOffer, ...]

    def offer(self, reference: str) -> CatalogOffer:
        return next(o for o in self.offers if o.reference == reference)

    def feature(self, reference: str) -> CatalogFeature | None:
        return next((f for f in self.features if f.reference == reference), None)

    def with_tax(self, amount: int) -> int:
        return amount + amount * self.tax_percent // 100


def demo_catalog() -> Catalog:
    text = resources.files("bridge.sandbox").joinpath("demo_catalog.toml").read_text("utf-8")
    data = tomllib.loads(text)
    [segment] = data["segment"]
    features = tuple(
        CatalogFeature(
            reference=entry["reference"],
            title=entry["title"],
            description=entry["description"],
            type=entry["type"],
            id=48896 + index,
        )
        for index, entry in enumerate(data["feature"])
    )
    by_reference = {f.reference: f for f in features}
    offers = tuple(
        CatalogOffer(
            reference=entry["reference"],
            name=entry["name"],
            description=entry["description"],
            visible=entry.get("visible", True),
            amount_up_front=entry.get("amount_up_front", 0),
            amount_recurrence=entry["amount_recurrence"],
            duration_recurrence=entry["duration_recurrence"],
            unit_recurrence=entry["unit_recurrence"],
            count_recurrences=entry.get("count_recurrences"),
            grants=tuple(
                Grant(
                    feature=by_reference[item["reference"]],
                    quantity=item.get("quantity"),
                    enabled=item.get("enabled", False),
                    extra_price=item.get("extra_price"),
                )
                for item in entry["features"]
            ),
            id=64400 + index,
        )
        for index, entry in enumerate(data["offer"])
    )
    return Catalog(
        segment=segment["reference"],
        currency=segment["currency"],
        tax_percent=segment["tax_percent"],
        features=features,
        offers=offers,
    )
