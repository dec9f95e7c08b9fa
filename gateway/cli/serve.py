"""`bc-gateway serve`: the gateway (and, unless told otherwise, the order worker) on a port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, run_with_engine
from gateway.config import Settings
from gateway.initialise import DEMO_USER, initialise
from schemas.users import UserService


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("serve", help="run the gateway (and the order worker)")
    s.add_argument("--host", help="listen address (default $BCGW_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default $BCGW_PORT or 8080)")
    s.add_argument("--demo", action="store_true", help="load the demo company and print a fresh demo key")
    s.add_argument("--no-worker", action="store_true", help="do not run the order worker in this process")
    s.add_argument(
        "--no-mirror", action="store_true", help="api mode: do not run the mirror of Business Central in this process"
    )
    s.add_argument("--reuse-port", action="store_true", help="share the port with other gateway processes")
    s.set_defaults(func=cmd_serve)


async def _demo_key(engine: AsyncEngine, settings: Settings) -> str:
    """The demo set up, and a fresh key for its user (keys are stored as hashes: shown once)."""
    await initialise(engine, settings, demo=True)
    _user, key = await UserService(engine).change_key(DEMO_USER)
    return key


async def _nothing(_engine: AsyncEngine) -> None:
    return None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    # The web application's modules only for this command: the others start faster without them.
    from aiohttp import web

    from gateway.app import SchemaNotReady, create_app
    from gateway.logs import RedactingAccessLogger

    demo_key = run_with_engine(settings, lambda e: _demo_key(e, settings), schema=False) if args.demo else None

    with contextlib.suppress(ImportError):  # uvloop is optional on some platforms
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    run_with_engine(settings, _nothing)  # an empty database is set up; an old one is refused
    app = create_app(settings, worker=not args.no_worker, mirror=not args.no_mirror)
    base = settings.public_base() or f"http://{settings.host}:{settings.port}"

    async def announce(_app: web.Application) -> None:
        print(f"Business Central gateway serving company {settings.company} at {base}/", flush=True)
        print(
            f"  OData V4: {base}/ODataV4/   OData V3: {base}/OData/   health: {base}/health",
            flush=True,
        )
        if demo_key:
            url = f"{base}/ODataV4/Company('{settings.company}')/ProductItemAvailability"
            print(f"  demo user: {DEMO_USER}   demo key (shown once): {demo_key}", flush=True)
            print(
                f"  try: curl -u '{DEMO_USER}:{demo_key}' \"{url}?\\$filter=CRM_ID%20eq%20"
                f'5a1e5000-0000-4000-8000-000000001896"',
                flush=True,
            )

    app.on_startup.append(announce)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log_class=RedactingAccessLogger,
            reuse_port=args.reuse_port,
            handle_signals=True,
        )
    except SchemaNotReady as exc:
        fail(str(exc))
    return 0
