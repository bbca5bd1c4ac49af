"""The sandbox catalog: segments, features and offers, read from a TOML file.

The catalog is configuration, not data: it is read once when the app starts and never written by
the API. Internal ids are given by position (segments from 1, features from 48800, offers from
64400) so they are stable for a given file. ``demo_catalog.toml`` ships with the package.

What this module does not do: prices of changes (``quoting``) or subscription state (``billing``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bridge.models import reference_problem
from bridge.sandbox.periods import UNITS

FEATURE_TYPES = ("OnOff", "Limitation", "Consumption")


class CatalogError(ValueError):
    """The catalog file is unusable; the message names the entry and the key."""


@dataclass(frozen=True)
class Segment:
    id: int
    reference: str
    currency: str
    tax_percent: float
    max_unpaid_invoices: int
    payment_days: int


@dataclass(frozen=True)
class FeatureDef:
    id: int
    reference: str
    title: str
    description: str | None
    type: str
    visible: bool
    metadata: Mapping[str, Any] | None


@dataclass(frozen=True)
class OfferFeature:
    """A feature as an offer grants it. ``quantity`` None on a quantity feature = unlimited."""

    feature: FeatureDef
    included: bool
    enabled: bool
    quantity: int | None
    extra_price: int | None
    properties: str

    @property
    def unlimited(self) -> bool:
        return self.feature.type != "OnOff" and self.quantity is None


@dataclass(frozen=True)
class OfferDef:
    id: int
    reference: str
    segment: Segment
    name: str
    description: str | None
    visible: bool
    amount_up_front: int
    amount_trial: int | None
    duration_trial: int | None
    unit_trial: str | None
    amount_recurrence: int
    duration_recurrence: int
    unit_recurrence: str
    count_recurrences: int | None
    count_min_recurrences: int | None
    amount_termination: int
    features: tuple[OfferFeature, ...]
    metadata: Mapping[str, Any] | None = None

    @property
    def is_priced(self) -> bool:
        return bool(
            self.amount_up_front
            or self.amount_recurrence
            or self.amount_trial
            or any(f.extra_price for f in self.features)
        )

    def feature(self, reference: str) -> OfferFeature | None:
        for item in self.features:
            if item.feature.reference == reference:
                return item
        return None


@dataclass(frozen=True)
class Catalog:
    segments: tuple[Segment, ...]
    features: tuple[FeatureDef, ...]
    offers: tuple[OfferDef, ...]

    @property
    def default_segment(self) -> Segment:
        return self.segments[0]

    def segment(self, reference: str | None) -> Segment | None:
        if reference is None:
            return self.default_segment
        return next((s for s in self.segments if s.reference.lower() == reference.lower()), None)

    def segment_by_id(self, id_segment: int) -> Segment | None:
        return next((s for s in self.segments if s.id == id_segment), None)

    def feature(self, reference: str) -> FeatureDef | None:
        return next((f for f in self.features if f.reference == reference), None)

    def feature_by_id(self, id_feature: int) -> FeatureDef | None:
        return next((f for f in self.features if f.id == id_feature), None)

    def offer(self, reference: str, segment: Segment | None = None) -> OfferDef | None:
        for offer in self.offers:
            if offer.reference == reference and (segment is None or offer.segment == segment):
                return offer
        return None

    def offer_by_id(self, id_offer: int) -> OfferDef | None:
        return next((o for o in self.offers if o.id == id_offer), None)


def demo_catalog_text() -> str:
    return resources.files("bridge.sandbox").joinpath("demo_catalog.toml").read_text("utf-8")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog in ``path``, or the demo catalog shipped with the package."""
    if path is None:
        return catalog_from_text(demo_catalog_text(), "demo_catalog.toml")
    return catalog_from_text(Path(path).read_text(encoding="utf-8"), str(path))


def catalog_from_text(text: str, source: str) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML ({exc})") from exc
    return parse_catalog(data, source)


