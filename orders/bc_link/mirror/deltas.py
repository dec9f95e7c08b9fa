"""Master data kept fresh by ``lastModifiedDateTime gt <watermark>`` (bc-api.md §7.3).

Each entity of the API remembers the newest ``lastModifiedDateTime`` it applied. A delta reads
the rows changed since then, less a few seconds of overlap (a record's stamp is set before its
transaction commits, so one may become visible after a newer one), and writes only the rows that
differ from ours: re-read rows change nothing and tell the caches nothing. Deletions do not show
in a delta: webhooks (``deleted``) and the reconciliation remove them.

Changed items bring their units (page 5404, when published) and, if BC renamed them, their
ledger. Resources (a published page without change stamps) are small: read whole each time.
BC's sales orders and quotes come the same way (documents.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from orders.bc_link.mirror import documents, ledger
from orders.bc_link.mirror.context import Context
from orders.bc_link.mirror.entities import ITEMS, RESOURCES, Entity, item_unit_row, parse_moment
from orders.bc_link.mirror.load import refresh_page_entity, write_entity
from orders.bc_link.odata import any_of, gt, query
from schemas import change_log as changes
from schemas import mirror_state as state
from schemas import mirror_store as store
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")


async def refresh_entity(ctx: Context, entity: Entity, since: dt.datetime | None = None) -> int:
    """Apply what changed in BC since the watermark (or ``since``, if earlier); rows changed."""
    current = await ctx.read(entity.name)
    if not current.ready:
        return 0
    mark = min(m for m in (current.watermark, since) if m is not None) if (current.watermark or since) else None
    filter = gt("lastModifiedDateTime", mark - dt.timedelta(seconds=ctx.options.overlap)) if mark else None
    raw = await ctx.bc.list_collection(
        entity.name, query(filter=filter, select=list(entity.select)), page_size=ctx.options.page_size
    )
    rows = [entity.to_row(r) for r in raw]
    stamps = [m for m in (parse_moment(r.get("lastModifiedDateTime")) for r in raw) if m is not None]
    newest = max([*stamps, *([current.watermark] if current.watermark else [])], default=None)
    async with write_transaction(ctx.engine) as conn:
        written, moved = await write_entity(conn, ctx, entity.table, rows, changed_only=True)
        now = ctx.now()
        values: dict[str, Any] = {"watermark": newest, "last_success_at": now, "failures": 0}
        if written:
            values["last_change_at"] = now
            await changes.record(conn, changes.MASTER, company=ctx.company)
        await state.save_state(conn, ctx.company, entity.name, **values)
    if written:
        log.info("mirror: %d %s changed in Business Central", len(written), entity.name)
    if entity is ITEMS and written:
        numbers = [k[0] if isinstance(k, tuple) else k for k in written]
        await refresh_item_units(ctx, numbers)
    if moved:
        log.info("mirror: %d items renamed in Business Central; their ledger is read again", len(moved))
        await ledger.reload_items_ledger(ctx, moved)
    return len(written)


async def refresh_item_units(ctx: Context, item_nos: Iterable[str]) -> int:
    """The units of these items from page 5404 (when published); theirs replace ours."""
    service = ctx.pages.item_units
    wanted = sorted(set(item_nos))
    if not service or not wanted:
        return 0
    count = 0
    for start in range(0, len(wanted), ledger.ITEMS_PER_FILTER):
        chunk = wanted[start : start + ledger.ITEMS_PER_FILTER]
        raw = await ctx.bc.list_web_service(service, query(filter=any_of("Item_No", chunk)))
        rows = [item_unit_row(r) for r in raw]
        async with write_transaction(ctx.engine) as conn:
            written = await store.write_item_units(conn, ctx.company, rows, changed_only=True, replace_items=chunk)
            if written:
                await changes.record(conn, changes.MASTER, company=ctx.company)
        count += len(written)
    return count


async def refresh_all(ctx: Context, entities: Iterable[Entity]) -> dict[str, int]:
    """A delta of each entity (failures recorded on the entity and the others still done)."""
    out: dict[str, int] = {}
    for entity in entities:
        try:
            out[entity.name] = await refresh_entity(ctx, entity)
        except Exception as exc:
            await ctx.failed(entity.name, exc)
    if ctx.pages.resources:
        try:
            out[RESOURCES] = (await refresh_page_entity(ctx, RESOURCES)).get("written", 0)
        except Exception as exc:
            await ctx.failed(RESOURCES, exc)
    # BC's sales orders and quotes, after the items and customers they name.
    for name, done in (await documents.refresh_all(ctx)).items():
        out[name] = done["changed"]
    return out
