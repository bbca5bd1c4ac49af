"""The configuration schema: one frozen dataclass per section of ``bridge.toml``.

What this module owns: every section and key, its type, default and validator (each field is
declared with ``_key`` or ``_secret``), the properties derived from them, ``SECTIONS`` and
``SECRET_ENV``, and :meth:`Config.describe` (what ``proabono-bridge check`` prints, secrets shown
only by where they came from).

What it does not do: read or validate anything (``bridge.config`` does, with
``bridge.config_reader`` and ``bridge.config_checks``). Building a dataclass directly skips
validation; use :func:`bridge.config.load_config`, ``config_from_mapping`` or
``config_from_prefixed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from bridge.config_checks import (
    _app_spec,
    _between,
    _billing_url,
    _customer_reference,
    _deny,
    _existing_dir,
    _features,
    _http_url,
    _local_or_http,
    _methods,
    _min_length,
    _mount,
    _no_forbidden,
    _non_empty,
    _offer_param,
    _one_of,
    _redis_prefix,
    _redis_url,
    _relative_path,
    _rule_path,
    _segment,
)
from bridge.config_reader import SecretOrigin, _key, _secret, format_duration

ADAPTER_KINDS = ("wordpress", "django", "flask_login", "sql", "header", "signed_cookie")


@dataclass(frozen=True, kw_only=True)
class BillingConfig:
    """``[billing]``: where billing calls go, with which credentials and patience."""

    url: str = _key("sandbox://.bridge/billing.db", check=_billing_url)
    agent_key: str | None = _secret("PROABONO_AGENT_KEY")
    api_key: str | None = _secret("PROABONO_API_KEY")
    segment: str | None = _key(None, check=_segment)
    timeout: float = _key(10.0, "duration", _between(0, 120, above=True))
    connect_timeout: float = _key(3.05, "duration", _between(0, 120, above=True))
    retries: int = _key(2, "int", _between(0, 10))
    retry_budget: float = _key(15.0, "duration")
    portal_url: str | None = _key(None, check=_http_url)
    webhook_secret: str | None = _secret("PROABONO_WEBHOOK_SECRET")
    secret_origins: Mapping[str, SecretOrigin] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_sandbox(self) -> bool:
        return self.url.startswith("sandbox://")

    @property
    def sandbox_path(self) -> Path | None:
        return Path(self.url.removeprefix("sandbox://")) if self.is_sandbox else None


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    """``[site]``: the site being wrapped and how the bridge appears inside it."""

    base_url: str = _key("http://127.0.0.1:8000", check=_http_url)
    secret_key: str | None = _secret("BRIDGE_SECRET_KEY", _min_length(16))
    app: str | None = _key(None, check=_app_spec)
    upstream: str | None = _key(None, check=_http_url)
    login_url: str = _key("/login", check=_local_or_http)
    mount: str = _key("/_billing", check=_mount)
    customer_reference: str = _key("user-{id}", check=_customer_reference)
    paywall_templates: Path | None = _key(None, "path", _existing_dir)  # noqa: RUF009 (a field)
    secret_origins: Mapping[str, SecretOrigin] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """``[adapter]``: which user model to read; other keys are that adapter's ``options``."""

    kind: str = _key("header", check=_one_of(*ADAPTER_KINDS))
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, kw_only=True)
class RegistrationConfig:
    """``[registration]``: welcome offer and the offer-before/after-registration workflows."""

    welcome_offer: str | None = _key(None, check=_no_forbidden)
    register_url: str = _key("/register", check=_local_or_http)
    offer_param: str = _key("offer", check=_offer_param)


@dataclass(frozen=True, kw_only=True)
class RuleConfig:
    """One ``[[rule]]``: a path pattern and the feature(s) it needs. Exactly one of ``feature``,
    ``any``, ``all`` is set; :attr:`features` and :attr:`require` give the uniform view."""

    path: str = _key(check=_rule_path, hint='add path = "/premium/**"')
    name: str | None = _key(None)
    methods: tuple[str, ...] | None = _key(None, "str_list", _methods)
    query: Mapping[str, str] | None = _key(None, "str_map")
    feature: str | None = _key(None, check=_no_forbidden)
    any: tuple[str, ...] | None = _key(None, "str_list", _features)
    all: tuple[str, ...] | None = _key(None, "str_list", _features)
    min_remaining: int = _key(1, "int", _between(1))
    deny: str = _key("paywall", check=_deny)
    on_outage: str = _key("deny", check=_one_of("deny", "allow"))
    case_insensitive: bool = _key(False, "bool")

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,) if self.feature else (self.any or self.all or ())

    @property
    def require(self) -> Literal["any", "all"]:
        """``"any"``: one of :attr:`features` is enough; ``"all"``: every one is needed."""
        return "any" if self.any else "all"

    @property
    def redirect_to(self) -> str | None:
        return self.deny.removeprefix("redirect:") if self.deny.startswith("redirect:") else None


