"""`bc-gateway serve`: the gateway (and, unless told otherwise, the order worker) on a port.

The order matters: the port is bound first (a second `serve` on a taken port stops there, saying
so), then the gateway starts (database, schema, worker), and only then is the demo key changed
and printed — a start that fails never leaves the running server's key changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import socket

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import CliError, Subcommands, fail, run_with_engine
from gateway.config import Settings
from gateway.initialise import DEMO_USER, initialise
from orders.change_setup import SetupService
from schemas.users import UserService

log = logging.getLogger("bcgw.serve")


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


async def _demo(engine: AsyncEngine, settings: Settings) -> None:
    """The demo company, its user and setup (idempotent; the key is changed only once serving)."""
    await initialise(engine, settings, demo=True)


async def _nothing(_engine: AsyncEngine) -> None:
    return None


def bind(host: str, port: int, reuse_port: bool = False) -> list[socket.socket]:
    """Listening sockets for every address `host` names, as aiohttp would open them; CliError
    with the reason (in use, not allowed, not an address here) when one cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"Cannot listen on {host}: the name does not resolve ({exc.strerror}). Check --host.") from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            # As asyncio does: a port left in TIME_WAIT may be taken again; one with a listener not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise CliError(_bind_failure(host, port, exc)) from None
    return sockets


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} on {host} is in use: another program listens there (a 'bc-gateway serve' already "
            "running?). Nothing was changed. Stop it, or choose another port (--port or BCGW_PORT)."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Not allowed to listen on {where} (ports below 1024 need privileges). Choose another --port."
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot listen on {where}: {host} is not an address of this machine. Check --host or BCGW_HOST."
    return f"Cannot listen on {where}: {exc.strerror or exc}."


def listening(settings: Settings, sockets: list[socket.socket]) -> str:
    """Where the server listens (what the sockets are bound to), for the banner."""
    names = []
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        names.append(f"http://{'[' + host + ']' if ':' in host else host}:{port}")
    return ", ".join(names) or f"http://{settings.host}:{settings.port}"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    # The web application's modules only for this command: the others start faster without them.
    from aiohttp import web

    from gateway.app import GATEWAY, SchemaNotReady, create_app
    from gateway.hosts import allowed_hosts
    from gateway.logs import RedactingAccessLogger

    if args.demo:
        run_with_engine(settings, lambda e: _demo(e, settings), schema=False)

    with contextlib.suppress(ImportError):  # uvloop is optional on some platforms
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    run_with_engine(settings, _nothing)  # an empty database is set up; an old one is refused
    try:
        sockets = bind(settings.host, settings.port, args.reuse_port)
    except CliError as exc:
        fail(str(exc))
    app = create_app(settings, worker=not args.no_worker, mirror=not args.no_mirror)
    local = listening(settings, sockets)
    public = settings.public_base()
    base = public or local.split(", ")[0]

    async def started(app: web.Application) -> None:
        """After the gateway started (its cleanup context runs before this) on a bound port."""
        engine = app[GATEWAY].engine()
        demo_key = None
        if args.demo:
            _user, demo_key = await UserService(engine).change_key(DEMO_USER)
        where = f"listening on {local}" + (f", public URL {public}" if public else "")
        print(f"Business Central gateway serving company {settings.company}: {where}", flush=True)
        print(f"  OData V4: {base}/ODataV4/   OData V3: {base}/OData/   health: {base}/health", flush=True)
        print(f"  accepted Host names: {', '.join(allowed_hosts(settings))} (BCGW_ALLOWED_HOSTS)", flush=True)
        if demo_key:
            url = f"{base}/ODataV4/Company('{settings.company}')/ProductItemAvailability"
            print(f"  demo user: {DEMO_USER}   demo key (shown once): {demo_key}", flush=True)
            print(
                f"  try: curl -u '{DEMO_USER}:{demo_key}' \"{url}?\\$filter=CRM_ID%20eq%20"
                f'5a1e5000-0000-4000-8000-000000001896"',
                flush=True,
            )
        for warning in await SetupService(engine, settings).warnings():
            log.warning("setup: %s", warning)

    app.on_startup.append(started)
    try:
        web.run_app(
            app,
            sock=sockets,
            print=None,
            access_log_class=RedactingAccessLogger,
            handle_signals=True,
        )
    except SchemaNotReady as exc:
        fail(str(exc))
    finally:
        for sock in sockets:
            sock.close()
    return 0
