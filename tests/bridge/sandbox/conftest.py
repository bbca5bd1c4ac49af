"""Fixtures of the sandbox suite (defined in ``harness`` so other suites can reuse them)."""

from tests.bridge.sandbox.harness import billing, sandbox_env  # noqa: F401