@dataclass(frozen=True, kw_only=True)
class InjectConfig:
    """``[inject]``: banner and links added to HTML pages."""

    enabled: bool = _key(True, "bool")
    banner: bool = _key(True, "bool")
    links_marker: str = _key("<!-- billing:links -->", check=_non_empty)
    trial_warning: float = _key(3 * 86400.0, "duration")


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """``[cache]``: entitlement snapshots, how long they stay fresh, how long stale ones serve."""

    backend: str = _key("memory", check=_one_of("memory", "redis"))
    redis_url: str | None = _key(None, check=_redis_url)
    redis_prefix: str = _key("proabono-bridge", check=_redis_prefix)
    ttl: float = _key(300.0, "duration", _between(0, above=True))
    stale_ttl: float = _key(3600.0, "duration")
    max_entries: int = _key(10000, "int", _between(1))
    identity_ttl: float = _key(30.0, "duration")


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    """``[state]``: the local SQLite store (fingerprints, outbox, seen webhooks)."""

    path: Path = _key(Path(".bridge/state.db"), "path", _relative_path)  # noqa: RUF009 (a field)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration; ``source`` names the file or settings it came from."""

    billing: BillingConfig = field(default_factory=BillingConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    rules: tuple[RuleConfig, ...] = ()
    inject: InjectConfig = field(default_factory=InjectConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    state: StateConfig = field(default_factory=StateConfig)
    source: str = ""

    def describe(self) -> list[str]:
        """Summary lines for ``proabono-bridge check``. Secrets show only where they came from."""
        return _describe(self)


SECTIONS: Mapping[str, type[Any]] = {
    "billing": BillingConfig,
    "site": SiteConfig,
    "adapter": AdapterConfig,
    "registration": RegistrationConfig,
    "rule": RuleConfig,
    "inject": InjectConfig,
    "cache": CacheConfig,
    "state": StateConfig,
}
SECRET_ENV: Mapping[str, str] = {
    f"{section}.{f.name}": f.metadata["bridge"].env
    for section, cls in SECTIONS.items()
    for f in dataclasses.fields(cls)
    if "bridge" in f.metadata and f.metadata["bridge"].env
}


# --- describe -----------------------------------------------------------------------------------


def _secret_state(origins: Mapping[str, SecretOrigin], key: str, name: str) -> str:
    origin = origins.get(name, "unset")
    if origin == "env":
        return f"set (from {SECRET_ENV[f'{key}.{name}']})"
    if origin == "default":
        return "set (sandbox default)"
    if origin == "unset" and name == "webhook_secret":
        return "not set (the webhook endpoint stays off)"
    return "not set" if origin == "unset" else f"set (from {origin})"


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _describe(config: Config) -> list[str]:
    b, s, c, r = config.billing, config.site, config.cache, config.registration
    d = format_duration
    where = f"sandbox in process ({b.sandbox_path})" if b.is_sandbox else b.url
    wraps = (
        f"app {s.app}"
        if s.app
        else f"reverse proxy to {s.upstream}"
        if s.upstream
        else "no app or upstream set"
    )
    lines = [
        f"billing: {where}" + (f", segment {b.segment}" if b.segment else ""),
        f"  agent_key: {_secret_state(b.secret_origins, 'billing', 'agent_key')}",
        f"  api_key: {_secret_state(b.secret_origins, 'billing', 'api_key')}",
        f"  webhook_secret: {_secret_state(b.secret_origins, 'billing', 'webhook_secret')}",
        f"  timeout {d(b.timeout)} (connect {d(b.connect_timeout)}), "
        f"{b.retries} retries within {d(b.retry_budget)}",
        f"site: {s.base_url}, {wraps}",
        f"  secret_key: {_secret_state(s.secret_origins, 'site', 'secret_key')}",
        f"  mount {s.mount}, login {s.login_url}, customers {s.customer_reference}",
        f"adapter: {config.adapter.kind}"
        + (f" (options: {', '.join(config.adapter.options)})" if config.adapter.options else ""),
        f"registration: welcome offer {r.welcome_offer or 'none'}, "
        f"offer chosen before registering via {r.register_url}?{r.offer_param}=",
        f"rules: {len(config.rules)}",
    ]
    for index, rule in enumerate(config.rules):
        needs = " + ".join(rule.features) if rule.require == "all" else " | ".join(rule.features)
        methods = " ".join(rule.methods) + " " if rule.methods else ""
        query = "?" + "&".join(f"{k}={v}" for k, v in rule.query.items()) if rule.query else ""
        extra = f", min {rule.min_remaining}" if rule.min_remaining != 1 else ""
        lines.append(
            f"  rule[{index}] {methods}{rule.path}{query} → {needs}{extra}, "
            f"deny {rule.deny}, on outage {rule.on_outage}"
        )
    inject = config.inject
    lines += [
        f"inject: {'on' if inject.enabled else 'off'}, banner {'on' if inject.banner else 'off'}, "
        f"trial warning {d(inject.trial_warning)}",
        f"cache: {c.backend}"
        + (f" {_safe_url(c.redis_url)}" if c.redis_url else "")
        + f", ttl {d(c.ttl)}, stale {d(c.stale_ttl)}, identity {d(c.identity_ttl)}, "
        f"max {c.max_entries} entries",
        f"state: {config.state.path}",
    ]
    return lines
