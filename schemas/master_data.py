"""Master data: companies, items and their units, locations, customers, resources, couplings."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.db import insert_ignore
from schemas.types import normalise_guid


class MasterDataError(ValueError):
    """A change BC would refuse; the message says why, in BC's words where BC has them."""


# Coupling kinds: CLI word -> (BC table id, BC table, caption).
COUPLING_KINDS: dict[str, tuple[int, Any, str]] = {
    "item": (t.TABLE_ITEM, t.item, "Item"),
    "customer": (t.TABLE_CUSTOMER, t.customer, "Customer"),
    "resource": (t.TABLE_RESOURCE, t.resource, "Resource"),
    "unit": (t.TABLE_UNIT_OF_MEASURE, t.unit_of_measure, "Unit of Measure"),
}


def new_id() -> str:
    return str(uuid.uuid4())


def _key_column(table: Any) -> Any:
    return table.c.code if "code" in table.c else table.c.no


async def ensure_company(conn: AsyncConnection, name: str, display_name: str = "") -> bool:
    """Create the company if missing; True when it was created."""
    found = (await conn.execute(select(t.company.c.name).where(t.company.c.name == name))).first()
    if found:
        return False
    await conn.execute(t.company.insert().values(name=name, display_name=display_name or name, system_id=new_id()))
    await changes.record(conn, changes.COMPANY, company=name)
    return True


async def require_company(conn: AsyncConnection, name: str) -> None:
    found = (await conn.execute(select(t.company.c.name).where(t.company.c.name == name))).first()
    if not found:
        raise MasterDataError(f"The company '{name}' does not exist; run 'bc-gateway init' (or init --demo) first.")


async def ensure_unit(conn: AsyncConnection, company: str, code: str, description: str = "") -> None:
    if not code:
        return
    await conn.execute(
        insert_ignore(conn, t.unit_of_measure, ["company", "code"]).values(
            company=company, code=code, description=description or code, system_id=new_id()
        )
    )


async def ensure_location(conn: AsyncConnection, company: str, code: str, name: str = "") -> None:
    await conn.execute(
        insert_ignore(conn, t.location, ["company", "code"]).values(company=company, code=code, name=name or code)
    )


async def ensure_currency(conn: AsyncConnection, company: str, code: str, description: str = "") -> None:
    await conn.execute(
        insert_ignore(conn, t.currency, ["company", "code"]).values(
            company=company, code=code, description=description or code
        )
    )


async def upsert_unit_of_measure(conn: AsyncConnection, company: str, code: str, description: str = "") -> bool:
    """Create or update a Unit of Measure (BC's table 204); True when created."""
    code = _check_code(code)
    table = t.unit_of_measure
    where = (table.c.company == company, table.c.code == code)
    if (await conn.execute(select(table.c.code).where(*where))).first():
        if description:
            await conn.execute(update(table).where(*where).values(description=description))
        await changes.record(conn, changes.MASTER, company=company)
        return False
    await conn.execute(
        table.insert().values(company=company, code=code, description=description or code, system_id=new_id())
    )
    await changes.record(conn, changes.MASTER, company=company)
    return True


async def upsert_currency(conn: AsyncConnection, company: str, code: str, description: str = "") -> bool:
    """Create or update a Currency; True when created."""
    code = _check_code(code)
    where = (t.currency.c.company == company, t.currency.c.code == code)
    if (await conn.execute(select(t.currency.c.code).where(*where))).first():
        if description:
            await conn.execute(update(t.currency).where(*where).values(description=description))
        return False
    await conn.execute(t.currency.insert().values(company=company, code=code, description=description or code))
    return True


async def require_unit_of_measure(conn: AsyncConnection, company: str, code: str) -> None:
    """BC's TableRelation to Unit of Measure: an unknown code is refused with BC's message."""
    table = t.unit_of_measure
    found = await conn.execute(select(table.c.code).where(table.c.company == company, table.c.code == code))
    if found.first() is None:
        raise MasterDataError(_missing_unit_of_measure(code))


def _missing_unit_of_measure(code: str) -> str:
    return f"The Unit of Measure does not exist. Identification fields and values: Code='{code}'"


async def require_currency(conn: AsyncConnection, company: str, code: str) -> None:
    """BC's TableRelation to Currency: an unknown code is refused with BC's message."""
    found = await conn.execute(
        select(t.currency.c.code).where(t.currency.c.company == company, t.currency.c.code == code)
    )
    if found.first() is None:
        raise MasterDataError(f"The Currency does not exist. Identification fields and values: Code='{code}'")


