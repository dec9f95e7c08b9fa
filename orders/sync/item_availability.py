"""BC's "CRM Item Availability Job" (codeunit 5356, bc-sync.md §13): quantity on hand to Sales.

A ledger entry or a sales line changes an item's inventory without touching the Item row, so
ITEM-PRODUCT, which follows the item's change time, would not notice. This job takes the items the
change feed names (topic ``item``: every posting and order line change) since its last run, keeps
the coupled, non-skipped ones, and runs ITEM-PRODUCT for them as a one-off forced copy: one run
for all items that moved, whose product gets ``quantityonhand`` = the item's inventory (0 when
negative) and any other field that differs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import store
from orders.sync.defaults import ITEM_PRODUCT
from orders.sync.engine import RunResult, run_mapping
from orders.sync.jobs import mapping_lock
from orders.sync.model import Direction
from orders.sync.ports import BcRecords, SalesPort
from schemas import change_log as changes
from schemas import tables as t
from schemas.db import insert_ignore, write_transaction

# The change feed's time is taken when the change is written, before its commit: look this far back.
GRACE = dt.timedelta(seconds=2)


async def _synch_time(engine: AsyncEngine, company: str) -> dt.datetime | None:
    css, itm = t.crm_synch_status, t.integration_table_mapping
    async with engine.connect() as conn:
        row = (await conn.execute(select(css.c.item_availability_synch_time).where(css.c.company == company))).first()
        if row and row[0] is not None:
            return row[0]
        mark = (
            await conn.execute(
                select(itm.c.synch_int_tbl_mod_on_fltr).where(itm.c.company == company, itm.c.name == ITEM_PRODUCT)
            )
        ).first()
        return mark[0] if mark else None


async def moved_items(engine: AsyncEngine, company: str, since: dt.datetime | None) -> list[str]:
    """SystemIds of coupled, non-skipped items whose inventory changed after ``since`` (every
    coupled item when None)."""
    cir, item, log = t.crm_integration_record, t.item, t.change_log
    query = (
        select(item.c.system_id)
        .select_from(item.join(cir, (cir.c.company == item.c.company) & (cir.c.integration_id == item.c.system_id)))
        .where(item.c.company == company, cir.c.table_id == t.TABLE_ITEM, cir.c.skipped.is_(False))
    )
    if since is not None:
        nos = (
            select(log.c.key)
            .where(log.c.company == company, log.c.topic == changes.ITEM, log.c.changed_at > since - GRACE)
            .distinct()
        )
        query = query.where(item.c.no.in_(nos))
    async with engine.connect() as conn:
        return sorted(set((await conn.execute(query)).scalars()))


async def run_item_availability(
    engine: AsyncEngine,
    company: str,
    sales: SalesPort,
    bc: BcRecords,
    job_queue_entry_id: str | None = None,
) -> RunResult | None:
    """One run; None when no item moved."""
    started = store.now()
    since = await _synch_time(engine, company)
    ids = await moved_items(engine, company, since)
    result = None
    if ids:
        async with mapping_lock(engine, company, ITEM_PRODUCT):  # not beside the ITEM-PRODUCT job
            result = await run_mapping(
                engine,
                company,
                ITEM_PRODUCT,
                sales,
                bc,
                system_ids=ids,
                force=True,
                direction=Direction.TO,
                job_queue_entry_id=job_queue_entry_id,
            )
    css = t.crm_synch_status
    async with write_transaction(engine) as conn:
        await conn.execute(insert_ignore(conn, css, ["company"]).values(company=company))
        await conn.execute(update(css).where(css.c.company == company).values(item_availability_synch_time=started))
    return result
