"""`bc-gateway worker`, `bc-gateway orders ...` and `bc-gateway quotes ...`: the order processor
and the person's view of its inbox (BC's "Sales Orders - Dynamics 365 Sales" list)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, print_json, run_with_engine
from gateway.config import Settings
from orders import inbox
from orders.inbox.states import InboxState
from orders.inbox_commands import (
    CommandError,
    CommandResult,
    create_sales_order_now,
    inbox_detail,
    process_sales_quote_now,
)
from orders.worker import OrderWorker
from schemas import tables as t
from schemas.migrate import current_revision, head_revision


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("worker", help="run the order worker alone (several may run)")
    s.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
    s.set_defaults(func=cmd_worker)

    _inbox_parser(
        sub,
        "orders",
        inbox.SALESORDER,
        "submitted Sales orders: the inbox, and 'Create in Business Central'",
        ("create", "convert a submitted Sales order now (BC's 'Create in Business Central')"),
    ).add_parser("reconcile", help="ask Sales for orders and quotes the inbox lacks, now")
    _inbox_parser(
        sub,
        "quotes",
        inbox.QUOTE,
        "activated and won Sales quotes: the inbox, and 'Process in Business Central'",
        ("process", "process a Sales quote now (BC's 'Process in Business Central')"),
    )


def _inbox_parser(sub: Subcommands, name: str, table: str, help_: str, action: tuple[str, str]) -> Subcommands:
    """list / show / <action> / retry for one Sales table's inbox rows."""
    s = sub.add_parser(name, help=help_)
    s.set_defaults(func=cmd_inbox, table=table)
    o = s.add_subparsers(dest="inbox_command", required=True)
    a = o.add_parser("list", help=f"inbox rows for Sales {name}")
    a.add_argument("--state", choices=list(t.INBOX_STATES))
    a.add_argument("--json", action="store_true")
    a = o.add_parser("show", help="one Sales row: deliveries, attempts, errors, the BC document (and archives)")
    a.add_argument("sales_id")
    a.add_argument("--json", action="store_true")
    o.add_parser(action[0], help=action[1]).add_argument("sales_id")
    a = o.add_parser("retry", help="try failed rows again")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("sales_id", nargs="?")
    g.add_argument("--all-failed", action="store_true")
    return o


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    async def run(engine: AsyncEngine) -> int:
        if await current_revision(engine) != head_revision():
            raise CommandError("The database schema is not current: run 'bc-gateway db upgrade'.")
        worker = OrderWorker(engine, settings)
        if args.once:
            try:
                return await worker.run_once()
            finally:
                await worker.close()
        print(f"Order worker {worker.owner} running for company {settings.company}.", flush=True)
        await worker.run()
        return 0

    try:
        done = run_with_engine(settings, run)
    except CommandError as exc:
        fail(str(exc))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    if args.once:
        print(f"Handled {done} inbox row(s) and write-back(s).")
    return 0


def _row_line(row: inbox.InboxRow) -> str:
    doc = f"{row.document_type} {row.document_no}".strip() or "-"
    wb = f" write-back {row.writeback_state}" if row.writeback_state else ""
    err = (
        f"  {row.last_error}"
        if row.last_error and row.state in (InboxState.FAILED, InboxState.WAITING, InboxState.IGNORED)
        else ""
    )
    return f"{row.id:>6} {row.sales_id} {row.event:<8} {row.state:<10} attempts {row.attempts:<2} {doc:<16}{wb}{err}"


def print_show(data: dict[str, Any]) -> None:
    if not data["inbox"]:
        print(f"Nothing in the inbox for {data['sales_id']}.")
        return
    for row in data["inbox"]:
        print(
            f"Inbox row {row['id']}: {row['table_name']} {row['sales_id']} event {row['event']}"
            + (f" revision {row['revision']}" if row["revision"] >= 0 else "")
        )
        print(
            f"  state {row['state']}, {row['attempts']} attempt(s), source {row['source']}, "
            f"received {row['received_at']}, processed {row['processed_at'] or '-'}"
        )
        if row["last_error"]:
            print(f"  message: {row['last_error']}")
        if row["writeback_state"]:
            print(
                f"  write-back to Sales: {row['writeback_state']}"
                + (f" ({row['writeback_error']})" if row.get("writeback_error") else "")
            )
        print(f"  deliveries ({row['deliveries']}):")
        for d in row["deliveries_log"]:
            print(
                f"    {d['received_at']} {d['message']:<10} {d['outcome']:<9} correlation {d['correlation_id']}"
                + (" (size exceeded)" if d["size_exceeded"] else "")
            )
        doc = row["document"]
        if doc:
            print(
                f"  BC {doc['document_type'].lower()} {doc['no']} ({doc['status']}) for customer "
                f"{doc['sell_to_customer_no']}, Your Reference {doc['your_reference']}"
                + (f", Quote No. {doc['quote_no']}" if doc.get("quote_no") else "")
            )
            for ln in doc["lines"]:
                print(
                    f"    {ln['line_no']:>6} {ln['type'] or '(text)':<12} {ln['no']:<10} {ln['description'][:40]:<40} "
                    f"{ln['quantity']:>10} {ln['unit_of_measure_code']:<6} {ln['amount']:>12}"
                )


def print_command_result(result: CommandResult, what: str) -> int:
    r = result.result
    if r.state == InboxState.CREATED:
        print(r.message)
        if result.write_back is True:
            print(f"Wrote the date back to the {what} in Dynamics 365 Sales.")
        elif result.write_back is False:
            print("Could not write back to Sales yet; the worker retries (see 'show').")
        else:
            print("A running worker writes the date back to Sales (see 'show').")
        return 0
    print(r.message)
    return 1


def cmd_inbox(args: argparse.Namespace, settings: Settings) -> int:
    sub, table = args.inbox_command, args.table
    company = settings.company

    async def run(engine: AsyncEngine) -> Any:
        if sub == "list":
            return await inbox.list_rows(engine, company, table, args.state)
        if sub == "show":
            return await inbox_detail(engine, company, args.sales_id, table)
        if sub == "create":
            return await create_sales_order_now(engine, settings, args.sales_id)
        if sub == "process":
            return await process_sales_quote_now(engine, settings, args.sales_id)
        if sub == "retry":
            ids = None
            if not args.all_failed:
                ids = [r.id for r in await inbox.find(engine, company, args.sales_id, table)]
                if not ids:
                    raise CommandError(f"Nothing in the inbox for {args.sales_id}.")
            return await inbox.retry(engine, company, table, ids)
        worker = OrderWorker(engine, settings)
        try:
            return await worker.reconcile()
        finally:
            await worker.close()

    try:
        result = run_with_engine(settings, run)
    except CommandError as exc:
        fail(str(exc))
    if sub == "list":
        if args.json:
            print_json([r.as_dict() for r in result])
        else:
            for row in result:
                print(_row_line(row))
        return 0
    if sub == "show":
        if args.json:
            print_json(result)
        else:
            print_show(result)
            for no, versions in result["archives"].items():
                for v in versions:
                    print(f"  archive of {no}: version {v['version_no']} at {v['archived_at']} ({v['reason']})")
        return 0
    if sub in ("create", "process"):
        return print_command_result(result, "order" if sub == "create" else "quote")
    if sub == "retry":
        print(f"{result} inbox row(s) will be tried again.")
        return 0
    print(f"Reconciliation queued or reopened {result} inbox row(s).")
    return 0
