"""The availability web services' cache: which answers a change of an item touches.

An answer about item 1000 may have been asked for by item number, by the item's id
(Integration_ID) or by the Sales product coupled to it (CRM_ID); a change of the item drops the
answers tagged with any of these, and the broad ones (lists, filters on quantities).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.odata.answer_cache import ResponseCache, Tag
from schemas import tables as t


async def item_tags(engine: AsyncEngine, company: str, item_nos: set[str]) -> set[Tag]:
    """The tags of every identity of the items: number, id, coupled Sales product ids."""
    tags: set[Tag] = {("no", no) for no in item_nos}
    item, cir = t.item, t.crm_integration_record
    stmt = (
        select(item.c.no, item.c.system_id, cir.c.crm_id)
        .select_from(
            item.outerjoin(
                cir,
                and_(
                    cir.c.company == item.c.company,
                    cir.c.table_id == t.TABLE_ITEM,
                    cir.c.integration_id == item.c.system_id,
                ),
            )
        )
        .where(item.c.company == company, item.c.no.in_(sorted(item_nos)))
    )
    async with engine.connect() as conn:
        for row in (await conn.execute(stmt)).all():
            tags.add(("sysid", row.system_id))
            if row.crm_id:
                tags.add(("crm", row.crm_id))
    return tags


async def invalidate_items(engine: AsyncEngine, cache: ResponseCache, rows: list[Any]) -> None:
    by_company: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.key:
            by_company[row.company].add(row.key)
    for company, item_nos in by_company.items():
        cache.invalidate(company, await item_tags(engine, company, item_nos))


def invalidate_master(cache: ResponseCache, rows: list[Any]) -> None:
    for company in {row.company for row in rows}:
        cache.invalidate_company(company)
