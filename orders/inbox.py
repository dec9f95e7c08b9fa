"""The order inbox: every Sales event to act on, stored durably, collapsed to one row per event.

A row's key is (company, table, Sales id, event, revision): Sales' retry, the double Update of a
state change and a late duplicate all land on the same row, while the delivery log keeps each
delivery. Workers claim rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one
writer at a time), so several workers can run and a crashed worker's rows are taken over.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import change_log as changes
from schemas.db import insert_ignore, is_sqlite, write_transaction
from schemas.tables import order_inbox as inbox
from schemas.tables import webhook_delivery

SALESORDER = "salesorder"
QUOTE = "quote"
NO_REVISION = -1
# States in which a submitted Sales order still waits to become a BC order.
OPEN_STATES = ("received", "processing", "waiting", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery as received (what the delivery log keeps)."""

    table_name: str
    sales_id: str
    message_name: str
    event: str | None  # None: nothing to do (recorded as ignored)
    revision: int | None
    reason: str
    correlation_id: str = ""
    operation_id: str = ""
    organization: str = ""
    size_exceeded: bool = False
    body: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    outcome: str  # queued | duplicate | ignored
    inbox_id: int | None
    state: str | None


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    company: str
    table_name: str
    sales_id: str
    event: str
    revision: int
    state: str
    source: str
    attempts: int
    last_error: str
    failure: str
    document_type: str
    document_no: str
    writeback_state: str
    writeback_attempts: int
    received_at: dt.datetime
    processed_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    deliveries: int

    @classmethod
    def from_row(cls, row: Any) -> InboxRow:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})  # type: ignore[attr-defined]

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        for k, v in out.items():
            if isinstance(v, dt.datetime):
                out[k] = v.isoformat()
        return out


async def record_delivery(engine: AsyncEngine, company: str, delivery: Delivery) -> DeliveryOutcome:
    """Store a delivery and its inbox row in one transaction (before Sales gets its 2xx)."""
    now = utcnow()
    async with write_transaction(engine) as conn:
        if delivery.event is None:
            await _log(conn, delivery, now, None, "ignored", delivery.reason)
            return DeliveryOutcome("ignored", None, None)
        row_id, created = await _upsert(
            conn,
            company,
            delivery.table_name,
            delivery.sales_id,
            delivery.event,
            delivery.revision,
            "webhook",
            now,
        )
        state = (await conn.execute(select(inbox.c.state).where(inbox.c.id == row_id))).scalar_one()
        outcome = "queued" if created else "duplicate"
        if not created:
            state = await _fresh_chance(conn, row_id, state, now)
        await _log(conn, delivery, now, row_id, outcome, delivery.reason)
        await changes.record(conn, changes.INBOX, company=company, key=str(row_id))
        return DeliveryOutcome(outcome, row_id, state)


async def _upsert(
    conn: AsyncConnection,
    company: str,
    table_name: str,
    sales_id: str,
    event: str,
    revision: int | None,
    source: str,
    now: dt.datetime,
) -> tuple[int, bool]:
    key = {
        "company": company,
        "table_name": table_name,
        "sales_id": sales_id.lower(),
        "event": event,
        "revision": NO_REVISION if revision is None else revision,
    }
    result = await conn.execute(
        insert_ignore(conn, inbox, list(key))
        .values(**key, state="received", source=source, received_at=now, last_delivery_at=now, deliveries=1)
        .returning(inbox.c.id)
    )
    inserted = result.scalar_one_or_none()
    if inserted is not None:
        return inserted, True
    row_id = (await conn.execute(select(inbox.c.id).where(*[inbox.c[k] == v for k, v in key.items()]))).scalar_one()
    await conn.execute(
        update(inbox).where(inbox.c.id == row_id).values(deliveries=inbox.c.deliveries + 1, last_delivery_at=now)
    )
    return row_id, False


