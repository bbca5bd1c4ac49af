"""The ``proabono-bridge`` command line.

Each subcommand is one function ``(args) -> exit code`` plus, when it takes options, one function
adding them to its parser; both are registered in :data:`COMMANDS`, the only list to extend.
``--config FILE`` is accepted before or after the subcommand; without it ``$BRIDGE_CONFIG``, then
``./bridge.toml``, is read.

Exit codes: 0 success; 1 an error of the bridge (a ``BridgeError``: message, no traceback);
2 a configuration problem (every problem listed) or a usage error.

What this module does not do: import a web framework, or know how a config is validated
(``bridge.config``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from bridge import __version__
from bridge.config import load_config
from bridge.errors import BridgeError, ConfigError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
_CONFIG_HELP = "configuration file (default: $BRIDGE_CONFIG, then ./bridge.toml)"


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one line of help, what it runs, and its own options if any."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


def run_check(args: argparse.Namespace) -> int:
    """Validate the configuration; print where it came from and what it means."""
    config = load_config(args.config)
    print(f"OK: {config.source}")
    for line in config.describe():
        print(f"  {line}")
    return EXIT_OK


COMMANDS: Sequence[Command] = (
    Command(
        "check", "validate the configuration and summarise it (secrets are never shown)", run_check
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proabono-bridge",
        description="Subscription billing in front of any web site.",
    )
    parser.add_argument("--version", action="version", version=f"proabono-bridge {__version__}")
    parser.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)
    # Subcommands repeat --config; SUPPRESS keeps a value given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=_CONFIG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name, help=command.help, description=command.help, parents=[common]
        )
        if command.add_arguments is not None:
            command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def print_problems(error: ConfigError, stream: TextIO) -> None:
    """Every problem on its own line: ``  key: message  → fix: hint``."""
    count = len(error.problems)
    where = f" in {error.source}" if error.source else ""
    print(f"{count} configuration problem{'s' if count != 1 else ''}{where}:", file=stream)
    for problem in error.problems:
        fix = f"  → fix: {problem.hint}" if problem.hint else ""
        print(f"  {problem.key}: {problem.message}{fix}", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    try:
        code: int = args.run(args)
    except ConfigError as error:
        print_problems(error, sys.stderr)
        return EXIT_CONFIG
    except BridgeError as error:
        print(f"proabono-bridge: {error}", file=sys.stderr)
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
