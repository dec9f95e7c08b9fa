"""`bc-gateway inventory post`, `couple` / `uncouple` and `import`: BC's master data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import (
    CliError,
    Subcommands,
    date_arg,
    decimal_arg,
    fail,
    print_json,
    print_table,
    run_with_engine,
)
from gateway.config import Settings
from orders.bc_link.from_setup import local_write_refusal
from orders.change_setup import load_connection_setup
from schemas import master_data
from schemas.db import write_transaction
from schemas.inventory import JournalLine, LedgerLine, PostingError, post_journal_line
from schemas.tables import ENTRY_TYPES

COUPLING_KINDS = ["item", "customer", "resource", "unit", "salesperson"]
IMPORT_KINDS = [
    "units-of-measure",
    "currencies",
    "items",
    "units",
    "customer-price-groups",
    "customers",
    "sales-prices",
    "resources",
    "ledger",
    "couplings",
]
# What to import first when a row refers to what is not there (BC's "does not exist" messages).
_PREREQUISITES = {
    "The Unit of Measure does not exist": "bc-gateway import units-of-measure FILE.csv (columns Code, Description)",
    "The Currency does not exist": "bc-gateway import currencies FILE.csv (columns Code, Description)",
    "The Customer Price Group does not exist": "bc-gateway import customer-price-groups FILE.csv (columns Code, "
    "Description)",
    "The Item does not exist": "bc-gateway import items FILE.csv",
    "The Item Unit of Measure does not exist": "bc-gateway import units FILE.csv (columns Item_No, Code, "
    "Qty_per_Unit_of_Measure)",
}
# What each import writes, as the refusal in api mode names it (couplings stay ours: allowed).
BC_RECORDS = {
    "units-of-measure": "Create and change units of measure",
    "currencies": "Create and change currencies",
    "items": "Create and change items",
    "units": "Set up item units of measure",
    "customers": "Create and change customers",
    "customer-price-groups": "Create and change customer price groups",
    "sales-prices": "Create and change sales prices",
    "resources": "Create and change resources",
    "ledger": "Post item ledger entries",
}


async def refuse_in_api_mode(engine: AsyncEngine, what: str) -> None:
    """BC's records are written in BC when it is the system of record (docs/bc-link.md)."""
    async with engine.connect() as conn:
        message = local_write_refusal(await load_connection_setup(conn), what)
    if message:
        raise CliError(message)


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("inventory", help="item inventory")
    inv = s.add_subparsers(dest="inventory_command", required=True)
    post = inv.add_parser(
        "post",
        help="post an item journal line (BC's rule: Sale, Negative Adjmt., Consumption and Transfer take the "
        "quantity out of stock; Purchase, Positive Adjmt. and Output bring it in)",
    )
    post.add_argument("item_no", help="the item's No.")
    post.add_argument(
        "quantity", type=decimal_arg, help="how much moves (as in BC's item journal: --entry-type Sale 5 posts -5)"
    )
    post.add_argument("--location", help="location code (default: none)")
    post.add_argument("--posting-date", type=date_arg, help="YYYY-MM-DD (default: today)")
    post.add_argument(
        "--entry-type",
        choices=list(ENTRY_TYPES),
        metavar="TYPE",
        help=f"one of {', '.join(ENTRY_TYPES)} (default: Positive Adjmt. or Negative Adjmt. by the sign)",
    )
    post.add_argument("--new-location", help="with --entry-type Transfer: the location the quantity moves to")
    post.add_argument("--document-no", help="the entry's Document No.")
    post.add_argument("--description", help="the entry's Description")
    s.set_defaults(func=cmd_inventory)

    s = sub.add_parser(
        "couple",
        help="couple a BC record to a Sales row, or (--match KIND) every uncoupled record to the Sales row it matches",
        usage="bc-gateway couple KIND BC_NO SALES_ID\n       bc-gateway couple --match KIND [--create-new] [--json]",
    )
    s.add_argument(
        "kind",
        nargs="?",
        choices=COUPLING_KINDS,
        help="what to couple: item, customer, resource, unit or salesperson (to a Sales user)",
    )
    s.add_argument("bc_no", nargs="?", help="BC number (or unit code)")
    s.add_argument("sales_id", nargs="?", help="the Sales row's id (GUID)")
    s.add_argument(
        "--match",
        choices=COUPLING_KINDS,
        metavar="KIND",
        help="match-based coupling of item, resource, customer, unit or salesperson: each uncoupled BC record is "
        "coupled to the one uncoupled Sales row with the same number (then name; unit groups 'NAV <code>'; "
        "users by e-mail), case-insensitive",
    )
    s.add_argument(
        "--create-new",
        action="store_true",
        help="with --match: create in Sales and couple what matches nothing (Create New in Case of No Match)",
    )
    s.add_argument("--json", action="store_true", help="with --match: machine-readable output")
    s.set_defaults(func=cmd_couple)
    s = sub.add_parser("uncouple", help="remove a coupling")
    s.add_argument("kind", choices=COUPLING_KINDS, help="item, customer, resource, unit or salesperson")
    s.add_argument("bc_no", help="BC number (or unit code)")
    s.set_defaults(func=cmd_couple)

    s = sub.add_parser("import", help="import a CSV file (header row: entity-set property names)")
    s.add_argument(
        "kind",
        choices=IMPORT_KINDS,
        help="what the file holds (units of measure and currencies first: the others refer to them; customer "
        "price groups before the customers and sales prices that name them)",
    )
    s.add_argument("file", help="the CSV file (UTF-8; comma, semicolon or tab separated)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--progress", action="store_true", help="a progress bar even when not on a terminal")
    s.set_defaults(func=cmd_import)