def _check_code(code: str) -> str:
    value = code.strip()
    if not value:
        raise MasterDataError("Code must have a value.")
    if len(value) > 10:
        raise MasterDataError(
            f"The length of the string is {len(value)}, but it must be less than or equal to 10 characters. "
            f"Value: {value}"
        )
    return value


def _check_no(no: str, what: str = "No.") -> str:
    value = no.strip()
    if not value:
        raise MasterDataError(f"{what} must have a value.")
    if len(value) > 20:
        raise MasterDataError(
            f"The length of the string is {len(value)}, but it must be less than or equal to "
            f"20 characters. Value: {value}"
        )
    return value


async def upsert_item(conn: AsyncConnection, company: str, no: str, **values: Any) -> bool:
    """Create or update an item; columns not given keep their value. True when created.

    The base unit must be a Unit of Measure (BC's message otherwise) and gets an item unit of
    measure with 1 per unit, as BC's item card does.
    """
    no = _check_no(no)
    _check_item_values(values)
    if values.get("base_unit_of_measure"):
        await require_unit_of_measure(conn, company, values["base_unit_of_measure"])
    created = await _upsert_simple(conn, t.item, company, no, values)
    if values.get("base_unit_of_measure"):
        await set_item_unit(conn, company, no, values["base_unit_of_measure"], Decimal(1))
    return created


def _check_item_values(values: dict[str, Any]) -> None:
    if "type" in values and values["type"] not in t.ITEM_TYPES:
        raise MasterDataError(f"Type must be one of {', '.join(t.ITEM_TYPES)}; '{values['type']}' is not.")
    if values.get("unit_price") is not None and values["unit_price"] < 0:
        raise MasterDataError("Unit Price must not be negative.")


async def create_items(
    conn: AsyncConnection, company: str, rows: Sequence[tuple[str, dict[str, Any]]]
) -> list[str | None] | None:
    """Create many new items at once (the CSV import): per row None when created, or the refusal
    upsert_item gives, checked in its order. None for the whole batch when it cannot be done in
    bulk (an item that exists already, or one number twice): the caller then goes row by row."""
    codes = {v["base_unit_of_measure"] for _no, v in rows if v.get("base_unit_of_measure")}
    uom = t.unit_of_measure
    known: set[str] = set()
    if codes:
        query = select(uom.c.code).where(uom.c.company == company, uom.c.code.in_(codes))
        known = set((await conn.execute(query)).scalars())
    outcome: list[str | None] = []
    good: list[tuple[str, dict[str, Any]]] = []
    for no, values in rows:
        try:
            no = _check_no(no)
            _check_item_values(values)
            if values.get("base_unit_of_measure") and values["base_unit_of_measure"] not in known:
                raise MasterDataError(_missing_unit_of_measure(values["base_unit_of_measure"]))
            _check_lengths(t.item, values)
        except MasterDataError as exc:
            outcome.append(str(exc))
            continue
        outcome.append(None)
        good.append((no, values))
    nos = [no for no, _v in good]
    if len(set(nos)) != len(nos):
        return None
    if nos:
        query = select(t.item.c.no).where(t.item.c.company == company, t.item.c.no.in_(nos)).limit(1)
        if (await conn.execute(query)).first() is not None:
            return None
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for no, values in good:  # executemany needs the same columns in every row: empty cells keep defaults
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"company": company, "no": no, "system_id": new_id(), **values}
        )
    for batch in by_columns.values():
        await conn.execute(t.item.insert(), batch)
    units = [
        {"company": company, "item_no": no, "code": v["base_unit_of_measure"], "qty_per_unit_of_measure": Decimal(1)}
        for no, v in good
        if v.get("base_unit_of_measure")
    ]
    if units:  # as set_item_unit does for a new item's base unit: 1 per unit
        await conn.execute(t.item_unit_of_measure.insert(), units)
    if good:
        await changes.record(conn, changes.MASTER, company=company)
    return outcome


async def set_item_unit(conn: AsyncConnection, company: str, item_no: str, code: str, qty: Decimal) -> None:
    """BC's Item Unit of Measure: checked field by field as BC validates them (Item No., Code,
    Qty. per Unit of Measure), each with BC's message."""
    found = (
        await conn.execute(
            select(t.item.c.base_unit_of_measure).where(t.item.c.company == company, t.item.c.no == item_no)
        )
    ).first()
    if found is None:
        raise MasterDataError(f"The Item does not exist. Identification fields and values: No.='{item_no}'")
    await require_unit_of_measure(conn, company, code)
    if qty <= 0:
        raise MasterDataError("Qty. per Unit of Measure must be greater than 0.")
    if found.base_unit_of_measure == code and qty != 1:
        raise MasterDataError("The base unit of measure must have a Qty. per Unit of Measure of 1.")
    iuom = t.item_unit_of_measure
    where = (iuom.c.company == company, iuom.c.item_no == item_no, iuom.c.code == code)
    if (await conn.execute(select(iuom.c.code).where(*where))).first():
        await conn.execute(update(iuom).where(*where).values(qty_per_unit_of_measure=qty))
    else:
        await conn.execute(
            iuom.insert().values(company=company, item_no=item_no, code=code, qty_per_unit_of_measure=qty)
        )
    await changes.record(conn, changes.MASTER, company=company)


