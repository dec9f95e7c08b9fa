"""The initial load: every entity read page by page (server-driven paging, following
``@odata.nextLink`` as BC gives it; bc-api.md §1.3) and written in bulk, resumable.

Each page is written in one transaction together with its entity's state row, which keeps BC's
nextLink for the page after it: a load stopped anywhere continues at the page it had not
written (a nextLink BC no longer accepts starts that entity again; its rows are upserts). Before
an entity's first page, the newest ``lastModifiedDateTime`` in BC is noted as its watermark, so
the first delta read afterwards catches whatever changed while the load ran.

A new source (another BC, company, or ledger page) empties our BC tables first: they are a read
model. Couplings stay: they are re-pointed, by number or code, at BC's ids once each entity is in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from orders.bc_link.errors import BcError, BcRejected
from orders.bc_link.mirror.context import SOURCE, Context
from orders.bc_link.mirror.entities import (
    ITEM_UNITS,
    MASTER_ENTITIES,
    RESOURCES,
    Entity,
    item_unit_row,
    parse_moment,
    resource_row,
)
from orders.bc_link.odata import query
from schemas import change_log as changes
from schemas import mirror_state as state
from schemas import mirror_store as store
from schemas import tables as t
from schemas.db import write_transaction
from schemas.mirror_ledger import analyse_growing, wipe_ledger

log = logging.getLogger("bcgw.mirror")


async def write_entity(
    conn: Any, ctx: Context, table: str, rows: Sequence[Mapping[str, Any]], changed_only: bool
) -> tuple[list[Any], list[str]]:
    """Write rows of one of our tables; the keys written, and (items) the numbers BC renamed to."""
    if table == "item":
        return await store.write_items(conn, ctx.company, rows, changed_only=changed_only)
    writer = store.WRITERS[table]
    return list(await writer(conn, ctx.company, rows, changed_only=changed_only)), []


async def check_source(ctx: Context, ledger_source: str) -> bool:
    """A mirror of another BC or company starts from nothing; True when it did just now."""
    source = await ctx.read(SOURCE)
    if source.source == ctx.source:
        ledger = await ctx.read("itemLedgerEntries")
        if ledger.source and ledger.source != ledger_source:
            log.warning("mirror: the ledger's source changed to %s: it loads again", ledger_source)
            async with write_transaction(ctx.engine) as conn:
                await wipe_ledger(conn, ctx.company)
                await state.reset_states(conn, ctx.company, ["itemLedgerEntries"])
                # Inventory is 0 until the ledger is in again: the availability sets wait for it.
                await state.save_state(conn, ctx.company, SOURCE, phase="loading")
                await changes.record(conn, changes.MIRROR, company=ctx.company)
        return False
    log.warning("mirror: a new source (%s): our BC tables of %s are emptied and load from it", ctx.source, ctx.company)
    async with write_transaction(ctx.engine) as conn:
        couplings = await store.coupled_keys(conn, ctx.company)
        previous = source.drift.get("couplings") if source.source else None
        await store.wipe_company(conn, ctx.company)
        await state.reset_states(conn, ctx.company)
        # Kept until each entity is loaded: a load interrupted before that still re-points them.
        kept = {str(k): v for k, v in (previous or {}).items()} | {str(k): v for k, v in couplings.items() if v}
        await state.save_state(conn, ctx.company, SOURCE, source=ctx.source, phase="loading", drift={"couplings": kept},
                               load_started_at=ctx.now())  # fmt: skip
        await conn.execute(t.company.update().where(t.company.c.name == ctx.company).values(system_id=ctx.company_id))
        await changes.record(conn, changes.MASTER, company=ctx.company)
        await changes.record(conn, changes.MIRROR, company=ctx.company)
    return True


async def _count(ctx: Context, path: str) -> int | None:
    """How many rows a set has, for the progress bar; None when BC will not say."""
    try:
        response = await ctx.bc.request("GET", f"{path}/$count")
        return int(str(response.body).strip())
    except (BcError, ValueError):
        return None


async def _newest_change(ctx: Context, entity: Entity) -> Any:
    row = await ctx.bc.first(entity.name, query(select=["lastModifiedDateTime"], orderby="lastModifiedDateTime desc"))
    return parse_moment(row.get("lastModifiedDateTime")) if row else None


async def load_entity(ctx: Context, entity: Entity) -> None:
    """Load one master-data entity of the API, if it is not loaded yet (resuming where it stopped)."""
    current = await ctx.read(entity.name)
    if current.ready:
        return
    start = current.resume_link if current.phase == "loading" else None
    if start is None:
        await ctx.save(entity.name, phase="loading", source=ctx.source, watermark=await _newest_change(ctx, entity),
                       loaded=0, load_started_at=ctx.now(), resume_link=None)  # fmt: skip
        loaded = 0
    else:
        loaded = current.loaded
    total = await _count(ctx, entity.name)
    bar = ctx.progress(entity.name, total)
    bar.update(loaded)
    params = query(select=list(entity.select))
    grown = [t.metadata.tables[entity.table], *([t.item_unit_of_measure] if entity.table == "item" else [])]
    pages = 0
    try:
        async for page in ctx.bc.iter_pages(entity.name, params, page_size=ctx.options.page_size, start=start):
            rows = [entity.to_row(r) for r in page.rows]
            async with write_transaction(ctx.engine) as conn:
                await write_entity(conn, ctx, entity.table, rows, changed_only=False)
                loaded += len(rows)
                await state.save_state(conn, ctx.company, entity.name, resume_link=page.next_link, loaded=loaded)
            bar.update(len(rows))
            pages += 1
            async with ctx.engine.begin() as conn:
                await analyse_growing(conn, grown, pages)
    except BcRejected:
        if start is None:
            raise
        # BC no longer takes the nextLink we kept: this entity starts again (its rows are upserts).
        log.warning("mirror: cannot resume %s where it stopped; it loads from the start", entity.name)
        bar.close()
        await ctx.save(entity.name, phase="new", resume_link=None)
        await load_entity(ctx, entity)
        return
    bar.close()
    await _finish(ctx, entity.name, t.metadata.tables[entity.table], entity.coupling)


async def _finish(ctx: Context, name: str, table: Any, coupling: int) -> None:
    async with write_transaction(ctx.engine) as conn:
        rows = len(await store.read_rows(conn, table, ctx.company)) if table is not None else 0
        if coupling:
            kept = (await state.read_state(conn, ctx.company, SOURCE)).drift.get("couplings", {})
            moved = await store.remap_couplings(conn, ctx.company, coupling, kept.get(str(coupling), {}))
            if moved:
                log.info("mirror: %d couplings of %s now point at Business Central's ids", moved, name)
        now = ctx.now()
        await state.save_state(conn, ctx.company, name, phase="ready", rows=rows, resume_link=None,
                               load_finished_at=now, last_success_at=now, last_reconciled_at=now)  # fmt: skip
        await changes.record(conn, changes.MASTER, company=ctx.company)


async def read_page(ctx: Context, service: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
    return await ctx.bc.list_web_service(service, params, page_size=ctx.options.page_size)


async def load_page_entity(ctx: Context, name: str) -> None:
    """Item units (page 5404) or resources (page 77), when the setup names the published page:
    read whole (the pages have no change stamp), written, and their extra rows removed."""
    service = ctx.pages.item_units if name == ITEM_UNITS else ctx.pages.resources
    current = await ctx.read(name)
    wanted = ctx.page_source(service)
    if not service or (current.ready and current.source == wanted):
        return
    await ctx.save(name, phase="loading", source=wanted, load_started_at=ctx.now(), loaded=0)
    await refresh_page_entity(ctx, name)
    table = t.item_unit_of_measure if name == ITEM_UNITS else t.resource
    await _finish(ctx, name, table, t.TABLE_RESOURCE if name == RESOURCES else 0)


async def refresh_page_entity(ctx: Context, name: str) -> dict[str, int]:
    """Read the whole published page and make our table equal to it; what it changed."""
    service = ctx.pages.item_units if name == ITEM_UNITS else ctx.pages.resources
    if not service:
        return {}
    bar = ctx.progress(service, None)
    raw = await read_page(ctx, service)
    bar.update(len(raw))
    bar.close()
    if name == ITEM_UNITS:
        rows, table = [item_unit_row(r) for r in raw], t.item_unit_of_measure
    else:
        rows, table = [resource_row(ctx.company_id)(r) for r in raw], t.resource
    async with write_transaction(ctx.engine) as conn:
        stored = await store.read_rows(conn, table, ctx.company)
        keys = {(r["item_no"], r["code"]) if name == ITEM_UNITS else r["no"] for r in rows}
        # An item's base unit (1 per unit, from the API) stays even if the page leaves it out.
        keep = await store.base_units(conn, ctx.company) if name == ITEM_UNITS else set()
        extra = [k for k in stored if k not in keys and k not in keep]
        written: list[Any] = []
        if name == ITEM_UNITS:
            written.extend(await store.write_item_units(conn, ctx.company, rows, changed_only=True))
        else:
            written.extend(await store.write_resources(conn, ctx.company, rows, changed_only=True))
        await store.delete_rows(conn, table, ctx.company, extra)
        now = ctx.now()
        values: dict[str, Any] = {"last_success_at": now, "rows": len(keys)}
        if written or extra:
            values["last_change_at"] = now
            await changes.record(conn, changes.MASTER, company=ctx.company)
        await state.save_state(conn, ctx.company, name, **values)
    return {"written": len(written), "removed": len(extra)}


async def load_all(ctx: Context) -> None:
    """Every entity not loaded yet, in an order that keeps references whole (items before their
    variants and units)."""
    for entity in MASTER_ENTITIES:
        await load_entity(ctx, entity)
    await load_page_entity(ctx, ITEM_UNITS)
    await load_page_entity(ctx, RESOURCES)


async def loaded(ctx: Context) -> bool:
    async with ctx.engine.connect() as conn:
        states = await state.read_states(conn, ctx.company)
    names = [e.name for e in MASTER_ENTITIES]
    names += [ITEM_UNITS] if ctx.pages.item_units else []
    names += [RESOURCES] if ctx.pages.resources else []
    return all(n in states and states[n].ready for n in names)
