"""Writing a real BC's master data into our BC tables (api mode: they are its read model).

One write function per table (``write_items``, ``write_customers``, ...): each takes rows as
column -> value (without ``company``), inserts or updates them in bulk (executemany of one
upsert), and returns the keys it wrote. ``changed_only`` compares with what is stored first and
writes only what differs, so a delta that re-reads unchanged rows (the watermark's overlap)
neither writes nor tells the caches anything. A ``system_modified_at`` column, where a table has
one, takes BC's ``lastModifiedDateTime`` (give it as ``system_modified_at``; dropped otherwise).

BC renames records (a new No. or Code, the same SystemId): a row whose ``system_id`` is already
stored under another key replaces that one; for an item, what hangs on the old number goes with
it (ledger entries, totals, units, variants) and the caller reloads the item's ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Table, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import tables as t
from schemas.db import is_sqlite
from schemas.master_data import new_id

Row = dict[str, Any]
CHUNK = 500  # keys per IN (...) (SQLite allows 32,766 variables; keep statements small)

# The BC tables of a company that a mirror owns, children first (the order deletes go in).
MIRRORED_TABLES: tuple[Table, ...] = (
    t.item_ledger_entry,
    t.item_location_inventory,
    t.item_inventory,
    t.item_unit_of_measure,
    t.item_variant,
    t.item,
    t.customer,
    t.resource,
    t.unit_of_measure,
    t.location,
    t.currency,
)


def _keys(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns if c.name != "company"]


def _fit(table: Table, row: Mapping[str, Any]) -> Row:
    """The row as the table takes it: unknown columns dropped, texts cut to the column's length
    (BC's field lengths are ours; a longer value is BC's exception, not worth failing a load)."""
    out: Row = {}
    for name, value in row.items():
        if name not in table.c:
            continue
        column = table.c[name]
        length = getattr(column.type, "length", None) if isinstance(column.type, String) else None
        out[name] = value[:length] if isinstance(value, str) and length else value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except ArithmeticError:
            return False
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a == b
    return bool(a == b)


async def _stored(conn: AsyncConnection, table: Table, company: str, keys: Sequence[tuple[Any, ...]]) -> dict[Any, Row]:
    names = _keys(table)
    out: dict[Any, Row] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        key_cols = [table.c[n] for n in names]
        cond = key_cols[0].in_([k[0] for k in chunk]) if len(names) == 1 else tuple_(*key_cols).in_(chunk)
        for row in (await conn.execute(select(table).where(table.c.company == company, cond))).all():
            values = dict(row._mapping)
            out[tuple(values[n] for n in names)] = values
    return out


def _upsert(conn: AsyncConnection, table: Table, columns: Iterable[str]) -> Any:
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(table)
    keys = ["company", *_keys(table)]
    updates = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates else stmt.on_conflict_do_nothing()


async def _write(
    conn: AsyncConnection, table: Table, company: str, rows: Iterable[Mapping[str, Any]], changed_only: bool
) -> list[tuple[Any, ...]]:
    names = _keys(table)
    fitted: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        fit = _fit(table, row)
        fitted[tuple(fit[n] for n in names)] = fit  # a later row of the same key wins
    if not fitted:
        return []
    if changed_only:
        stored = await _stored(conn, table, company, list(fitted))
        fitted = {
            k: r
            for k, r in fitted.items()
            if k not in stored or not all(_same(v, stored[k].get(c)) for c, v in r.items())
        }
        if not fitted:
            return []
    if "system_modified_at" in table.c:
        # BC changed these rows: the synchronisation's BC-side mark follows this time (an upsert
        # does not run the column's onupdate).
        now = dt.datetime.now(dt.UTC)
        fitted = {k: {**r, "system_modified_at": now} for k, r in fitted.items()}
    columns = sorted({c for r in fitted.values() for c in r})
    values = [{"company": company, **{c: r.get(c) for c in columns}} for r in fitted.values()]
    await conn.execute(_upsert(conn, table, columns), values)
    return list(fitted)


async def _renamed(conn: AsyncConnection, table: Table, company: str, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Stored rows whose system_id comes in under another key (BC renamed the record)."""
    names = _keys(table)
    incoming = {str(r["system_id"]).lower(): tuple(r[n] for n in names) for r in rows if r.get("system_id")}
    found: list[Row] = []
    ids = sorted(incoming)
    for start in range(0, len(ids), CHUNK):
        stmt = select(table).where(table.c.company == company, table.c.system_id.in_(ids[start : start + CHUNK]))
        for row in (await conn.execute(stmt)).all():
            values = dict(row._mapping)
            if tuple(values[n] for n in names) != incoming[values["system_id"]]:
                found.append(values)
    return found


