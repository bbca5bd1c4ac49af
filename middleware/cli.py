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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from bridge import __version__
from bridge.config import load_config
from bridge.errors import BridgeError, ConfigError
from cms_adapters.base import SiteUser

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


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (8)")


def run_serve(args: argparse.Namespace) -> int:
    """Serve the configured site behind the gate with waitress."""
    import waitress

    from middleware.app import create_app

    app = create_app(args.config)
    print(f"proabono-bridge: serving {app.config.source} on http://{args.host}:{args.port}")
    waitress.serve(
        app, host=args.host, port=args.port, threads=args.threads, ident="proabono-bridge"
    )
    return EXIT_OK


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="the path (and query) to explain, e.g. /premium/x or /?feed=rss2"
    )
    parser.add_argument("--user", help="site user id (default: an anonymous visitor)")
    parser.add_argument("--method", default="GET", help="HTTP method (GET)")


def run_explain(args: argparse.Namespace) -> int:
    """Print the gate's reasoning for one path and user: rule, customer, rights, decision."""
    from bridge.service import Bridge
    from middleware.explain import explain
    from middleware.gate import Gate

    config = load_config(args.config)
    gate = Gate(_no_site, adapter=_NoAdapter(), bridge=Bridge(config))
    for line in explain(gate, args.path, user=args.user, method=args.method):
        print(line)
    return EXIT_OK


def _no_site(environ: object, start_response: object) -> list[bytes]:  # pragma: no cover
    return []


class _NoAdapter:
    """explain names the user itself; nothing is identified from a request."""

    def credential(self, environ: object) -> None:
        return None

    def identify(self, environ: object) -> None:
        return None

    def get_user(self, user_id: str) -> None:
        return None

    def iter_users(self, since: object = None) -> Iterator[SiteUser]:
        return iter(())


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="only users registered since this date (YYYY-MM-DD)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be pushed")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="billing calls at once (4; the in-process sandbox takes them one by one)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_sync(args: argparse.Namespace) -> int:
    """Push every site user whose synced fields changed to billing (idempotent, resumable)."""
    from datetime import UTC, datetime

    from bridge.service import Bridge
    from cms_adapters.registry import build_adapter
    from middleware.app import make_sync

    config = load_config(args.config)
    bridge = Bridge(config)
    adapter = build_adapter(config.adapter)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
        except ValueError:
            print(
                f"proabono-bridge: --since {args.since!r} is not a date (YYYY-MM-DD)",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    sync = make_sync(bridge, adapter)
    counter = getattr(adapter, "count_users", None)
    total = counter(since) if callable(counter) else None
    bar = None if args.quiet else _progress_bar(total)
    seen = [0]

    def progress(summary: Any) -> None:
        done = summary.created + summary.updated + summary.unchanged + summary.failed
        if bar is not None and done > seen[0]:
            bar.update(done - seen[0])
            bar.set_postfix_str(summary.line(), refresh=False)
        seen[0] = done

    summary = sync.bulk(
        adapter.iter_users(since),
        dry_run=args.dry_run,
        concurrency=args.concurrency,
        progress=progress,
    )
    if bar is not None:
        bar.close()
    prefix = "dry run, would push: " if args.dry_run else ""
    print(f"{prefix}{summary.line()}")
    for error in summary.errors[:20]:
        print(f"  failed: {error}", file=sys.stderr)
    if not args.dry_run:
        bridge.state_store.set_meta("sync.last_run", datetime.now(UTC).isoformat())
        bridge.state_store.set_meta("sync.last_summary", summary.line())
    return EXIT_ERROR if summary.failed else EXIT_OK


def _progress_bar(total: int | None) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the "progress" extra is optional
        return None
    return tqdm(total=total, unit="user", desc="sync", file=sys.stderr)


def run_status(args: argparse.Namespace) -> int:
    """Outbox depth, pending writes with their last error, last sync, webhooks seen."""
    from bridge.service import Bridge

    config = load_config(args.config)
    state = Bridge(config).state_store
    pending = state.pending()
    print(f"state: {config.state.path}")
    print(f"outbox: {len(pending)} pending billing write(s)")
    for item in pending[:10]:
        error = f", last error: {item.last_error}" if item.last_error else ""
        print(f"  {item.kind} {item.reference}: {item.attempts} attempt(s){error}")
    print(f"users synced: {state.synced_count()}")
    last = state.get_meta("sync.last_run")
    summary = state.get_meta("sync.last_summary")
    print(f"last bulk sync: {last or 'never'}{f' ({summary})' if summary else ''}")
    print(f"webhook deliveries seen: {state.webhooks_seen()}")
    return EXIT_OK


def add_refresh_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", help="the site user id whose rights must be re-read")


def run_refresh(args: argparse.Namespace) -> int:
    """Make every worker re-read a user's rights now (after a change made by hand in billing)."""
    from bridge.service import Bridge

    config = load_config(args.config)
    if config.cache.backend != "redis":
        print(
            'proabono-bridge: with [cache] backend = "memory" each server process keeps its own '
            "cache, which this command cannot reach; the user's rights are re-read within "
            "[cache] ttl, on return from a hosted page, or when ProAbono's webhook arrives. "
            'Use backend = "redis" to refresh every worker from here.',
            file=sys.stderr,
        )
        return EXIT_ERROR
    bridge = Bridge(config)
    try:
        reference = bridge.reference_for(args.user)
        bridge.refresh(reference)
    finally:
        bridge.close()
    print(f"refreshed {reference}: every worker re-reads its rights on the next request")
    return EXIT_OK


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    from bridge.sandbox import cli as sandbox_cli

    sandbox_cli.add_arguments(parser)


def run_sandbox(args: argparse.Namespace) -> int:
    """The embedded sandbox billing service: serve it over HTTP, or advance its clock."""
    from bridge.sandbox import cli as sandbox_cli

    return sandbox_cli.run(args)


COMMANDS: Sequence[Command] = (
    Command(
        "check", "validate the configuration and summarise it (secrets are never shown)", run_check
    ),
    Command("serve", "serve the configured site behind the gate", run_serve, add_serve_arguments),
    Command(
        "explain",
        "show why a path is allowed or denied for a user",
        run_explain,
        add_explain_arguments,
    ),
    Command("sync", "push site users to billing customers (bulk)", run_sync, add_sync_arguments),
    Command("status", "outbox, last sync, webhook deliveries", run_status),
    Command(
        "refresh", "re-read a user's rights in every worker", run_refresh, add_refresh_arguments
    ),
    Command(
        "sandbox",
        "serve the sandbox billing service over HTTP (sandbox --db F), or advance its clock",
        run_sandbox,
        add_sandbox_arguments,
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