def parse_catalog(data: Mapping[str, Any], source: str = "catalog") -> Catalog:
    reader = _Reader(source)
    segments = tuple(
        Segment(
            id=index,
            reference=reader.reference(entry, "reference", f"segment[{index - 1}]"),
            currency=str(entry.get("currency", "EUR")),
            tax_percent=float(entry.get("tax_percent", 0)),
            max_unpaid_invoices=reader.integer(entry, "max_unpaid_invoices", 1, minimum=1),
            payment_days=reader.integer(entry, "payment_days", 30, minimum=0),
        )
        for index, entry in enumerate(data.get("segment", []), start=1)
    )
    if not segments:
        raise CatalogError(f"{source}: at least one [[segment]] is needed")
    features: list[FeatureDef] = []
    for index, entry in enumerate(data.get("feature", [])):
        where = f"feature[{index}]"
        kind = str(entry.get("type", ""))
        if kind not in FEATURE_TYPES:
            raise CatalogError(f"{source}: {where}.type must be one of {', '.join(FEATURE_TYPES)}")
        features.append(
            FeatureDef(
                id=48800 + index,
                reference=reader.reference(entry, "reference", where),
                title=str(entry.get("title", entry["reference"])),
                description=entry.get("description"),
                type=kind,
                visible=bool(entry.get("visible", True)),
                metadata=entry.get("metadata"),
            )
        )
    by_ref = {f.reference: f for f in features}
    offers = tuple(
        _offer(reader, entry, index, segments, by_ref)
        for index, entry in enumerate(data.get("offer", []))
    )
    return Catalog(segments=segments, features=tuple(features), offers=offers)


def _offer(
    reader: _Reader,
    entry: Mapping[str, Any],
    index: int,
    segments: tuple[Segment, ...],
    features: Mapping[str, FeatureDef],
) -> OfferDef:
    where = f"offer[{index}]"
    reference = reader.reference(entry, "reference", where)
    segment_ref = entry.get("segment", segments[0].reference)
    segment = next((s for s in segments if s.reference == segment_ref), None)
    if segment is None:
        raise CatalogError(f"{reader.source}: {where}.segment {segment_ref!r} is not a segment")
    granted: list[OfferFeature] = []
    for item in entry.get("features", []):
        feature = features.get(str(item.get("reference")))
        if feature is None:
            raise CatalogError(
                f"{reader.source}: {where} grants unknown feature {item.get('reference')!r}"
            )
        quantity = item.get("quantity")
        enabled = bool(item.get("enabled", item.get("included", True)))
        granted.append(
            OfferFeature(
                feature=feature,
                included=bool(item.get("included", enabled)),
                enabled=enabled,
                quantity=None if feature.type == "OnOff" or quantity is None else int(quantity),
                extra_price=None if item.get("extra_price") is None else int(item["extra_price"]),
                properties=str(item.get("properties", "UpdatableAfterSubscription")),
            )
        )
    units = {key: entry.get(key) for key in ("unit_recurrence", "unit_trial") if entry.get(key)}
    for key, unit in units.items():
        if unit not in UNITS:
            raise CatalogError(f"{reader.source}: {where}.{key} must be one of {', '.join(UNITS)}")
    has_trial = entry.get("duration_trial") is not None
    return OfferDef(
        id=64400 + index,
        reference=reference,
        segment=segment,
        name=str(entry.get("name", reference)),
        description=entry.get("description"),
        visible=bool(entry.get("visible", True)),
        amount_up_front=reader.integer(entry, "amount_up_front", 0, minimum=0),
        amount_trial=reader.integer(entry, "amount_trial", 0, minimum=0) if has_trial else None,
        duration_trial=reader.integer(entry, "duration_trial", 0, minimum=1) if has_trial else None,
        unit_trial=str(entry.get("unit_trial", "Day")) if has_trial else None,
        amount_recurrence=reader.integer(entry, "amount_recurrence", 0, minimum=0),
        duration_recurrence=reader.integer(entry, "duration_recurrence", 1, minimum=1),
        unit_recurrence=str(entry.get("unit_recurrence", "Month")),
        count_recurrences=entry.get("count_recurrences"),
        count_min_recurrences=entry.get("count_min_recurrences"),
        amount_termination=reader.integer(entry, "amount_termination", 0, minimum=0),
        features=tuple(granted),
        metadata=entry.get("metadata"),
    )


@dataclass(frozen=True)
class _Reader:
    source: str

    def reference(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        value = entry.get(key)
        problem = reference_problem(value) if isinstance(value, str) else "must be a string"
        if problem:
            raise CatalogError(f"{self.source}: {where}.{key} {problem}")
        return str(value)

    def integer(self, entry: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
        value = entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise CatalogError(f"{self.source}: {key} must be an integer >= {minimum}")
        return value
