"""The item ledger: loaded, then polled by ``Entry No. gt N`` (bc-api.md §3.3, §7.3).

The source is page 38 "Item Ledger Entries" published as a web service when the setup names it
(it has ``Location_Code`` and ``Variant_Code``: stock per location, bc-api.md §3.4, §9), else the
API's ``itemLedgerEntries`` (no location: every entry counts at location ""). Entry numbers only
grow, so the watermark is the highest one applied. Each page of new entries is applied with its
running totals, the change-feed rows of its items (the answer caches drop exactly those) and the
new watermark in one transaction (schemas/mirror_ledger.py); the initial load is the same read from
0, with a progress bar and one cache notice per page instead of one per item.

An entry names an item we may not hold yet (created in BC since the last items delta): the item
is read from the API first.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orders.bc_link.mirror.context import Context, Progress
from orders.bc_link.mirror.entities import (
    API_LEDGER_SELECT,
    ITEMS,
    LEDGER,
    PAGE_LEDGER_SELECT,
    api_ledger_row,
    page_ledger_row,
)
from orders.bc_link.odata import and_, any_of, gt, le, query
from orders.bc_link.shapes import BcPage
from schemas import change_log as changes
from schemas import mirror_ledger as ledger_store
from schemas import mirror_state as state
from schemas import mirror_store as store
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")
ITEMS_PER_FILTER = 20  # numbers per `(number eq 'a' or ...)`: keeps the URL short
GROWN = (t.item_ledger_entry, t.item_inventory, t.item_location_inventory)  # by the initial load


@dataclass(frozen=True, slots=True)
class LedgerSource:
    service: str  # "" = the API's itemLedgerEntries
    entry_field: str
    item_field: str
    select: tuple[str, ...]
    to_row: Callable[[Mapping[str, Any]], dict[str, Any]]

    @property
    def has_locations(self) -> bool:
        return bool(self.service)


def ledger_source(service: str) -> LedgerSource:
    if service:
        return LedgerSource(service, "Entry_No", "Item_No", PAGE_LEDGER_SELECT, page_ledger_row)
    return LedgerSource("", "entryNumber", "itemNumber", API_LEDGER_SELECT, api_ledger_row)


async def _pages(ctx: Context, source: LedgerSource, filter: str | None) -> AsyncIterator[BcPage]:
    params = query(filter=filter, select=list(source.select), orderby=source.entry_field)
    if source.service:
        start = await ctx.bc.web_service_url(source.service, params)
        async for page in ctx.bc.iter_pages(source.service, page_size=ctx.options.page_size, start=start):
            yield page
    else:
        async for page in ctx.bc.iter_pages(LEDGER, params, page_size=ctx.options.page_size):
            yield page


async def fetch_items(ctx: Context, numbers: Iterable[str]) -> list[str]:
    """Read items from the API and store them (with their base units); the numbers stored."""
    wanted = sorted(set(numbers))
    stored: list[str] = []
    for start in range(0, len(wanted), ITEMS_PER_FILTER):
        chunk = wanted[start : start + ITEMS_PER_FILTER]
        raw = await ctx.bc.list_collection(ITEMS.name, query(filter=any_of("number", chunk), select=list(ITEMS.select)))
        rows = [ITEMS.to_row(r) for r in raw]
        async with write_transaction(ctx.engine) as conn:
            written, _moved = await store.write_items(conn, ctx.company, rows)
            await changes.record(conn, changes.MASTER, company=ctx.company)
        stored.extend(written)
    if ctx.known_items is not None:
        ctx.known_items.update(stored)
    return stored


async def _ensure_items(ctx: Context, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """The item numbers of these entries that we hold (missing ones read from BC first)."""
    numbers = {str(r["item_no"]) for r in rows}
    if ctx.known_items is not None:
        have = numbers & ctx.known_items
    else:
        async with ctx.engine.connect() as conn:
            have = await store.existing_keys(conn, t.item, ctx.company, numbers)
    missing = numbers - have
    if missing:
        have |= set(await fetch_items(ctx, missing))
    return have


async def catch_up(ctx: Context, *, progress: Progress | None = None) -> int:
    """Apply every entry BC has after our watermark; how many were applied.

    With ``progress`` (the initial load) the caches are told once per page, not per item."""
    source = ledger_source(ctx.pages.ledger_entries)
    current = await ctx.read(LEDGER)
    after = current.last_entry_no
    applied = 0
    pages = 0
    bulk = progress is not None
    if bulk and ctx.known_items is None:
        async with ctx.engine.connect() as conn:
            ctx.known_items = await store.item_numbers(conn, ctx.company)
    try:
        async for page in _pages(ctx, source, gt(source.entry_field, after)):
            rows = [source.to_row(r) for r in page.rows]
            have = await _ensure_items(ctx, rows)
            orphans = [r for r in rows if r["item_no"] not in have]
            if orphans:
                # BC would not have posted them; they cannot be stored without their item.
                log.warning("mirror: %d ledger entries name items BC does not return (e.g. %s); skipped",
                            len(orphans), orphans[0]["item_no"])  # fmt: skip
                ctx.notes.append(f"{len(orphans)} ledger entries skipped: item {orphans[0]['item_no']} not found")
            keep = [r for r in rows if r["item_no"] in have]
            last_in_page = max((int(r["bc_entry_no"]) for r in rows), default=after)
            async with write_transaction(ctx.engine) as conn:
                batch = await ledger_store.apply_ledger_batch(conn, ctx.company, keep, after, item_feed=not bulk)
                new_after = max(batch.last_entry_no, last_in_page)
                now = ctx.now()
                values: dict[str, Any] = {
                    "last_entry_no": new_after,
                    "last_success_at": now,
                    "source": ctx.page_source(source.service),
                }
                if batch.entries:
                    values.update(
                        last_change_at=now, rows=current.rows + applied + batch.entries, loaded=applied + batch.entries
                    )
                    if bulk:
                        await changes.record(conn, changes.MASTER, company=ctx.company)
                await state.save_state(conn, ctx.company, LEDGER, **values)
            after = new_after
            applied += batch.entries
            if progress is not None:
                progress.update(len(rows))
                pages += 1
                async with ctx.engine.begin() as conn:
                    await ledger_store.analyse_growing(conn, GROWN, pages)
    finally:
        if bulk:
            ctx.known_items = None
    if not applied:
        await ctx.save(LEDGER, last_success_at=ctx.now(), source=ctx.page_source(source.service))
    return applied


async def load_ledger(ctx: Context) -> None:
    """The initial load of the ledger (resumable: it continues after the watermark)."""
    current = await ctx.read(LEDGER)
    if current.ready:
        return
    source = ledger_source(ctx.pages.ledger_entries)
    await ctx.save(LEDGER, phase="loading", source=ctx.page_source(source.service),
                   load_started_at=current.load_started_at or ctx.now())  # fmt: skip
    total = None
    try:
        if not source.service:
            response = await ctx.bc.request("GET", f"{LEDGER}/$count")
            total = int(str(response.body).strip())
    except Exception:  # a count is only for the bar
        total = None
    bar = ctx.progress(source.service or LEDGER, total)
    bar.update(current.rows)
    try:
        await catch_up(ctx, progress=bar)
    finally:
        bar.close()
    async with write_transaction(ctx.engine) as conn:
        now = ctx.now()
        count = await ledger_store.entry_count(conn, ctx.company)
        await state.save_state(conn, ctx.company, LEDGER, phase="ready", rows=count, load_finished_at=now,
                               last_reconciled_at=now)  # fmt: skip
        await changes.record(conn, changes.MASTER, company=ctx.company)
    if ctx.engine.dialect.name == "postgresql":
        async with ctx.engine.begin() as conn:
            await ledger_store.analyse(conn)


async def reload_items_ledger(ctx: Context, item_nos: Iterable[str]) -> int:
    """Read the items' entries again (up to our watermark: later ones come by the poll) and
    recompute their totals from them: the repair of a renamed item or of drift."""
    source = ledger_source(ctx.pages.ledger_entries)
    wanted = sorted(set(item_nos))
    current = await ctx.read(LEDGER)
    upto = current.last_entry_no
    count = 0
    for start in range(0, len(wanted), ITEMS_PER_FILTER):
        chunk = wanted[start : start + ITEMS_PER_FILTER]
        rows: list[dict[str, Any]] = []
        async for page in _pages(ctx, source, and_(any_of(source.item_field, chunk), le(source.entry_field, upto))):
            rows.extend(source.to_row(r) for r in page.rows)
        async with write_transaction(ctx.engine) as conn:
            held = await store.existing_keys(conn, t.item, ctx.company, chunk)
            await ledger_store.replace_item_entries(conn, ctx.company, held, [r for r in rows if r["item_no"] in held])
        count += len(rows)
    return count
