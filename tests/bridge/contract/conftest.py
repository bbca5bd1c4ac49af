"""The ``backend`` fixture: every contract scenario runs on each of the three backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.contract.backend import Backend
from tests.bridge.contract.canned_backend import canned_backend
from tests.bridge.contract.sandbox_backend import sandbox_backend

BACKENDS = ("responses", "sandbox-inprocess", "sandbox-http")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "responses":
        with canned_backend() as canned:
            yield canned
    else:
        with sandbox_backend(request.param, tmp_path / "billing.db") as sandbox:
            yield sandbox
