"""bridge.config: defaults, secrets from the environment, every kind of mistake, files, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import (
    Config,
    config_from_mapping,
    config_from_prefixed,
    load_config,
    parse_duration,
)
from bridge.errors import ConfigError, ConfigProblem

KEY = "k" * 24
ENV = {"BRIDGE_SECRET_KEY": KEY}


def build(data: dict[str, Any], tmp_path: Path, env: dict[str, str] | None = None) -> Config:
    return config_from_mapping(data, env=ENV if env is None else env, base_dir=tmp_path)


def problems_of(data: dict[str, Any], tmp_path: Path) -> dict[str, ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        build(data, tmp_path)
    return {p.key: p for p in caught.value.problems}


def write(tmp_path: Path, text: str, name: str = "bridge.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and secrets -----------------------------------------------------------------------


def test_empty_config_gets_every_default(tmp_path: Path) -> None:
    config = build({}, tmp_path)

    assert config.billing.is_sandbox
    assert config.billing.sandbox_path == tmp_path / ".bridge" / "billing.db"
    assert config.billing.url == f"sandbox://{tmp_path}/.bridge/billing.db"
    assert (config.billing.agent_key, config.billing.api_key) == ("sandbox-agent", "sandbox-key")
    assert config.billing.webhook_secret is None
    assert (config.billing.timeout, config.billing.connect_timeout) == (10.0, 3.05)
    assert (config.billing.retries, config.billing.retry_budget) == (2, 15.0)
    assert config.billing.segment is None
    assert config.billing.portal_url is None
    site = config.site
    assert (site.base_url, site.mount, site.login_url) == (
        "http://127.0.0.1:8000",
        "/_billing",
        "/login",
    )
    assert (site.customer_reference, site.app, site.upstream) == ("user-{id}", None, None)
    assert site.secret_key == KEY
    assert config.adapter.kind == "header"
    assert dict(config.adapter.options) == {}
    reg = config.registration
    assert (reg.welcome_offer, reg.register_url, reg.offer_param) == (None, "/register", "offer")
    assert config.rules == ()
    assert config.inject.enabled
    assert config.inject.banner
    assert config.inject.links_marker == "<!-- billing:links -->"
    assert config.inject.trial_warning == 3 * 86400
    cache = config.cache
    assert (cache.backend, cache.redis_url, cache.max_entries) == ("memory", None, 10000)
    assert (cache.ttl, cache.stale_ttl, cache.identity_ttl) == (300, 3600, 30)
    assert config.state.path == tmp_path / ".bridge" / "state.db"


SECRETS = [
    pytest.param("billing", "agent_key", "PROABONO_AGENT_KEY", id="agent_key"),
    pytest.param("billing", "api_key", "PROABONO_API_KEY", id="api_key"),
    pytest.param("site", "secret_key", "BRIDGE_SECRET_KEY", id="secret_key"),
    pytest.param("billing", "webhook_secret", "PROABONO_WEBHOOK_SECRET", id="webhook_secret"),
]


@pytest.mark.parametrize(("section", "key", "var"), SECRETS)
def test_environment_overrides_a_secret_of_the_file(
    tmp_path: Path, section: str, key: str, var: str
) -> None:
    data = {section: {key: "from-the-file-0123456789"}}
    env = {**ENV, var: "from-the-env-0123456789"}

    config = build(data, tmp_path, env)

    assert getattr(getattr(config, section), key) == "from-the-env-0123456789"
    assert f"{key}: set (from {var})" in "\n".join(config.describe())


@pytest.mark.parametrize(("section", "key", "var"), SECRETS)
def test_environment_completes_a_file_without_the_secret(
    tmp_path: Path, section: str, key: str, var: str
) -> None:
    config = build({}, tmp_path, {**ENV, var: "only-in-the-env-012345"})

    assert getattr(getattr(config, section), key) == "only-in-the-env-012345"


def test_secret_in_the_file_is_used_and_reported_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, f'[site]\nsecret_key = "{KEY}"\n')

    config = load_config(path, env={})

    assert config.site.secret_key == KEY
    assert "secret_key: set (from file)" in "\n".join(config.describe())


def test_real_billing_url_needs_both_keys_and_names_their_variables(tmp_path: Path) -> None:
    problems = problems_of({"billing": {"url": "https://api-42.proabono.com"}}, tmp_path)

    assert set(problems) == {"billing.agent_key", "billing.api_key"}
    assert "missing secret" in problems["billing.agent_key"].message
    assert "PROABONO_AGENT_KEY" in problems["billing.agent_key"].hint
    assert "PROABONO_API_KEY" in problems["billing.api_key"].hint


def test_real_billing_url_with_keys_from_the_environment(tmp_path: Path) -> None:
    env = {**ENV, "PROABONO_AGENT_KEY": "agent-1", "PROABONO_API_KEY": "api-1"}

    config = build({"billing": {"url": "https://api-42.proabono.com/"}}, tmp_path, env)

    assert not config.billing.is_sandbox
    assert config.billing.sandbox_path is None
    assert config.billing.url == "https://api-42.proabono.com"
    assert (config.billing.agent_key, config.billing.api_key) == ("agent-1", "api-1")


def test_missing_site_secret_key_says_how_to_generate_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build({}, tmp_path, env={})

    (problem,) = caught.value.problems
    assert problem.key == "site.secret_key"
    assert "BRIDGE_SECRET_KEY" in problem.hint
    assert "secrets.token_urlsafe" in problem.hint


@pytest.mark.parametrize(
    ("data", "env", "message"),
    [
        pytest.param({"site": {"secret_key": "tiny-secret"}}, {}, "too short", id="from-file"),
        pytest.param(
            {},
            {"BRIDGE_SECRET_KEY": "tiny-secret"},
            "(value from $BRIDGE_SECRET_KEY)",
            id="from-env",
        ),
    ],
)
def test_short_site_secret_key_is_refused(
    tmp_path: Path, data: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(data, tmp_path, env)

    (problem,) = caught.value.problems
    assert problem.key == "site.secret_key"
    assert message in problem.message
    assert "tiny-secret" not in str(caught.value)
    assert "token_urlsafe" in problem.hint


def test_secrets_never_appear_in_repr_describe_or_errors(tmp_path: Path) -> None:
    env = {
        "PROABONO_AGENT_KEY": "AGENT-SECRET-1",
        "PROABONO_API_KEY": "API-SECRET-2",
        "BRIDGE_SECRET_KEY": "SITE-SECRET-3-0123456789",
        "PROABONO_WEBHOOK_SECRET": "HOOK-SECRET-4",
    }
    config = build({"billing": {"url": "https://api-1.proabono.com"}}, tmp_path, env)
    shown = repr(config) + "\n".join(config.describe())
    with pytest.raises(ConfigError) as caught:
        build({"site": {"secret_key": 1234567890123}}, tmp_path, {})

    for secret in env.values():
        assert secret not in shown
    assert "1234567890123" not in str(caught.value)
    assert "expected a string, got integer" in str(caught.value)


# --- mistakes -----------------------------------------------------------------------------------

MISTAKES = [
    # (data, key path, words in the message, words in the hint)
    pytest.param(
        {"billing": {"timout": "5s"}},
        "billing.timout",
        "unknown key",
        "'timeout'",
        id="typo-did-you-mean",
    ),
    pytest.param(
        {"billing": {"retries": "abc"}},
        "billing.retries",
        "expected an integer, got string 'abc'",
        "",
        id="wrong-type",
    ),
    pytest.param({"billing": {"retries": 11}}, "billing.retries", "<= 10", "", id="retries-range"),
    pytest.param(
        {"billing": {"timeout": "200s"}}, "billing.timeout", "<= 120", "", id="timeout-too-long"
    ),
    pytest.param({"billing": {"timeout": 0}}, "billing.timeout", "> 0", "", id="timeout-zero"),
    pytest.param(
        {"billing": {"timeout": "soon"}},
        "billing.timeout",
        "not a duration",
        "",
        id="duration-garbage",
    ),
    pytest.param(
        {"billing": {"url": "ftp://files.example.com"}},
        "billing.url",
        "ftp",
        "sandbox://PATH",
        id="url-ftp",
    ),
    pytest.param(
        {"billing": {"url": "https://"}},
        "billing.url",
        "no host",
        "http://HOST:PORT",
        id="url-no-host",
    ),
    pytest.param(
        {"billing": {"url": "https://api 1.proabono.com"}},
        "billing.url",
        "spaces",
        "",
        id="url-spaces",
    ),
    pytest.param(
        {"billing": {"url": "api-1.proabono.com"}},
        "billing.url",
        "no scheme",
        "https://",
        id="url-no-scheme",
    ),
    pytest.param({"billing": {"segment": "a&b"}}, "billing.segment", "&", "", id="segment-chars"),
    pytest.param(
        {"billing": {"segment": "s" * 51}}, "billing.segment", "50", "", id="segment-long"
    ),
    pytest.param(
        {"billing": {"portal_url": "/portal"}},
        "billing.portal_url",
        "http",
        "",
        id="portal-not-absolute",
    ),
    pytest.param(
        {"site": {"base_url": "example.com"}}, "site.base_url", "http", "", id="base-url-relative"
    ),
    pytest.param(
        {"site": {"base_url": "https://example.com/?a=1"}},
        "site.base_url",
        "query",
        "",
        id="base-url-query",
    ),
    pytest.param(
        {"site": {"app": "mysite.app"}}, "site.app", "module:callable", "", id="app-format"
    ),
    pytest.param(
        {"site": {"app": "a:app", "upstream": "http://127.0.0.1:9000"}},
        "site.upstream",
        "mutually exclusive",
        "",
        id="app-and-upstream",
    ),
    pytest.param(
        {"site": {"login_url": "login"}}, "site.login_url", "local path", "", id="login-url"
    ),
    pytest.param({"site": {"mount": "/"}}, "site.mount", "not be '/'", "", id="mount-root"),
    pytest.param(
        {"site": {"mount": "_billing"}}, "site.mount", "start with '/'", "", id="mount-no-slash"
    ),
    pytest.param(
        {"site": {"mount": "/_billing/"}},
        "site.mount",
        "not end with '/'",
        "",
        id="mount-trailing-slash",
    ),
    pytest.param(
        {"site": {"customer_reference": "user"}},
        "site.customer_reference",
        "{id} exactly once",
        "",
        id="reference-no-id",
    ),
    pytest.param(
        {"site": {"customer_reference": "{id}-{id}"}},
        "site.customer_reference",
        "{id} exactly once",
        "",
        id="reference-two-ids",
    ),
    pytest.param(
        {"site": {"customer_reference": "{site}-{id}"}},
        "site.customer_reference",
        "no other placeholder",
        "",
        id="reference-other-placeholder",
    ),
    pytest.param(
        {"site": {"customer_reference": "u=?{id}"}},
        "site.customer_reference",
        "= ?",
        "",
        id="reference-forbidden-chars",
    ),
    pytest.param(
        {"site": {"paywall_templates": "no-such-dir"}},
        "site.paywall_templates",
        "not a directory",
        "",
        id="templates-missing",
    ),
    pytest.param(
        {"adapter": {"kind": "flask-login"}},
        "adapter.kind",
        "must be one of",
        "'flask_login'",
        id="adapter-did-you-mean",
    ),
    pytest.param(
        {"registration": {"welcome_offer": "free<trial"}},
        "registration.welcome_offer",
        "<",
        "",
        id="welcome-offer-forbidden-char",
    ),
    pytest.param(
        {"registration": {"offer_param": "my offer"}},
        "registration.offer_param",
        "query parameter",
        "",
        id="offer-param",
    ),
    pytest.param(
        {"inject": {"banner": "yes"}}, "inject.banner", "expected true or false", "", id="bool-type"
    ),
    pytest.param(
        {"cache": {"backend": "redis"}},
        "cache.redis_url",
        "required",
        "redis://",
        id="redis-without-url",
    ),
    pytest.param(
        {"cache": {"redis_url": "http://localhost"}},
        "cache.redis_url",
        "rediss://",
        "",
        id="redis-url-scheme",
    ),
    pytest.param(
        {"cache": {"ttl": "1h", "stale_ttl": "5m"}},
        "cache.stale_ttl",
        ">= ttl",
        "",
        id="stale-below-ttl",
    ),
    pytest.param({"cache": {"max_entries": 0}}, "cache.max_entries", ">= 1", "", id="max-entries"),
    pytest.param({"cache": {"ttl": "-5m"}}, "cache.ttl", "negative", "", id="negative-duration"),
    pytest.param(
        {"rules": [{"path": "/x", "feature": "f"}]},
        "rules",
        "unknown section",
        "'[[rule]]'",
        id="rules-section",
    ),
    pytest.param({"billng": {}}, "billng", "unknown section", "'[billing]'", id="section-typo"),
    pytest.param({"timeout": "5s"}, "timeout", "unknown section", "[billing]", id="key-at-top"),
    pytest.param(
        {"billing": "https://api.proabono.com"},
        "billing",
        "expected a table",
        "",
        id="section-not-table",
    ),
    pytest.param(
        {"rule": {"path": "/x", "feature": "f"}},
        "rule",
        "array of tables",
        "[[rule]]",
        id="single-bracket-rule",
    ),
    pytest.param(
        {"rule": [{"path": "/premium/**"}]},
        "rule[0].feature",
        "rule without a feature",
        'feature = "premium-articles"',
        id="rule-without-feature",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "a", "any": ["b"]}]},
        "rule[0].any",
        "exactly one of feature / any / all",
        "",
        id="rule-feature-and-any",
    ),
    pytest.param(
        {"rule": [{"feature": "f"}]},
        "rule[0].path",
        "missing required key",
        "path =",
        id="rule-without-path",
    ),
    pytest.param(
        {"rule": [{"path": "premium/**", "feature": "f"}]},
        "rule[0].path",
        "start with '/'",
        "",
        id="rule-path-relative",
    ),
    pytest.param(
        {"rule": [{"path": "/a/***", "feature": "f"}]},
        "rule[0].path",
        "'***'",
        "",
        id="rule-triple-star",
    ),
    pytest.param(
        {"rule": [{"path": "/a/**x", "feature": "f"}]},
        "rule[0].path",
        "'**x'",
        "",
        id="rule-star-star-x",
    ),
    pytest.param(
        {"rule": [{"path": "/feed?x=1", "feature": "f"}]},
        "rule[0].path",
        "no query",
        "query = {",
        id="rule-query-in-path",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "methods": ["GET", "FETCH"]}]},
        "rule[0].methods",
        "FETCH",
        "",
        id="rule-unknown-method",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "any": []}]}, "rule[0].any", "empty", "", id="rule-empty-any"
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "query": {"p": 123}}]},
        "rule[0].query",
        "integer 123",
        '"123"',
        id="rule-query-number",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "min_remaining": 0}]},
        "rule[0].min_remaining",
        ">= 1",
        "",
        id="rule-min-remaining",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "deny": "block"}]},
        "rule[0].deny",
        "unknown deny",
        "redirect:",
        id="rule-deny-unknown",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "deny": "redirect:pricing"}]},
        "rule[0].deny",
        "redirect",
        "redirect:/pricing",
        id="rule-deny-bad-redirect",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "on_outage": "open"}]},
        "rule[0].on_outage",
        "deny, allow",
        "",
        id="rule-on-outage",
    ),
    pytest.param(
        {"rule": [{"path": "/x", "feature": "f", "featur": "g"}]},
        "rule[0].featur",
        "unknown key",
        "'feature'",
        id="rule-key-typo",
    ),
]


@pytest.mark.parametrize(("data", "key", "message", "hint"), MISTAKES)
def test_each_mistake_is_reported_with_its_key_path_and_a_fix(
    tmp_path: Path, data: dict[str, Any], key: str, message: str, hint: str
) -> None:
    problems = problems_of(data, tmp_path)

    assert key in problems, list(problems)
    assert message in problems[key].message
    assert hint in problems[key].hint


def test_a_file_with_many_mistakes_reports_all_of_them_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[billing]
url = "ftp://billing.example.com"
timout = "5s"
retries = "two"

[site]
mount = "/"
customer_reference = "customer"

[adapter]
kind = "flask-login"

[cache]
backend = "redis"

[[rule]]
path = "/premium/**"

[[rule]]
path = "/downloads/**x"
feature = "downloads"

[rules]
""",
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, env=ENV)

    error = caught.value
    assert error.source == str(path)
    assert [p.key for p in error.problems] == [
        "rules",
        "billing.timout",
        "billing.url",
        "billing.retries",
        "site.mount",
        "site.customer_reference",
        "adapter.kind",
        "cache.redis_url",
        "rule[0].feature",
        "rule[1].path",
    ]
    assert all(p.hint for p in error.problems)
    assert str(path) in str(error)
    assert "10 configuration problems" in str(error)