async def upsert_customer(conn: AsyncConnection, company: str, no: str, **values: Any) -> bool:
    no = _check_no(no)
    if values.get("currency_code"):
        await require_currency(conn, company, values["currency_code"])
    return await _upsert_simple(conn, t.customer, company, no, values)


async def upsert_resource(conn: AsyncConnection, company: str, no: str, **values: Any) -> bool:
    no = _check_no(no)
    if values.get("base_unit_of_measure"):
        await require_unit_of_measure(conn, company, values["base_unit_of_measure"])
    return await _upsert_simple(conn, t.resource, company, no, values)


def _check_lengths(table: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        col = table.c[name]
        length = getattr(col.type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            raise MasterDataError(f"{name.replace('_', ' ').title()} can have at most {length} characters.")


async def _upsert_simple(conn: AsyncConnection, table: Any, company: str, no: str, values: dict[str, Any]) -> bool:
    _check_lengths(table, values)
    where = (table.c.company == company, table.c.no == no)
    exists = (await conn.execute(select(table.c.no).where(*where))).first()
    if exists:
        if values:
            await conn.execute(update(table).where(*where).values(**values))
    else:
        await conn.execute(table.insert().values(company=company, no=no, system_id=new_id(), **values))
    await changes.record(conn, changes.MASTER, company=company)
    return exists is None


async def record_exists(conn: AsyncConnection, company: str, kind: str, bc_no: str) -> bool:
    """Whether the company has the item, customer, resource or unit (a COUPLING_KINDS word)."""
    _table_id, table, _caption = COUPLING_KINDS[kind]
    key = _key_column(table)
    return (await conn.execute(select(key).where(table.c.company == company, key == bc_no))).first() is not None


async def _record_system_id(conn: AsyncConnection, kind: str, company: str, bc_no: str) -> str:
    _table_id, table, caption = COUPLING_KINDS[kind]
    key = _key_column(table)
    row = (await conn.execute(select(table.c.system_id).where(table.c.company == company, key == bc_no))).first()
    if row is None:
        raise MasterDataError(_missing_record(table, caption, bc_no))
    return row.system_id


def _missing_record(table: Any, caption: str, bc_no: str) -> str:
    field = "Code" if "code" in table.c else "No."
    return f"The {caption} does not exist. Identification fields and values: {field}='{bc_no}'"


def _coupled_elsewhere(caption: str, bc_no: str, crm_id: str) -> str:
    return f"{caption} {bc_no} is already coupled to the Dynamics 365 Sales record {crm_id}; uncouple it first."


def _crm_id_taken(caption: str, crm_id: str) -> str:
    return f"The Dynamics 365 Sales record {crm_id} is already coupled to another {caption.lower()}."


def _guid(sales_id: str) -> str:
    try:
        return normalise_guid(sales_id)
    except ValueError:
        raise MasterDataError(f"'{sales_id}' is not a valid Dynamics 365 Sales id (a GUID).") from None


async def couple_many(
    conn: AsyncConnection, company: str, rows: Sequence[tuple[str, str, str]]
) -> list[str | None] | None:
    """Couple many records at once (the CSV import): rows of (kind, BC number, Sales id); per row
    None when coupled (or already coupled so), or couple's refusal, checked in its order. None
    for the whole batch when one record or Sales id comes twice: the caller goes row by row."""
    cir = t.crm_integration_record
    parsed: list[tuple[str, str, str] | str] = []
    for kind, bc_no, sales_id in rows:
        if kind not in COUPLING_KINDS:
            parsed.append(f"Cannot couple '{kind}': use one of {', '.join(COUPLING_KINDS)}.")
            continue
        try:
            parsed.append((kind, bc_no, _guid(sales_id)))
        except MasterDataError as exc:
            parsed.append(str(exc))
    wanted = [p for p in parsed if isinstance(p, tuple)]
    system_ids: dict[tuple[str, str], str] = {}
    for kind in {k for k, _no, _id in wanted}:
        _table_id, table, _caption = COUPLING_KINDS[kind]
        key = _key_column(table)
        nos = {no for k, no, _id in wanted if k == kind}
        query = select(key, table.c.system_id).where(table.c.company == company, key.in_(nos))
        system_ids.update({(kind, no): sid for no, sid in (await conn.execute(query)).all()})
    mine: dict[tuple[int, str], str] = {}  # (table id, system id) -> coupled Sales id
    theirs: set[tuple[int, str]] = set()  # (table id, Sales id) coupled to something
    if wanted:
        sids = set(system_ids.values())
        crm_ids = {crm for _k, _no, crm in wanted}
        if sids:
            query = select(cir.c.table_id, cir.c.integration_id, cir.c.crm_id).where(
                cir.c.company == company, cir.c.integration_id.in_(sids)
            )
            mine = {(tid, sid): crm for tid, sid, crm in (await conn.execute(query)).all()}
        query = select(cir.c.table_id, cir.c.crm_id).where(cir.c.company == company, cir.c.crm_id.in_(crm_ids))
        theirs = {(tid, crm) for tid, crm in (await conn.execute(query)).all()}
    outcome: list[str | None] = []
    new: list[dict[str, Any]] = []
    seen_records: set[tuple[int, str]] = set()
    seen_ids: set[tuple[int, str]] = set()
    now = dt.datetime.now(dt.UTC)
    for p in parsed:
        if isinstance(p, str):
            outcome.append(p)
            continue
        kind, bc_no, crm_id = p
        table_id, table, caption = COUPLING_KINDS[kind]
        sid = system_ids.get((kind, bc_no))
        if sid is None:
            outcome.append(_missing_record(table, caption, bc_no))
            continue
        if (table_id, sid) in seen_records or (table_id, crm_id) in seen_ids:
            return None  # the second would see the first: row by row tells them apart
        seen_records.add((table_id, sid))
        seen_ids.add((table_id, crm_id))
        coupled = mine.get((table_id, sid))
        if coupled is not None:
            outcome.append(None if coupled == crm_id else _coupled_elsewhere(caption, bc_no, coupled))
            continue
        if (table_id, crm_id) in theirs:
            outcome.append(_crm_id_taken(caption, crm_id))
            continue
        outcome.append(None)
        new.append(
            {"company": company, "crm_id": crm_id, "table_id": table_id, "integration_id": sid, "coupled_at": now}
        )
    if new:
        await conn.execute(cir.insert(), new)
        await changes.record(conn, changes.MASTER, company=company)
    return outcome


async def couple(conn: AsyncConnection, company: str, kind: str, bc_no: str, sales_id: str) -> None:
    """Couple a BC record to a Sales row (BC's "Couple to Dynamics 365 Sales")."""
    if kind not in COUPLING_KINDS:
        raise MasterDataError(f"Cannot couple '{kind}': use one of {', '.join(COUPLING_KINDS)}.")
    crm_id = _guid(sales_id)
    table_id, _table, caption = COUPLING_KINDS[kind]
    system_id = await _record_system_id(conn, kind, company, bc_no)
    cir = t.crm_integration_record
    mine = (
        await conn.execute(
            select(cir.c.crm_id).where(
                cir.c.company == company,
                cir.c.table_id == table_id,
                cir.c.integration_id == system_id,
            )
        )
    ).first()
    if mine is not None:
        if mine.crm_id == crm_id:
            return
        raise MasterDataError(_coupled_elsewhere(caption, bc_no, mine.crm_id))
    other = (
        await conn.execute(
            select(cir.c.integration_id).where(
                cir.c.company == company, cir.c.table_id == table_id, cir.c.crm_id == crm_id
            )
        )
    ).first()
    if other is not None:
        raise MasterDataError(_crm_id_taken(caption, crm_id))
    await conn.execute(
        cir.insert().values(
            company=company,
            crm_id=crm_id,
            table_id=table_id,
            integration_id=system_id,
            coupled_at=dt.datetime.now(dt.UTC),
        )
    )
    await changes.record(conn, changes.MASTER, company=company)


async def uncouple(conn: AsyncConnection, company: str, kind: str, bc_no: str) -> None:
    if kind not in COUPLING_KINDS:
        raise MasterDataError(f"Cannot uncouple '{kind}': use one of {', '.join(COUPLING_KINDS)}.")
    table_id, _table, caption = COUPLING_KINDS[kind]
    system_id = await _record_system_id(conn, kind, company, bc_no)
    cir = t.crm_integration_record
    result = await conn.execute(
        delete(cir).where(cir.c.company == company, cir.c.table_id == table_id, cir.c.integration_id == system_id)
    )
    if result.rowcount == 0:
        raise MasterDataError(f"{caption} {bc_no} is not coupled to a record in Dynamics 365 Sales.")
    await changes.record(conn, changes.MASTER, company=company)
