"""The periodic full reconciliation: everything compared with BC, drift repaired and reported.

Deltas and webhooks miss what they cannot see: deletions without a webhook, a change whose stamp
fell behind the watermark, an entry skipped. So every ``BCGW_BC_RECONCILE_INTERVAL`` (and on
``bc-gateway mirror reconcile``) each entity is read whole and compared with our rows: rows
BC has and we lack are added, rows that differ are corrected, rows BC no longer has are removed.
Inventory is compared item by item with BC's ``items.inventory`` (the sum of all its ledger
entries, bc-api.md §3.3) at one entry number; an item that still differs on a second look has its
ledger read again and its totals recomputed. BC's sales orders and quotes are read whole too (ours
that BC no longer holds go: documents.py). The report (counts and a few examples per entity) is
kept on each entity's state row and logged when there was drift.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orders.bc_link.mirror import documents, ledger
from orders.bc_link.mirror.context import SOURCE, Context
from orders.bc_link.mirror.entities import ITEM_UNITS, ITEMS, LEDGER, MASTER_ENTITIES, RESOURCES, Entity
from orders.bc_link.mirror.load import refresh_page_entity, write_entity
from orders.bc_link.odata import any_of, query
from schemas import change_log as changes
from schemas import mirror_ledger as ledger_store
from schemas import mirror_state as state
from schemas import mirror_store as store
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")
EXAMPLES = 5
# Compared columns: what the mirror writes, not our own bookkeeping.
_IGNORED = {"company", "system_modified_at"}


def _key(entity: Entity, row: Mapping[str, Any]) -> Any:
    table = t.metadata.tables[entity.table]
    names = [c.name for c in table.primary_key.columns if c.name != "company"]
    key = tuple(row[n] for n in names)
    return key[0] if len(key) == 1 else key


def _differs(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    for name, value in theirs.items():
        if name in _IGNORED or name not in ours:
            continue
        mine = ours[name]
        if isinstance(value, Decimal) or isinstance(mine, Decimal):
            if Decimal(str(mine)) != Decimal(str(value)):
                return True
        elif mine != value:
            return True
    return False


async def reconcile_entity(ctx: Context, entity: Entity) -> dict[str, Any]:
    """Compare one entity whole with BC and repair it; the drift found."""
    select = [*entity.select, *(["inventory"] if entity is ITEMS else [])]
    raw = await ctx.bc.list_collection(entity.name, query(select=select), page_size=ctx.options.page_size)
    theirs = {_key(entity, row): row for row in (entity.to_row(r) for r in raw)}
    table = t.metadata.tables[entity.table]
    async with write_transaction(ctx.engine) as conn:
        ours = await store.read_rows(conn, table, ctx.company)
        missing = [k for k in theirs if k not in ours]
        changed = [k for k in theirs if k in ours and _differs(ours[k], theirs[k])]
        extra = [k for k in ours if k not in theirs]
        await write_entity(conn, ctx, entity.table, [theirs[k] for k in (*missing, *changed)], changed_only=False)
        await store.delete_rows(conn, table, ctx.company, extra)
        if missing or changed or extra:
            await changes.record(conn, changes.MASTER, company=ctx.company)
    report: dict[str, Any] = {
        "rows": len(theirs),
        "missing": len(missing),
        "changed": len(changed),
        "removed": len(extra),
    }
    examples = [str(k) for k in (*missing, *changed, *extra)][:EXAMPLES]
    if examples:
        report["examples"] = examples
    if entity is ITEMS:
        report["inventory"] = await _reconcile_inventory(ctx, raw)
    return report


async def _reconcile_inventory(ctx: Context, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items whose inventory differs from BC's, checked twice, then repaired from the ledger."""
    await ledger.catch_up(ctx)
    async with ctx.engine.connect() as conn:
        ours = await ledger_store.inventories(conn, ctx.company)
    suspects = [
        str(r["number"])
        for r in items
        if Decimal(str(r.get("inventory") or 0)) != ours.get(str(r["number"]), Decimal(0))
    ]
    if not suspects:
        return {"differed": 0}
    # Entries posted while BC answered the read above make false alarms: look again at just those.
    await ledger.catch_up(ctx)
    again: dict[str, Decimal] = {}
    for start in range(0, len(suspects), ledger.ITEMS_PER_FILTER):
        chunk = suspects[start : start + ledger.ITEMS_PER_FILTER]
        rows = await ctx.bc.list_collection(
            ITEMS.name, query(filter=any_of("number", chunk), select=["number", "inventory"])
        )
        again.update({str(r["number"]): Decimal(str(r.get("inventory") or 0)) for r in rows})
    async with ctx.engine.connect() as conn:
        ours = await ledger_store.inventories(conn, ctx.company)
    drifted = [no for no, theirs in again.items() if theirs != ours.get(no, Decimal(0))]
    if not drifted:
        return {"differed": 0}
    examples = [{"no": no, "bc": str(again[no]), "mirror": str(ours.get(no, Decimal(0)))} for no in drifted[:EXAMPLES]]
    await ledger.reload_items_ledger(ctx, drifted)
    async with ctx.engine.connect() as conn:
        after = await ledger_store.inventories(conn, ctx.company)
    still = [no for no in drifted if again[no] != after.get(no, Decimal(0))]
    return {"differed": len(drifted), "repaired": len(drifted) - len(still), "examples": examples}


async def reconcile(ctx: Context) -> dict[str, Any]:
    """Every entity compared and repaired; the report, also kept on the state rows."""
    report: dict[str, Any] = {}
    for entity in MASTER_ENTITIES:
        try:
            report[entity.name] = await reconcile_entity(ctx, entity)
        except Exception as exc:
            await ctx.failed(entity.name, exc)
            report[entity.name] = {"error": str(exc)[:300]}
    for kind in documents.DOCUMENT_SETS:
        try:
            report[kind.name] = await documents.refresh(ctx, kind, whole=True)
        except Exception as exc:
            await ctx.failed(kind.name, exc)
            report[kind.name] = {"error": str(exc)[:300]}
    for name, service in ((ITEM_UNITS, ctx.pages.item_units), (RESOURCES, ctx.pages.resources)):
        if service:
            try:
                report[name] = await refresh_page_entity(ctx, name)
            except Exception as exc:
                await ctx.failed(name, exc)
                report[name] = {"error": str(exc)[:300]}
    now = ctx.now()
    async with write_transaction(ctx.engine) as conn:
        for name, entry in report.items():
            await state.save_state(conn, ctx.company, name, drift=entry, last_reconciled_at=now)
        totals = summary(report)
        await state.save_state(conn, ctx.company, SOURCE, last_reconciled_at=now)
        await state.save_state(conn, ctx.company, LEDGER, last_reconciled_at=now)
    if totals:
        log.warning("mirror: reconciliation repaired drift: %s", ", ".join(f"{k} {v}" for k, v in totals.items()))
    else:
        log.info("mirror: reconciliation found no drift")
    return report


def summary(report: Mapping[str, Any]) -> dict[str, int]:
    """Drift counts over all entities (what the log and `mirror status` print)."""
    totals: dict[str, int] = {}
    for entry in report.values():
        if not isinstance(entry, Mapping):
            continue
        for name in ("missing", "changed", "removed", "written"):
            if entry.get(name):
                totals[name] = totals.get(name, 0) + int(entry[name])
        inventory = entry.get("inventory")
        if isinstance(inventory, Mapping) and inventory.get("differed"):
            totals["inventory"] = totals.get("inventory", 0) + int(inventory["differed"])
    return totals
