"""Which rule (if any) governs a request: path patterns, methods and query matches, precompiled.

Patterns: ``*`` is exactly one path segment, ``**`` any number of segments (zero included), so
``/premium/**`` covers ``/premium``, ``/premium/`` and ``/premium/a/b``. A trailing slash never
matters. ``case_insensitive = true`` compares without case (for sites whose server does).

Precedence: the **most specific** matching rule wins; between equally specific rules, the first
declared wins. Specificity compares, in order: more literal segments, fewer ``**``, fewer ``*``,
more query conditions, a method list over none.

Methods: a rule without ``methods`` covers every method. ``GET`` also covers ``HEAD`` (same content,
no body), and the value of ``X-HTTP-Method-Override`` (and friends) counts as a method of the
request too, so an override cannot smuggle a gated ``GET`` past a rule.

Query: ``query = { p = "123" }`` requires the parameter with that value (any of its values);
``"*"`` requires the parameter with any value. Names and values are compared after one decode; a
number is compared as PHP reads it (``p=0123`` and ``p=123abc`` are post 123 to WordPress). The gate
also reads the parameters of a URL-encoded form body (``POST / p=123``), as PHP's routing does.

What this module does not do: canonicalise paths (``middleware.paths``) or decide (``bridge``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from bridge.config import RuleConfig

OVERRIDE_HEADERS = (
    "HTTP_X_HTTP_METHOD_OVERRIDE",
    "HTTP_X_HTTP_METHOD",
    "HTTP_X_METHOD_OVERRIDE",
)


@dataclass(frozen=True, eq=False)
class Rule:
    """A compiled ``[[rule]]``. Compared and hashed by identity (a cheap key for memos)."""

    config: RuleConfig
    index: int
    pattern: re.Pattern[str]
    prefix: str
    methods: frozenset[str] | None
    query: tuple[tuple[str, str], ...]
    specificity: tuple[int, ...]

    @property
    def label(self) -> str:
        return self.config.name or f"rule[{self.index}] {self.config.path}"

    def matches_query(self, params: Mapping[str, list[str]]) -> bool:
        for name, wanted in self.query:
            values = params.get(name)
            if not values:
                return False
            if wanted == "*" or wanted in values:
                continue
            if wanted.isdigit() and any(php_int(v) == int(wanted) for v in values):
                continue
            return False
        return True


_PHP_INT = re.compile(r"[ \t\n\r\v\f]*([+-]?)(\d+)")


def php_int(value: str) -> int | None:
    """What PHP's ``absint()`` makes of a query value (``"0123"``, ``"123abc"``, ``"+123"`` are
    all 123), since WordPress routes ``?p=`` that way; None when it starts with no digit."""
    match = _PHP_INT.match(value)
    return int(match.group(2)) if match else None


def compile_rule(config: RuleConfig, index: int) -> Rule:
    segments = [s for s in config.path.split("/") if s]
    parts: list[str] = []
    literal_segments = stars = double_stars = 0
    for segment in segments:
        if segment == "**":
            double_stars += 1
            parts.append("(?:/[^/]+)*")
        elif segment == "*":
            stars += 1
            parts.append("/[^/]+")
        else:
            literal_segments += 1
            parts.append("/" + re.escape(segment))
    flags = re.IGNORECASE if config.case_insensitive else 0
    pattern = re.compile("".join(parts) + "/?" if parts else "/", flags)
    prefix_segments = []
    for segment in segments:
        if "*" in segment:
            break
        prefix_segments.append(segment)
    prefix = "/" + "/".join(prefix_segments)
    if config.case_insensitive:
        prefix = prefix.lower()
    methods: frozenset[str] | None = None
    if config.methods:
        methods = frozenset(m.upper() for m in config.methods)
        if "GET" in methods:
            methods |= {"HEAD"}
    query = tuple(sorted((config.query or {}).items()))
    specificity = (literal_segments, -double_stars, -stars, len(query), int(methods is not None))
    return Rule(config, index, pattern, prefix, methods, query, specificity)


class RuleSet:
    """All rules, ordered by precedence once, matched in that order."""

    def __init__(self, rules: Iterable[RuleConfig]) -> None:
        compiled = [compile_rule(rule, i) for i, rule in enumerate(rules)]
        # sorted() is stable: equal specificity keeps declaration order.
        self.rules: tuple[Rule, ...] = tuple(
            sorted(compiled, key=lambda r: r.specificity, reverse=True)
        )
        self.needs_query = any(r.query for r in self.rules)
        #: No rule looks at the method or the query: the path alone picks the rule.
        self.path_only = not self.needs_query and all(r.methods is None for r in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def match(
        self,
        methods: Sequence[str],
        paths: Sequence[str],
        query_string: str = "",
    ) -> Rule | None:
        """The governing rule for a request with these methods and path forms, or None."""
        params: Mapping[str, list[str]] | None = None
        for rule in self.rules:
            if rule.methods is not None and not any(m in rule.methods for m in methods):
                continue
            if not self._path_matches(rule, paths):
                continue
            if rule.query:
                if params is None:
                    params = parse_qs(query_string, keep_blank_values=True)
                if not rule.matches_query(params):
                    continue
            return rule
        return None

    @staticmethod
    def _path_matches(rule: Rule, paths: Sequence[str]) -> bool:
        for path in paths:
            probe = path.lower() if rule.config.case_insensitive else path
            if probe.startswith(rule.prefix) and rule.pattern.fullmatch(path):
                return True
        return False


def request_methods(environ: Mapping[str, Any]) -> tuple[str, ...]:
    """The request method plus any method-override header value, upper-cased."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if (
        "HTTP_X_HTTP_METHOD_OVERRIDE" not in environ
        and "HTTP_X_HTTP_METHOD" not in environ
        and "HTTP_X_METHOD_OVERRIDE" not in environ
    ):
        return (method,)  # spelled out: this runs on every gated request
    overrides = [str(environ[h]).strip().upper() for h in OVERRIDE_HEADERS if environ.get(h)]
    if not overrides:
        return (method,)
    return tuple(dict.fromkeys([method, *overrides]))
