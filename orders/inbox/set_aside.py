"""A person setting inbox rows aside: ignore (keep the row, never process it unless a person
retries or creates it) and discard (drop the row; the delivery log and the action log keep the
trace, and a later delivery or reconciliation may queue the Sales record afresh).

Both are recorded in ``inbox_action``: who, when, why and what the row was. Neither touches a row
a worker holds right now, nor a row that made a BC document (that row is the record of it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox.rows import InboxRow, utcnow
from orders.inbox.states import InboxState
from schemas import change_log as changes
from schemas.db import write_transaction
from schemas.tables import inbox_action
from schemas.tables import order_inbox as inbox


class SetAsideAction(StrEnum):
    IGNORE = "ignore"
    DISCARD = "discard"


class SetAsideRefused(Exception):
    """The rows cannot be set aside; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class InboxAction:
    """One ignore or discard, as the action log keeps it."""

    inbox_id: int
    table_name: str
    sales_id: str
    sales_number: str
    event: str
    state_before: str
    action: str
    acted_by: str
    acted_at: dt.datetime
    reason: str

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        out["acted_at"] = self.acted_at.isoformat()
        return out


def _lease_held(now: dt.datetime) -> Any:
    return and_(inbox.c.state == InboxState.PROCESSING, inbox.c.lease_until.is_not(None), inbox.c.lease_until >= now)


async def set_aside(
    engine: AsyncEngine,
    company: str,
    table_name: str,
    target: int | str,
    action: SetAsideAction,
    acted_by: str,
    reason: str,
    now: dt.datetime | None = None,
) -> list[InboxAction]:
    """Ignore or discard inbox row `target` (an inbox id), or every row of the Sales record
    `target` (its id) that did not make a BC document. SetAsideRefused says why not."""
    reason = reason.strip()
    if not reason:
        raise SetAsideRefused("Say why (--reason TEXT): the reason is kept with who did it and when.")
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        rows = await _targets(conn, company, table_name, target, now)
        if action is SetAsideAction.IGNORE:
            await conn.execute(
                update(inbox)
                .where(inbox.c.id.in_([r.id for r in rows]))
                .values(
                    state=InboxState.IGNORED,
                    ignored_by=acted_by[:50],
                    ignored_at=now,
                    ignored_reason=reason,
                    last_error=f"Ignored by {acted_by} on {now:%Y-%m-%d %H:%M} UTC: {reason}",
                    failure="",
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_until=None,
                    redelivered=False,
                    processed_at=now,
                )
            )
        else:
            await conn.execute(delete(inbox).where(inbox.c.id.in_([r.id for r in rows])))
        done = [
            InboxAction(
                r.id, r.table_name, r.sales_id, r.sales_number, r.event, r.state, action, acted_by[:50], now, reason
            )
            for r in rows
        ]
        for entry in done:
            values = entry.as_dict()
            values["acted_at"] = now
            await conn.execute(insert(inbox_action).values(company=company, **values))
        await changes.record(conn, changes.INBOX, company=company)
        return done


async def _targets(
    conn: AsyncConnection, company: str, table_name: str, target: int | str, now: dt.datetime
) -> list[InboxRow]:
    where = [inbox.c.company == company, inbox.c.table_name == table_name]
    if isinstance(target, int):
        where.append(inbox.c.id == target)
    else:
        where.append(inbox.c.sales_id == target.lower())
    # Locked while they are changed (PostgreSQL; SQLite's writer holds the database already).
    stmt = select(inbox).where(*where).order_by(inbox.c.id)
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    found = [InboxRow.from_row(r) for r in (await conn.execute(stmt)).all()]
    what = "order" if table_name == "salesorder" else "quote"
    if not found:
        raise SetAsideRefused(
            f"There is no inbox row {target} for Sales {what}s; see 'bc-gateway {what}s list'."
            if isinstance(target, int)
            else f"Nothing in the inbox for the Sales {what} {target}; see 'bc-gateway {what}s list'."
        )
    busy = (
        await conn.execute(select(inbox.c.id).where(inbox.c.id.in_([r.id for r in found]), _lease_held(now)))
    ).scalars()
    held = list(busy)
    if held:
        raise SetAsideRefused(
            f"A worker is processing inbox row {held[0]} right now; look again in a moment "
            f"('bc-gateway {what}s show {found[0].sales_id}')."
        )
    open_rows = [r for r in found if r.state != InboxState.CREATED]
    if not open_rows:
        made = found[0]
        raise SetAsideRefused(
            f"Inbox row {made.id} made BC {made.document_type.lower() or 'document'} {made.document_no}; "
            "it stays as the record of that."
        )
    return open_rows


async def actions(engine: AsyncEngine, company: str, table_name: str, sales_id: str) -> list[InboxAction]:
    """The ignores and discards of one Sales record's rows, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(inbox_action)
                .where(
                    inbox_action.c.company == company,
                    inbox_action.c.table_name == table_name,
                    inbox_action.c.sales_id == sales_id.lower(),
                )
                .order_by(inbox_action.c.id)
            )
        ).all()
    return [
        InboxAction(
            r.inbox_id,
            r.table_name,
            r.sales_id,
            r.sales_number,
            r.event,
            r.state_before,
            r.action,
            r.acted_by,
            r.acted_at,
            r.reason,
        )
        for r in rows
    ]


__all__ = ["InboxAction", "SetAsideAction", "SetAsideRefused", "actions", "set_aside"]