def cmd_inventory(args: argparse.Namespace, settings: Settings) -> int:
    line = JournalLine(
        args.item_no,
        args.quantity,
        args.location or "",
        args.posting_date,
        args.entry_type,
        args.document_no or "",
        args.description or "",
        args.new_location or "",
    )

    async def post(engine: AsyncEngine) -> list[tuple[int, LedgerLine]]:
        await refuse_in_api_mode(engine, "Post inventory")
        async with write_transaction(engine) as conn:
            return await post_journal_line(conn, settings.company, line)

    try:
        posted = run_with_engine(settings, post)
    except PostingError as exc:
        fail(str(exc))
    for entry_no, entry in posted:
        print(
            f"Posted item ledger entry {entry_no}: {entry.item_no} {entry.quantity:+}"
            + (f" at {entry.location_code}" if entry.location_code else "")
            + f" ({entry.entry_type})"
        )
    return 0


def cmd_couple(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "couple" and args.match:
        if args.kind or args.bc_no or args.sales_id:
            fail("couple --match KIND takes no BC_NO or SALES_ID: it couples every uncoupled record of KIND", 2)
        return cmd_couple_by_match(args, settings)
    if args.command == "couple" and (args.create_new or args.json):
        fail("--create-new and --json go with --match KIND", 2)
    if args.command == "couple" and not (args.kind and args.bc_no and args.sales_id):
        fail("couple needs KIND BC_NO SALES_ID (or --match KIND): e.g. bc-gateway couple item 1000 <Sales id>", 2)

    async def run(engine: AsyncEngine) -> None:
        async with write_transaction(engine) as conn:
            if args.command == "couple":
                await master_data.couple(conn, settings.company, args.kind, args.bc_no, args.sales_id)
            else:
                await master_data.uncouple(conn, settings.company, args.kind, args.bc_no)

    try:
        run_with_engine(settings, run)
    except master_data.MasterDataError as exc:
        fail(str(exc))
    if args.command == "couple":
        print(f"Coupled {args.kind} {args.bc_no} to Dynamics 365 Sales record {args.sales_id.lower()}.")
    else:
        print(f"Uncoupled {args.kind} {args.bc_no}.")
    return 0


PLURAL = {
    "item": "items",
    "resource": "resources",
    "customer": "customers",
    "unit": "units of measure",
    "salesperson": "salespeople",
}
SALES_ROWS = {
    "item": "products",
    "resource": "products",
    "customer": "accounts",
    "unit": "unit groups",
    "salesperson": "users",
}


def cmd_couple_by_match(args: argparse.Namespace, settings: Settings) -> int:
    """`couple --match KIND`: BC's match-based coupling of one mapping, with its report."""
    from orders.sync.couple_by_match import couple_by_match
    from orders.sync.matching import describe
    from orders.sync.sales_connection import SalesNotConnected, sales_client

    kind = args.match
    if kind == "salesperson" and args.create_new:
        fail("Sales users are not created from salespeople: add the user in Sales, then couple it", 2)

    async def run(engine: AsyncEngine) -> Any:
        from orders.sync import api

        async with sales_client(engine, timeout=settings.sales_timeout) as client:
            sales = api.dataverse_sales(client)

            async def create(mapping: str, system_ids: list[str]) -> Any:
                return await api.run_mapping(
                    engine, settings.company, mapping, sales, system_ids=system_ids, force=True, only_coupled=False
                )

            return await couple_by_match(
                engine,
                settings.company,
                sales,
                kind,
                organisation_url=client.org_url,
                create_new=args.create_new,
                create=create,
            )

    from orders.sync.jobs import JobBusy
    from orders.sync.ports import SalesRefused, SalesUnavailable

    try:
        result = run_with_engine(settings, run)
    except (SalesNotConnected, master_data.MasterDataError, JobBusy, SalesRefused, SalesUnavailable) as exc:
        fail(str(exc))
    if args.json:
        print_json(result.as_json())
        return 1 if result.unmatched else 0
    what, rows = PLURAL[kind], SALES_ROWS[kind]
    c = result.criteria
    if not result.considered:
        print(
            f"No uncoupled {what}: every {c.bc_table.lower()} in {c.mapping}'s filter is coupled. "
            f"Next: bc-gateway sync full, or bc-gateway sync status."
        )
        return 0
    print(
        f"Match-based coupling ({c.mapping}): {result.considered} uncoupled {what}, "
        f"{result.sales_rows} Sales {rows} in the mapping's filter."
    )
    print()
    print_table(
        ("NO.", "SALES ID", "MATCHED ON"),
        [[m.record.key, m.row_id, f"{', '.join(m.on)} (priority {m.priority})"] for m in result.coupled],
        "Coupled none of them.",
    )
    if result.coupled:
        print(f"Coupled {len(result.coupled)} {what}.")
    if result.created:
        print()
        print_table(
            ("NO.", "SALES ID"),
            [[no, sales_id] for no, sales_id in result.created],
            "",
        )
        print(f"Created and coupled {len(result.created)} Sales {rows} (Create New in Case of No Match).")
    if result.unmatched:
        print()
        print_table(("NO.", "UNMATCHED BECAUSE"), [[u.record.key, describe(u)] for u in result.unmatched], "")
        print(result.message)
        print(
            f"Next: couple them by hand (bc-gateway couple {kind} NO SALES_ID)"
            + (
                ""
                if args.create_new
                else f", or create what matches nothing: bc-gateway couple --match {kind} --create-new"
            )
            + "."
        )
        return 1
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    # tqdm and the CSV reader only for this command.
    from tqdm import tqdm

    from gateway.csv_import import ImportFileError, count_rows, import_csv

    path = Path(args.file)
    if args.kind in BC_RECORDS:
        run_with_engine(settings, lambda e: refuse_in_api_mode(e, BC_RECORDS[args.kind]))
    total = count_rows(path)
    # On a terminal by default (None: tqdm's own test); --progress forces it, --quiet hides it.
    disable = True if args.quiet else (False if args.progress else None)
    bar = tqdm(total=total, unit="row", desc=f"import {args.kind}", file=sys.stderr, disable=disable)

    def advance(rows: int) -> None:
        bar.update(rows)

    try:
        result = run_with_engine(settings, lambda e: import_csv(e, settings.company, args.kind, path, advance))
    except (ImportFileError, master_data.MasterDataError) as exc:
        bar.close()
        fail(str(exc))
    bar.close()
    for line, reason in result.errors:
        print(f"{path}:{line}: {reason}", file=sys.stderr)
    for message, command in _PREREQUISITES.items():
        if any(message in reason for _line, reason in result.errors):
            print(f"Import those first: {command}", file=sys.stderr)
    print(
        f"Imported {result.succeeded} of {result.rows} rows into {args.kind} "
        f"({result.created} created, {result.updated} updated, {len(result.errors)} refused)."
    )
    return 1 if result.errors else 0
