"""What the demo magazine publishes: free articles, premium articles and downloadable files.

Premium articles live under ``/premium/<slug>`` (the bridge's rule ``premium-articles``), files
under ``/downloads/<name>`` (rule ``downloads``, one unit of the monthly quota per download).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    summary: str
    body: tuple[str, ...]
    premium: bool = False

    @property
    def url(self) -> str:
        return f"/premium/{self.slug}" if self.premium else f"/articles/{self.slug}"


@dataclass(frozen=True)
class Download:
    name: str
    title: str
    text: str


ARTICLES = (
    Article(
        "welcome-to-the-field-notes",
        "Welcome to the Field Notes",
        "What this magazine is about, and why some of it is for members.",
        (
            "The Field Notes is a small magazine about building things that last: tools, "
            "gardens, software and habits.",
            "Free articles are free for everyone. Premium articles and the downloads are for "
            "members: the billing bridge in front of this site checks each member's "
            "subscription before a premium page is served, without the site knowing a thing "
            "about billing.",
        ),
    ),
    Article(
        "seven-tools-worth-owning",
        "Seven tools worth owning",
        "A short list of tools that repay their price many times over.",
        (
            "A good knife, a block plane, a square, a notebook, a headlamp, a bench and the "
            "patience to sharpen all of them.",
            "None of them is expensive. All of them are better than their cheap copies.",
        ),
    ),
    Article(
        "the-long-game-of-compost",
        "The long game of compost",
        "Members only: a season-by-season guide to a heap that works.",
        (
            "Compost is a queue: browns and greens go in at the top, soil comes out at the "
            "bottom, and the only rule is to never let it dry out.",
            "Turn it in spring and in autumn, keep it the size of a cubic metre, and give it "
            "a year. That is the whole secret, and now you have paid for it.",
        ),
        premium=True,
    ),
    Article(
        "sharpening-by-the-numbers",
        "Sharpening by the numbers",
        "Members only: angles, grits and the one habit that matters.",
        (
            "Twenty-five degrees, a thousand grit, then six thousand, then a strop.",
            "The habit: sharpen before the edge is dull, not after.",
        ),
        premium=True,
    ),
    Article(
        "a-workshop-in-one-square-metre",
        "A workshop in one square metre",
        "Members only: the fold-away bench, with its cut list.",
        (
            "A wall cleat, a drop-leaf top and two folding legs make a bench that disappears "
            "when the flat needs to be a flat again.",
        ),
        premium=True,
    ),
)

DOWNLOADS = (
    Download(
        "bench-cut-list.txt",
        "Fold-away bench: cut list",
        "Top: 1 x 900 x 500 x 28 birch ply\nCleat: 1 x 900 x 90 x 18\nLegs: 2 x 850 x 45 x 45\n",
    ),
    Download(
        "compost-calendar.txt",
        "Compost calendar",
        "March: turn the heap\nJune: water in dry weeks\nOctober: turn the heap\n",
    ),
)


def article(slug: str, *, premium: bool) -> Article | None:
    return next((a for a in ARTICLES if a.slug == slug and a.premium == premium), None)


def download(name: str) -> Download | None:
    return next((d for d in DOWNLOADS if d.name == name), None)