async def drop_items(conn: AsyncConnection, company: str, item_nos: Iterable[str]) -> None:
    """Remove items and everything of theirs (ledger entries, totals, units, variants)."""
    nos = sorted(set(item_nos))
    for start in range(0, len(nos), CHUNK):
        chunk = nos[start : start + CHUNK]
        for table in (t.item_ledger_entry, t.item_location_inventory, t.item_inventory, t.item_unit_of_measure):
            await conn.execute(delete(table).where(table.c.company == company, table.c.item_no.in_(chunk)))
        await conn.execute(
            delete(t.item_variant).where(t.item_variant.c.company == company, t.item_variant.c.item_no.in_(chunk))
        )
        await conn.execute(delete(t.item).where(t.item.c.company == company, t.item.c.no.in_(chunk)))


async def write_items(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> tuple[list[str], list[str]]:
    """Items (no, system_id, description, type, base_unit_of_measure, unit_price, blocked): the
    numbers written, and those that replaced a renamed item (their ledger must be read again)."""
    renamed = await _renamed(conn, t.item, company, rows)
    await drop_items(conn, company, [r["no"] for r in renamed])
    written = await _write(conn, t.item, company, rows, changed_only)
    done = set(written)
    await _base_units(conn, company, [r for r in rows if (r["no"],) in done] if changed_only else rows)
    new_ids = {r["system_id"] for r in renamed}
    moved = [str(r["no"]) for r in rows if str(r.get("system_id", "")).lower() in new_ids]
    return [k[0] for k in written], moved


async def _base_units(conn: AsyncConnection, company: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Each item's base unit is one of its units, 1 per unit (BC keeps that row for every item;
    the API cannot show it, bc-api.md §3.3): so unit conversion works without page 5404."""
    pairs = {(str(r["no"]), str(r["base_unit_of_measure"])) for r in items if r.get("base_unit_of_measure")}
    if not pairs:
        return
    codes = {code for _no, code in pairs}
    have = await existing_keys(conn, t.unit_of_measure, company, codes)
    missing = [{"code": c, "description": c, "system_id": new_id()} for c in sorted(codes - have)]
    if missing:
        await _write(conn, t.unit_of_measure, company, missing, False)
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(t.item_unit_of_measure).on_conflict_do_nothing(index_elements=["company", "item_no", "code"])
    await conn.execute(
        stmt,
        [{"company": company, "item_no": no, "code": code, "qty_per_unit_of_measure": 1} for no, code in sorted(pairs)],
    )


async def base_units(conn: AsyncConnection, company: str) -> set[tuple[str, str]]:
    """(item no., base unit) of every item: rows page 5404 may leave out but stay."""
    rows = await conn.execute(select(t.item.c.no, t.item.c.base_unit_of_measure).where(t.item.c.company == company))
    return {(no, code) for no, code in rows.all() if code}


async def write_customers(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[str]:
    for old in await _renamed(conn, t.customer, company, rows):
        await conn.execute(delete(t.customer).where(t.customer.c.company == company, t.customer.c.no == old["no"]))
    return [k[0] for k in await _write(conn, t.customer, company, rows, changed_only)]


async def write_resources(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[str]:
    for old in await _renamed(conn, t.resource, company, rows):
        await conn.execute(delete(t.resource).where(t.resource.c.company == company, t.resource.c.no == old["no"]))
    return [k[0] for k in await _write(conn, t.resource, company, rows, changed_only)]


async def write_units(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[str]:
    iuom, uom = t.item_unit_of_measure, t.unit_of_measure
    for old in await _renamed(conn, uom, company, rows):
        # The item units of the old code go too; the next read of page 5404 brings them back renamed.
        await conn.execute(delete(iuom).where(iuom.c.company == company, iuom.c.code == old["code"]))
        await conn.execute(delete(uom).where(uom.c.company == company, uom.c.code == old["code"]))
    return [k[0] for k in await _write(conn, uom, company, rows, changed_only)]


async def write_locations(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[str]:
    return [k[0] for k in await _write(conn, t.location, company, rows, changed_only)]


async def write_currencies(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[str]:
    return [k[0] for k in await _write(conn, t.currency, company, rows, changed_only)]


async def write_item_variants(
    conn: AsyncConnection, company: str, rows: Sequence[Mapping[str, Any]], *, changed_only: bool = False
) -> list[tuple[Any, ...]]:
    for old in await _renamed(conn, t.item_variant, company, rows):
        v = t.item_variant
        await conn.execute(
            delete(v).where(v.c.company == company, v.c.item_no == old["item_no"], v.c.code == old["code"])
        )
    known = await existing_keys(conn, t.item, company, {r["item_no"] for r in rows})
    return await _write(conn, t.item_variant, company, [r for r in rows if r["item_no"] in known], changed_only)


async def write_item_units(
    conn: AsyncConnection,
    company: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    changed_only: bool = False,
    replace_items: Iterable[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Item units of measure (item_no, code, qty_per_unit_of_measure) of items we hold; the unit
    codes are made if missing. ``replace_items``: their other stored units are removed."""
    iuom = t.item_unit_of_measure
    known = await existing_keys(conn, t.item, company, {r["item_no"] for r in rows} | set(replace_items or ()))
    rows = [r for r in rows if r["item_no"] in known and Decimal(str(r["qty_per_unit_of_measure"])) > 0]
    codes = {r["code"] for r in rows}
    have = await existing_keys(conn, t.unit_of_measure, company, codes)
    # A unit only page 5404 names (not in unitsOfMeasure) still needs a row and an id.
    missing = [{"code": c, "description": c, "system_id": new_id()} for c in sorted(codes - have)]
    if missing:
        await _write(conn, t.unit_of_measure, company, missing, False)
    if replace_items is not None:
        keep = {(r["item_no"], r["code"]) for r in rows}
        nos = sorted(set(replace_items) & known)
        for start in range(0, len(nos), CHUNK):
            stored = await conn.execute(
                select(iuom.c.item_no, iuom.c.code).where(
                    iuom.c.company == company, iuom.c.item_no.in_(nos[start : start + CHUNK])
                )
            )
            for item_no, code in stored.all():
                if (item_no, code) not in keep:
                    await conn.execute(
                        delete(iuom).where(iuom.c.company == company, iuom.c.item_no == item_no, iuom.c.code == code)
                    )
    return await _write(conn, iuom, company, rows, changed_only)


WRITERS = {
    "item": write_items,
    "customer": write_customers,
    "resource": write_resources,
    "unit_of_measure": write_units,
    "location": write_locations,
    "currency": write_currencies,
    "item_variant": write_item_variants,
    "item_unit_of_measure": write_item_units,
}


async def existing_keys(conn: AsyncConnection, table: Table, company: str, keys: Iterable[Any]) -> set[Any]:
    """Which of the single-column keys the company's table holds."""
    (name,) = _keys(table)
    column = table.c[name]
    wanted = sorted(set(keys))
    found: set[Any] = set()
    for start in range(0, len(wanted), CHUNK):
        stmt = select(column).where(table.c.company == company, column.in_(wanted[start : start + CHUNK]))
        found.update((await conn.execute(stmt)).scalars())
    return found


async def keys_for_ids(conn: AsyncConnection, table: Table, company: str, system_ids: Iterable[str]) -> list[Any]:
    """The keys of the company's rows with these SystemIds (what a ``deleted`` webhook names)."""
    names = _keys(table)
    wanted = sorted({str(i).lower() for i in system_ids})
    out: list[Any] = []
    for start in range(0, len(wanted), CHUNK):
        stmt = select(*(table.c[n] for n in names)).where(
            table.c.company == company, table.c.system_id.in_(wanted[start : start + CHUNK])
        )
        out.extend(row[0] if len(names) == 1 else tuple(row) for row in (await conn.execute(stmt)).all())
    return out


async def item_numbers(conn: AsyncConnection, company: str) -> set[str]:
    return set((await conn.execute(select(t.item.c.no).where(t.item.c.company == company))).scalars())


async def read_rows(conn: AsyncConnection, table: Table, company: str) -> dict[Any, Row]:
    """Every row of the company's table by key (a 1-tuple key as its value): for reconciliation."""
    names = _keys(table)
    out: dict[Any, Row] = {}
    for row in (await conn.execute(select(table).where(table.c.company == company))).all():
        values = dict(row._mapping)
        key = tuple(values[n] for n in names)
        out[key[0] if len(key) == 1 else key] = values
    return out


async def delete_rows(conn: AsyncConnection, table: Table, company: str, keys: Iterable[Any]) -> int:
    """Remove rows by key (what BC deleted); an item takes its ledger, totals, units and variants."""
    names = _keys(table)
    wanted = sorted(set(keys))
    if not wanted:
        return 0
    if table is t.item:
        await drop_items(conn, company, wanted)
        return len(wanted)
    cols = [table.c[n] for n in names]
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        cond = cols[0].in_(chunk) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        if table is t.unit_of_measure:
            iuom = t.item_unit_of_measure
            await conn.execute(delete(iuom).where(iuom.c.company == company, iuom.c.code.in_(chunk)))
        await conn.execute(delete(table).where(table.c.company == company, cond))
    return len(wanted)


async def wipe_company(conn: AsyncConnection, company: str) -> None:
    """Empty the company's BC tables (not its couplings, documents or setup): a new source loads."""
    for table in MIRRORED_TABLES:
        await conn.execute(delete(table).where(table.c.company == company))


async def coupled_keys(conn: AsyncConnection, company: str) -> dict[int, dict[str, str]]:
    """BC table id -> record key -> the coupled integration id, for the records that are coupled."""
    cir = t.crm_integration_record
    out: dict[int, dict[str, str]] = {}
    for table_id, table in ((t.TABLE_ITEM, t.item), (t.TABLE_CUSTOMER, t.customer), (t.TABLE_RESOURCE, t.resource),
                            (t.TABLE_UNIT_OF_MEASURE, t.unit_of_measure)):  # fmt: skip
        key = table.c.code if "code" in table.c else table.c.no
        stmt = (
            select(key, cir.c.integration_id)
            .select_from(
                table.join(cir, (cir.c.company == table.c.company) & (cir.c.integration_id == table.c.system_id))
            )
            .where(table.c.company == company, cir.c.table_id == table_id)
        )
        out[table_id] = {k: i for k, i in (await conn.execute(stmt)).all()}
    return out


async def remap_couplings(conn: AsyncConnection, company: str, table_id: int, old_ids: Mapping[str, str]) -> int:
    """Point couplings at BC's ids: a record coupled under its old id (by key) gets the id the
    mirror now holds for that key. Returns how many couplings moved."""
    table = {t.TABLE_ITEM: t.item, t.TABLE_CUSTOMER: t.customer, t.TABLE_RESOURCE: t.resource,
             t.TABLE_UNIT_OF_MEASURE: t.unit_of_measure}[table_id]  # fmt: skip
    key = table.c.code if "code" in table.c else table.c.no
    cir = t.crm_integration_record
    moved = 0
    wanted = sorted(old_ids)
    for start in range(0, len(wanted), CHUNK):
        stmt = select(key, table.c.system_id).where(table.c.company == company, key.in_(wanted[start : start + CHUNK]))
        for record_key, current in (await conn.execute(stmt)).all():
            old = old_ids[record_key]
            if old != current:
                result = await conn.execute(
                    update(cir)
                    .where(cir.c.company == company, cir.c.table_id == table_id, cir.c.integration_id == old)
                    .values(integration_id=current)
                )
                moved += result.rowcount or 0
    return moved
