"""The embedded sandbox billing service: a stateful, ProAbono-compatible API persisted in SQLite.

Modules, each owning one concern:

* ``store``: the SQLite file (schema, numbered migrations, WAL, one writer lock, connection pool);
* ``catalog``: segments, features and offers loaded from TOML (``demo_catalog.toml`` ships here);
* ``clock``: the sandbox's "now" (an injected base clock plus an offset kept in the database);
* ``service``: one sandbox (store, catalog, clock, link signer) and its catch-up with time;
* ``ledger``: the unit of work (``Tx``) and row readers; ``errors``: refusals in the API's shape;
* ``periods``: calendar and money arithmetic; ``pricing``: what periods and changes cost;
* ``billing``: balance lines, invoices, charges (test cards, manual types), capping;
* ``subscriptions``: the lifecycle actions; ``renewals``: what time makes happen;
* ``usages``: rights and usage changes; ``quoting``: the quote shape;
* ``events``: the webhook outbox; ``webhooks``: its delivery worker;
* ``views``: rows to PascalCase JSON; ``links``: signed, expiring hosted-page links;
* ``api`` (plumbing), ``api_customers``, ``api_subscriptions``, ``api_catalog``, ``api_usages``,
  ``api_billing``, ``admin`` (``/_sandbox``), ``portal`` (minimal hosted pages), ``app`` (factory);
* ``transport``: ``sandbox://`` in process; ``cli``: ``proabono-bridge sandbox`` (serve, advance).

Nothing here is imported by the rest of ``bridge`` except through ``transport`` (the client loads
it lazily for ``sandbox://`` URLs), so Flask stays confined to this package.
"""
