"""Run a ``suite_*.py`` module of the Django test project in a child ``pytest``, on a fresh
database (SQLite file, or a PostgreSQL database created and dropped around the run).

Django's settings are configured once per process, and the rest of the suite (Flask...) must not
see them: each run is its own process. Importing this module imports no Django.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import require_postgres

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
DATABASES = ["sqlite", "postgresql"]


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database URL nobody else uses, gone afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'site.db'}"
        return
    import psycopg

    server = require_postgres()
    name = f"bridge_django_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path="/" + name))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_suite(suite: str, database: str, tmp_path: Path, *args: str, **env: str) -> dict[str, int]:
    """Run ``suite`` (a file of this folder); fail with its output unless everything passed."""
    with fresh_database(database, tmp_path) as url:
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.cms_adapters.django_project.settings",
            "BRIDGE_TEST_DJANGO_DATABASE": url,
            "BRIDGE_TEST_TMP": str(tmp_path),
            **env,
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["--rootdir", str(ROOT), str(HERE / suite), *args]
        done = subprocess.run(
            command, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=600
        )
    output = done.stdout + done.stderr
    counts = {
        word: int(number)
        for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", output)
    }
    if done.returncode != 0 or not counts.get("passed"):
        pytest.fail(f"{suite} on {database} ({' '.join(args)}):\n{output[-12000:]}", False)
    return counts
