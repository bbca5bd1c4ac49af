"""Configuration: ``bridge.toml`` (or a plain mapping of settings) read into frozen dataclasses.

What this module owns: the entry points (:func:`load_config`, :func:`config_from_mapping`,
:func:`config_from_prefixed`), the checks that tie several keys of a section together (one small
function per section), and the one pass that reports *every* problem with its key path
(``billing.timeout``, ``rule[2].feature``) and a fix, raised at the end as one
:class:`~bridge.errors.ConfigError`. Import everything from here; the modules behind it are:

* ``bridge.config_sections``: the schema, one frozen dataclass per section (every key with its
  type, default and validator), and ``Config.describe``;
* ``bridge.config_reader``: how a key is declared and read (types, secrets from the environment,
  durations such as ``"1h30m"``, path resolution against the config file's directory);
* ``bridge.config_checks``: the validators of single keys.

What it does not do: open connections, create files, or check adapter-specific options (keys of
``[adapter]`` other than ``kind`` are kept in ``AdapterConfig.options`` for ``cms_adapters``).
Building a dataclass directly skips validation; use one of the entry points.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bridge.config_checks import SECRET_KEY_HINT
from bridge.config_reader import (
    SecretOrigin,
    _describe_value,
    _did_you_mean,
    _read_section,
    _Reader,
    format_duration,
    parse_duration,
)
from bridge.config_sections import (
    SECRET_ENV,
    SECTIONS,
    AdapterConfig,
    BillingConfig,
    CacheConfig,
    Config,
    InjectConfig,
    RegistrationConfig,
    RuleConfig,
    SiteConfig,
    StateConfig,
)
from bridge.errors import ConfigError, ConfigProblem

__all__ = [
    "AdapterConfig",
    "BillingConfig",
    "CacheConfig",
    "Config",
    "InjectConfig",
    "RegistrationConfig",
    "RuleConfig",
    "SecretOrigin",
    "SiteConfig",
    "StateConfig",
    "config_from_mapping",
    "config_from_prefixed",
    "load_config",
    "parse_duration",
]

DEFAULT_FILE = "bridge.toml"
CONFIG_ENV = "BRIDGE_CONFIG"


# --- sections: the single-key schema (config_sections), plus checks that tie keys together -----


def _billing(reader: _Reader, data: Mapping[str, Any]) -> BillingConfig:
    s = _read_section(reader, BillingConfig, "billing", data)
    v = s.values
    if s.ok("url") and v["url"].startswith("sandbox://"):
        for name, default in (("agent_key", "sandbox-agent"), ("api_key", "sandbox-key")):
            if v[name] is None:
                v[name], s.origins[name] = default, "default"
    elif s.ok("url"):
        for name in ("agent_key", "api_key"):
            if v[name] is None and s.ok(name):
                env = SECRET_ENV[f"billing.{name}"]
                hint = f"set the environment variable {env} (or {name} = ... in [billing])"
                reader.problem(
                    f"billing.{name}", "missing secret: required for an http(s) url", hint
                )
    return BillingConfig(**v, secret_origins=MappingProxyType(s.origins))


def _site(reader: _Reader, data: Mapping[str, Any]) -> SiteConfig:
    s = _read_section(reader, SiteConfig, "site", data)
    v = s.values
    if v["secret_key"] is None and s.ok("secret_key"):
        reader.problem(
            "site.secret_key",
            "missing secret: signs the bridge's links and cookies",
            f"set the environment variable BRIDGE_SECRET_KEY; {SECRET_KEY_HINT}",
        )
    if v["app"] and v["upstream"]:
        reader.problem(
            "site.upstream",
            "app and upstream are mutually exclusive",
            "keep app to wrap a Python site, or upstream to proxy any other site",
        )
    return SiteConfig(**v, secret_origins=MappingProxyType(s.origins))


def _adapter(reader: _Reader, data: Mapping[str, Any]) -> AdapterConfig:
    s = _read_section(reader, AdapterConfig, "adapter", data, extra=True)
    return AdapterConfig(**s.values, options=MappingProxyType(s.extra))


def _cache(reader: _Reader, data: Mapping[str, Any]) -> CacheConfig:
    s = _read_section(reader, CacheConfig, "cache", data)
    v = s.values
    if v["backend"] == "redis" and v["redis_url"] is None and s.ok("redis_url"):
        reader.problem(
            "cache.redis_url",
            'required when backend = "redis"',
            'write redis_url = "redis://localhost:6379/0"',
        )
    if s.ok("ttl", "stale_ttl") and v["stale_ttl"] < v["ttl"]:
        reader.problem(
            "cache.stale_ttl",
            f"must be >= ttl ({format_duration(v['stale_ttl'])} < {format_duration(v['ttl'])})",
            "stale_ttl is how long a snapshot may serve during a billing outage, after ttl",
        )
    return CacheConfig(**v)


def _rule(reader: _Reader, prefix: str, data: Mapping[str, Any]) -> RuleConfig | None:
    s = _read_section(reader, RuleConfig, prefix, data)
    where = f" (path {data['path']!r})" if isinstance(data.get("path"), str) else ""
    chosen = [k for k in ("feature", "any", "all") if data.get(k) is not None]
    if not chosen:
        reader.problem(
            f"{prefix}.feature",
            "rule without a feature" + where,
            'add feature = "premium-articles" (or any = [...] / all = [...])',
        )
    elif len(chosen) > 1:
        reader.problem(
            f"{prefix}.{chosen[1]}",
            f"a rule takes exactly one of feature / any / all, got {' and '.join(chosen)}" + where,
            "keep one; any = [...] / all = [...] combine several features",
        )
    if s.bad or len(chosen) != 1:
        return None
    return RuleConfig(**s.values)


def _rules(reader: _Reader, data: Any) -> tuple[RuleConfig, ...]:
    if data is None:
        return ()
    if isinstance(data, Mapping) or not isinstance(data, list | tuple):
        reader.problem(
            "rule",
            f"expected an array of tables, got {_describe_value(data)}",
            "write [[rule]] (double brackets) before each rule",
        )
        return ()
    rules: list[RuleConfig] = []
    for index, item in enumerate(data):
        prefix = f"rule[{index}]"
        if not isinstance(item, Mapping):
            reader.problem(prefix, f"expected a table, got {_describe_value(item)}")
        elif (rule := _rule(reader, prefix, item)) is not None:
            rules.append(rule)
    return tuple(rules)


def _plain(name: str) -> Callable[[_Reader, Mapping[str, Any]], Any]:
    """The builder of a section that has no check across keys."""

    def build(reader: _Reader, data: Mapping[str, Any]) -> Any:
        cls = SECTIONS[name]
        return cls(**_read_section(reader, cls, name, data).values)

    return build


_BUILDERS: Mapping[str, Callable[[_Reader, Mapping[str, Any]], Any]] = {
    "billing": _billing,
    "site": _site,
    "adapter": _adapter,
    "registration": _plain("registration"),
    "inject": _plain("inject"),
    "cache": _cache,
    "state": _plain("state"),
}
_KEY_SECTIONS: Mapping[str, str] = {
    f.name: section
    for section, cls in reversed(list(SECTIONS.items()))
    for f in dataclasses.fields(cls)
    if "bridge" in f.metadata
}


def _section_title(name: str) -> str:
    return "[[rule]]" if name == "rule" else f"[{name}]"


def _build(reader: _Reader, data: Mapping[str, Any]) -> Config:
    for name in data:
        if name in SECTIONS:
            continue
        if name in _KEY_SECTIONS:
            hint = f"{name} belongs under {_section_title(_KEY_SECTIONS[name])}"
        else:
            hint = _did_you_mean(str(name), SECTIONS, lambda s: f"'{_section_title(s)}'")
        reader.problem(str(name), "unknown section", hint or "sections: " + ", ".join(SECTIONS))
    sections: dict[str, Any] = {}
    for name, build in _BUILDERS.items():
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            reader.problem(
                name,
                f"expected a table, got {_describe_value(value)}",
                f"write {_section_title(name)} on a line of its own, keys below it",
            )
            value = {}
        sections[name] = build(reader, value)
    rules = _rules(reader, data.get("rule"))
    if reader.problems:
        raise ConfigError(reader.problems, source=reader.source)
    return Config(**sections, rules=rules, source=reader.source)


# --- entry points -------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    """Read a TOML file: ``path``, else ``$BRIDGE_CONFIG``, else ``./bridge.toml``.

    Relative paths inside (sandbox database, state store) are resolved against the file's folder.
    Raises :class:`ConfigError` listing every problem, including a missing or unreadable file.
    """
    env = os.environ if env is None else env
    file = Path(path if path is not None else env.get(CONFIG_ENV) or DEFAULT_FILE)
    source = str(file)
    try:
        with file.open("rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        problem = ConfigProblem(
            source,
            f"config file not found (looked at {file.absolute()})",
            f"copy examples/bridge.toml there, pass --config FILE, or set {CONFIG_ENV}",
        )
    except OSError as exc:
        problem = ConfigProblem(source, f"cannot read the config file: {exc.strerror}")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(
            source, f"not UTF-8 text: {exc.reason} at byte {exc.start}", "save the file as UTF-8"
        )
    except tomllib.TOMLDecodeError as exc:
        problem = ConfigProblem(
            source,
            f"TOML syntax error: {exc}",
            "strings need quotes, sections are [name], rules [[rule]]; see docs/configuration.md",
        )
    else:
        return _build(_Reader(env, file.absolute().parent, "file", source), data)
    raise ConfigError([problem], source=source)


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    source: str = "",
) -> Config:
    """Read the same structure as the TOML file from a mapping (Django ``PROABONO_BRIDGE``).

    Relative paths are resolved against ``base_dir`` (default: the current directory).
    """
    env = os.environ if env is None else env
    base = (base_dir or Path.cwd()).absolute()
    return _build(_Reader(env, base, "settings", source or "settings"), data)


def config_from_prefixed(
    settings: Mapping[str, Any],
    prefix: str = "BRIDGE_",
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Read Flask-style settings: ``BRIDGE_BILLING = {...}``, ``BRIDGE_RULES = [...]``, ...

    Keys without ``prefix`` are ignored; an unknown prefixed key is a problem.
    """
    names = {f"{prefix}{'RULES' if s == 'rule' else s.upper()}": s for s in SECTIONS}
    data: dict[str, Any] = {}
    env = os.environ if env is None else env
    source = f"{prefix}* settings"
    reader = _Reader(env, (base_dir or Path.cwd()).absolute(), "settings", source)
    for name, value in settings.items():
        if not isinstance(name, str) or not name.startswith(prefix):
            continue
        if name in names:
            data[names[name]] = value
            continue
        key = name.removeprefix(prefix).lower()
        if key in _KEY_SECTIONS:
            section = next(n for n, s in names.items() if s == _KEY_SECTIONS[key])
            hint = f"put it in {section} = {{'{key}': ...}}"
        else:
            hint = _did_you_mean(name, names)
        reader.problem(name, "unknown setting", hint or "settings: " + ", ".join(names))
    return _build(reader, data)
