"""How a configuration key is declared and read: the machinery under ``bridge.config``.

What this module owns: declaring a key (:func:`_key`, :func:`_secret`: default, kind, validator,
environment variable), reading one section's mapping against those declarations
(:func:`_read_section`: type conversion, secrets taken from the environment, unknown keys with a
"did you mean", every problem collected on the :class:`_Reader`), and durations
(:func:`parse_duration`, ``"1h30m"``).

What it does not do: know any section or key (``bridge.config_sections``), validate a value's
meaning (``bridge.config_checks``), or read files (``bridge.config``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from bridge.errors import ConfigProblem

SecretOrigin: TypeAlias = Literal["file", "settings", "env", "default", "unset"]
"""Where a secret came from: the TOML file, a settings mapping, the environment, the sandbox."""

_MISSING: Any = dataclasses.MISSING

# --- durations ----------------------------------------------------------------------------------

DURATION_HELP = "use seconds (30, 2.5) or a string like '30s', '5m', '1h', '31d', '1h30m'"
_NUMBER = r"\d+(?:\.\d+)?"
_DURATION_TEXT = re.compile(
    rf"(?:(?P<w>{_NUMBER})w)?\s*(?:(?P<d>{_NUMBER})d)?\s*(?:(?P<h>{_NUMBER})h)?\s*"
    rf"(?:(?P<m>{_NUMBER})m)?\s*(?:(?P<s>{_NUMBER})s)?"
)
_UNIT_SECONDS = {"w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``2.5``, ``"30s"``, ``"5m"``, ``"1h"``, ``"31d"``, ``"2w"`` or
    ``"1h30m"``.

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
