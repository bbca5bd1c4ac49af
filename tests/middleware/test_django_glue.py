"""Django glue: a real Django project wrapped by ``middleware.django.wrap``, on SQLite and
PostgreSQL. The cases live in ``tests/cms_adapters/django_project/suite_glue.py`` and run in a child
process per database (Django's settings are configured once per process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cms_adapters.django_project.harness import DATABASES, run_suite


@pytest.mark.services
@pytest.mark.parametrize("database", DATABASES)
def test_django_project_behind_the_gate(database: str, tmp_path: Path) -> None:
    counts = run_suite("suite_glue.py", database, tmp_path)
    assert counts["passed"] >= 10, counts
    assert not counts.get("skipped"), counts
