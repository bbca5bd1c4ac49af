"""``proabono-bridge sandbox``: serve the sandbox over HTTP, or move its clock.

    proabono-bridge sandbox --db billing.db --port 8765 [--host 127.0.0.1] [--catalog FILE]
    proabono-bridge sandbox advance 31d --db billing.db

Serving uses waitress (threaded) and runs the webhook worker for ``--webhook`` URLs. ``advance``
moves the clock stored in the database and applies what became due (renewals, trial ends,
consumption resets, suspensions); a running server sees the new time at once, since it reads the
same file. The lead wires ``add_arguments``/``run`` into ``middleware.cli``.
"""

from __future__ import annotations

import argparse
import sys

from bridge.models import format_datetime as format_now
from bridge.sandbox.clock import parse_duration

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="serve",
        choices=("serve", "advance"),
        help="serve (default) the API over HTTP, or advance the sandbox clock",
    )
    parser.add_argument("duration", nargs="?", help="for advance: 31d, 12h, 90m, 2w or seconds")
    parser.add_argument("--db", required=True, help="the SQLite file (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--catalog", help="catalog TOML (default: the demo catalog)")
    parser.add_argument("--agent-key", default="sandbox-agent", help="Basic auth user")
    parser.add_argument("--api-key", default="sandbox-key", help="Basic auth password")
    parser.add_argument("--public-url", help="base URL of hosted-page links")
    parser.add_argument("--webhook", action="append", default=[], help="webhook URL (repeatable)")
    parser.add_argument("--webhook-key", default="sandbox-webhook", help="x-proabono-key sent")
    parser.add_argument(
        "--webhook-secret", default="sandbox-webhook-secret", help="secret of the signature"
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads")


def run(args: argparse.Namespace) -> int:
    if args.action == "advance":
        return _advance(args)
    if args.duration is not None:
        print(f"sandbox: unexpected argument {args.duration!r}", file=sys.stderr)
        return 2
    return _serve(args)


def _advance(args: argparse.Namespace) -> int:
    from bridge.sandbox.service import Sandbox

    if not args.duration:
        print("sandbox advance: give a duration, e.g. 31d", file=sys.stderr)
        return 2
    try:
        delta = parse_duration(args.duration)
    except ValueError as exc:
        print(f"sandbox advance: {exc}", file=sys.stderr)
        return 2
    service = Sandbox(args.db, catalog_path=args.catalog)
    try:
        now, steps = service.advance(delta)
    finally:
        service.close()
    print(f"sandbox clock is now {format_now(now)} ({steps} scheduled change(s) applied)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import waitress

    from bridge.sandbox.app import close_app, create_app
    from bridge.sandbox.service import WebhookTarget

    targets = [
        WebhookTarget(url=url, key=args.webhook_key, secret=args.webhook_secret)
        for url in args.webhook
    ]
    app = create_app(
        args.db,
        catalog_path=args.catalog,
        agent_key=args.agent_key,
        api_key=args.api_key,
        webhooks=targets,
        public_url=args.public_url,
    )
    server = waitress.create_server(app, host=args.host, port=args.port, threads=args.threads)
    # the port is bound now (``--port 0`` picks a free one): say where, then serve
    print(
        f"sandbox billing service on http://{args.host}:{server.effective_port} "
        f"(db {args.db}; Basic auth {args.agent_key}:<api key>)",
        flush=True,
    )
    try:
        server.run()
    finally:
        close_app(app)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m bridge.sandbox.cli``) until the lead wires the command."""
    parser = argparse.ArgumentParser(prog="proabono-bridge sandbox")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
