"""Configuration: ``bridge.toml`` (or a plain mapping of settings) read into frozen dataclasses.

What this module owns: every section and key, their types and defaults, secrets taken from the
environment, durations (``"1h30m"``), path resolution against the config file's directory, and a
validation that reports *every* problem with its key path (``billing.timeout``, ``rule[2].feature``)
and a fix, raised at the end as one :class:`~bridge.errors.ConfigError`.

What it does not do: open connections, create files, or check adapter-specific options (keys of
``[adapter]`` other than ``kind`` are kept in ``AdapterConfig.options`` for ``cms_adapters``).

The dataclasses below *are* the schema: each field is declared with :func:`_key` or :func:`_secret`
(default, kind, validator) and one loop, :func:`_read_section`, interprets them. Checks that tie
several keys together live in one small function per section. Building a dataclass directly skips
validation; use :func:`load_config`, :func:`config_from_mapping` or :func:`config_from_prefixed`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

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

SecretOrigin: TypeAlias = Literal["file", "settings", "env", "default", "unset"]
"""Where a secret came from: the TOML file, a settings mapping, the environment, the sandbox."""

DEFAULT_FILE = "bridge.toml"
CONFIG_ENV = "BRIDGE_CONFIG"
FORBIDDEN_REFERENCE_CHARS = '<>;"=?&'
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
ADAPTER_KINDS = ("wordpress", "django", "flask_login", "sql", "header", "signed_cookie")
SECRET_KEY_HINT = 'generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"'  # noqa: S105
_MISSING: Any = dataclasses.MISSING

# --- durations ----------------------------------------------------------------------------------

DURATION_HELP = "use seconds (30, 2.5) or a string like '30s', '5m', '1h', '31d', '1h30m'"
_NUMBER = r"\d+(?:\.\d+)?"
_DURATION_TEXT = re.compile(
    rf"(?:(?P<d>{_NUMBER})d)?\s*(?:(?P<h>{_NUMBER})h)?\s*(?:(?P<m>{_NUMBER})m)?\s*"
    rf"(?:(?P<s>{_NUMBER})s)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``2.5``, ``"30s"``, ``"5m"``, ``"1h"``, ``"31d"`` or ``"1h30m"``.

    Raises ``ValueError`` for negative, infinite or unreadable values.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a duration, got {_describe_value(value)}; {DURATION_HELP}")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        if re.fullmatch(_NUMBER, text):
            return float(text)
        match = _DURATION_TEXT.fullmatch(text)
        if not text or match is None or not any(match.groupdict().values()):
            raise ValueError(f"not a duration: {value!r}; {DURATION_HELP}")
        return sum(float(n) * _UNIT_SECONDS[unit] for unit, n in match.groupdict().items() if n)
    if not math.isfinite(value):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if value < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return float(value)


def format_duration(seconds: float) -> str:
    """The shortest readable form of a duration: ``5400`` → ``"1h30m"``, ``3.05`` → ``"3.05s"``."""
    if seconds != int(seconds) or seconds == 0:
        return f"{seconds:g}s"
    parts, rest = [], int(seconds)
    for unit, size in _UNIT_SECONDS.items():
        count, rest = divmod(rest, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# --- reading machinery --------------------------------------------------------------------------

Kind: TypeAlias = Literal["str", "int", "bool", "duration", "path", "str_list", "str_map", "secret"]


class _Invalid(Exception):
    """Raised by a validator: what is wrong and how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class _Reader:
    """State of one load: where relative paths start, the environment, the problems so far."""

    env: Mapping[str, str]
    base_dir: Path
    origin: SecretOrigin
    source: str
    problems: list[ConfigProblem] = field(default_factory=list)

    def problem(self, key: str, message: str, hint: str = "") -> None:
        self.problems.append(ConfigProblem(key, message, hint))

    def resolve(self, path: Path) -> Path:
        return Path(os.path.normpath(self.base_dir / path.expanduser()))


Check: TypeAlias = Callable[[Any, _Reader], Any]


@dataclass(frozen=True)
class _Key:
    kind: Kind
    check: Check | None = None
    env: str | None = None
    hint: str = ""  # for a missing required key


def _key(
    default: Any = _MISSING, kind: Kind = "str", check: Check | None = None, hint: str = ""
) -> Any:
    """A schema field: default (omit for a required key), kind and an optional validator.

    A validator receives the typed value and returns it (possibly normalised), or raises _Invalid.
    Defaults go through the validator too, so relative default paths get resolved like user ones.
    """
    return field(default=default, metadata={"bridge": _Key(kind, check, hint=hint)})