async def _fresh_chance(conn: AsyncConnection, row_id: int, state: str, now: dt.datetime) -> str:
    """A new delivery for a row that was ignored or failed gives it another try; one that comes
    while the row is being processed is looked at again when that is done."""
    if state == "processing":
        await conn.execute(update(inbox).where(inbox.c.id == row_id).values(redelivered=True))
        return state
    if state == "ignored":
        await conn.execute(
            update(inbox).where(inbox.c.id == row_id).values(state="received", next_attempt_at=None, last_error="")
        )
        return "received"
    if state == "failed":
        await conn.execute(update(inbox).where(inbox.c.id == row_id).values(attempts=0, next_attempt_at=now))
    return state


async def _log(
    conn: AsyncConnection, d: Delivery, now: dt.datetime, inbox_id: int | None, outcome: str, reason: str
) -> None:
    await conn.execute(
        insert(webhook_delivery).values(
            received_at=now,
            inbox_id=inbox_id,
            outcome=outcome,
            reason=reason[:250],
            table_name=d.table_name[:64],
            sales_id=d.sales_id[:36],
            message_name=d.message_name[:64],
            event=d.event or "",
            correlation_id=d.correlation_id[:64],
            operation_id=d.operation_id[:64],
            organization=d.organization[:250],
            size_exceeded=d.size_exceeded,
            body=d.body,
        )
    )


async def enqueue(
    engine: AsyncEngine,
    company: str,
    table_name: str,
    sales_id: str,
    event: str,
    revision: int | None = None,
    source: str = "manual",
) -> tuple[InboxRow, bool]:
    """Put an event in the inbox without a webhook (reconciliation, a person's command)."""
    now = utcnow()
    async with write_transaction(engine) as conn:
        row_id, created = await _upsert(conn, company, table_name, sales_id, event, revision, source, now)
        if created:
            await changes.record(conn, changes.INBOX, company=company, key=str(row_id))
        row = (await conn.execute(select(inbox).where(inbox.c.id == row_id))).one()
        return InboxRow.from_row(row), created


# --- claiming -----------------------------------------------------------------------------------


def _lease_free(now: dt.datetime) -> Any:
    return or_(inbox.c.lease_until.is_(None), inbox.c.lease_until < now)


def _due(now: dt.datetime, auto_tables: tuple[str, ...]) -> Any:
    """Rows a worker may take: new, waiting whose automatic processing is now on, failed
    and due again, processing whose lease ran out (a worker died)."""
    conditions = [
        inbox.c.state == "received",
        and_(inbox.c.state == "failed", inbox.c.next_attempt_at.is_not(None), inbox.c.next_attempt_at <= now),
        and_(inbox.c.state == "processing", _lease_free(now)),
    ]
    if auto_tables:
        conditions.append(and_(inbox.c.state == "waiting", inbox.c.table_name.in_(auto_tables)))
    return or_(*conditions)


async def claim(
    engine: AsyncEngine,
    owner: str,
    lease_seconds: int,
    limit: int = 10,
    auto_tables: tuple[str, ...] = (),
    now: dt.datetime | None = None,
    company: str | None = None,
) -> list[InboxRow]:
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        stmt = select(inbox.c.id).where(_due(now, auto_tables)).order_by(inbox.c.id).limit(limit)
        if company is not None:
            stmt = stmt.where(inbox.c.company == company)
        return await _take(
            conn,
            stmt,
            state="processing",
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
                    inbox.c.state.in_(("received", "waiting", "failed", "ignored")),
                    and_(inbox.c.state == "processing", _lease_free(now)),
                ),
            )
            .values(
                state="processing",
                lease_owner=owner,
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=inbox.c.attempts + 1,
            )
        )
        if result.rowcount == 0:
            return None
        row = (await conn.execute(select(inbox).where(inbox.c.id == row_id))).one()
        return InboxRow.from_row(row)


