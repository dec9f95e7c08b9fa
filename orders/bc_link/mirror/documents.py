"""BC's open sales orders and quotes in our ``sales_header`` / ``sales_line`` (api mode), so that
``SalesOrders``, ``SalesQuotes``, ``SalesLines`` and ``Qty_on_Sales_Order`` show what BC holds:
the documents the gateway created (their status, amounts and lines as BC changes them later) and
those made in BC itself.

Read by ``lastModifiedDateTime`` like master data (bc-api.md §3.6, §7.3), with their lines
(``$expand``; a line change stamps its header). A document is written only when it differs from
ours, keeping what BC does not show (Your Reference, the Sales ids of its lines, the Qty. per
Unit of Measure sent): ``orders/bc_link/writer_json.py`` maps BC's entity as the writer does.
BC's webhooks on ``salesOrders`` / ``salesQuotes`` (where BC can reach the gateway) make the
refresh run at once, and a ``deleted`` one removes the document. Otherwise a document BC no longer
holds (posted, deleted, made into an order) leaves a delta unseen: the reconciliation removes it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders.bc_link.mirror.context import Context
from orders.bc_link.mirror.entities import parse_moment
from orders.bc_link.odata import gt, query
from orders.bc_link.writer_json import mirror_header, mirror_lines
from schemas import mirror_state as state
from schemas import sales_document_mirror as documents
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")


@dataclass(frozen=True, slots=True)
class DocumentSet:
    name: str  # BC's entity set, and the state row's key
    lines: str
    document_type: str  # ours: Order | Quote


ORDERS = DocumentSet("salesOrders", "salesOrderLines", "Order")
QUOTES = DocumentSet("salesQuotes", "salesQuoteLines", "Quote")
DOCUMENT_SETS: tuple[DocumentSet, ...] = (ORDERS, QUOTES)
_KEPT = ("your_reference", "sales_id", "sales_revision", "quote_no")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a or 0)) == Decimal(str(b or 0))
    return bool((a or None) == (b or None))


def _differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return any(not _same(old.get(k), v) for k, v in new.items())


EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


async def store_bc_document(
    conn: Any, company: str, kind: DocumentSet, entity: Mapping[str, Any], locations: Mapping[str, str] | None = None
) -> bool:
    """One document as BC holds it, into our tables; False when ours already equals it.

    ``locations``: BC's location ids → codes (a line names its location by id only, bc-api §3.6),
    so that its outstanding quantity counts at its location."""
    no = str(entity.get("number") or "")
    existing = await documents.header_row(conn, company, kind.document_type, no)
    old = existing._mapping if existing is not None else {}
    old_lines = await documents.lines_by_no(conn, company, kind.document_type, no) if existing is not None else {}
    bc_lines: Sequence[Mapping[str, Any]] = entity.get(kind.lines) or []
    items = {str(ln.get("lineObjectNumber")) for ln in bc_lines if ln.get("lineType") == "Item"}
    units = await documents.item_units(conn, company, items)
    header = mirror_header(
        entity,
        kind.document_type,
        your_reference=str(old.get("your_reference") or ""),
        sales_id=old.get("sales_id"),
        revision=old.get("sales_revision"),
        quote_no=str(old.get("quote_no") or ""),
    )
    lines = mirror_lines(bc_lines, kind.document_type, copied_from=old_lines, units=units)
    where = {int(ln.get("sequence") or 0): str(ln.get("locationId") or EMPTY_GUID).lower() for ln in bc_lines}
    for line in lines:
        line["location_code"] = (locations or {}).get(where.get(line["line_no"], EMPTY_GUID), "")
        before = old_lines.get(line["line_no"])
        if before is not None and (before["type"], before["no"]) == (line["type"], line["no"]):
            line["sales_line_id"] = before["sales_line_id"]  # the Sales line it came from
    if existing is not None:
        same_lines = set(old_lines) == {ln["line_no"] for ln in lines} and not any(
            _differs(old_lines[ln["line_no"]], ln) for ln in lines
        )
        if same_lines and not _differs(old, {k: v for k, v in header.items() if k not in _KEPT}):
            return False
    await documents.store_document(conn, company, header, lines)
    return True


async def refresh(
    ctx: Context, kind: DocumentSet, *, whole: bool = False, since: dt.datetime | None = None
) -> dict[str, int]:
    """The documents changed in BC since the watermark (or ``since``, if earlier; all of them when
    ``whole``), page by page; with ``whole`` ours that BC no longer has are removed."""
    current = await ctx.read(kind.name)
    marks = [m for m in (current.watermark, since) if m is not None]
    mark = None if whole or not marks else min(marks)
    flt = gt("lastModifiedDateTime", mark - dt.timedelta(seconds=ctx.options.overlap)) if mark else None
    params = query(filter=flt, expand=kind.lines)
    # Ours made after this read began (the writer's newest) may be missing from it: they stay.
    started = dt.datetime.now(dt.UTC)
    written, seen, newest = 0, set(), current.watermark
    found = await ctx.bc.list_collection("locations", query(select=["id", "code"]))
    locations = {str(r["id"]).lower(): str(r["code"]) for r in found}
    async for page in ctx.bc.iter_pages(kind.name, params, page_size=ctx.options.page_size):
        stamps = [m for m in (parse_moment(e.get("lastModifiedDateTime")) for e in page.rows) if m is not None]
        newest = max([*stamps, *([newest] if newest else [])], default=None)
        async with write_transaction(ctx.engine) as conn:
            for entity in page.rows:
                seen.add(str(entity.get("number") or ""))
                written += await store_bc_document(conn, ctx.company, kind, entity, locations)
    removed = 0
    async with write_transaction(ctx.engine) as conn:
        if whole:
            h = t.sales_header
            ours = (
                await conn.execute(
                    h.select()
                    .with_only_columns(h.c.no)
                    .where(
                        h.c.company == ctx.company, h.c.document_type == kind.document_type, h.c.created_at < started
                    )
                )
            ).scalars()
            for no in [n for n in ours if n not in seen]:
                await documents.remove_document(conn, ctx.company, kind.document_type, no)
                removed += 1
        now = ctx.now()
        values: dict[str, Any] = {"watermark": newest, "last_success_at": now, "failures": 0, "phase": "ready"}
        if whole or not current.rows:
            values["rows"] = len(seen)
        if written or removed:
            values["last_change_at"] = now
        await state.save_state(conn, ctx.company, kind.name, **values)
    if written or removed:
        log.info("mirror: %d %s changed in Business Central, %d gone", written, kind.name, removed)
    return {"rows": len(seen), "changed": written, "removed": removed}


async def remove_by_ids(ctx: Context, kind: DocumentSet, ids: Sequence[str]) -> int:
    """Documents BC says it deleted (a ``deleted`` webhook names their ids)."""
    wanted = {i.lower() for i in ids}
    h = t.sales_header
    async with write_transaction(ctx.engine) as conn:
        rows = await conn.execute(
            h.select()
            .with_only_columns(h.c.no, h.c.system_id)
            .where(h.c.company == ctx.company, h.c.document_type == kind.document_type)
        )
        gone = [no for no, system_id in rows.all() if str(system_id).lower() in wanted]
        for no in gone:
            await documents.remove_document(conn, ctx.company, kind.document_type, no)
    return len(gone)


BY_SET = {kind.name: kind for kind in DOCUMENT_SETS}


async def refresh_all(ctx: Context, *, whole: bool = False) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind in DOCUMENT_SETS:
        try:
            out[kind.name] = await refresh(ctx, kind, whole=whole)
        except Exception as exc:
            await ctx.failed(kind.name, exc)
    return out