def test_did_you_mean_timeout(tmp_path: Path) -> None:
    problem = problems_of({"billing": {"timout": 5}}, tmp_path)["billing.timout"]

    assert problem.hint == "did you mean 'timeout'?"


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    problem = problems_of({"state": {"zzz": 1}}, tmp_path)["state.zzz"]

    assert problem.hint == "known keys: path"


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("3.05s", 3.05),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("31d", 31 * 86400.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("0s", 0.0),
    ],
    ids=str,
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "negative"),
        ("-5m", "negative"),
        ("", "not a duration"),
        ("soon", "not a duration"),
        ("5 minutes", "not a duration"),
        ("30m1h", "not a duration"),
        ("1h1h", "not a duration"),
        (True, "got boolean true"),
        ([5], "got a list"),
        (float("inf"), "finite"),
    ],
    ids=repr,
)
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_durations_are_read_in_every_section(tmp_path: Path) -> None:
    config = build(
        {
            "billing": {"timeout": "30s", "retry_budget": "1m"},
            "inject": {"trial_warning": "1d12h"},
            "cache": {"ttl": 60, "stale_ttl": "2h", "identity_ttl": "1m"},
        },
        tmp_path,
    )

    assert (config.billing.timeout, config.billing.retry_budget) == (30.0, 60.0)
    assert config.inject.trial_warning == 36 * 3600
    assert (config.cache.ttl, config.cache.stale_ttl, config.cache.identity_ttl) == (60, 7200, 60)
    assert "ttl 1m, stale 2h, identity 1m" in "\n".join(config.describe())


