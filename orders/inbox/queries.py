"""Reading the inbox, and a person's commands on it: find, list, retry, counts, prune."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox.rows import InboxRow, utcnow
from orders.inbox.states import OPEN_STATES, InboxEvent, InboxState, SalesTable, WritebackState
from schemas import change_log as changes
from schemas.db import write_transaction
from schemas.tables import order_inbox as inbox
from schemas.tables import webhook_delivery


async def find(engine: AsyncEngine, company: str, sales_id: str, table_name: str | None = None) -> list[InboxRow]:
    async with engine.connect() as conn:
        stmt = select(inbox).where(inbox.c.company == company, inbox.c.sales_id == sales_id.lower())
        if table_name:
            stmt = stmt.where(inbox.c.table_name == table_name)
        rows = (await conn.execute(stmt.order_by(inbox.c.id))).all()
    return [InboxRow.from_row(r) for r in rows]


async def get(engine: AsyncEngine, company: str, table_name: str, row_id: int) -> InboxRow | None:
    """One inbox row by its id (the ID column of `orders list`)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(inbox).where(inbox.c.company == company, inbox.c.table_name == table_name, inbox.c.id == row_id)
            )
        ).first()
    return InboxRow.from_row(row) if row is not None else None


async def list_rows(
    engine: AsyncEngine, company: str, table_name: str | None = None, state: str | None = None, limit: int = 500
) -> list[InboxRow]:
    async with engine.connect() as conn:
        stmt = select(inbox).where(inbox.c.company == company)
        if table_name:
            stmt = stmt.where(inbox.c.table_name == table_name)
        if state:
            stmt = stmt.where(inbox.c.state == state)
        rows = (await conn.execute(stmt.order_by(inbox.c.id.desc()).limit(limit))).all()
    return [InboxRow.from_row(r) for r in rows]


async def deliveries(engine: AsyncEngine, inbox_id: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    webhook_delivery.c.received_at,
                    webhook_delivery.c.outcome,
                    webhook_delivery.c.message_name,
                    webhook_delivery.c.correlation_id,
                    webhook_delivery.c.size_exceeded,
                    webhook_delivery.c.reason,
                )
                .where(webhook_delivery.c.inbox_id == inbox_id)
                .order_by(webhook_delivery.c.id)
            )
        ).all()
    return [
        {
            "received_at": r.received_at.isoformat(),
            "outcome": r.outcome,
            "message": r.message_name,
            "correlation_id": r.correlation_id,
            "size_exceeded": r.size_exceeded,
            "reason": r.reason,
        }
        for r in rows
    ]


async def retry(engine: AsyncEngine, company: str, table_name: str, row_ids: list[int] | None = None) -> int:
    """Another try now: for the given rows (unless done or in hand), or for every failed row of
    the table (`--all-failed`); failed write-backs too."""
    now = utcnow()
    async with write_transaction(engine) as conn:
        where = [inbox.c.company == company, inbox.c.table_name == table_name]
        states = (
            (InboxState.FAILED, InboxState.WAITING, InboxState.IGNORED) if row_ids is not None else (InboxState.FAILED,)
        )
        if row_ids is not None:
            where.append(inbox.c.id.in_(row_ids))
        result = await conn.execute(
            update(inbox)
            .where(*where, inbox.c.state.in_(states))
            .values(
                state=InboxState.RECEIVED,
                attempts=0,
                next_attempt_at=None,
                last_error="",
                failure="",
                ignored_by="",
                ignored_at=None,
                ignored_reason="",
            )
        )
        wb = await conn.execute(
            update(inbox)
            .where(*where, inbox.c.writeback_state == WritebackState.FAILED)
            .values(writeback_state=WritebackState.PENDING, writeback_attempts=0, writeback_next_at=now)
        )
        count = (result.rowcount or 0) + (wb.rowcount or 0)
        if count:
            await changes.record(conn, changes.INBOX, company=company)
        return count


async def counts_by_state(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state))).all()
    return {state: n for state, n in rows}


_WAITING_ORDERS = (
    inbox.c.table_name == SalesTable.SALESORDER,
    inbox.c.event == InboxEvent.SUBMIT,
    inbox.c.state.in_(OPEN_STATES),
)


async def submitted_orders_waiting(conn: AsyncConnection) -> int:
    """Submitted Sales orders not yet turned into BC orders (BC refuses to switch off then)."""
    return (await conn.execute(select(func.count()).select_from(inbox).where(*_WAITING_ORDERS))).scalar_one()


async def waiting_submitted_orders(conn: AsyncConnection, limit: int = 10) -> list[InboxRow]:
    """The first of those, oldest first, to name them in the message."""
    rows = (await conn.execute(select(inbox).where(*_WAITING_ORDERS).order_by(inbox.c.id).limit(limit))).all()
    return [InboxRow.from_row(r) for r in rows]


async def prune(engine: AsyncEngine, retention_days: int, now: dt.datetime | None = None) -> int:
    """Forget what is old: the delivery log, and inbox rows that are done (created with the
    write-back done, or ignored). Rows that fail or wait are kept whatever their age."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    async with write_transaction(engine) as conn:
        deliveries = await conn.execute(delete(webhook_delivery).where(webhook_delivery.c.received_at < cutoff))
        done = or_(
            # A row a person set aside is kept: it is the record of their decision.
            and_(inbox.c.state == InboxState.IGNORED, inbox.c.ignored_by == ""),
            and_(
                inbox.c.state == InboxState.CREATED,
                inbox.c.writeback_state.in_((WritebackState.NONE, WritebackState.DONE)),
            ),
        )
        rows = await conn.execute(
            delete(inbox).where(done, inbox.c.processed_at.is_not(None), inbox.c.processed_at < cutoff)
        )
        return (deliveries.rowcount or 0) + (rows.rowcount or 0)
