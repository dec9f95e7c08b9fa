"""The inbox as a work queue: claiming rows with a lease, renewing it, finishing, write-backs.

Workers claim rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer at a
time), so several workers can run and a crashed worker's rows are taken over when the lease ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox.notes import owed_on_success
from orders.inbox.rows import InboxRow, utcnow
from orders.inbox.states import InboxState, WritebackState
from orders.retry import ROW_RETRY_CAP, Backoff
from schemas.db import is_sqlite, write_transaction
from schemas.tables import order_inbox as inbox


def _lease_free(now: dt.datetime) -> Any:
    return or_(inbox.c.lease_until.is_(None), inbox.c.lease_until < now)


def _due(now: dt.datetime, auto_tables: tuple[str, ...]) -> Any:
    """Rows a worker may take: new, waiting whose automatic processing is now on, failed
    and due again, processing whose lease ran out (a worker died)."""
    conditions = [
        inbox.c.state == InboxState.RECEIVED,
        and_(inbox.c.state == InboxState.FAILED, inbox.c.next_attempt_at.is_not(None), inbox.c.next_attempt_at <= now),
        and_(inbox.c.state == InboxState.PROCESSING, _lease_free(now)),
    ]
    if auto_tables:
        conditions.append(and_(inbox.c.state == InboxState.WAITING, inbox.c.table_name.in_(auto_tables)))
    return or_(*conditions)


async def claim(
    engine: AsyncEngine,
    owner: str,
    lease_seconds: int,
    limit: int = 10,
    auto_tables: tuple[str, ...] = (),
    now: dt.datetime | None = None,
    company: str | None = None,
    exclude: Collection[int] = (),
) -> list[InboxRow]:
    """Take up to `limit` due rows with a lease. `exclude`: rows this worker is still working on
    (a lease of its own that ran out must not give one row to two of its tasks)."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        stmt = select(inbox.c.id).where(_due(now, auto_tables)).order_by(inbox.c.id).limit(limit)
        if company is not None:
            stmt = stmt.where(inbox.c.company == company)
        if exclude:
            stmt = stmt.where(inbox.c.id.not_in(list(exclude)))
        return await _take(
            conn,
            stmt,
            state=InboxState.PROCESSING,
            lease_owner=owner,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=inbox.c.attempts + 1,
        )


async def _take(conn: AsyncConnection, ids_stmt: Any, **values: Any) -> list[InboxRow]:
    """Lock the rows `ids_stmt` selects (skipping those another worker holds), set `values`."""
    if not is_sqlite(conn):  # SQLite: the writer holds the whole database already
        ids_stmt = ids_stmt.with_for_update(skip_locked=True)
    ids = list((await conn.execute(ids_stmt)).scalars())
    if not ids:
        return []
    await conn.execute(update(inbox).where(inbox.c.id.in_(ids)).values(**values))
    rows = (await conn.execute(select(inbox).where(inbox.c.id.in_(ids)).order_by(inbox.c.id))).all()
    return [InboxRow.from_row(r) for r in rows]


