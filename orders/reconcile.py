"""Reconciliation: a lost webhook still becomes a BC order.

Every BCGW_RECONCILE_INTERVAL seconds the worker asks Sales for submitted orders with an empty
`lastbackofficesubmit` (BC's own job query) and puts those the inbox lacks into it.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.dataverse import DataverseClient
from schemas import changes
from schemas.db import write_transaction
from schemas.tables import order_inbox

log = logging.getLogger("bcgw.reconcile")


async def reconcile(engine: AsyncEngine, company: str, client: DataverseClient) -> int:
    """Queue what Sales shows as submitted and unprocessed; returns how many rows it added or reopened."""
    touched = 0
    async for order in client.submitted_orders_without_backoffice():
        order_id = str(order.get("salesorderid", "")).lower()
        if not order_id:
            continue
        row, created = await inbox.enqueue(engine, company, inbox.SALESORDER, order_id, "submit", source="reconcile")
        if created:
            touched += 1
            log.info("reconciliation: submitted order %s had no inbox row; queued", order.get("ordernumber", order_id))
            continue
        values = None
        if row.state == "ignored":
            # Ignored earlier (not submitted then); Sales now says it is submitted.
            values = {"state": "received", "last_error": "", "next_attempt_at": None}
        elif row.state == "created" and row.writeback_state in ("done", "failed"):
            # BC has the order but Sales still lacks the date: write it back again.
            values = {"writeback_state": "pending", "writeback_attempts": 0, "writeback_next_at": None}
        if values:
            async with write_transaction(engine) as conn:
                await conn.execute(update(order_inbox).where(order_inbox.c.id == row.id).values(**values))
                await changes.record(conn, changes.INBOX, company=company, key=str(row.id))
            touched += 1
    return touched
