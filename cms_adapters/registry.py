"""``[adapter] kind = "..."`` → an adapter instance, with its options checked like the rest of the
configuration (every problem, with key path and fix).

What this module does not do: implement any adapter (one module per CMS).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
from collections.abc import Callable, Mapping

from bridge.config import AdapterConfig
from bridge.errors import ConfigError, ConfigProblem
from cms_adapters.base import Adapter

#: Options that may come from the environment instead of the file, as secrets should.
SECRET_OPTIONS: Mapping[str, Mapping[str, str]] = {
    "header": {"shared_secret": "BRIDGE_PROXY_SECRET"},
    "signed_cookie": {"secret_key": "BRIDGE_COOKIE_SECRET"},
    "flask_login": {"secret_key": "BRIDGE_FLASK_SECRET_KEY"},
    "sql": {"secret_key": "BRIDGE_COOKIE_SECRET"},
    "django": {"secret_key": "DJANGO_SECRET_KEY", "database_url": "BRIDGE_DJANGO_DATABASE_URL"},
    "wordpress": {
        "database_url": "BRIDGE_WORDPRESS_DATABASE_URL",
        "logged_in_key": "WORDPRESS_LOGGED_IN_KEY",
        "logged_in_salt": "WORDPRESS_LOGGED_IN_SALT",
    },
}

#: kind → ("module:Class", the extra its module needs). Imported only when configured, so a site
#: installs only the extras of the adapter it uses.
FACTORIES: Mapping[str, tuple[str, str | None]] = {
    "header": ("cms_adapters.header:HeaderAdapter", None),
    "signed_cookie": ("cms_adapters.signed_cookie:SignedCookieAdapter", None),
    "flask_login": ("cms_adapters.flask_login:FlaskLoginAdapter", "flask-login"),
    "sql": ("cms_adapters.sql:SqlAdapter", "sql"),
    "wordpress": ("cms_adapters.wordpress:WordPressAdapter", "wordpress"),
    "django": ("cms_adapters.django:django_adapter", "django"),
}


def factory_for(kind: str) -> Callable[..., Adapter]:
    """The adapter class of ``kind``; a ConfigError says which extra to install if missing."""
    if kind not in FACTORIES:
        hint = "available: " + ", ".join(adapter_kinds())
        raise ConfigError([ConfigProblem("adapter.kind", f"unknown adapter {kind!r}", hint)])
    spec, extra = FACTORIES[kind]
    module_name, _, name = spec.partition(":")
    try:
        factory: Callable[..., Adapter] = getattr(importlib.import_module(module_name), name)
    except ImportError as exc:
        hint = f'pip install "proabono-bridge[{extra}]"' if extra else "reinstall proabono-bridge"
        raise ConfigError(
            [ConfigProblem("adapter.kind", f"the {kind!r} adapter needs {exc.name}", hint)]
        ) from exc
    return factory


def build_adapter(config: AdapterConfig, *, env: Mapping[str, str] | None = None) -> Adapter:
    env = os.environ if env is None else env
    factory = factory_for(config.kind)
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
