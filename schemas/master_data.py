"""Master data: companies, items and their units, locations, customers, resources, couplings."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.bulk import among, insert_many, upsert_many
from schemas.db import in_chunks, insert_ignore
from schemas.types import normalise_guid


class MasterDataError(ValueError):
    """A change BC would refuse; the message says why, in BC's words where BC has them."""


# Coupling kinds: CLI word -> (BC table id, BC table, caption).
COUPLING_KINDS: dict[str, tuple[int, Any, str]] = {
    "item": (t.TABLE_ITEM, t.item, "Item"),
    "customer": (t.TABLE_CUSTOMER, t.customer, "Customer"),
    "resource": (t.TABLE_RESOURCE, t.resource, "Resource"),
    "unit": (t.TABLE_UNIT_OF_MEASURE, t.unit_of_measure, "Unit of Measure"),
    "salesperson": (t.TABLE_SALESPERSON_PURCHASER, t.salesperson_purchaser, "Salesperson/Purchaser"),
}


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> Iterator[str]:
    """`count` new version-4 GUIDs as text, as new_id() makes them, from one read of the random
    source (an import of items makes one per row: uuid4() per row was a tenth of its time)."""
    noise = os.urandom(16 * count).hex()
    for at in range(0, 32 * count, 32):
        h = noise[at : at + 32]
        # RFC 4122: version 4 in the 13th digit, variant 10xx in the 17th.
        yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


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
        raise MasterDataError(_unit_of_measure_refusal(code))


async def require_currency(conn: AsyncConnection, company: str, code: str) -> None:
    """BC's TableRelation to Currency: an unknown code is refused with BC's message."""
    found = await conn.execute(
        select(t.currency.c.code).where(t.currency.c.company == company, t.currency.c.code == code)
    )
    if found.first() is None:
        raise MasterDataError(f"The Currency does not exist. Identification fields and values: Code='{code}'")


async def require_customer_price_group(conn: AsyncConnection, company: str, code: str) -> None:
    """BC's TableRelation to Customer Price Group: an unknown code is refused with BC's message."""
    table = t.customer_price_group
    found = await conn.execute(select(table.c.code).where(table.c.company == company, table.c.code == code))
    if found.first() is None:
        raise MasterDataError(customer_price_group_refusal(code))


def customer_price_group_refusal(code: str) -> str:
    return f"The Customer Price Group does not exist. Identification fields and values: Code='{code}'"


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
    no = _check_item_values(no, values)
    if values.get("base_unit_of_measure"):
        await require_unit_of_measure(conn, company, values["base_unit_of_measure"])
    created = await _upsert_simple(conn, t.item, company, no, values)
    if values.get("base_unit_of_measure"):
        await set_item_unit(conn, company, no, values["base_unit_of_measure"], Decimal(1))
    return created


def _check_item_values(no: str, values: dict[str, Any]) -> str:
    """An item's own fields as BC validates them (before its relations); its number, trimmed."""
    no = _check_no(no)
    if "type" in values and values["type"] not in t.ITEM_TYPES:
        raise MasterDataError(f"Type must be one of {', '.join(t.ITEM_TYPES)}; '{values['type']}' is not.")
    if values.get("unit_price") is not None and values["unit_price"] < 0:
        raise MasterDataError("Unit Price must not be negative.")
    return no


def _unit_of_measure_refusal(code: str) -> str:
    return f"The Unit of Measure does not exist. Identification fields and values: Code='{code}'"


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
    if values.get("customer_price_group"):
        values["customer_price_group"] = values["customer_price_group"].strip().upper()
        await require_customer_price_group(conn, company, values["customer_price_group"])
    return await _upsert_simple(conn, t.customer, company, no, values)


async def upsert_resource(conn: AsyncConnection, company: str, no: str, **values: Any) -> bool:
    no = _check_no(no)
    if values.get("base_unit_of_measure"):
        await require_unit_of_measure(conn, company, values["base_unit_of_measure"])
    return await _upsert_simple(conn, t.resource, company, no, values)


def _check_lengths(table: Any, values: dict[str, Any]) -> None:
    lengths = _lengths(table)
    for name, value in values.items():
        length = lengths[name]
        if length and isinstance(value, str) and len(value) > length:
            raise MasterDataError(f"{name.replace('_', ' ').title()} can have at most {length} characters.")


_LENGTHS: dict[str, dict[str, int | None]] = {}


def _lengths(table: Any) -> dict[str, int | None]:
    """Each column's maximum length (None: no limit), looked up once per table."""
    found = _LENGTHS.get(table.name)
    if found is None:
        found = _LENGTHS[table.name] = {c.key: getattr(c.type, "length", None) for c in table.columns}
    return found


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
        raise MasterDataError(_not_found(table, caption, bc_no))
    return row.system_id


