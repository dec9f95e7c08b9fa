"""BC's "Sales Order Status - Dynamics 365 Sales synchronization job" (codeunit 5352, bc-sync.md
§10): the unsent "CRM Post Buffer" rows become SALESORDER-ORDER writes and posts in Sales.

What to write is decided in ``orders/sync/order_status.py`` (pure); this module reads the rows,
writes to Sales and marks each row sent once its post exists. The scheduler runs it within
seconds of a release, shipment or invoice (the change feed's ``order_status`` topic), and every
7 minutes besides. One Integration Synch. Job row per run with posts: Modified = the posts
made, BC's message, mapping name "5352" (there is no SALESORDER-ORDER mapping row here).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import store
from orders.sync.defaults import ORDER_STATUS_JOB
from orders.sync.model import Counters, Direction
from orders.sync.order_status import (
    ACTIVE,
    JOB_MESSAGE,
    NOT_IN_SALES,
    BufferRow,
    StatusUpdate,
    decide,
    fields_to_write,
)
from orders.sync.ports import SalesChangedMeanwhile, SalesPort, SalesRefused
from orders.sync.transfer import Bind
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.sync.order_status")

JOB_NAME = str(ORDER_STATUS_JOB)
SALES_ORDERS, POSTS = "salesorders", "posts"


@dataclass(frozen=True, slots=True)
class OrderStatusRun:
    posts: int  # made now
    orders: int
    discarded: int
    failed: int

    @property
    def activity(self) -> int:
        return self.posts + self.failed


async def unsent_rows(engine: AsyncEngine, company: str) -> list[BufferRow]:
    pb = t.crm_post_buffer
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(pb).where(pb.c.company == company, pb.c.sent_at.is_(None)).order_by(pb.c.id))
        ).all()
    return [
        BufferRow(
            id=r.id,
            order_no=r.order_no,
            sales_id=str(r.sales_id) if r.sales_id else None,
            change_type=r.change_type,
            order_fields=orjson.loads(r.order_fields or "{}"),
            fully_invoiced=bool(r.fully_invoiced),
        )
        for r in rows
    ]


async def _mark(engine: AsyncEngine, ids: Sequence[int], *, post_id: str | None = None, error: str = "") -> None:
    if not ids:
        return
    pb = t.crm_post_buffer
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(pb)
            .where(pb.c.id.in_(list(ids)), pb.c.sent_at.is_(None))
            .values(sent_at=store.now(), post_id=post_id, error_message=error)
        )


async def _write_order(sales: SalesPort, update_: StatusUpdate, current: dict[str, Any]) -> None:
    """BC's order of writes: Active (a Submitted order cannot be written), the fields, then
    Submitted or Invoiced."""
    fields = fields_to_write(update_, current)
    wanted = {"statecode": update_.statecode}
    if update_.statuscode is not None:
        wanted["statuscode"] = update_.statuscode
    if (
        not fields
        and current.get("statecode") == update_.statecode
        and (update_.statuscode is None or current.get("statuscode") == update_.statuscode)
    ):
        return
    if fields:
        if current.get("statecode") != ACTIVE:
            await sales.update_row(SALES_ORDERS, update_.sales_id, {"statecode": ACTIVE})
        await sales.update_row(SALES_ORDERS, update_.sales_id, fields)
    await sales.update_row(SALES_ORDERS, update_.sales_id, wanted)


async def run_order_status(
    engine: AsyncEngine, company: str, sales: SalesPort, job_queue_entry_id: str | None = None
) -> OrderStatusRun:
    """One run over the unsent rows. SalesUnavailable goes on to the scheduler (retried); a row
    Sales refuses stays unsent and is tried again at the next run."""
    rows = await unsent_rows(engine, company)
    if not rows:
        return OrderStatusRun(0, 0, 0, 0)
    decision = decide(company, rows)
    await _mark(engine, decision.discarded, error="The order is not coupled to a Dynamics 365 Sales order.")
    posts = failed = 0
    found = await sales.rows_by_id(SALES_ORDERS, [u.sales_id for u in decision.updates]) if decision.updates else {}
    for update_ in decision.updates:
        current = found.get(update_.sales_id.lower())
        if current is None:
            await _mark(engine, update_.buffer_ids, error=NOT_IN_SALES.format(id=update_.sales_id))
            continue
        try:
            await _write_order(sales, update_, current)
            made = await sales.rows_by_id(POSTS, [p.post_id for p in update_.posts])
            for post in update_.posts:
                if post.post_id.lower() not in made:
                    try:
                        await sales.create_row(
                            POSTS, {**post.values(), "regardingobjectid": Bind(SALES_ORDERS, update_.sales_id)}
                        )
                        posts += 1
                    except SalesChangedMeanwhile:
                        pass  # 412 DuplicateRecord: a post with this id is there already

                await _mark(engine, [post.buffer_id], post_id=post.post_id)
        except SalesRefused as exc:
            failed += 1
            log.warning("sales order status: order %s: %s", update_.order_no, exc)
            pb = t.crm_post_buffer
            async with write_transaction(engine) as conn:
                await conn.execute(
                    update(pb).where(pb.c.id.in_(update_.buffer_ids)).values(error_message=str(exc)[:2000])
                )
    if posts or failed:
        async with write_transaction(engine) as conn:
            job_id = await store.start_job(conn, company, JOB_NAME, Direction.TO.value, store.now(), job_queue_entry_id)
            await store.finish_job(conn, job_id, Counters(modified=posts, failed=failed), JOB_MESSAGE)
    return OrderStatusRun(posts, len(decision.updates), len(decision.discarded), failed)
