"""The ProAbono API Live client: one pooled ``requests.Session``, typed answers, typed errors.

``ProAbonoClient(url, agent_key, api_key)`` speaks to any of the three backends of the design:

* ``https://api-{IdBusiness}.proabono.com``: the real service;
* ``http://127.0.0.1:PORT``: a sandbox (or any compatible server) over HTTP;
* ``sandbox://PATH``: the embedded sandbox in process, through a ``requests`` transport adapter that
  ``bridge.sandbox.transport`` mounts on the same session, so every call takes the same code path.

Paths, query names and JSON fields are exactly those of the reference
(``shared/reference/proabono-api.md``). Every request carries a timeout; retries follow
``bridge.retry`` and only replay what is safe to replay. ``ReferenceSegment`` is sent where the
contract declares it (never on ``/v1/Usages``, as ProAbono's own tools do).

This module puts the client together: :class:`ProAbonoClient` is the HTTP core
(``bridge.transport``) plus one mixin per section of the reference (``bridge.api_customers``,
``bridge.api_subscriptions``, ``bridge.api_usages``, ``bridge.api_billing``). Import everything
from here; the modules behind it are the layout, not the API.

What the client does not do: cache (``bridge.cache``), decide rights
(``bridge.entitlements``), or log link values (they are bearer credentials; errors and logs carry
the path, never the query).
"""

from __future__ import annotations

from bridge.api_billing import BillingApi
from bridge.api_customers import CustomersApi, UpsertResult
from bridge.api_subscriptions import SubscriptionsApi
from bridge.api_usages import MAX_USAGES_PER_BATCH, UsageChange, UsagesApi
from bridge.transport import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGES

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGES",
    "MAX_PAGE_SIZE",
    "MAX_USAGES_PER_BATCH",
    "ProAbonoClient",
    "UpsertResult",
    "UsageChange",
]


class ProAbonoClient(CustomersApi, SubscriptionsApi, UsagesApi, BillingApi):
    """A client for ProAbono API Live (v1). Thread-safe for concurrent calls.

    ``timeout`` (read) and ``connect_timeout`` are always sent; ``retries`` and ``retry_budget``
    bound how long a call may keep trying. ``clock`` (wall time, for ``DateStamp`` and HTTP-date
    ``Retry-After``), ``sleep`` and ``jitter`` are injectable so tests never wait.
    """