# --- files and paths ----------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "conf",
        '[billing]\nurl = "sandbox://data/billing.db"\n[state]\npath = "../state/s.db"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(path, env=ENV)

    assert config.billing.sandbox_path == tmp_path / "conf" / "data" / "billing.db"
    assert config.billing.url == f"sandbox://{tmp_path}/conf/data/billing.db"
    assert config.state.path == tmp_path / "state" / "s.db"


def test_absolute_sandbox_path_is_kept(tmp_path: Path) -> None:
    config = build({"billing": {"url": "sandbox:///var/lib/bridge/b.db"}}, tmp_path)

    assert config.billing.sandbox_path == Path("/var/lib/bridge/b.db")
    assert config.billing.url == "sandbox:///var/lib/bridge/b.db"


def test_paywall_templates_is_an_existing_folder_resolved_like_other_paths(tmp_path: Path) -> None:
    (tmp_path / "paywall").mkdir()

    config = build({"site": {"paywall_templates": "paywall"}}, tmp_path)

    assert config.site.paywall_templates == tmp_path / "paywall"


def test_config_file_from_bridge_config_then_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = write(tmp_path, '[site]\nmount = "/named"\n', "named.toml")
    write(tmp_path, '[site]\nmount = "/local"\n')
    monkeypatch.chdir(tmp_path)

    assert load_config(env={**ENV, "BRIDGE_CONFIG": str(named)}).site.mount == "/named"
    assert load_config(env=ENV).site.mount == "/local"
    assert load_config(env=ENV).source == "bridge.toml"


