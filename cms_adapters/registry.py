"""``[adapter] kind = "..."`` → an adapter instance, with its options checked like the rest of the
configuration (every problem, with key path and fix).

What this module does not do: implement any adapter (one module per CMS).
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable, Mapping

from bridge.config import AdapterConfig
from bridge.errors import ConfigError, ConfigProblem
from cms_adapters.base import Adapter
from cms_adapters.header import HeaderAdapter
from cms_adapters.signed_cookie import SignedCookieAdapter

#: Options that may come from the environment instead of the file, as secrets should.
SECRET_OPTIONS: Mapping[str, Mapping[str, str]] = {
    "header": {"shared_secret": "BRIDGE_PROXY_SECRET"},
    "signed_cookie": {"secret_key": "BRIDGE_COOKIE_SECRET"},
}

FACTORIES: dict[str, Callable[..., Adapter]] = {
    "header": HeaderAdapter,
    "signed_cookie": SignedCookieAdapter,
}

PLANNED = {"wordpress", "django", "flask_login", "sql"}


def build_adapter(config: AdapterConfig, *, env: Mapping[str, str] | None = None) -> Adapter:
    env = os.environ if env is None else env
    factory = FACTORIES.get(config.kind)
    if factory is None:
        hint = 'use kind = "header" for now' if config.kind in PLANNED else ""
        raise ConfigError(
            [
                ConfigProblem(
                    "adapter.kind", f"the {config.kind!r} adapter is not available yet", hint
                )
            ]
        )
    options = dict(config.options)
    for option, variable in SECRET_OPTIONS.get(config.kind, {}).items():
        if env.get(variable):
            options[option] = env[variable]
    accepted = [
        name
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    problems = []
    for name in options:
        if name not in accepted:
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(accepted)}"
            problems.append(ConfigProblem(f"adapter.{name}", "unknown option", hint))
    if problems:
        raise ConfigError(problems)
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError([ConfigProblem("adapter", str(exc))]) from exc


def adapter_kinds() -> list[str]:
    return sorted(FACTORIES)
