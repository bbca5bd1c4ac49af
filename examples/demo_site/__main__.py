"""``python -m examples.demo_site``: (re)seed the demo and serve it with waitress.

``make demo`` runs ``python -m examples.demo_site --reset``: a fresh ``instance/`` every time.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from examples.demo_site.app import DEFAULT_INSTANCE, create_demo
from examples.demo_site.seed import PASSWORD, USERS, seed


def banner(base_url: str, mount: str) -> str:
    width = max(len(u.situation) for u in USERS)
    lines = [
        "",
        f"  The demo site, behind proabono-bridge:  {base_url}/",
        "",
        f"  Sign in at {base_url}/login  (password: {PASSWORD})",
    ]
    for user in USERS:
        lines.append(f"    {user.username:6} {user.situation:{width}}  → {user.shows}")
    lines += [
        "",
        f"  Free article:     {base_url}/articles/seven-tools-worth-owning",
        f"  Premium article:  {base_url}/premium/the-long-game-of-compost",
        f"  A download:       {base_url}/downloads/bench-cut-list.txt",
        f"  Account page:     {base_url}/account   (subscription and billing links)",
        f"  Register:         {base_url}/register  (new users get the Welcome offer in seconds)",
        f"  Billing links:    {base_url}{mount}/portal, /offers, /restart, /payment",
        f"  Hosted pages:     {base_url}{mount}/sandbox/portal/...  (the in-process sandbox)",
        "",
        "  Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the proabono-bridge demo site.")
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE, help="instance folder")
    parser.add_argument("--reset", action="store_true", help="start from an empty instance")
    parser.add_argument("--no-seed", action="store_true", help="do not seed the demo users")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.reset and args.instance.exists():
        shutil.rmtree(args.instance)
    if not args.no_seed:
        print(f"Seeding {args.instance}")
        seed(args.instance)

    import waitress

    app = create_demo(args.instance)
    config = app.extensions["proabono_bridge"].bridge.config
    base_url = config.site.base_url.rstrip("/")
    if base_url != f"http://{args.host}:{args.port}":
        print(f"Note: bridge.toml says base_url = {base_url!r}; hosted pages return there.")
    print(banner(base_url, config.site.mount), flush=True)
    try:
        waitress.serve(app, host=args.host, port=args.port, threads=8, ident="demo-site")
    except KeyboardInterrupt:
        print("Stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