def test_missing_file_is_a_config_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml", env=ENV)

    (problem,) = caught.value.problems
    assert "not found" in problem.message
    assert "--config" in problem.hint
    assert "BRIDGE_CONFIG" in problem.hint


def test_toml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[billing]\ntimeout = "10s"\nretries 2\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path, env=ENV)

    (problem,) = caught.value.problems
    assert problem.key == str(path)
    assert "TOML syntax error" in problem.message
    assert "line 3" in problem.message
    assert "column" in problem.message


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "bridge.toml"

    config = load_config(example, env=ENV)

    assert config.billing.is_sandbox
    assert config.adapter.kind == "flask_login"
    assert {r.path for r in config.rules} >= {"/premium/**", "/wp-json/**"}
    assert any(r.query for r in config.rules)


# --- rules --------------------------------------------------------------------------------------


def test_rule_variations(tmp_path: Path) -> None:
    config = build(
        {
            "rule": [
                {"path": "/premium/**", "feature": "premium-articles"},
                {
                    "name": "api",
                    "path": "/wp-json/*/posts",
                    "any": ["a", "b"],
                    "methods": ["get", "head"],
                    "on_outage": "allow",
                    "case_insensitive": True,
                },
                {"path": "/", "query": {"feed": "*"}, "all": ["feeds", "rss"], "deny": "404"},
                {
                    "path": "/downloads/*",
                    "feature": "downloads",
                    "min_remaining": 3,
                    "deny": "redirect:https://example.com/pricing",
                },
            ]
        },
        tmp_path,
    )

    premium, api, feeds, downloads = config.rules
    assert (premium.features, premium.require, premium.methods, premium.query) == (
        ("premium-articles",),
        "all",
        None,
        None,
    )
    assert (premium.min_remaining, premium.deny, premium.on_outage) == (1, "paywall", "deny")
    assert premium.redirect_to is None
    assert not premium.case_insensitive
    assert (api.name, api.features, api.require, api.methods) == (
        "api",
        ("a", "b"),
        "any",
        ("GET", "HEAD"),
    )
    assert api.on_outage == "allow"
    assert api.case_insensitive
    assert (feeds.features, feeds.require, dict(feeds.query or {})) == (
        ("feeds", "rss"),
        "all",
        {"feed": "*"},
    )
    assert feeds.deny == "404"
    assert downloads.min_remaining == 3
    assert downloads.redirect_to == "https://example.com/pricing"


