"""Reconciliation: a lost webhook still becomes a BC order or quote.

Every BCGW_RECONCILE_INTERVAL seconds the worker does what BC's jobs do on their own schedule:
it asks Sales for submitted orders with an empty `lastbackofficesubmit`, and for active and won
quotes, and puts those the inbox lacks into it. Rows whose passing failures ran out of attempts
are given another round, as BC's job simply runs again.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.dataverse.client import DataverseClient
from orders.dataverse.codes import QuoteState
from orders.inbox.states import FailureKind, InboxEvent, InboxState, Source, WritebackState
from schemas import change_log as changes
from schemas.db import write_transaction
from schemas.sales_document_store import coupled_document
from schemas.tables import order_inbox, quote_win

log = logging.getLogger("bcgw.reconcile")


async def _reopen(engine: AsyncEngine, company: str, row_id: int, **values: object) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(update(order_inbox).where(order_inbox.c.id == row_id).values(**values))
        await changes.record(conn, changes.INBOX, company=company, key=str(row_id))


async def reconcile_orders(engine: AsyncEngine, company: str, client: DataverseClient) -> int:
    touched = 0
    async for order in client.submitted_orders_without_backoffice():
        order_id = str(order.get("salesorderid", "")).lower()
        if not order_id:
            continue
        number = order.get("ordernumber")
        row, created = await inbox.enqueue(
            engine,
            company,
            inbox.SALESORDER,
            order_id,
            InboxEvent.SUBMIT,
            source=Source.RECONCILE,
            number=number if isinstance(number, str) else "",
        )
        if created:
            touched += 1
            log.info("reconciliation: submitted order %s had no inbox row; queued", order.get("ordernumber", order_id))
        elif row.set_aside:
            continue  # a person set it aside (orders ignore): that stands until they retry it
        elif row.state == InboxState.IGNORED:
            # Ignored earlier (not submitted then); Sales now says it is submitted.
            await _reopen(engine, company, row.id, state=InboxState.RECEIVED, last_error="", next_attempt_at=None)
            touched += 1
        elif row.state == InboxState.CREATED and row.writeback_state in (WritebackState.DONE, WritebackState.FAILED):
            # BC has the order but Sales still lacks the date: write it back again.
            await _reopen(
                engine,
                company,
                row.id,
                writeback_state=WritebackState.PENDING,
                writeback_attempts=0,
                writeback_next_at=None,
            )
            touched += 1
    return touched


async def reconcile_quotes(engine: AsyncEngine, company: str, client: DataverseClient) -> int:
    """Active quotes not coupled, and won quotes whose win is not recorded, are queued."""
    touched = 0
    for state in (QuoteState.ACTIVE, QuoteState.WON):
        async for quote in client.iter_rows("quotes", f"statecode eq {state}"):
            quote_id = str(quote.get("quoteid", "")).lower()
            if not quote_id:
                continue
            async with engine.connect() as conn:
                done = (
                    await coupled_document(conn, company, quote_id) is not None
                    if state == QuoteState.ACTIVE
                    else (
                        await conn.execute(
                            select(quote_win.c.quote_id).where(
                                quote_win.c.company == company, quote_win.c.quote_id == quote_id
                            )
                        )
                    ).first()
                    is not None
                )
                pending = (
                    await conn.execute(
                        select(order_inbox.c.id).where(
                            order_inbox.c.company == company,
                            order_inbox.c.table_name == inbox.QUOTE,
                            order_inbox.c.sales_id == quote_id,
                            # Waiting already, or a person set one of its rows aside (quotes ignore).
                            or_(order_inbox.c.state.in_(inbox.OPEN_STATES), order_inbox.c.ignored_by != ""),
                        )
                    )
                ).first()
            if done or pending:
                continue
            number = quote.get("quotenumber")
            row, created = await inbox.enqueue(
                engine,
                company,
                inbox.QUOTE,
                quote_id,
                InboxEvent.CHECK,
                source=Source.RECONCILE,
                number=number if isinstance(number, str) else "",
            )
            if not created:
                await _reopen(engine, company, row.id, state=InboxState.RECEIVED, last_error="", next_attempt_at=None)
            touched += 1
            log.info("reconciliation: quote %s needs processing; queued", quote.get("quotenumber", quote_id))
    return touched


async def rearm_exhausted(engine: AsyncEngine, company: str) -> int:
    """Rows whose passing failures used up their attempts get another round."""
    async with write_transaction(engine) as conn:
        result = await conn.execute(
            update(order_inbox)
            .where(
                order_inbox.c.company == company,
                order_inbox.c.state == InboxState.FAILED,
                order_inbox.c.failure == FailureKind.TRANSIENT,
                order_inbox.c.next_attempt_at.is_(None),
            )
            .values(state=InboxState.RECEIVED, attempts=0, failure="")
        )
        count = result.rowcount or 0
        if count:
            await changes.record(conn, changes.INBOX, company=company)
        return count


async def reconcile(engine: AsyncEngine, company: str, client: DataverseClient) -> int:
    """Queue what Sales shows as waiting for BC; returns how many rows it added or reopened."""
    count = await rearm_exhausted(engine, company)
    count += await reconcile_orders(engine, company, client)
    count += await reconcile_quotes(engine, company, client)
    return count