async def couple(conn: AsyncConnection, company: str, kind: str, bc_no: str, sales_id: str) -> None:
    """Couple a BC record to a Sales row (BC's "Couple to Dynamics 365 Sales")."""
    if kind not in COUPLING_KINDS:
        raise MasterDataError(f"Cannot couple '{kind}': use one of {', '.join(COUPLING_KINDS)}.")
    try:
        crm_id = normalise_guid(sales_id)
    except ValueError:
        raise MasterDataError(f"'{sales_id}' is not a valid Dynamics 365 Sales id (a GUID).") from None
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
        raise MasterDataError(_coupled_already(caption, bc_no, mine.crm_id))
    other = (
        await conn.execute(
            select(cir.c.integration_id).where(
                cir.c.company == company, cir.c.table_id == table_id, cir.c.crm_id == crm_id
            )
        )
    ).first()
    if other is not None:
        raise MasterDataError(_crm_coupled_elsewhere(caption, crm_id))
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


def _coupled_already(caption: str, bc_no: str, crm_id: str) -> str:
    return f"{caption} {bc_no} is already coupled to the Dynamics 365 Sales record {crm_id}; uncouple it first."


def _crm_coupled_elsewhere(caption: str, crm_id: str) -> str:
    return f"The Dynamics 365 Sales record {crm_id} is already coupled to another {caption.lower()}."


def _not_found(table: Any, caption: str, bc_no: str) -> str:
    field = "Code" if "code" in table.c else "No."
    return f"The {caption} does not exist. Identification fields and values: {field}='{bc_no}'"


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


# Bulk imports (`bc-gateway import`): the checks above, made with one query per batch for what they
# look up, then one statement per table. Each row is checked as if the rows before it were written.

ItemRow = tuple[str, dict[str, Any], str | None]  # No., columns to set, Sales id to couple to


