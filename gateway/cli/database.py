"""`bc-gateway init` and `bc-gateway db upgrade|current`: the database and its schema."""

from __future__ import annotations

import argparse

from gateway.cli.common import Subcommands, run_with_engine, safe_url
from gateway.config import Settings
from gateway.initialise import initialise
from schemas.migrate import current_revision, head_revision, upgrade


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("init", help="create or upgrade the schema and the company (idempotent)")
    s.add_argument("--demo", action="store_true", help="load a CRONUS-like demo company and a DEMO user")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("db", help="database schema (Alembic migrations)")
    s.add_argument(
        "db_command",
        choices=["upgrade", "current"],
        help="upgrade: apply the schema migrations (once, before starting several processes); "
        "current: show where the database's schema stands",
    )
    s.set_defaults(func=cmd_db)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    notes = run_with_engine(settings, lambda engine: initialise(engine, settings, demo=args.demo), schema=False)
    for note in notes:
        print(note)
    print(f"Database is ready: {safe_url(settings.database_url)}")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.db_command == "upgrade":
        run_with_engine(settings, upgrade, schema=False)
        print(f"Database schema is at {head_revision()}.")
    else:
        current = run_with_engine(settings, current_revision, schema=False)
        head = head_revision()
        print(
            f"current: {current or '(empty)'}  head: {head}"
            + ("" if current == head else "  (run 'bc-gateway db upgrade')")
        )
    return 0