def owned(row_id: int, owner: str) -> Any:
    """WHERE clause: the row is still ours (a finishing write with a lost lease changes nothing)."""
    return and_(inbox.c.id == row_id, inbox.c.lease_owner == owner, inbox.c.state == "processing")


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
    redelivered = (await conn.execute(select(inbox.c.redelivered).where(owned(row_id, owner)))).scalar_one_or_none()
    if redelivered is None:
        return False
    if redelivered and state == "ignored" and not values.get("document_no"):
        state, error = "received", ""
    result = await conn.execute(
        update(inbox)
        .where(owned(row_id, owner))
        .values(
            state=state,
            last_error=error,
            failure=failure if state == "failed" else "",
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_until=None,
            redelivered=False,
            processed_at=now if state in ("created", "ignored") else None,
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


def backoff(attempt: int, base: float, cap: float = 3600.0) -> dt.timedelta:
    """Exponential backoff with jitter: base, 2·base, 4·base ... at most `cap` seconds."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return dt.timedelta(seconds=delay * (0.5 + random.random() / 2))


# --- write-back ---------------------------------------------------------------------------------


async def claim_writebacks(
    engine: AsyncEngine,
    owner: str,
    lease_seconds: int,
    limit: int = 10,
    now: dt.datetime | None = None,
    row_id: int | None = None,
    company: str | None = None,
) -> list[InboxRow]:
    """Created rows whose write-back to Sales is due (retried on their own, never re-created)."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        stmt = (
            select(inbox.c.id)
            .where(
                inbox.c.state == "created",
                inbox.c.writeback_state == "pending",
                or_(inbox.c.writeback_next_at.is_(None), inbox.c.writeback_next_at <= now),
                _lease_free(now),
                *([inbox.c.id == row_id] if row_id is not None else []),
                *([inbox.c.company == company] if company is not None else []),
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
            values: dict[str, Any] = {"writeback_state": "done", "writeback_error": "", "writeback_next_at": None}
        else:
            attempts = row.writeback_attempts + 1
            values = {
                "writeback_attempts": attempts,
                "writeback_error": error,
                "writeback_state": "failed" if attempts >= max_attempts else "pending",
                "writeback_next_at": None if attempts >= max_attempts else utcnow() + backoff(attempts, base_delay),
            }
        await conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id, inbox.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **values)
        )


# --- reading, and a person's commands ----------------------------------------------------------


async def find(engine: AsyncEngine, company: str, sales_id: str, table_name: str | None = None) -> list[InboxRow]:
    async with engine.connect() as conn:
        stmt = select(inbox).where(inbox.c.company == company, inbox.c.sales_id == sales_id.lower())
        if table_name:
            stmt = stmt.where(inbox.c.table_name == table_name)
        rows = (await conn.execute(stmt.order_by(inbox.c.id))).all()
    return [InboxRow.from_row(r) for r in rows]


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
        states = ("failed", "waiting", "ignored") if row_ids is not None else ("failed",)
        if row_ids is not None:
            where.append(inbox.c.id.in_(row_ids))
        result = await conn.execute(
            update(inbox)
            .where(*where, inbox.c.state.in_(states))
            .values(state="received", attempts=0, next_attempt_at=None, last_error="", failure="")
        )
        wb = await conn.execute(
            update(inbox)
            .where(*where, inbox.c.writeback_state == "failed")
            .values(writeback_state="pending", writeback_attempts=0, writeback_next_at=now)
        )
        count = (result.rowcount or 0) + (wb.rowcount or 0)
        if count:
            await changes.record(conn, changes.INBOX, company=company)
        return count


async def counts_by_state(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state))).all()
    return {state: n for state, n in rows}


async def submitted_orders_waiting(conn: AsyncConnection) -> int:
    """Submitted Sales orders not yet turned into BC orders (BC refuses to switch off then)."""
    return (
        await conn.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.table_name == SALESORDER, inbox.c.event == "submit", inbox.c.state.in_(OPEN_STATES))
        )
    ).scalar_one()


async def prune(engine: AsyncEngine, retention_days: int, now: dt.datetime | None = None) -> int:
    """Forget what is old: the delivery log, and inbox rows that are done (created with the
    write-back done, or ignored). Rows that fail or wait are kept whatever their age."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    async with write_transaction(engine) as conn:
        deliveries = await conn.execute(delete(webhook_delivery).where(webhook_delivery.c.received_at < cutoff))
        done = or_(
            inbox.c.state == "ignored",
            and_(inbox.c.state == "created", inbox.c.writeback_state.in_(("", "done"))),
        )
        rows = await conn.execute(
            delete(inbox).where(done, inbox.c.processed_at.is_not(None), inbox.c.processed_at < cutoff)
        )
        return (deliveries.rowcount or 0) + (rows.rowcount or 0)
