"""The change feed: a row per change that caches and other processes must hear of.

Written in the same transaction as the change itself, so a reader never sees a change without
its row, nor a row without its change. Gateway processes poll it (gateway/changes.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.bulk import insert_many
from schemas.tables import change_log

ITEM = "item"  # an item's inventory or quantity on sales orders changed; key = item no.
MASTER = "master"  # items, units, customers, resources or couplings changed
USERS = "users"  # a user, key or role changed; key = user name
SETUP = "setup"  # the connection setup changed
COMPANY = "company"  # a company was added
INBOX = "inbox"  # a delivery waits for the worker; key = inbox id
ORDER_STATUS = "order_status"  # a BC order was released, shipped or invoiced; key = order no.
# A customer's statistics may have changed: a ledger entry (invoice, payment) or a posting that
# ships; key = customer no.
CUST_STATISTICS = "cust_statistics"
NOTES = "notes"  # a note was added to a BC sales order; key = order no.
MIRROR = "mirror"  # the mirror of a real BC started or finished loading (api mode)


async def record(conn: AsyncConnection, topic: str, company: str = "", key: str | None = None) -> None:
    await conn.execute(
        insert(change_log).values(company=company, topic=topic, key=key, changed_at=dt.datetime.now(dt.UTC))
    )


async def record_items(conn: AsyncConnection, company: str, item_nos: set[str]) -> None:
    if not item_nos:
        return
    now = dt.datetime.now(dt.UTC)
    await insert_many(
        conn,
        change_log,
        [{"key": no} for no in sorted(item_nos)],
        {"company": company, "topic": ITEM, "changed_at": now},
    )
