"""A small real Django project the Django adapter and glue are tested against.

Settings read the database from ``BRIDGE_TEST_DJANGO_DATABASE`` (``sqlite:////path`` or
``postgresql://user@host:port/name``); ``harness.run_suite`` creates a fresh database, runs one of
the ``suite_*.py`` modules in a child ``pytest`` (Django's settings are configured once per
process) and drops the database. Django's own ``migrate`` builds the schema.
"""
