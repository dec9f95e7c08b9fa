"""BC's records for the synchronisation, read through one interface over our tables.

Our tables hold BC's data whichever way it got there — the embedded BC, or the mirror of a real
BC (api mode). In api mode BC is written through its own API, not here: the Sales -> BC passes do
not run (``writable`` is False) and the job row says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync.defaults import BC_TABLES
from orders.sync.store import BC_TABLE_OBJECTS
from schemas import change_log as changes
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction

CHUNK = 500


def opportunity_select(company: str) -> Any:
    """Opportunities with what OPPORTUNITY sends for their contact (bc-sync.md §12):
    ``person_contact_no``, the Contact No. when it is a person (a company is an account in Sales,
    not a contact), and ``company_customer_no``, the customer of the contact's company (its
    Contact Business Relation; for a person without one on the company, the person's own)."""
    o = t.opportunity
    person = t.contact.alias("person")
    firm = t.contact.alias("firm")
    customer_no = func.coalesce(func.nullif(firm.c.customer_no, ""), person.c.customer_no, "")
    person_no = case((person.c.type == "Person", person.c.no), else_="")
    return (
        select(o, person_no.label("person_contact_no"), customer_no.label("company_customer_no"))
        .select_from(
            o.outerjoin(person, (person.c.company == o.c.company) & (person.c.no == o.c.contact_no)).outerjoin(
                firm, (firm.c.company == o.c.company) & (firm.c.no == o.c.contact_company_no)
            )
        )
        .where(o.c.company == company)
    )


class TableRecords:
    """``BcRecords`` over our tables for one company."""

    def __init__(self, engine: AsyncEngine, company: str, *, writable: bool = True) -> None:
        self.engine = engine
        self.company = company
        self.writable = writable

    def _select(self, table_id: int) -> Any:
        table = BC_TABLE_OBJECTS[table_id]
        if table_id == t.TABLE_ITEM:
            # Inventory is a FlowField: every location and variant, in the base unit.
            inv = t.item_inventory
            return (
                select(table, inv.c.inventory)
                .select_from(table.outerjoin(inv, (inv.c.company == table.c.company) & (inv.c.item_no == table.c.no)))
                .where(table.c.company == self.company)
            )
        if table_id == t.TABLE_OPPORTUNITY:
            return opportunity_select(self.company)
        return select(table).where(table.c.company == self.company)

    @staticmethod
    def _record(row: Any) -> dict[str, Any]:
        record = dict(row._mapping)
        if "inventory" in record and record["inventory"] is None:
            record["inventory"] = Decimal(0)
        return record

    async def changed(self, table_id: int, since: dt.datetime | None) -> list[dict[str, Any]]:
        table = BC_TABLE_OBJECTS[table_id]
        query = self._select(table_id)
        if since is not None:
            query = query.where(table.c.system_modified_at > since)
        query = query.order_by(table.c.system_modified_at.is_(null()).desc(), table.c.system_modified_at)
        async with self.engine.connect() as conn:
            return [self._record(r) for r in (await conn.execute(query)).all()]

    async def by_system_ids(self, table_id: int, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = BC_TABLE_OBJECTS[table_id]
        wanted = sorted({i.lower() for i in ids if i})
        out: dict[str, dict[str, Any]] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                query = self._select(table_id).where(table.c.system_id.in_(wanted[start : start + CHUNK]))
                for row in (await conn.execute(query)).all():
                    record = self._record(row)
                    out[str(record["system_id"]).lower()] = record
        return out

    async def by_keys(self, table_id: int, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = BC_TABLE_OBJECTS[table_id]
        key = table.c[BC_TABLES[table_id].key]
        wanted = sorted(set(keys))
        out: dict[str, dict[str, Any]] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                query = self._select(table_id).where(key.in_(wanted[start : start + CHUNK]))
                for row in (await conn.execute(query)).all():
                    record = self._record(row)
                    out[record[key.name]] = record
        return out

    async def insert(self, table_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        raise master_data.MasterDataError(
            f"A {BC_TABLES[table_id].caption} is not created from Dynamics 365 Sales here; create it in "
            "Business Central and couple it."
        )

    async def update(self, table_id: int, system_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        if not self.writable:
            raise master_data.MasterDataError("Business Central's records are written in Business Central (api mode).")
        table = BC_TABLE_OBJECTS[table_id]
        key_name = BC_TABLES[table_id].key
        async with write_transaction(self.engine) as conn:
            row = (
                await conn.execute(
                    select(table.c[key_name]).where(table.c.company == self.company, table.c.system_id == system_id)
                )
            ).first()
            if row is None:
                raise master_data.MasterDataError(
                    f"The {BC_TABLES[table_id].caption} record {system_id} was not found."
                )
            key = row[0]
            fields = {k: v for k, v in values.items() if k in table.c and k not in ("company", key_name, "system_id")}
            if table_id == t.TABLE_ITEM:
                await master_data.upsert_item(conn, self.company, key, **fields)
            elif table_id == t.TABLE_RESOURCE:
                await master_data.upsert_resource(conn, self.company, key, **fields)
            elif table_id == t.TABLE_CUSTOMER:
                await master_data.upsert_customer(conn, self.company, key, **fields)
            elif fields:
                await conn.execute(
                    update(table)
                    .where(table.c.company == self.company, table.c.system_id == system_id)
                    .values(**fields)
                )
                await changes.record(conn, changes.MASTER, company=self.company)
        found = await self.by_system_ids(table_id, [system_id])
        return found[system_id.lower()]
