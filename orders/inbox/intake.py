"""Putting events into the inbox: webhook deliveries and events without one.

A row's key is (company, table, Sales id, event, revision): Sales' retry, the double Update of a
state change and a late duplicate all land on the same row, while the delivery log keeps each
delivery.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.dataverse.webhook_context import ContextError, Entity, parse_context
from orders.inbox.rows import Delivery, DeliveryOutcome, InboxRow, utcnow
from orders.inbox.states import NO_REVISION, DeliveryResult, InboxState, Source
from schemas import change_log as changes
from schemas.db import insert_ignore, write_transaction
from schemas.tables import order_inbox as inbox
from schemas.tables import webhook_delivery

_NUMBER_COLUMNS = ("ordernumber", "quotenumber")


def number_in(body: str) -> str:
    """The order or quote number a delivery's body carries (its Target or an image), or ""."""
    if not any(column in body for column in _NUMBER_COLUMNS):
        return ""  # most bodies: no need to parse again what the receiver parsed
    try:
        context = parse_context(body)
    except ContextError:
        return ""
    for entity in (context.target, *context.post_images.values(), *context.pre_images.values()):
        if isinstance(entity, Entity):
            for column in _NUMBER_COLUMNS:
                value = entity.get(column)
                if isinstance(value, str) and value.strip():
                    return value.strip()[:100]
    return ""


async def record_delivery(engine: AsyncEngine, company: str, delivery: Delivery) -> DeliveryOutcome:
    """Store a delivery and its inbox row in one transaction (before Sales gets its 2xx)."""
    now = utcnow()
    async with write_transaction(engine) as conn:
        if delivery.event is None:
            await _log(conn, delivery, now, None, DeliveryResult.IGNORED, delivery.reason)
            return DeliveryOutcome(DeliveryResult.IGNORED, None, None)
        row_id, created = await _upsert(
            conn,
            company,
            delivery.table_name,
            delivery.sales_id,
            delivery.event,
            delivery.revision,
            Source.WEBHOOK,
            now,
            number_in(delivery.body),
        )
        state = (await conn.execute(select(inbox.c.state).where(inbox.c.id == row_id))).scalar_one()
        outcome = DeliveryResult.QUEUED if created else DeliveryResult.DUPLICATE
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
    number: str = "",
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
        .values(
            **key,
            state=InboxState.RECEIVED,
            source=source,
            received_at=now,
            last_delivery_at=now,
            deliveries=1,
            sales_number=number,
        )
        .returning(inbox.c.id)
    )
    inserted = result.scalar_one_or_none()
    if inserted is not None:
        return inserted, True
    row_id = (await conn.execute(select(inbox.c.id).where(*[inbox.c[k] == v for k, v in key.items()]))).scalar_one()
    values: dict[str, object] = {"deliveries": inbox.c.deliveries + 1, "last_delivery_at": now}
    if number:
        values["sales_number"] = number
    await conn.execute(update(inbox).where(inbox.c.id == row_id).values(**values))
    return row_id, False


async def _fresh_chance(conn: AsyncConnection, row_id: int, state: str, now: dt.datetime) -> str:
    """A new delivery for a row that was ignored or failed gives it another try; one that comes
    while the row is being processed is looked at again when that is done."""
    if state == InboxState.PROCESSING:
        await conn.execute(update(inbox).where(inbox.c.id == row_id).values(redelivered=True))
        return state
    set_aside = (await conn.execute(select(inbox.c.ignored_by).where(inbox.c.id == row_id))).scalar_one()
    if set_aside:
        return state  # a person set it aside: a delivery does not overrule them
    if state == InboxState.IGNORED:
        await conn.execute(
            update(inbox)
            .where(inbox.c.id == row_id)
            .values(state=InboxState.RECEIVED, next_attempt_at=None, last_error="")
        )
        return InboxState.RECEIVED
    if state == InboxState.FAILED:
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
    source: str = Source.MANUAL,
    number: str = "",
) -> tuple[InboxRow, bool]:
    """Put an event in the inbox without a webhook (reconciliation, a person's command);
    `number`: the Sales order or quote number, when the caller knows it."""
    now = utcnow()
    async with write_transaction(engine) as conn:
        row_id, created = await _upsert(conn, company, table_name, sales_id, event, revision, source, now, number)
        if created:
            await changes.record(conn, changes.INBOX, company=company, key=str(row_id))
        row = (await conn.execute(select(inbox).where(inbox.c.id == row_id))).one()
        return InboxRow.from_row(row), created


# --- claiming -----------------------------------------------------------------------------------
