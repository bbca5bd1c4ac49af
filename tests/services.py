"""Real services the suite uses when they are there: MariaDB, PostgreSQL, Redis, Chromium, and
WordPress's own PHP (to check our WordPress cookies against it).

``require(name, probe)`` runs ``probe`` (which raises when the service is unreachable) and skips
the test with the reason, or, when ``BRIDGE_REQUIRE_SERVICES=1`` (CI), fails it: in CI a missing
service is a broken machine, not a reason to go green.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable

import pytest

MARIADB_URL = os.environ.get("BRIDGE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get("BRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("BRIDGE_TEST_CHROMIUM", "/usr/bin/chromium")
#: WordPress's sources, as the Debian ``wordpress`` package installs them.
WORDPRESS = os.environ.get("BRIDGE_TEST_WORDPRESS", "/usr/share/wordpress")


def required() -> bool:
    return os.environ.get("BRIDGE_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def require(name: str, probe: Callable[[], object]) -> None:
    """Skip (or, in CI, fail) the current test when ``probe`` cannot reach ``name``."""
    try:
        probe()
    except Exception as exc:
        message = f"{name} is not reachable: {type(exc).__name__}: {exc}"
        if required():
            pytest.fail(f"{message} (BRIDGE_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)


def tcp(host: str, port: int) -> Callable[[], None]:
    def probe() -> None:
        with socket.create_connection((host, port), timeout=2):
            pass

    return probe


def executable(path: str) -> Callable[[], None]:
    def probe() -> None:
        if not (os.path.exists(path) or shutil.which(path)):
            raise FileNotFoundError(path)

    return probe


def require_mariadb() -> str:
    require("MariaDB (127.0.0.1:3306)", tcp("127.0.0.1", 3306))
    return MARIADB_URL


def require_postgres() -> str:
    require("PostgreSQL (127.0.0.1:5432)", tcp("127.0.0.1", 5432))
    return POSTGRES_URL


def require_redis() -> str:
    require("Redis (127.0.0.1:6379)", tcp("127.0.0.1", 6379))
    return REDIS_URL


def require_chromium() -> str:
    require(f"Chromium ({CHROMIUM})", executable(CHROMIUM))
    return CHROMIUM


def require_wordpress_php() -> tuple[str, str]:
    """``php`` and WordPress's sources (Debian: ``apt-get install php-cli wordpress``)."""
    require("php-cli (php)", executable("php"))
    require(
        f"WordPress's sources ({WORDPRESS}/wp-includes)", executable(f"{WORDPRESS}/wp-includes")
    )
    return shutil.which("php") or "php", WORDPRESS