async def claim_one(
    engine: AsyncEngine, row_id: int, owner: str, lease_seconds: int, now: dt.datetime | None = None
) -> InboxRow | None:
    """Take one row for a person's command, unless a worker holds it right now."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        result = await conn.execute(
            update(inbox)
            .where(
                inbox.c.id == row_id,
                or_(
                    inbox.c.state.in_((InboxState.RECEIVED, InboxState.WAITING, InboxState.FAILED, InboxState.IGNORED)),
                    and_(inbox.c.state == InboxState.PROCESSING, _lease_free(now)),
                ),
            )
            .values(
                state=InboxState.PROCESSING,
                lease_owner=owner,
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=inbox.c.attempts + 1,
                # A person's command on a row they had set aside takes it back.
                ignored_by="",
                ignored_at=None,
                ignored_reason="",
            )
        )
        if result.rowcount == 0:
            return None
        row = (await conn.execute(select(inbox).where(inbox.c.id == row_id))).one()
        return InboxRow.from_row(row)


def owned(row_id: int, owner: str) -> Any:
    """WHERE clause: the row is still ours (a finishing write with a lost lease changes nothing)."""
    return and_(inbox.c.id == row_id, inbox.c.lease_owner == owner, inbox.c.state == InboxState.PROCESSING)


async def finish(
    conn: AsyncConnection,
    row_id: int,
    owner: str,
    state: str,
    *,
    error: str = "",
    next_attempt_at: dt.datetime | None = None,
    failure: str = "",
    **values: Any,
) -> bool:
    """Set the outcome of a claimed row; False when the lease was lost meanwhile.

    A row found "ignored" (not submitted, say) while a newer delivery arrived is queued again:
    that delivery may say otherwise.
    """
    now = utcnow()
    current = (
        await conn.execute(
            select(inbox.c.redelivered, inbox.c.note_error, inbox.c.note_pending).where(owned(row_id, owner))
        )
    ).first()
    if current is None:
        return False
    if current.redelivered and state == InboxState.IGNORED and not values.get("document_no"):
        state, error = InboxState.RECEIVED, ""
    if state == InboxState.CREATED:
        # Sales was told of a failure: it is told of the success too (orders/error_notes.py).
        values = {**owed_on_success(current.note_error, current.note_pending), **values}
    result = await conn.execute(
        update(inbox)
        .where(owned(row_id, owner))
        .values(
            state=state,
            last_error=error,
            failure=failure if state == InboxState.FAILED else "",
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_until=None,
            redelivered=False,
            processed_at=now if state in (InboxState.CREATED, InboxState.IGNORED) else None,
            **values,
        )
    )
    return result.rowcount == 1


async def renew_lease(engine: AsyncEngine, row_id: int, owner: str, lease_seconds: int) -> bool:
    """Keep a row while still working on it (a slow Sales must not hand it to another worker)."""
    async with write_transaction(engine) as conn:
        result = await conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id, inbox.c.lease_owner == owner)
            .values(lease_until=utcnow() + dt.timedelta(seconds=lease_seconds))
        )
        return result.rowcount == 1


async def claim_writebacks(
    engine: AsyncEngine,
    owner: str,
    lease_seconds: int,
    limit: int = 10,
    now: dt.datetime | None = None,
    row_id: int | None = None,
    company: str | None = None,
    exclude: Collection[int] = (),
) -> list[InboxRow]:
    """Created rows whose write-back to Sales is due (retried on their own, never re-created);
    `exclude` as for :func:`claim`."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        stmt = (
            select(inbox.c.id)
            .where(
                inbox.c.state == InboxState.CREATED,
                inbox.c.writeback_state == WritebackState.PENDING,
                or_(inbox.c.writeback_next_at.is_(None), inbox.c.writeback_next_at <= now),
                _lease_free(now),
                *([inbox.c.id == row_id] if row_id is not None else []),
                *([inbox.c.company == company] if company is not None else []),
                *([inbox.c.id.not_in(list(exclude))] if exclude else []),
            )
            .order_by(inbox.c.id)
            .limit(limit)
        )
        return await _take(conn, stmt, lease_owner=owner, lease_until=now + dt.timedelta(seconds=lease_seconds))


async def finish_writeback(
    engine: AsyncEngine,
    row_id: int,
    owner: str,
    ok: bool,
    error: str = "",
    max_attempts: int = 5,
    base_delay: float = 30.0,
) -> None:
    async with write_transaction(engine) as conn:
        row = (await conn.execute(select(inbox).where(inbox.c.id == row_id, inbox.c.lease_owner == owner))).first()
        if row is None:
            return  # the lease went to another worker: its result stands
        if ok:
            values: dict[str, Any] = {
                "writeback_state": WritebackState.DONE,
                "writeback_error": "",
                "writeback_next_at": None,
            }
        else:
            attempts = row.writeback_attempts + 1
            values = {
                "writeback_attempts": attempts,
                "writeback_error": error,
                "writeback_state": WritebackState.FAILED if attempts >= max_attempts else WritebackState.PENDING,
                "writeback_next_at": None
                if attempts >= max_attempts
                else Backoff(base_delay, ROW_RETRY_CAP).next_attempt_at(attempts, utcnow()),
            }
        await conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id, inbox.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **values)
        )


# --- reading, and a person's commands ----------------------------------------------------------
