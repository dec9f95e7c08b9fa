"""`bc-gateway`: the command line. Thin: each command parses, calls a service, prints."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import ConfigError, Settings, load_settings
from gateway.initialise import DEMO_USER, SchemaOutdated, ensure_schema, initialise
from schemas.db import create_engine

log = logging.getLogger("bcgw.cli")


class CliError(Exception):
    """A command that cannot be carried out; printed without a traceback, exit status 1."""


def _fail(message: str, status: int = 1) -> NoReturn:
    print(f"bc-gateway: {message}", file=sys.stderr)
    raise SystemExit(status)


def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with_engine(settings: Settings, body: Callable[[AsyncEngine], Awaitable[Any]], schema: bool = True) -> Any:
    """Run `body` with an engine. `schema`: the database must be current first — an empty one
    is set up as `init` does (embedded, zero set-up), an older one must be upgraded."""
    engine = create_engine(settings.database_url)
    try:
        if schema:
            try:
                notes = await ensure_schema(engine, settings)
            except SchemaOutdated as exc:
                raise CliError(str(exc)) from None
            for note in notes:
                print(note, file=sys.stderr)
        return await body(engine)
    finally:
        await engine.dispose()


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"'{text}' is not a number")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _who() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli"


# --- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    notes = _run(_with_engine(settings, lambda e: initialise(e, settings, demo=args.demo), schema=False))
    for note in notes:
        print(note)
    print(f"Database is ready: {_safe_url(settings.database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.migrate import current_revision, head_revision, upgrade

    if args.db_command == "upgrade":
        _run(_with_engine(settings, upgrade, schema=False))
        print(f"Database schema is at {head_revision()}.")
    else:
        current = _run(_with_engine(settings, current_revision, schema=False))
        head = head_revision()
        print(
            f"current: {current or '(empty)'}  head: {head}"
            + ("" if current == head else "  (run 'bc-gateway db upgrade')")
        )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from gateway.app import SchemaNotReady, create_app
    from gateway.logs import RedactingAccessLogger

    demo_key = None
    if args.demo:

        async def prepare(engine: AsyncEngine) -> str:
            from schemas.users import UserService

            await initialise(engine, settings, demo=True)
            _user, key = await UserService(engine).change_key(DEMO_USER)
            return key

        demo_key = _run(_with_engine(settings, prepare, schema=False))

    with contextlib.suppress(ImportError):  # uvloop is optional on some platforms
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def nothing(_engine: AsyncEngine) -> None:
        return None

    _run(_with_engine(settings, nothing))  # an empty database is set up; an old one is refused
    app = create_app(settings, worker=not args.no_worker)
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
        _fail(str(exc))
    return 0


def cmd_inventory(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.db import write_transaction
    from schemas.inventory import LedgerLine, PostingError, post_ledger_entries

    async def post(engine: AsyncEngine) -> int:
        async with write_transaction(engine) as conn:
            (entry_no,) = await post_ledger_entries(
                conn,
                settings.company,
                [
                    LedgerLine(
                        args.item_no,
                        args.quantity,
                        args.location or "",
                        args.posting_date,
                        args.entry_type,
                        args.document_no or "",
                        args.description or "",
                    )
                ],
            )
            return entry_no

    try:
        entry_no = _run(_with_engine(settings, post))
    except PostingError as exc:
        _fail(str(exc))
    print(
        f"Posted item ledger entry {entry_no}: {args.item_no} {args.quantity:+}"
        + (f" at {args.location}" if args.location else "")
    )
    return 0


def cmd_couple(args: argparse.Namespace, settings: Settings) -> int:
    from schemas import master_data as masterdata
    from schemas.db import write_transaction

    async def run(engine: AsyncEngine) -> None:
        async with write_transaction(engine) as conn:
            if args.command == "couple":
                await masterdata.couple(conn, settings.company, args.kind, args.bc_no, args.sales_id)
            else:
                await masterdata.uncouple(conn, settings.company, args.kind, args.bc_no)

    try:
        _run(_with_engine(settings, run))
    except masterdata.MasterDataError as exc:
        _fail(str(exc))
    if args.command == "couple":
        print(f"Coupled {args.kind} {args.bc_no} to Dynamics 365 Sales record {args.sales_id.lower()}.")
    else:
        print(f"Uncoupled {args.kind} {args.bc_no}.")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from gateway.csv_import import ImportFileError, count_rows, import_csv
    from schemas.master_data import MasterDataError

    path = Path(args.file)
    total = count_rows(path)
    # On a terminal by default (None: tqdm's own test); --progress forces it, --quiet hides it.
    disable = True if args.quiet else (False if args.progress else None)
    bar = tqdm(total=total, unit="row", desc=f"import {args.kind}", file=sys.stderr, disable=disable)
    try:
        result = _run(_with_engine(settings, lambda e: import_csv(e, settings.company, args.kind, path, bar.update)))
    except (ImportFileError, MasterDataError) as exc:
        bar.close()
        _fail(str(exc))
    bar.close()
    for line, reason in result.errors:
        print(f"{path}:{line}: {reason}", file=sys.stderr)
    print(
        f"Imported {result.succeeded} of {result.rows} rows into {args.kind} "
        f"({result.created} created, {result.updated} updated, {len(result.errors)} refused)."
    )
    return 1 if result.errors else 0


# --- users ---------------------------------------------------------------------------------


def _user_line(user: Any) -> str:
    expiry = (
        "no key"
        if not user.has_key
        else ("never expires" if user.key_expires_at is None else f"expires {user.key_expires_at:%Y-%m-%d %H:%M} UTC")
    )
    state = "enabled" if user.enabled else "disabled"
    return f"{user.user_name:<20} {state:<9} {','.join(sorted(user.roles)) or '-':<50} {expiry}"


def _expiry(args: argparse.Namespace) -> dt.datetime | None:
    if args.never_expires or args.expires is None:
        return None
    text = args.expires
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            # A date means the key works through that whole day (UTC).
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except ValueError:
        _fail(f"--expires: '{text}' is not a date (YYYY-MM-DD) or date and time", 2)


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.users import UserError, UserService

    async def run(engine: AsyncEngine) -> Any:
        users = UserService(engine)
        sub = args.users_command
        if sub == "add":
            return await users.add(args.name, args.full_name or "", set(args.role or ()))
        if sub == "list":
            return await users.list()
        if sub == "show":
            return await users.get(args.name)
        if sub in ("disable", "enable"):
            return await users.set_enabled(args.name, sub == "enable")
        if sub == "roles":
            return await users.change_roles(args.name, set(args.add or ()), set(args.remove or ()))
        if sub == "change-key":
            return await users.change_key(args.name, _expiry(args), args.grace or 0)
        raise AssertionError(sub)

    try:
        result = _run(_with_engine(settings, run))
    except UserError as exc:
        _fail(str(exc))
    sub = args.users_command
    if sub == "list":
        if args.json:
            print(json.dumps([u.as_dict() for u in result], indent=2))
        else:
            for user in result:
                print(_user_line(user))
    elif sub == "show":
        if args.json:
            print(json.dumps(result.as_dict(), indent=2))
        else:
            for k, v in result.as_dict().items():
                print(f"{k:<26} {', '.join(v) if isinstance(v, list) else v}")
    elif sub == "change-key":
        user, key = result
        if args.quiet:
            print(key)
        else:
            print(f"New web service access key for {user.user_name} (shown once, store it now):")
            print(key)
            when = "never expires" if user.key_expires_at is None else f"expires {user.key_expires_at.isoformat()}"
            print(f"The key {when}.", end=" ")
            if user.previous_key_valid_until:
                print(f"The previous key keeps working until {user.previous_key_valid_until.isoformat()}.")
            else:
                print("The previous key, if any, no longer works: update every client that used it.")
    else:
        print(_user_line(result))
    return 0


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bc-gateway",
        description="Business Central side of the Business Central - Dynamics 365 Sales integration.",
    )
    p.add_argument("--config", help="TOML settings file (default: $BCGW_CONFIG)")
    p.add_argument("--company", help="company to work in (default: $BCGW_COMPANY or CRONUS)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="create or upgrade the schema and the company (idempotent)")
    s.add_argument("--demo", action="store_true", help="load a CRONUS-like demo company and a DEMO user")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("db", help="database schema (Alembic migrations)")
    s.add_argument("db_command", choices=["upgrade", "current"])
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("serve", help="run the gateway (and the order worker)")
    s.add_argument("--host", help="listen address (default $BCGW_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default $BCGW_PORT or 8080)")
    s.add_argument("--demo", action="store_true", help="load the demo company and print a fresh demo key")
    s.add_argument("--no-worker", action="store_true", help="do not run the order worker in this process")
    s.add_argument("--reuse-port", action="store_true", help="share the port with other gateway processes")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("inventory", help="item inventory")
    inv = s.add_subparsers(dest="inventory_command", required=True)
    post = inv.add_parser("post", help="post a positive or negative adjustment")
    post.add_argument("item_no")
    post.add_argument("quantity", type=_decimal)
    post.add_argument("--location", help="location code")
    post.add_argument("--posting-date", type=_date)
    post.add_argument("--entry-type", help="default: Positive Adjmt. / Negative Adjmt. by the sign")
    post.add_argument("--document-no")
    post.add_argument("--description")
    s.set_defaults(func=cmd_inventory)

    kinds = ["item", "customer", "resource", "unit"]
    s = sub.add_parser("couple", help="couple a BC record to a Sales row")
    s.add_argument("kind", choices=kinds)
    s.add_argument("bc_no", help="BC number (or unit code)")
    s.add_argument("sales_id", help="the Sales row's id (GUID)")
    s.set_defaults(func=cmd_couple)
    s = sub.add_parser("uncouple", help="remove a coupling")
    s.add_argument("kind", choices=kinds)
    s.add_argument("bc_no")
    s.set_defaults(func=cmd_couple)

    s = sub.add_parser("import", help="import a CSV file (header row: entity-set property names)")
    s.add_argument("kind", choices=["items", "units", "customers", "resources", "ledger", "couplings"])
    s.add_argument("file")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--progress", action="store_true", help="a progress bar even when not on a terminal")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("users", help="web service users and access keys")
    us = s.add_subparsers(dest="users_command", required=True)
    a = us.add_parser("add")
    a.add_argument("name")
    a.add_argument("--full-name")
    a.add_argument("--role", action="append", help="PRODUCT_AVAILABILITY, INTEGRATION, INTEGRATION_ADMIN")
    a = us.add_parser("list")
    a.add_argument("--json", action="store_true")
    a = us.add_parser("show")
    a.add_argument("name")
    a.add_argument("--json", action="store_true")
    for name in ("disable", "enable"):
        us.add_parser(name).add_argument("name")
    a = us.add_parser("roles")
    a.add_argument("name")
    a.add_argument("--add", action="append")
    a.add_argument("--remove", action="append")
    a = us.add_parser("change-key", help="make a new access key (the old one stops working)")
    a.add_argument("name")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--expires", help="YYYY-MM-DD (works through that day, UTC) or an ISO date and time")
    g.add_argument("--never-expires", action="store_true")
    a.add_argument("--grace", type=int, help="minutes the old key keeps working")
    a.add_argument("--quiet", action="store_true", help="print only the key")
    s.set_defaults(func=cmd_users)

    from gateway.cli_orders import add_order_parsers
    from gateway.cli_setup import add_setup_parser

    add_setup_parser(sub)
    add_order_parsers(sub)
    return p


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run a command; `environ` replaces os.environ for the settings (tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, Any] = {"company": args.company, "log_level": args.log_level}
        for name in ("host", "port"):
            overrides[name] = getattr(args, name, None)
        settings = load_settings(environ, config_file=args.config, **overrides)
    except ConfigError as exc:
        _fail(str(exc), 2)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every migration step at INFO: noise on a command line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        return int(args.func(args, settings) or 0)
    except CliError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        _fail(f"{exc.strerror or exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