def test_every_bad_rule_is_reported_not_only_the_first(tmp_path: Path) -> None:
    problems = problems_of(
        {
            "rule": [
                {"path": "/ok", "feature": "f"},
                {"path": "/a"},
                "not a table",
                {"path": "b", "feature": "f"},
            ]
        },
        tmp_path,
    )

    assert set(problems) == {"rule[1].feature", "rule[2]", "rule[3].path"}
    assert "'/a'" in problems["rule[1].feature"].message


# --- settings mappings --------------------------------------------------------------------------


def test_config_from_prefixed_reads_flask_style_settings(tmp_path: Path) -> None:
    settings = {
        "SECRET_KEY": "flask's own, ignored",
        "DEBUG": True,
        "BRIDGE_BILLING": {"timeout": "20s"},
        "BRIDGE_SITE": {"mount": "/billing"},
        "BRIDGE_ADAPTER": {"kind": "flask_login", "user_model": "app.models:User"},
        "BRIDGE_RULES": [{"path": "/premium/**", "feature": "premium"}],
        "BRIDGE_CACHE": {"ttl": "1m"},
    }

    config = config_from_prefixed(settings, env=ENV, base_dir=tmp_path)

    assert config.billing.timeout == 20.0
    assert config.site.mount == "/billing"
    assert config.adapter.kind == "flask_login"
    assert dict(config.adapter.options) == {"user_model": "app.models:User"}
    assert [r.path for r in config.rules] == ["/premium/**"]
    assert config.cache.ttl == 60
    assert config.state.path == tmp_path / ".bridge" / "state.db"


