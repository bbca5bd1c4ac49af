"""Rule matching: patterns, precedence, methods, overrides and query conditions."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config import RuleConfig
from middleware.rules import RuleSet, request_methods


def rule(path: str, feature: str = "premium", **kw: Any) -> RuleConfig:
    return RuleConfig(path=path, feature=feature, **kw)


def matched(rules: RuleSet, path: str, method: str = "GET", query: str = "") -> str | None:
    found = rules.match([method], [path], query)
    return found.config.feature if found else None


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("/premium/**", "/premium", True),
        ("/premium/**", "/premium/", True),
        ("/premium/**", "/premium/a/b/c", True),
        ("/premium/**", "/premiumx", False),
        ("/premium/**", "/premiu", False),
        ("/premium/*", "/premium/a", True),
        ("/premium/*", "/premium/a/", True),
        ("/premium/*", "/premium/a/b", False),
        ("/premium/*", "/premium", False),
        ("/a/*/c", "/a/b/c", True),
        ("/a/*/c", "/a/b/b/c", False),
        ("/a/**/c", "/a/c", True),
        ("/a/**/c", "/a/x/y/c", True),
        ("/exact", "/exact", True),
        ("/exact", "/exact/", True),
        ("/exact", "/exact/more", False),
        ("/**", "/", True),
        ("/**", "/anything/at/all", True),
        ("/wp-json/wp/v2/posts/**", "/wp-json/wp/v2/posts/12", True),
        ("/a.b/**", "/aXb/c", False),
    ],
)
def test_patterns(pattern: str, path: str, hit: bool) -> None:
    assert (matched(RuleSet([rule(pattern)]), path) is not None) is hit


def test_case_sensitivity_is_per_rule() -> None:
    assert matched(RuleSet([rule("/Premium/**")]), "/premium/x") is None
    assert matched(RuleSet([rule("/Premium/**", case_insensitive=True)]), "/PREMIUM/x")


def test_most_specific_rule_wins_and_ties_go_to_the_first_declared() -> None:
    rules = RuleSet(
        [
            rule("/premium/**", "broad"),
            rule("/premium/videos/**", "videos"),
            rule("/premium/videos/*", "one-video"),
            rule("/premium/videos/*", "shadowed-duplicate"),
        ]
    )
    assert matched(rules, "/premium/text") == "broad"
    assert matched(rules, "/premium/videos/a/b") == "videos"
    assert matched(rules, "/premium/videos/a") == "one-video"


def test_query_rules_are_more_specific_than_the_same_path_without() -> None:
    rules = RuleSet([rule("/**", "site"), rule("/**", "post-123", query={"p": "123"})])
    assert matched(rules, "/", query="p=123") == "post-123"
    assert matched(rules, "/", query="p=124") == "site"


@pytest.mark.parametrize(
    ("query", "hit"),
    [
        ("feed=rss2", True),
        ("feed=atom&x=1", True),
        ("x=1&feed=", True),
        ("x=1", False),
        ("", False),
        ("%66eed=rss2", True),
    ],
)
def test_query_wildcard_needs_the_parameter(query: str, hit: bool) -> None:
    rules = RuleSet([rule("/**", query={"feed": "*"})])
    assert (matched(rules, "/", query=query) is not None) is hit


def test_query_value_matches_any_repeated_value() -> None:
    rules = RuleSet([rule("/**", query={"p": "123"})])
    assert matched(rules, "/", query="p=1&p=123")


def test_methods() -> None:
    rules = RuleSet([rule("/api/**", methods=("GET",))])
    assert matched(rules, "/api/x", "GET")
    assert matched(rules, "/api/x", "HEAD"), "GET covers HEAD: same headers, same status"
    assert matched(rules, "/api/x", "POST") is None
    assert matched(RuleSet([rule("/api/**")]), "/api/x", "OPTIONS"), "no list covers every method"


def test_method_override_counts_as_a_method_of_the_request() -> None:
    rules = RuleSet([rule("/api/**", methods=("GET",))])
    methods = request_methods({"REQUEST_METHOD": "POST", "HTTP_X_HTTP_METHOD_OVERRIDE": "get"})
    assert methods == ("POST", "GET")
    assert rules.match(methods, ["/api/x"]) is not None


def test_any_path_form_matching_gates_the_request() -> None:
    rules = RuleSet([rule("/premium/**")])
    assert rules.match(["GET"], ["/free/../premium/x", "/premium/x"]) is not None
    assert rules.match(["GET"], ["/premium/x/../../free", "/free"]) is not None


def test_empty_rule_set_is_falsy() -> None:
    assert not RuleSet([])
    assert len(RuleSet([rule("/a")])) == 1


@pytest.mark.parametrize(
    "value",
    ["123", "0123", "123abc", "+123", "123.0", " 123", "-123"],
    ids=["plain", "leading-zero", "trailing-junk", "plus", "decimal", "space", "minus"],
)
def test_numeric_query_values_match_as_php_reads_them(value: str) -> None:
    rules = RuleSet([rule("/**", query={"p": "123"})])
    assert matched(rules, "/", query=f"p={value}"), value


@pytest.mark.parametrize("value", ["1234", "12", "abc", "", "0x7B"])
def test_other_numbers_do_not_match(value: str) -> None:
    rules = RuleSet([rule("/**", query={"p": "123"})])
    assert matched(rules, "/", query=f"p={value}") is None, value