def _guid_or_none(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalise_guid(text)
    except ValueError:
        return None


def _invalid_guid(text: str) -> str:
    return f"'{text}' is not a valid Dynamics 365 Sales id (a GUID)."


async def _system_ids(conn: AsyncConnection, table: Any, company: str, keys: Iterable[str]) -> dict[str, str]:
    key = _key_column(table)
    found: dict[str, str] = {}
    for chunk in in_chunks(keys):
        rows = await conn.execute(
            select(key, table.c.system_id).where(table.c.company == company, among(conn, key, chunk))
        )
        found.update({row[0]: row[1] for row in rows})
    return found


async def _existing_codes(conn: AsyncConnection, table: Any, company: str, codes: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(codes):
        rows = await conn.execute(
            select(table.c.code).where(table.c.company == company, among(conn, table.c.code, chunk))
        )
        found.update(row.code for row in rows)
    return found


class _Couplings:
    """One BC table's couplings as a batch sees them: read once, then changed as rows are accepted."""

    def __init__(self, kind: str) -> None:
        self.table_id, _table, self.caption = COUPLING_KINDS[kind]
        self.by_record: dict[str, str] = {}  # integration id (BC's SystemId) -> Sales id
        self.by_crm: dict[str, str] = {}
        self.new: list[tuple[str, str]] = []

    async def load(
        self, conn: AsyncConnection, company: str, system_ids: Iterable[str], crm_ids: Iterable[str]
    ) -> None:
        cir = t.crm_integration_record
        for column, values in ((cir.c.integration_id, system_ids), (cir.c.crm_id, crm_ids)):
            for chunk in in_chunks(values):
                rows = await conn.execute(
                    select(cir.c.integration_id, cir.c.crm_id).where(
                        cir.c.company == company, cir.c.table_id == self.table_id, among(conn, column, chunk)
                    )
                )
                for row in rows:
                    self.by_record[row.integration_id] = row.crm_id
                    self.by_crm[row.crm_id] = row.integration_id

    def couple(self, bc_no: str, system_id: str, crm_id: str, accept: bool = True) -> None:
        """couple()'s checks; with `accept`, the coupling is kept for write()."""
        mine = self.by_record.get(system_id)
        if mine is not None:
            if mine == crm_id:
                return
            raise MasterDataError(_coupled_already(self.caption, bc_no, mine))
        if crm_id in self.by_crm:
            raise MasterDataError(_crm_coupled_elsewhere(self.caption, crm_id))
        if accept:
            self.add(system_id, crm_id)

    def add(self, system_id: str, crm_id: str) -> None:
        self.by_record[system_id] = crm_id
        self.by_crm[crm_id] = system_id
        self.new.append((system_id, crm_id))

    async def write(self, conn: AsyncConnection, company: str) -> None:
        if not self.new:
            return
        now = dt.datetime.now(dt.UTC)
        await insert_many(
            conn,
            t.crm_integration_record,
            [{"crm_id": crm, "integration_id": sid} for sid, crm in self.new],
            {"company": company, "table_id": self.table_id, "coupled_at": now},
        )


async def _insert_rows(conn: AsyncConnection, table: Any, company: str, rows: Iterable[dict[str, Any]]) -> None:
    """One bulk insert per set of columns (a row leaves out what its file left empty)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        await insert_many(conn, table, group, {"company": company})


async def _update_rows(conn: AsyncConnection, table: Any, company: str, rows: dict[str, dict[str, Any]]) -> None:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for no, values in rows.items():
        if values:
            groups.setdefault(tuple(sorted(values)), []).append({"b_company": company, "b_no": no, **values})
    for columns, group in groups.items():
        stmt = (
            update(table)
            .where(table.c.company == bindparam("b_company"), table.c.no == bindparam("b_no"))
            .values({name: bindparam(name) for name in columns})
        )
        await conn.execute(stmt, group)


async def upsert_items_in_bulk(conn: AsyncConnection, company: str, rows: Sequence[ItemRow]) -> list[bool | str]:
    """upsert_item (and couple, when a Sales id is given) for each row: per row True when created,
    False when updated, or BC's message when refused (the row writes nothing)."""
    existing = await _system_ids(conn, t.item, company, {no.strip() for no, _v, _c in rows})
    units = await _existing_codes(
        conn,
        t.unit_of_measure,
        company,
        {v["base_unit_of_measure"] for _n, v, _c in rows if v.get("base_unit_of_measure")},
    )
    crm_ids = [_guid_or_none(sales_id) for _n, _v, sales_id in rows]
    couplings = _Couplings("item")
    await couplings.load(conn, company, existing.values(), {c for c in crm_ids if c})
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    item_units: set[tuple[str, str]] = set()
    outcomes: list[bool | str] = []
    fresh = new_ids(len(rows))
    for (given_no, values, sales_id), crm_id in zip(rows, crm_ids, strict=True):
        try:
            no = _check_item_values(given_no, values)
            base = values.get("base_unit_of_measure")
            if base and base not in units:
                raise MasterDataError(_unit_of_measure_refusal(base))
            _check_lengths(t.item, values)
            pending = inserts.get(no)
            system_id = existing.get(no) or (pending["system_id"] if pending else next(fresh))
            if sales_id:
                if crm_id is None:
                    raise MasterDataError(_invalid_guid(sales_id))
                couplings.couple(no, system_id, crm_id, accept=False)
        except MasterDataError as exc:
            outcomes.append(str(exc))
            continue
        created = no not in existing and pending is None
        if created:
            inserts[no] = {"no": no, "system_id": system_id, **values}
        elif pending is not None:
            pending.update(values)
        else:
            updates.setdefault(no, {}).update(values)
        if base:
            item_units.add((no, base))
        if crm_id is not None and couplings.by_record.get(system_id) != crm_id:
            couplings.add(system_id, crm_id)
        outcomes.append(created)
    await _insert_rows(conn, t.item, company, inserts.values())
    await _update_rows(conn, t.item, company, updates)
    if item_units:
        iuom = t.item_unit_of_measure
        await upsert_many(
            conn,
            iuom,
            ("company", "item_no", "code"),
            [{"item_no": no, "code": code} for no, code in sorted(item_units)],
            {"company": company, "qty_per_unit_of_measure": Decimal(1)},
            replace=("qty_per_unit_of_measure",),
        )
    await couplings.write(conn, company)
    if any(not isinstance(outcome, str) for outcome in outcomes):
        await changes.record(conn, changes.MASTER, company=company)
    return outcomes


async def couple_in_bulk(conn: AsyncConnection, company: str, rows: Sequence[tuple[str, str, str]]) -> list[str | None]:
    """couple() for each (kind, BC No. or Code, Sales id): per row BC's message when refused, or None."""
    outcomes: list[str | None] = [None] * len(rows)
    by_kind: dict[str, list[int]] = {}
    for index, (kind, _no, _id) in enumerate(rows):
        if kind not in COUPLING_KINDS:
            outcomes[index] = f"Cannot couple '{kind}': use one of {', '.join(COUPLING_KINDS)}."
        else:
            by_kind.setdefault(kind, []).append(index)
    coupled = False
    for kind, indices in by_kind.items():
        _table_id, table, caption = COUPLING_KINDS[kind]
        crm_ids = {i: _guid_or_none(rows[i][2]) for i in indices}
        system_ids = await _system_ids(conn, table, company, {rows[i][1] for i in indices})
        couplings = _Couplings(kind)
        await couplings.load(conn, company, system_ids.values(), {c for c in crm_ids.values() if c})
        for i in indices:
            _kind, bc_no, sales_id = rows[i]
            crm_id = crm_ids[i]
            system_id = system_ids.get(bc_no)
            if crm_id is None:
                outcomes[i] = _invalid_guid(sales_id)
            elif system_id is None:
                outcomes[i] = _not_found(table, caption, bc_no)
            else:
                try:
                    couplings.couple(bc_no, system_id, crm_id)
                except MasterDataError as exc:
                    outcomes[i] = str(exc)
        await couplings.write(conn, company)
        coupled = coupled or bool(couplings.new)
    if coupled:
        await changes.record(conn, changes.MASTER, company=company)
    return outcomes
