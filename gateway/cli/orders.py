"""`bc-gateway worker`, `bc-gateway orders ...` and `bc-gateway quotes ...`: the order processor
and the person's view of its inbox (BC's "Sales Orders - Dynamics 365 Sales" list)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, print_json, print_table, run_with_engine, shorten, who
from gateway.config import Settings
from orders import inbox
from orders.change_setup import SetupService, load_connection_setup
from orders.dataverse.webapi import DataverseError
from orders.diff_sales_order import NoBcOrder, OrderDiff, diff_sales_order
from orders.inbox.states import InboxState
from orders.inbox_commands import (
    CommandError,
    CommandResult,
    create_sales_order_now,
    inbox_detail,
    process_sales_quote_now,
    set_aside,
)
from orders.post_sales_order import (
    PostingNotAllowed,
    PostingRefused,
    post_sales_order,
    release_sales_order,
    reopen_sales_order,
)
from orders.process_inbox_row import NotConfigured
from orders.worker import OrderWorker
from schemas import tables as t
from schemas.migrate import current_revision, head_revision
from schemas.types import GUID_PATTERN

log = logging.getLogger("bcgw.worker")


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("worker", help="run the order worker alone (several may run)")
    s.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
    s.set_defaults(func=cmd_worker)

    o = _inbox_parser(
        sub,
        "orders",
        inbox.SALESORDER,
        "submitted Sales orders: the inbox, 'Create in Business Central'; release and post BC orders",
        ("create", "convert a submitted Sales order now (BC's 'Create in Business Central')"),
    )
    o.add_parser("reconcile", help="ask Sales for orders and quotes the inbox lacks, now")
    _posting_parsers(o)
    _inbox_parser(
        sub,
        "quotes",
        inbox.QUOTE,
        "activated and won Sales quotes: the inbox, and 'Process in Business Central'",
        ("process", "process a Sales quote now (BC's 'Process in Business Central')"),
    )


def _posting_parsers(o: Subcommands) -> None:
    """release / reopen / post: BC's actions on a sales order of the embedded BC."""
    for name, help_ in (
        ("release", "release a BC sales order (BC's Release: Status Released, after BC's checks)"),
        ("reopen", "reopen a released BC sales order (Status Open, so it can be changed)"),
    ):
        a = o.add_parser(name, help=help_)
        a.add_argument("order_no", metavar="ORDER_NO", help="the BC sales order's No. (e.g. SO000001)")
        a.set_defaults(func=cmd_posting)
    a = o.add_parser(
        "post",
        help="post a BC sales order in the embedded BC: ship (item ledger entries of type Sale) and/or invoice "
        "(a posted sales invoice; a completely invoiced order is deleted with its coupling)",
    )
    a.add_argument("order_no", metavar="ORDER_NO", help="the BC sales order's No. (e.g. SO000001)")
    a.add_argument("--ship", action="store_true", help="ship each line's Qty. to Ship")
    a.add_argument("--invoice", action="store_true", help="invoice each line's Qty. to Invoice (what is shipped)")
    a.add_argument(
        "--quantity",
        action="append",
        type=_line_quantity,
        metavar="LINE=QTY",
        help="how much of line LINE (its Line No., e.g. 10000) this posting ships or invoices; repeatable; "
        "lines not named post what they have left",
    )
    a.set_defaults(func=cmd_posting)
    a = o.add_parser(
        "diff",
        help="where the BC order differs from the Sales order (header, lines, quantities, prices, discounts, "
        "amounts, status) and why: BC's rule, a change since, or a posting",
    )
    a.add_argument("sales_id", metavar="SALES_ORDER_ID", help="the Sales order's id (a GUID)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_diff)


def _line_quantity(text: str) -> tuple[int, Decimal]:
    line, eq, qty = text.partition("=")
    try:
        if not eq:
            raise ValueError
        value = Decimal(qty)
        if not value.is_finite():
            raise ValueError
        return int(line), value
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(f"'{text}' is not LINE=QTY (e.g. 10000=2)") from None


TARGET_HELP = "an inbox row id (the ID column of 'list') or the Sales id (a GUID: all its rows)"


def _inbox_parser(sub: Subcommands, name: str, table: str, help_: str, action: tuple[str, str]) -> Subcommands:
    """list / show / <action> / retry / ignore / discard for one Sales table's inbox rows."""
    what = name.removesuffix("s")
    s = sub.add_parser(name, help=help_)
    s.set_defaults(func=cmd_inbox, table=table)
    o = s.add_subparsers(dest="inbox_command", required=True, metavar="COMMAND")
    a = o.add_parser("list", help=f"inbox rows for Sales {name}, newest first")
    a.add_argument("--state", choices=list(t.INBOX_STATES), help="only rows in this state")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = o.add_parser("show", help="one Sales row: deliveries, attempts, errors, the BC document (and archives)")
    a.add_argument("sales_id", help=f"the Sales {what}'s id (a GUID)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    o.add_parser(action[0], help=action[1]).add_argument("sales_id", help=f"the Sales {what}'s id (a GUID)")
    a = o.add_parser("retry", help="try failed, waiting or ignored rows again now")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("sales_id", nargs="?", metavar="ID", help=TARGET_HELP)
    g.add_argument("--all-failed", action="store_true", help="every failed row (and failed write-back)")
    a = o.add_parser(
        "ignore",
        help="set a row aside: kept, never processed again unless a person retries or creates it",
    )
    a.add_argument("target", metavar="ID", help=TARGET_HELP)
    a.add_argument("--reason", required=True, help="why (kept with who and when; shown by 'show')")
    a = o.add_parser(
        "discard",
        help="drop a row from the inbox (the delivery log keeps the trace; Sales may queue it afresh)",
    )
    a.add_argument("target", metavar="ID", help=TARGET_HELP)
    a.add_argument("--reason", required=True, help="why (kept with who and when; shown by 'show')")
    return o


def _target(text: str) -> int | str:
    """An inbox row id or a Sales id, as the person typed it."""
    if text.isdigit():
        return int(text)
    if GUID_PATTERN.fullmatch(text):
        return text.lower()
    fail(f"'{text}' is neither an inbox row id (a number) nor a Sales id (a GUID).", 2)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    async def run(engine: AsyncEngine) -> int:
        if await current_revision(engine) != head_revision():
            raise CommandError("The database schema is not current: run 'bc-gateway db upgrade'.")
        for warning in await SetupService(engine, settings).warnings():
            log.warning("setup: %s", warning)
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


LIST_HEADERS = ("ID", "SALES NO.", "SALES ID", "EVENT", "STATE", "BC DOCUMENT", "WRITE-BACK", "MESSAGE")


def _list_rows(rows: list[inbox.InboxRow], settings: Settings) -> list[list[object]]:
    zone = ZoneInfo(settings.time_zone)
    out: list[list[object]] = []
    for row in rows:
        doc = f"{row.document_type} {row.document_no}".strip() or "-"
        message = row.last_error if row.state in (InboxState.FAILED, InboxState.WAITING, InboxState.IGNORED) else ""
        out.append(
            [
                row.id,
                row.sales_number or "-",
                row.sales_id,
                row.event,
                row.status(settings.max_attempts, zone),
                doc,
                row.writeback_state or "-",
                shorten(message),
            ]
        )
    return out


def _empty_list(name: str, state: str | None) -> str:
    if state:
        return f"No {name} in the inbox are {state}. 'bc-gateway {name} list' shows them all."
    what = "orders" if name == "orders" else "quotes"
    event = "submits them" if name == "orders" else "activates or wins them"
    return (
        f"No {what} in the inbox yet. {what.capitalize()} arrive when Sales {event}; "
        "see 'bc-gateway setup' to connect Sales, and 'bc-gateway orders reconcile' to ask Sales now."
    )


def print_show(data: dict[str, Any], name: str = "orders") -> None:
    if not data["inbox"] and not data.get("actions"):
        print(
            f"Nothing in the inbox for {data['sales_id']}. 'bc-gateway {name} list' shows what is there; "
            f"'bc-gateway orders reconcile' asks Sales for what the inbox lacks."
        )
        return
    for row in data["inbox"]:
        print(
            f"Inbox row {row['id']}: {row['table_name']} {row['sales_number'] or row['sales_id']} event {row['event']}"
            + (f" revision {row['revision']}" if row["revision"] >= 0 else "")
        )
        print(f"  Sales id {row['sales_id']}")
        print(
            f"  state {row['status']}, {row['attempts']} attempt(s), source {row['source']}, "
            f"received {row['received_at']}, processed {row['processed_at'] or '-'}"
        )
        if row["ignored_by"]:
            print(f"  ignored by {row['ignored_by']} at {row['ignored_at']}: {row['ignored_reason']}")
        elif row["last_error"]:
            print(f"  message: {row['last_error']}")
        if row["writeback_state"]:
            print(
                f"  write-back to Sales: {row['writeback_state']}"
                + (f" ({row['writeback_error']})" if row.get("writeback_error") else "")
            )
        if row.get("note_pending"):
            print(f"  note to Sales owed: {row['note_pending']} (sent by the worker)")
        print(f"  deliveries ({row['deliveries']}):" if row["deliveries_log"] else "  deliveries: none (not a webhook)")
        for d in row["deliveries_log"]:
            print(
                f"    {d['received_at']} {d['message']:<10} {d['outcome']:<9} correlation {d['correlation_id']}"
                + (" (size exceeded)" if d["size_exceeded"] else "")
            )
        doc = row["document"]
        invoices = ", ".join(row.get("posted_invoices") or [])
        if invoices and not doc:
            print(
                f"  BC sales order {row['document_no']} was completely invoiced and deleted, with its coupling: "
                f"posted sales invoice(s) {invoices} (PostedSalesInvoices)"
            )
        elif invoices:
            print(f"  posted sales invoice(s) so far: {invoices}")
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
    for act in data.get("actions", []):
        verb = "ignored" if act["action"] == "ignore" else "discarded"
        print(
            f"Inbox row {act['inbox_id']} ({act['event']}, was {act['state_before']}) {verb} by {act['acted_by']} "
            f"at {act['acted_at']}: {act['reason']}"
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
    name = "orders" if table == inbox.SALESORDER else "quotes"

    async def run(engine: AsyncEngine) -> Any:
        if sub == "list":
            return await inbox.list_rows(engine, company, table, args.state)
        if sub == "show":
            return await inbox_detail(engine, company, args.sales_id, table, settings.max_attempts, settings.time_zone)
        if sub == "create":
            return await create_sales_order_now(engine, settings, args.sales_id)
        if sub == "process":
            return await process_sales_quote_now(engine, settings, args.sales_id)
        if sub in ("ignore", "discard"):
            return await set_aside(
                engine, settings, table, _target(args.target), inbox.SetAsideAction(sub), who(), args.reason
            )
        if sub == "retry":
            ids = None
            if not args.all_failed:
                target = _target(args.sales_id)
                if isinstance(target, int):
                    ids = [target] if await inbox.get(engine, company, table, target) else []
                else:
                    ids = [r.id for r in await inbox.find(engine, company, target, table)]
                if not ids:
                    raise CommandError(f"Nothing in the inbox for {args.sales_id}; see 'bc-gateway {name} list'.")
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
            zone = ZoneInfo(settings.time_zone)
            print_json([r.as_dict() | {"status": r.status(settings.max_attempts, zone)} for r in result])
        else:
            print_table(LIST_HEADERS, _list_rows(result, settings), _empty_list(name, args.state))
        return 0
    if sub == "show":
        if args.json:
            print_json(result)
        else:
            print_show(result, name)
            for no, versions in result["archives"].items():
                for v in versions:
                    print(f"  archive of {no}: version {v['version_no']} at {v['archived_at']} ({v['reason']})")
        return 0
    if sub in ("create", "process"):
        return print_command_result(result, "order" if sub == "create" else "quote")
    if sub in ("ignore", "discard"):
        for act in result:
            label = act.sales_number or act.sales_id
            if sub == "ignore":
                print(
                    f"Ignored inbox row {act.inbox_id} ({label}, {act.event}, was "
                    f"{act.state_before}): it stays in the inbox and is not processed again unless you run "
                    f"'bc-gateway {name} retry {act.inbox_id}'."
                )
            else:
                print(
                    f"Discarded inbox row {act.inbox_id} ({label}, {act.event}, was {act.state_before}); the "
                    "delivery log keeps its deliveries. If Sales delivers it again, or reconciliation finds it "
                    "still waiting, it comes back as a new row."
                )
        return 0
    if sub == "retry":
        print(f"{result} inbox row(s) will be tried again.")
        return 0
    print(f"Reconciliation queued or reopened {result} inbox row(s).")
    return 0


def cmd_posting(args: argparse.Namespace, settings: Settings) -> int:
    """orders release | reopen | post: BC's actions on an order of the embedded BC."""
    sub, company = args.inbox_command, settings.company
    today = dt.datetime.now(ZoneInfo(settings.time_zone)).date()

    async def run(engine: AsyncEngine) -> Any:
        if sub == "release":
            return await release_sales_order(engine, company, args.order_no)
        if sub == "reopen":
            return await reopen_sales_order(engine, company, args.order_no)
        quantities: dict[int, Decimal] = {}
        for line_no, qty in args.quantity or ():
            quantities[line_no] = qty
        return await post_sales_order(
            engine, company, args.order_no, ship=args.ship, invoice=args.invoice, quantities=quantities, today=today
        )

    try:
        result = run_with_engine(settings, run)
    except PostingRefused as exc:
        fail(exc.message)
    except PostingNotAllowed as exc:
        fail(str(exc))
    if sub in ("release", "reopen"):
        if result.changed:
            print(f"Sales order {result.order_no} is now {result.status}.")
        else:
            print(f"Sales order {result.order_no} is {result.status} already; nothing changed.")
        if result.status == "Released":
            print(f"Next: 'bc-gateway orders post {result.order_no} --ship' ships it.")
        return 0
    print(f"Posted sales order {result.order_no} on {result.posting_date}.")
    if result.shipment_no:
        entries = ", ".join(str(n) for n in result.entry_nos) or "none: no inventory items"
        print(f"  Shipment {result.shipment_no}: item ledger entries {entries}.")
    if result.invoice_no:
        print(f"  Posted sales invoice {result.invoice_no}, amount {result.invoice_amount:.2f}.")
    if result.order_deleted:
        print(
            f"  The order is completely invoiced: sales order {result.order_no} and its coupling to the Sales "
            "order are deleted (the posted invoice keeps Order No.)."
        )
    elif not result.invoice_no:
        print(f"Next: 'bc-gateway orders post {result.order_no} --invoice' invoices what was shipped.")
    return 0


DIFF_HEADERS = ("LINE", "FIELD", "SALES", "BC", "WHY")


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    """orders diff: the reconciliation report of one Sales order and its BC order."""
    if not GUID_PATTERN.fullmatch(args.sales_id):
        fail(f"'{args.sales_id}' is not a Sales order id (a GUID).", 2)

    async def run(engine: AsyncEngine) -> OrderDiff:
        worker = OrderWorker(engine, settings)
        try:
            async with engine.connect() as conn:
                setup = await load_connection_setup(conn)
            return await diff_sales_order(engine, settings.company, worker.client(setup), args.sales_id)
        finally:
            await worker.close()

    try:
        result = run_with_engine(settings, run)
    except (NoBcOrder, NotConfigured) as exc:
        fail(str(exc))
    except DataverseError as exc:
        fail(f"Dynamics 365 Sales: {exc.describe()}")
    if args.json:
        print_json(result.as_dict())
        return 0
    print(f"Sales order {result.sales_number or result.sales_id} and BC sales order {result.bc_order_no}:")
    if result.refusal:
        print(f"BC's rules refuse the Sales order as it is now: {result.refusal}")
    print_table(
        DIFF_HEADERS,
        [(d.line, d.field, d.sales, d.bc, d.why) for d in result.differences],
        "No differences: the BC order holds what the Sales order says. "
        f"'bc-gateway orders post {result.bc_order_no} --ship' ships it.",
    )
    return 0