def _secret(env: str, check: Check | None = None) -> Any:
    """A secret: never in repr; the environment variable ``env`` overrides the file."""
    return field(default=None, repr=False, metadata={"bridge": _Key("secret", check, env)})


def _describe_value(value: object, *, show: bool = True) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "boolean"),
        (str, "string"),
        (int, "integer"),
        (float, "number"),
        (Mapping, "a table"),
        ((list, tuple), "a list"),
    ]
    for types_, name in kinds:
        if isinstance(value, types_):
            if not show or name.startswith("a "):
                return name
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            return f"{name} {shown}"
    return type(value).__name__


def _coerce(kind: Kind, value: Any, *, show: bool = True) -> Any:
    """The value converted to ``kind``'s Python type, or _Invalid with the type mismatch."""
    got = _describe_value(value, show=show)
    if kind in ("str", "secret"):
        if isinstance(value, str):
            return value
        raise _Invalid(f"expected a string, got {got}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Invalid(f"expected an integer, got {got}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise _Invalid(f"expected true or false, got {got}")
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise _Invalid(str(exc).split("; ")[0], DURATION_HELP) from None
    if kind == "path":
        if isinstance(value, str | os.PathLike) and str(value):
            return Path(value)
        raise _Invalid(f"expected a path (a non-empty string), got {got}")
    if kind == "str_list":
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise _Invalid(f"expected a list of strings, got {got}", 'write ["GET", "HEAD"]')
    if not isinstance(value, Mapping):
        raise _Invalid(f"expected a table of strings, got {got}", 'write { p = "123" }')
    for name, item in value.items():
        if not isinstance(item, str):
            raise _Invalid(
                f"expected a string for {name!r}, got {_describe_value(item)}",
                f'quote it: {{ {name} = "{item}" }}; "*" matches any value',
            )
    return MappingProxyType({str(k): v for k, v in value.items()})


_EXAMPLES: Mapping[Kind, str] = {
    "str": '"text"',
    "secret": '"..." (better: the environment variable)',
    "int": "1",
    "bool": "true",
    "duration": '"30s"',
    "path": '"path/to/dir"',
    "str_list": '["a", "b"]',
    "str_map": '{ key = "value" }',
}


def _coerce_with_example(name: str, spec: _Key, raw: Any, default: Any) -> Any:
    """:func:`_coerce`, adding to a type mismatch an example of the right type."""
    try:
        return _coerce(spec.kind, raw, show=spec.kind != "secret")
    except _Invalid as exc:
        if exc.hint:
            raise
        if default is None or default is _MISSING or spec.kind == "secret":
            example = _EXAMPLES[spec.kind]
        elif spec.kind == "duration":
            example = f'"{format_duration(default)}"'
        elif isinstance(default, bool):
            example = str(default).lower()
        elif isinstance(default, str | Path):
            example = f'"{default}"'
        else:
            example = str(default)
        raise _Invalid(exc.message, f"for example: {name} = {example}") from None


def _did_you_mean(word: str, choices: Iterable[str], show: Callable[[str], str] = repr) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {show(close[0])}?" if close else ""


@dataclass
class _Section:
    """What :func:`_read_section` found: typed values, keys that failed, secret origins, extras."""

    values: dict[str, Any]
    bad: set[str]
    origins: dict[str, SecretOrigin]
    extra: dict[str, Any]

    def ok(self, *keys: str) -> bool:
        return not self.bad.intersection(keys)


def _read_section(
    reader: _Reader, cls: type[Any], prefix: str, data: Mapping[str, Any], *, extra: bool = False
) -> _Section:
    """Read ``data`` against the ``_key`` fields of ``cls``; every problem goes to ``reader``."""
    specs = {
        f.name: (f, f.metadata["bridge"]) for f in dataclasses.fields(cls) if "bridge" in f.metadata
    }
    section = _Section({}, set(), {}, {})
    for name in data:
        if name in specs:
            continue
        if extra:
            section.extra[str(name)] = data[name]
        else:
            hint = _did_you_mean(str(name), specs) or f"known keys: {', '.join(specs)}"
            reader.problem(f"{prefix}.{name}", "unknown key", hint)
    for name, (fld, spec) in specs.items():
        key = f"{prefix}.{name}"
        raw = data.get(name)
        from_env = reader.env.get(spec.env, "") if spec.env else ""
        if spec.kind == "secret":
            if from_env:
                raw, section.origins[name] = from_env, "env"
            elif raw is None or raw == "":
                raw, section.origins[name] = None, "unset"
            else:
                section.origins[name] = reader.origin
        if raw is None:
            raw = fld.default
            if raw is _MISSING:
                reader.problem(key, "missing required key", spec.hint)
                section.bad.add(name)
                continue
        try:
            value = None if raw is None else _coerce_with_example(name, spec, raw, fld.default)
            if value is not None and spec.check is not None:
                value = spec.check(value, reader)
        except _Invalid as exc:
            where = f" (value from ${spec.env})" if from_env else ""
            reader.problem(key, exc.message + where, exc.hint)
            section.bad.add(name)
            value = None if fld.default is _MISSING else fld.default
        section.values[name] = value
    return section


# --- validators ---------------------------------------------------------------------------------

URL_FORMS = "use https://api-<IdBusiness>.proabono.com, http://HOST:PORT or sandbox://PATH"


def _between(low: float, high: float | None = None, *, above: bool = False) -> Check:
    """Numbers in [low, high] (or (low, high] when ``above``)."""

    def check(value: float, _: _Reader) -> float:
        too_low = value <= low if above else value < low
        if too_low or (high is not None and value > high):
            bound = f"> {low:g}" if above else f">= {low:g}"
            limit = f"{bound} and <= {high:g}" if high is not None else bound
            raise _Invalid(f"must be {limit}, got {value:g}")
        return value

    return check


def _one_of(*choices: str) -> Check:
    def check(value: str, _: _Reader) -> str:
        if value not in choices:
            hint = _did_you_mean(value, choices) or "choose one of: " + ", ".join(choices)
            raise _Invalid(f"must be one of {', '.join(choices)}; got {value!r}", hint)
        return value

    return check


def _no_forbidden(value: str, _: _Reader) -> str:
    if not value:
        raise _Invalid("must not be empty")
    bad = sorted(set(value) & set(FORBIDDEN_REFERENCE_CHARS))
    if bad:
        raise _Invalid(
            f"contains {' '.join(bad)}", f"remove every one of {FORBIDDEN_REFERENCE_CHARS}"
        )
    return value


def _http_url(value: str, _: _Reader) -> str:
    """An absolute http(s) URL without query or fragment, returned without its trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Invalid(f"expected an absolute http:// or https:// URL, got {value!r}")
    if any(c.isspace() for c in value):
        raise _Invalid(f"a URL cannot contain spaces: {value!r}", "percent-encode them as %20")
    if parts.query or parts.fragment:
        raise _Invalid(f"must not have a query or fragment: {value!r}")
    return value.rstrip("/")


def _local_or_http(value: str, reader: _Reader) -> str:
    """A local path (``/login``, never ``//host``) or an absolute http(s) URL."""
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        return _http_url(value, reader)
    except _Invalid:
        raise _Invalid(
            f"expected a local path or an http(s) URL, got {value!r}",
            'write "/login" or "https://example.com/login"',
        ) from None


def _billing_url(value: str, reader: _Reader) -> str:
    """``https://…``, ``http://…`` or ``sandbox://PATH`` (PATH relative to the config's folder)."""
    if value.startswith("sandbox://"):
        path = value.removeprefix("sandbox://")
        if not path.strip():
            raise _Invalid("sandbox:// needs a file path", "write sandbox://.bridge/billing.db")
        return "sandbox://" + str(reader.resolve(Path(path)))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise _Invalid(f"unsupported billing url ({scheme})", URL_FORMS)
    if parts.username or parts.password:
        raise _Invalid("the billing url must not embed credentials", "set agent_key and api_key")
    if not parts.hostname or any(c.isspace() for c in value):
        raise _Invalid(f"not a usable URL: {value!r} (no host, or spaces)", URL_FORMS)
    if parts.query or parts.fragment:
        raise _Invalid(f"must not have a query or fragment: {value!r}", URL_FORMS)
    return value.rstrip("/")


def _segment(value: str, reader: _Reader) -> str:
    if len(value) > 50:
        raise _Invalid(f"at most 50 characters, got {len(value)}")
    return _no_forbidden(value, reader)


def _min_length(length: int) -> Check:
    def check(value: str, _: _Reader) -> str:
        if len(value) < length:
            raise _Invalid(
                f"too short ({len(value)} characters, at least {length})", SECRET_KEY_HINT
            )
        return value

    return check


_APP_SPEC = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _app_spec(value: str, _: _Reader) -> str:
    if not _APP_SPEC.fullmatch(value):
        raise _Invalid(
            f"expected 'module:callable', got {value!r}", 'write "mysite.wsgi:application"'
        )
    return value


def _mount(value: str, _: _Reader) -> str:
    if not value.startswith("/") or value == "/" or value.endswith("/"):
        raise _Invalid(
            f"must start with '/', not end with '/' and not be '/': {value!r}", 'write "/_billing"'
        )
    if "//" in value or not re.fullmatch(r"[A-Za-z0-9._~/-]+", value):
        raise _Invalid(f"only letters, digits and . _ ~ - between slashes: {value!r}")
    return value


def _customer_reference(value: str, reader: _Reader) -> str:
    hint = 'write "user-{id}" or "wp-{id}"'
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise _Invalid(f"malformed template {value!r}: {exc}", hint) from None
    names = [name for _, name, _, _ in parsed if name is not None]
    if names.count("id") != 1 or len(names) != 1:
        raise _Invalid(
            f"must contain {{id}} exactly once and no other placeholder: {value!r}", hint
        )
    literal = "".join(text for text, _, _, _ in parsed)
    if set(literal) & set(FORBIDDEN_REFERENCE_CHARS):
        _no_forbidden(literal, reader)
    return value


def _existing_dir(value: Path, reader: _Reader) -> Path:
    path = reader.resolve(value)
    if not path.is_dir():
        raise _Invalid(
            f"not a directory: {path}", "create it, or remove the key for built-in pages"
        )
    return path


def _relative_path(value: Path, reader: _Reader) -> Path:
    return reader.resolve(value)


def _offer_param(value: str, _: _Reader) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        raise _Invalid(f"not a query parameter name: {value!r}", 'write "offer"')
    return value


def _non_empty(value: str, _: _Reader) -> str:
    if not value.strip():
        raise _Invalid("must not be empty")
    return value


def _redis_url(value: str, _: _Reader) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise _Invalid(
            "must start with redis://, rediss:// or unix://", 'write "redis://localhost:6379/0"'
        )
    return value


def _rule_path(value: str, _: _Reader) -> str:
    if not value.startswith("/"):
        raise _Invalid(f"must start with '/': {value!r}", f'write "/{value}"')
    if "?" in value or "#" in value:
        raise _Invalid(
            f"a path has no query: {value!r}", 'match the query with query = { p = "123" }'
        )
    for segment in value.split("/"):
        if "*" in segment and segment not in ("*", "**"):
            raise _Invalid(
                f"bad wildcard segment {segment!r} in {value!r}",
                "'*' stands for one whole segment, '**' for any depth: /premium/** or /a/*/b",
            )
    return value


def _methods(value: tuple[str, ...], _: _Reader) -> tuple[str, ...]:
    methods = tuple(m.upper() for m in value)
    unknown = [m for m in methods if m not in HTTP_METHODS]
    if not methods or unknown:
        raise _Invalid(
            f"unknown HTTP method {', '.join(unknown)}" if unknown else "empty list of methods",
            "use " + ", ".join(HTTP_METHODS) + "; omit the key for all methods",
        )
    return methods


def _features(value: tuple[str, ...], reader: _Reader) -> tuple[str, ...]:
    if not value:
        raise _Invalid("an empty list matches nothing", 'write ["feature-a", "feature-b"]')
    for feature in value:
        _no_forbidden(feature, reader)
    return value


def _deny(value: str, reader: _Reader) -> str:
    if value in ("paywall", "404"):
        return value
    if value.startswith("redirect:"):
        try:
            _local_or_http(value.removeprefix("redirect:"), reader)
        except _Invalid as exc:
            raise _Invalid(f"redirect: {exc.message}", 'write "redirect:/pricing"') from None
        return value
    raise _Invalid(f"unknown deny {value!r}", 'use "paywall", "404" or "redirect:/pricing"')


# --- the schema: one frozen dataclass per section -----------------------------------------------


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
    after_registration: str = _key("offers", check=_one_of("offers", "welcome", "none"))


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


# --- sections: the single-key schema above, plus checks that tie keys together -------------------


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
        f"after registration: {r.after_registration}",
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
