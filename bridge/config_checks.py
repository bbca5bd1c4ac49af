"""Validators of single configuration keys: URLs, paths, templates, rules, bounds and choices.

What this module owns: every check a key declares in ``bridge.config_sections`` (a function
``(value, reader) -> value`` that returns the value, possibly normalised, or raises ``_Invalid``
with a message and a fix), and the constants they test against.

What it does not do: checks that tie several keys together (one function per section in
``bridge.config``), type conversion (``bridge.config_reader``), or touch the network.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from urllib.parse import urlsplit

from bridge.config_reader import Check, _did_you_mean, _Invalid, _Reader
from bridge.models import FORBIDDEN_REFERENCE_CHARS

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
SECRET_KEY_HINT = 'generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"'  # noqa: S105

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


def _name_like(what: str, example: str) -> Check:
    """Letters, digits, ``_``, ``.`` and ``-`` only (a query parameter, a Redis key prefix)."""

    def check(value: str, _: _Reader) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise _Invalid(f"not {what}: {value!r}", f'write "{example}"')
        return value

    return check


_offer_param = _name_like("a query parameter name", "offer")
_redis_prefix = _name_like("a Redis key prefix (letters, digits, _ . -)", "mysite")


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
