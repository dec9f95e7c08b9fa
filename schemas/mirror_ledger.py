"""Item ledger entries mirrored from a real BC, with their running totals (SIFT) kept per batch.

A batch is the entries after the ledger's watermark (BC's Entry No.), in order. It is inserted in
bulk (executemany; COPY on PostgreSQL for large batches) and then added to ``item_inventory`` and
``item_location_inventory`` by one ``INSERT ... SELECT SUM ... GROUP BY ... ON CONFLICT DO UPDATE``
over exactly the batch's Entry No. range: set-based, in the same transaction as the entries, the
change-feed rows and the watermark, so totals never disagree with the entries whatever stops where.

Entries keep BC's number in ``bc_entry_no``; ``entry_no`` stays our own key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.db import is_sqlite
from schemas.types import Decimal5

LEDGER_COLUMNS = (
    "bc_entry_no",
    "item_no",
    "location_code",
    "variant_code",
    "posting_date",
    "entry_type",
    "document_no",
    "description",
    "quantity",
)
COPY_FROM = 2_000  # entries per batch from which PostgreSQL gets them by COPY
CHUNK = 500


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    entries: int  # how many were applied
    last_entry_no: int  # the new watermark
    item_nos: frozenset[str]  # the items whose inventory moved


async def _insert_entries(conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not is_sqlite(conn) and len(rows) >= COPY_FROM:
        # COPY goes through the driver's connection, inside the transaction SQLAlchemy began (a
        # statement has run on it already: the transaction is open, so the COPY is part of it).
        await conn.execute(select(literal(1)))
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        records = [(company, *(r[c] for c in LEDGER_COLUMNS)) for r in rows]
        await driver.copy_records_to_table("item_ledger_entry", records=records, columns=["company", *LEDGER_COLUMNS])
        return
    await conn.execute(
        insert(t.item_ledger_entry), [{"company": company, **{c: r[c] for c in LEDGER_COLUMNS}} for r in rows]
    )


def _sums_into(conn: AsyncConnection, target: Table, by_location: bool, where: Any, *, add: bool) -> Any:
    """INSERT INTO target (keys, inventory) SELECT keys, SUM(quantity) FROM entries WHERE ... GROUP BY
    keys ON CONFLICT DO UPDATE: add to the stored inventory, or set it."""
    ile = t.item_ledger_entry
    keys = [ile.c.company, ile.c.item_no, *([ile.c.location_code] if by_location else [])]
    total = func.coalesce(func.sum(ile.c.quantity), literal(0, Decimal5), type_=Decimal5)
    source = select(*keys, total).where(where).group_by(*keys)
    names = ["company", "item_no", *(["location_code"] if by_location else []), "inventory"]
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(target).from_select(names, source)
    new = stmt.excluded.inventory
    return stmt.on_conflict_do_update(
        index_elements=names[:-1], set_={"inventory": target.c.inventory + new if add else new}
    )


async def apply_ledger_batch(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], after: int, *, item_feed: bool = True
) -> LedgerBatch:
    """Insert the entries numbered after ``after`` (the watermark) and add them to the totals.

    ``item_feed``: write a change-feed row per item touched (the answer caches drop exactly those);
    off for the initial load, which tells the caches once per batch instead."""
    fresh = sorted((r for r in rows if int(r["bc_entry_no"]) > after), key=lambda r: int(r["bc_entry_no"]))
    if not fresh:
        return LedgerBatch(0, after, frozenset())
    last = int(fresh[-1]["bc_entry_no"])
    await _insert_entries(conn, company, fresh)
    ile = t.item_ledger_entry
    batch = and_(ile.c.company == company, ile.c.bc_entry_no > after, ile.c.bc_entry_no <= last)
    await conn.execute(_sums_into(conn, t.item_inventory, False, batch, add=True))
    await conn.execute(_sums_into(conn, t.item_location_inventory, True, batch, add=True))
    items = frozenset(str(r["item_no"]) for r in fresh)
    if item_feed:
        await changes.record_items(conn, company, set(items))
    return LedgerBatch(len(fresh), last, items)


async def recompute_totals(conn: AsyncConnection, company: str, item_nos: Iterable[str] | None = None) -> None:
    """Set the inventory totals from the stored entries (all the company's items when None);
    quantities on sales orders are left as they are."""
    ile = t.item_ledger_entry
    nos = None if item_nos is None else sorted(set(item_nos))
    chunks: list[list[str] | None] = [None] if nos is None else [nos[i : i + CHUNK] for i in range(0, len(nos), CHUNK)]
    for chunk in chunks:
        for target, by_location in ((t.item_inventory, False), (t.item_location_inventory, True)):
            reset = update(target).where(target.c.company == company)
            where = ile.c.company == company
            if chunk is not None:
                reset = reset.where(target.c.item_no.in_(chunk))
                where = and_(where, ile.c.item_no.in_(chunk))
            await conn.execute(reset.values(inventory=0))
            await conn.execute(_sums_into(conn, target, by_location, where, add=False))
    if item_nos is not None:
        await changes.record_items(conn, company, set(nos or ()))


async def replace_item_entries(
    conn: AsyncConnection, company: str, item_nos: Iterable[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """The items' entries as BC has them (up to the watermark), and their totals from those."""
    ile = t.item_ledger_entry
    nos = sorted(set(item_nos))
    for start in range(0, len(nos), CHUNK):
        await conn.execute(delete(ile).where(ile.c.company == company, ile.c.item_no.in_(nos[start : start + CHUNK])))
    if rows:
        await _insert_entries(conn, company, rows)
    await recompute_totals(conn, company, nos)


async def wipe_ledger(conn: AsyncConnection, company: str) -> None:
    """No entries, inventory 0 (the ledger loads again from another source)."""
    await conn.execute(delete(t.item_ledger_entry).where(t.item_ledger_entry.c.company == company))
    for target in (t.item_inventory, t.item_location_inventory):
        await conn.execute(update(target).where(target.c.company == company).values(inventory=0))
    await changes.record(conn, changes.MASTER, company=company)


async def inventories(conn: AsyncConnection, company: str) -> dict[str, Decimal]:
    """Item no. -> the inventory total we hold."""
    inv = t.item_inventory
    rows = (await conn.execute(select(inv.c.item_no, inv.c.inventory).where(inv.c.company == company))).all()
    return {no: Decimal(str(q)) for no, q in rows}


async def entry_count(conn: AsyncConnection, company: str) -> int:
    ile = t.item_ledger_entry
    return int((await conn.execute(select(func.count()).select_from(ile).where(ile.c.company == company))).scalar_one())


async def analyse(conn: AsyncConnection) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL; SQLite's ANALYZE too)."""
    await conn.execute(text("ANALYZE"))


async def analyse_growing(conn: AsyncConnection, tables: Sequence[Table], pages: int) -> None:
    """During a bulk load on PostgreSQL, after pages 1, 2, 4, 8, ...: the planner's statistics of
    tables that grew from empty. Without it the planner still takes them for empty and scans them
    whole for every page's look-ups (each page slower than the one before)."""
    if is_sqlite(conn) or pages & (pages - 1):
        return
    for table in tables:
        await conn.execute(text(f'ANALYZE "{table.name}"'))
