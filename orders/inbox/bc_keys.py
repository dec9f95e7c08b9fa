"""The inbox's part in writing to a real BC exactly once: our key, recorded before the POST.

BC has no idempotency key (``docs/reference/bc-api.md §7``): a POST whose answer is lost may or
may not have created the document, and BC does not stop two POSTs from creating twins. So, on the
inbox row, in this order:

1. :func:`claim_key` records our key (the document's ``externalDocumentNumber``) *before* any
   POST, and makes sure no other row is writing the same key at this moment (one writer per key:
   the rows of the Sales document and those holding the key are locked while it looks);
2. :func:`mark_posting` notes when a POST is sent whose outcome may be unknown; a later attempt
   that finds this mark looks the document up by the key before it POSTs again;
3. :func:`clear_posting` takes the mark away when BC answered that it did nothing;
4. :func:`record_created` — in the same local transaction as the coupling and the inbox state —
   records BC's id and takes the marks of every row holding the key away.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox.queue import owned
from orders.inbox.rows import utcnow
from orders.inbox.states import InboxState
from schemas.db import is_sqlite, write_transaction
from schemas.tables import order_inbox as inbox

__all__ = ["KeyClaim", "claim_key", "clear_posting", "mark_posting", "record_created"]


class KeyLost(Exception):
    """The inbox row is no longer ours (its lease went to another worker)."""


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """``busy_until``: another row writes this key right now, until its lease ends (then nothing
    was recorded). ``last_posted``: the latest POST with this key whose outcome is still unknown."""

    busy_until: dt.datetime | None = None
    busy_row: int | None = None
    last_posted: dt.datetime | None = None


async def claim_key(
    engine: AsyncEngine,
    row_id: int,
    owner: str,
    *,
    company: str,
    sales_id: str,
    key: str,
    now: dt.datetime | None = None,
) -> KeyClaim:
    """Record ``key`` on our row unless another row is writing with it now (a live lease, and no
    BC document recorded yet: a won quote's row that made the quote lets its order's row go on)."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        stmt = (
            select(
                inbox.c.id,
                inbox.c.bc_key,
                inbox.c.bc_posted_at,
                inbox.c.bc_document_id,
                inbox.c.state,
                inbox.c.lease_until,
            )
            .where(inbox.c.company == company, or_(inbox.c.sales_id == sales_id.lower(), inbox.c.bc_key == key))
            .order_by(inbox.c.id)
        )
        if not is_sqlite(conn):  # SQLite: the writer holds the whole database already
            stmt = stmt.with_for_update()
        rows = (await conn.execute(stmt)).all()
        for r in rows:
            live = r.state == InboxState.PROCESSING and r.lease_until is not None and r.lease_until > now
            # A row holds the key while it writes with it: until BC's document is recorded on it.
            if r.id != row_id and r.bc_key == key and live and r.bc_document_id is None:
                return KeyClaim(busy_until=r.lease_until, busy_row=r.id)
        posted = [r.bc_posted_at for r in rows if r.bc_key == key and r.bc_posted_at is not None]
        result = await conn.execute(update(inbox).where(owned(row_id, owner)).values(bc_key=key))
        if result.rowcount != 1:
            raise KeyLost
        return KeyClaim(last_posted=max(posted) if posted else None)


async def mark_posting(engine: AsyncEngine, row_id: int, owner: str, now: dt.datetime | None = None) -> dt.datetime:
    """Just before a POST: from now on its outcome may be unknown."""
    now = now or utcnow()
    async with write_transaction(engine) as conn:
        result = await conn.execute(update(inbox).where(owned(row_id, owner)).values(bc_posted_at=now))
        if result.rowcount != 1:
            raise KeyLost
    return now


async def clear_posting(engine: AsyncEngine, row_id: int, owner: str) -> None:
    """BC answered that it did nothing (a refusal, throttling): no look-up is needed next time."""
    async with write_transaction(engine) as conn:
        await conn.execute(update(inbox).where(owned(row_id, owner)).values(bc_posted_at=None))


async def record_created(
    conn: AsyncConnection, row_id: int, owner: str, *, company: str, key: str, document_id: str
) -> None:
    """In the caller's transaction: BC holds the document ``document_id`` made with ``key``."""
    await conn.execute(update(inbox).where(inbox.c.company == company, inbox.c.bc_key == key).values(bc_posted_at=None))
    result = await conn.execute(update(inbox).where(owned(row_id, owner)).values(bc_document_id=document_id))
    if result.rowcount != 1:
        raise KeyLost