def test_config_from_prefixed_reports_unknown_settings(tmp_path: Path) -> None:
    settings = {
        "BRIDGE_RULE": [],
        "BRIDGE_FOO": 1,
        "BRIDGE_TIMEOUT": "5s",
        "BRIDGE_SITE": {"mont": "/x"},
    }

    with pytest.raises(ConfigError) as caught:
        config_from_prefixed(settings, env=ENV, base_dir=tmp_path)

    problems = {p.key: p for p in caught.value.problems}
    assert set(problems) == {"BRIDGE_RULE", "BRIDGE_FOO", "BRIDGE_TIMEOUT", "site.mont"}
    assert problems["BRIDGE_RULE"].hint == "did you mean 'BRIDGE_RULES'?"
    assert "BRIDGE_BILLING" in problems["BRIDGE_TIMEOUT"].hint
    assert "unknown setting" in problems["BRIDGE_FOO"].message


def test_adapter_options_are_kept_read_only(tmp_path: Path) -> None:
    config = build({"adapter": {"kind": "sql", "dsn": "sqlite:///users.db"}}, tmp_path)

    assert config.adapter.options["dsn"] == "sqlite:///users.db"
    with pytest.raises(TypeError):
        config.adapter.options["dsn"] = "other"  # type: ignore[index]


def test_an_empty_environment_variable_does_not_hide_the_file_secret(tmp_path: Path) -> None:
    data = {"site": {"secret_key": KEY}}

    config = build(data, tmp_path, {"BRIDGE_SECRET_KEY": ""})

    assert config.site.secret_key == KEY
    assert config.site.secret_origins["secret_key"] == "settings"


def test_describe_masks_a_redis_password(tmp_path: Path) -> None:
    data = {"cache": {"backend": "redis", "redis_url": "redis://:hunter2-pw@cache:6379/0"}}

    lines = "\n".join(build(data, tmp_path).describe())

    assert "hunter2-pw" not in lines
    assert "cache: redis redis://:***@cache:6379/0" in lines
