"""A person's commands on the inbox: BC's "Create in Business Central" / "Process in Business
Central" (convert now, whatever the automatic setting), and their error list."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.conversion_rules import SERVICE_NAME
from orders.create_bc_sales_order import already_posted_message
from orders.inbox.states import InboxEvent, InboxState, Source
from orders.process_inbox_row import Result
from orders.settings import ProcessingSettings
from orders.worker import OrderWorker
from schemas.sales_document_store import coupled_document, document_summary, quote_archives
from schemas.sales_posting_store import posted_invoice_for_sales_order, posted_invoices_of_order


class CommandError(Exception):
    """The command cannot run now; the message says why."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    result: Result
    write_back: bool | None  # None: nothing to write back


async def process_now(
    engine: AsyncEngine,
    settings: ProcessingSettings,
    table_name: str,
    sales_id: str,
    event: str,
    already_message: str,
    revision: int | None = None,
) -> CommandResult:
    worker = OrderWorker(engine, settings, owner=f"cli:{os.getpid()}")
    try:
        rows = [r for r in await inbox.find(engine, settings.company, sales_id, table_name) if r.event == event]
        row = rows[-1] if rows else None
        if row is None:
            row, _created = await inbox.enqueue(
                engine, settings.company, table_name, sales_id, event, revision, source=Source.MANUAL
            )
        async with engine.connect() as conn:
            coupled = await coupled_document(conn, settings.company, sales_id)
            invoiced = await posted_invoice_for_sales_order(conn, settings.company, sales_id)
        if coupled:
            return CommandResult(
                Result(row.id, InboxState.IGNORED, already_message.format(no=coupled[1]), coupled[1]), None
            )
        if invoiced and table_name == inbox.SALESORDER:
            # Its BC order was invoiced completely and deleted, with its coupling (bc-rules.md §4.8).
            return CommandResult(Result(row.id, InboxState.IGNORED, already_posted_message(invoiced)), None)
        claimed = await inbox.claim_one(engine, row.id, worker.owner, settings.lease_seconds)
        if claimed is None:
            raise CommandError("A worker is processing this right now; look again in a moment.")
        result = await worker.process(claimed, force=True)
        written = None
        if result.state == InboxState.CREATED:
            for due in await inbox.claim_writebacks(engine, worker.owner, settings.lease_seconds, row_id=row.id):
                written = await worker.write_back(due)
        return CommandResult(result, written)
    finally:
        await worker.close()


async def create_sales_order_now(engine: AsyncEngine, settings: ProcessingSettings, sales_id: str) -> CommandResult:
    return await process_now(
        engine,
        settings,
        inbox.SALESORDER,
        sales_id,
        InboxEvent.SUBMIT,
        f"This {SERVICE_NAME} order is already coupled to sales order {{no}}.",
    )


async def process_sales_quote_now(engine: AsyncEngine, settings: ProcessingSettings, quote_id: str) -> CommandResult:
    """BC's "Process in Business Central" for a quote.

    A coupled quote has been processed already (BC's message) — unless a win of it still waits,
    which is then handled now (BC's list has no other way to handle a win by hand).
    """
    from orders.process_bc_sales_quote import MSG_ALREADY_PROCESSED

    rows = await inbox.find(engine, settings.company, quote_id, inbox.QUOTE)
    pending = [r for r in rows if r.state in (InboxState.RECEIVED, InboxState.WAITING, InboxState.FAILED)]
    async with engine.connect() as conn:
        coupled = await coupled_document(conn, settings.company, quote_id)
    if coupled and not [r for r in pending if r.event in (InboxEvent.WIN, InboxEvent.CHECK)]:
        return CommandResult(
            Result(rows[-1].id if rows else 0, InboxState.IGNORED, MSG_ALREADY_PROCESSED, coupled[1]), None
        )
    if pending:
        row = pending[-1]
    else:
        row, _created = await inbox.enqueue(
            engine, settings.company, inbox.QUOTE, quote_id, InboxEvent.CHECK, source=Source.MANUAL
        )
    worker = OrderWorker(engine, settings, owner=f"cli:{os.getpid()}")
    try:
        claimed = await inbox.claim_one(engine, row.id, worker.owner, settings.lease_seconds)
        if claimed is None:
            raise CommandError("A worker is processing this quote right now; look again in a moment.")
        result = await worker.process(claimed, force=True)
        # A won quote may have created its order: write that back to Sales now too.
        for due in await inbox.claim_writebacks(engine, worker.owner, settings.lease_seconds):
            await worker.write_back(due)
        return CommandResult(result, None)
    finally:
        await worker.close()


async def set_aside(
    engine: AsyncEngine,
    settings: ProcessingSettings,
    table_name: str,
    target: int | str,
    action: inbox.SetAsideAction,
    acted_by: str,
    reason: str,
) -> list[inbox.InboxAction]:
    """A person's `ignore` or `discard` (orders/inbox/set_aside.py says which does what)."""
    try:
        return await inbox.set_aside(engine, settings.company, table_name, target, action, acted_by, reason)
    except inbox.SetAsideRefused as exc:
        raise CommandError(str(exc)) from None


async def inbox_detail(
    engine: AsyncEngine, company: str, sales_id: str, table_name: str, max_attempts: int = 5, zone: str = "UTC"
) -> dict[str, Any]:
    """Everything about one Sales row (`orders show`, `quotes show`): its inbox rows with their
    deliveries, the BC document each made, the archived versions of the BC quotes, and what
    people did (ignore, discard)."""
    tz = ZoneInfo(zone)
    out: dict[str, Any] = {"sales_id": sales_id.lower(), "inbox": []}
    for row in await inbox.find(engine, company, sales_id, table_name):
        entry = row.as_dict()
        entry["status"] = row.status(max_attempts, tz)
        entry["deliveries_log"] = await inbox.deliveries(engine, row.id)
        async with engine.connect() as conn:
            entry["document"] = await document_summary(conn, company, row.document_type, row.document_no)
            # A BC order completely invoiced is gone (with its coupling); its posted invoices stay.
            entry["posted_invoices"] = (
                [inv["no"] for inv in await posted_invoices_of_order(conn, company, row.document_no)]
                if row.document_type == "Order" and row.document_no
                else []
            )
        out["inbox"].append(entry)
    numbers = sorted({r["document_no"] for r in out["inbox"] if r["document_type"] == "Quote" and r["document_no"]})
    async with engine.connect() as conn:
        out["archives"] = {no: await quote_archives(conn, company, no) for no in numbers}
    out["actions"] = [a.as_dict() for a in await inbox.actions(engine, company, table_name, sales_id)]
    return out
