"""The built-in pricing page (``<mount>/pricing``), from the billing service's visible offers.

Anonymous visitors get "Choose" buttons to the site's registration page with ``?offer=REF`` (the
offer-before-registration workflow); signed-in users go straight to ``<mount>/subscribe/REF``, and
their current offer is marked. Site owners link to the page or embed it (``?embed=1`` answers the
grid alone, for an ``<iframe>`` or a server-side include).

What this module does not do: fetch links (the subscribe endpoint does, at click time).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from urllib.parse import quote

from bridge.models import Offer, TypeFeature

UNITS = {"Day": "day", "Week": "week", "Month": "month", "Year": "year"}

STYLE = """<style>
.pb-grid{display:flex;flex-wrap:wrap;gap:1rem;font-family:system-ui,sans-serif;color:#1d2330}
.pb-offer{flex:1 1 14rem;max-width:20rem;border:1px solid #dde1e8;border-radius:12px;padding:1.2rem;
background:#fff}.pb-offer h2{margin:0 0 .3rem;font-size:1.2rem}.pb-price{font-size:1.4rem;
font-weight:700;margin:.4rem 0}.pb-offer ul{padding-left:1.1rem;line-height:1.6}
.pb-offer a,.pb-offer span.pb-current{display:inline-block;margin-top:.6rem;padding:.55rem 1rem;
border-radius:8px;background:#2454d6;color:#fff;text-decoration:none;font-weight:600}
.pb-offer span.pb-current{background:#e6e9ef;color:#1d2330}
</style>"""


def price_text(offer: Offer) -> str:
    if not offer.is_priced or not offer.amount_recurrence:
        return "Free"
    amount = f"{offer.amount_recurrence / 100:.2f} {offer.currency or ''}".strip()
    unit = UNITS.get(offer.unit_recurrence or "", (offer.unit_recurrence or "").lower())
    every = offer.duration_recurrence or 1
    period = unit if every == 1 else f"{every} {unit}s"
    return f"{amount} / {period}" if period else amount


def trial_text(offer: Offer) -> str | None:
    if not offer.duration_trial:
        return None
    unit = UNITS.get(offer.unit_trial or "", (offer.unit_trial or "").lower())
    plural = "s" if offer.duration_trial != 1 else ""
    return f"{offer.duration_trial} {unit}{plural} free"


def feature_lines(offer: Offer) -> list[str]:
    lines = []
    for feature in offer.features:
        if feature.is_visible is False:
            continue
        title = feature.title_localized or feature.reference_feature or ""
        if feature.type_feature == TypeFeature.ON_OFF:
            if feature.is_included or feature.is_enabled:
                lines.append(title)
        elif feature.quantity_included:
            lines.append(f"{feature.quantity_included} {title}")
        else:
            lines.append(title)
    return lines


def render(
    offers: Sequence[Offer],
    *,
    choose_url: str,
    current_offer: str | None,
    embed: bool,
) -> str:
    """``choose_url`` contains ``{offer}``, replaced by the quoted offer reference."""
    cards = []
    for offer in offers:
        reference = offer.reference_offer or ""
        title = offer.title_localized or offer.name or reference
        items = "".join(f"<li>{html.escape(line)}</li>" for line in feature_lines(offer))
        trial = trial_text(offer)
        if reference == current_offer:
            action = '<span class="pb-current">Your current offer</span>'
        else:
            url = choose_url.replace("{offer}", quote(reference, safe=""))
            action = f'<a href="{html.escape(url)}">Choose {html.escape(title)}</a>'
        cards.append(
            f'<section class="pb-offer" data-offer="{html.escape(reference)}">'
            f"<h2>{html.escape(title)}</h2>"
            f'<div class="pb-price">{html.escape(price_text(offer))}</div>'
            + (f"<div>{html.escape(trial)}</div>" if trial else "")
            + f"<ul>{items}</ul>{action}</section>"
        )
    grid = STYLE + '<div class="pb-grid">' + "".join(cards) + "</div>"
    if embed:
        return grid
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Offers</title></head>"
        '<body style="margin:0;padding:2rem;background:#f6f7f9">'
        '<h1 style="font-family:system-ui,sans-serif">Choose your offer</h1>'
        f"{grid}</body></html>"
    )
