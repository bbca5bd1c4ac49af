"""The Django adapter: the site's logged-in user as Django sees it, and its user records.

Two modes (``[adapter] kind = "django"``):

* ``mode = "in_process"`` (default): the bridge wraps Django's WSGI app in the same process
  (``middleware.django.wrap``). Django's own session engine and auth API answer; any session
  backend works. See :mod:`cms_adapters.django.in_process`.
* ``mode = "remote"``: the bridge runs apart from Django. It reads ``django_session`` and
  ``auth_user`` through SQLAlchemy (``database_url``) and checks the session's signature and the
  user's session hash with the site's ``SECRET_KEY``, as Django does, without importing Django.
  See :mod:`cms_adapters.django.remote`.

Settings: ``mode``, ``session_cookie_name`` (default: Django's ``SESSION_COOKIE_NAME`` in
process, ``"sessionid"`` remote), ``language_field`` (a user model field / column holding the
user's language; none by default). Remote only: ``database_url`` (or env
``BRIDGE_DJANGO_DATABASE_URL``), ``secret_key`` (or env ``DJANGO_SECRET_KEY``),
``fallback_secret_keys``, ``session_table`` (``"django_session"``), ``user_table``
(``"auth_user"``; a custom user model's table, ``"schema.table"`` accepted).

What this package does not do: gate requests or talk to billing. Importing it imports neither
Django (the in-process mode imports it when first used) nor SQLAlchemy (the remote mode does).
"""

from __future__ import annotations

from collections.abc import Sequence

from cms_adapters.base import Adapter
from cms_adapters.django.in_process import InProcessDjangoAdapter

MODES = ("in_process", "remote")


def django_adapter(
    *,
    mode: str = "in_process",
    database_url: str | None = None,
    secret_key: str | None = None,
    fallback_secret_keys: Sequence[str] = (),
    session_cookie_name: str | None = None,
    session_table: str = "django_session",
    user_table: str = "auth_user",
    language_field: str | None = None,
) -> Adapter:
    """The adapter for ``mode``. In process, the remote-only settings are ignored (a
    ``DJANGO_SECRET_KEY`` in the environment is the site's own, not a mistake)."""
    if mode == "in_process":
        return InProcessDjangoAdapter(
            session_cookie_name=session_cookie_name, language_field=language_field
        )
    if mode == "remote":
        # SQLAlchemy is needed by this mode only: the registry imports this package for every site.
        from cms_adapters.django.remote import RemoteDjangoAdapter

        if isinstance(fallback_secret_keys, str):
            raise ValueError("fallback_secret_keys is a list of keys, not one string")
        return RemoteDjangoAdapter(
            database_url=database_url or "",
            secret_key=secret_key or "",
            fallback_secret_keys=tuple(fallback_secret_keys),
            session_cookie_name=session_cookie_name or "sessionid",
            session_table=session_table,
            user_table=user_table,
            language_field=language_field,
        )
    raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, not {mode!r}")


__all__ = ["InProcessDjangoAdapter", "django_adapter"]
