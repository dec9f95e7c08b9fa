"""The master data store (schemas.master_data) on SQLite and PostgreSQL: companies, items and their
units, customers, resources, and BC's coupling rules with their messages. Every change is
announced on the change feed in its own transaction (the availability cache listens)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import master_data as md
from schemas import tables as t
from schemas.db import write_transaction

COMPANY = "CRONUS"
DESK = "5a1e5000-0000-4000-8000-000000001896"
CHAIR = "5a1e5000-0000-4000-8000-000000001900"


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One write transaction on a database that holds the company, with an empty change feed."""
    async with write_transaction(engine) as connection:
        await md.ensure_company(connection, COMPANY)
        # The codes items, resources and customers name must exist first, as in BC.
        for code in ("PCS", "BOX", "HOUR"):
            await md.ensure_unit(connection, COMPANY, code)
        await md.ensure_currency(connection, COMPANY, "USD")
        await connection.execute(t.change_log.delete())
        yield connection


async def _one(conn: AsyncConnection, table: Any, **key: Any) -> Any:
    return (await conn.execute(select(table).where(*[table.c[k] == v for k, v in key.items()]))).one_or_none()


async def _master_changes(conn: AsyncConnection) -> int:
    stmt = select(func.count()).select_from(t.change_log).where(t.change_log.c.topic == "master")
    return (await conn.execute(stmt)).scalar_one()


async def _error(call: Any) -> str:
    with pytest.raises(md.MasterDataError) as caught:
        await call
    return str(caught.value)


# --- companies ---------------------------------------------------------------------------------


async def test_ensure_and_require_company(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        assert await md.ensure_company(conn, "FABRIKAM", "Fabrikam, Inc.") is True
        assert await md.ensure_company(conn, "FABRIKAM", "ignored") is False
        row = await _one(conn, t.company, name="FABRIKAM")
        assert row.display_name == "Fabrikam, Inc." and len(row.system_id) == 36
        (topic,) = (await conn.execute(select(t.change_log.c.topic, t.change_log.c.company))).all()
        assert tuple(topic) == ("company", "FABRIKAM")
        await md.require_company(conn, "FABRIKAM")
        assert await _error(md.require_company(conn, "NOPE")) == (
            "The company 'NOPE' does not exist; run 'bc-gateway init' (or init --demo) first."
        )


# --- items, units, customers, resources ---------------------------------------------------------


async def test_upsert_item_creates_then_updates_only_what_is_given(conn: AsyncConnection) -> None:
    created = await md.upsert_item(
        conn, COMPANY, " 1896-S ", description="ATHENS Desk", base_unit_of_measure="PCS", unit_price=Decimal("649.4")
    )
    assert created is True
    assert await md.upsert_item(conn, COMPANY, "1896-S", blocked=True) is False
    item = await _one(conn, t.item, company=COMPANY, no="1896-S")  # the number is trimmed
    assert (item.description, item.base_unit_of_measure, item.unit_price, item.blocked) == (
        "ATHENS Desk",
        "PCS",
        Decimal("649.4"),
        True,
    )
    # The base unit exists as a unit of measure and as the item's unit with 1 per unit, as BC's card does.
    assert await _one(conn, t.unit_of_measure, company=COMPANY, code="PCS") is not None
    unit = await _one(conn, t.item_unit_of_measure, company=COMPANY, item_no="1896-S", code="PCS")
    assert unit.qty_per_unit_of_measure == 1
    assert await _master_changes(conn) == 3  # the item twice, its unit once


@pytest.mark.parametrize(
    ("no", "values", "message"),
    [
        ("  ", {}, "No. must have a value."),
        (
            "X" * 21,
            {},
            "The length of the string is 21, but it must be less than or equal to 20 characters. Value: " + "X" * 21,
        ),
        ("1896-S", {"type": "Gadget"}, "Type must be one of Inventory, Service, Non-Inventory; 'Gadget' is not."),
        ("1896-S", {"unit_price": Decimal("-1")}, "Unit Price must not be negative."),
        ("1896-S", {"description": "d" * 101}, "Description can have at most 100 characters."),
    ],
)
async def test_upsert_item_refusals(conn: AsyncConnection, no: str, values: dict[str, Any], message: str) -> None:
    assert await _error(md.upsert_item(conn, COMPANY, no, **values)) == message
    assert (await conn.execute(select(func.count()).select_from(t.item))).scalar_one() == 0


async def test_item_units(conn: AsyncConnection) -> None:
    await md.upsert_item(conn, COMPANY, "1900-S", base_unit_of_measure="PCS")
    await md.set_item_unit(conn, COMPANY, "1900-S", "BOX", Decimal(6))
    await md.set_item_unit(conn, COMPANY, "1900-S", "BOX", Decimal(8))  # changed, not added
    units = (
        await conn.execute(
            select(t.item_unit_of_measure.c.code, t.item_unit_of_measure.c.qty_per_unit_of_measure)
            .where(t.item_unit_of_measure.c.item_no == "1900-S")
            .order_by(t.item_unit_of_measure.c.code)
        )
    ).all()
    assert [tuple(u) for u in units] == [("BOX", Decimal(8)), ("PCS", Decimal(1))]
    assert await _error(md.set_item_unit(conn, COMPANY, "1900-S", "BOX", Decimal(0))) == (
        "Qty. per Unit of Measure must be greater than 0."
    )
    assert await _error(md.set_item_unit(conn, COMPANY, "1900-S", "PCS", Decimal(2))) == (
        "The base unit of measure must have a Qty. per Unit of Measure of 1."
    )
    assert await _error(md.set_item_unit(conn, COMPANY, "NOPE", "BOX", Decimal(1))) == (
        "The Item does not exist. Identification fields and values: No.='NOPE'"
    )


async def test_customers_and_resources_bring_their_currency_and_unit(conn: AsyncConnection) -> None:
    assert await md.upsert_customer(conn, COMPANY, "10000", name="Adatum Corporation", currency_code="USD") is True
    assert await md.upsert_customer(conn, COMPANY, "10000", city="Atlanta") is False
    customer = await _one(conn, t.customer, company=COMPANY, no="10000")
    assert (customer.name, customer.city, customer.currency_code) == ("Adatum Corporation", "Atlanta", "USD")
    assert await _one(conn, t.currency, company=COMPANY, code="USD") is not None
    assert await md.upsert_resource(conn, COMPANY, "LINA", name="Lina Townsend", base_unit_of_measure="HOUR")
    assert await _one(conn, t.unit_of_measure, company=COMPANY, code="HOUR") is not None
    assert await _error(md.upsert_customer(conn, COMPANY, "")) == "No. must have a value."


# --- couplings -----------------------------------------------------------------------------------


async def _coupled(conn: AsyncConnection, table_id: int) -> list[tuple[str, str]]:
    cir = t.crm_integration_record
    rows = (await conn.execute(select(cir.c.crm_id, cir.c.integration_id).where(cir.c.table_id == table_id))).all()
    return [tuple(r) for r in rows]


async def test_couple_and_uncouple_an_item(conn: AsyncConnection) -> None:
    await md.upsert_item(conn, COMPANY, "1896-S")
    item = await _one(conn, t.item, company=COMPANY, no="1896-S")
    before = await _master_changes(conn)
    await md.couple(conn, COMPANY, "item", "1896-S", "{" + DESK.upper() + "}")  # any spelling of the GUID
    assert await _coupled(conn, t.TABLE_ITEM) == [(DESK, item.system_id)]
    await md.couple(conn, COMPANY, "item", "1896-S", DESK)  # the same coupling again: nothing to do
    assert await _coupled(conn, t.TABLE_ITEM) == [(DESK, item.system_id)]
    await md.uncouple(conn, COMPANY, "item", "1896-S")
    assert await _coupled(conn, t.TABLE_ITEM) == []
    assert await _master_changes(conn) == before + 2
    assert await _error(md.uncouple(conn, COMPANY, "item", "1896-S")) == (
        "Item 1896-S is not coupled to a record in Dynamics 365 Sales."
    )


async def test_one_coupling_per_record_and_per_sales_row(conn: AsyncConnection) -> None:
    for no in ("1896-S", "1900-S"):
        await md.upsert_item(conn, COMPANY, no)
    await md.couple(conn, COMPANY, "item", "1896-S", DESK)
    assert await _error(md.couple(conn, COMPANY, "item", "1896-S", CHAIR)) == (
        f"Item 1896-S is already coupled to the Dynamics 365 Sales record {DESK}; uncouple it first."
    )
    assert await _error(md.couple(conn, COMPANY, "item", "1900-S", DESK)) == (
        f"The Dynamics 365 Sales record {DESK} is already coupled to another item."
    )
    # Once uncoupled, the Sales row may be coupled to the other item.
    await md.uncouple(conn, COMPANY, "item", "1896-S")
    await md.couple(conn, COMPANY, "item", "1900-S", DESK)
    chair = await _one(conn, t.item, company=COMPANY, no="1900-S")
    assert await _coupled(conn, t.TABLE_ITEM) == [(DESK, chair.system_id)]


async def test_couplings_of_each_kind_are_kept_apart(conn: AsyncConnection) -> None:
    """A Sales id coupled to an item may be coupled to a unit too: the table id is part of the key."""
    await md.upsert_item(conn, COMPANY, "1896-S", base_unit_of_measure="PCS")
    await md.upsert_customer(conn, COMPANY, "10000")
    await md.upsert_resource(conn, COMPANY, "LINA")
    for kind, no in (("item", "1896-S"), ("unit", "PCS"), ("customer", "10000"), ("resource", "LINA")):
        await md.couple(conn, COMPANY, kind, no, DESK)
    for table_id in (t.TABLE_ITEM, t.TABLE_UNIT_OF_MEASURE, t.TABLE_CUSTOMER, t.TABLE_RESOURCE):
        assert [crm for crm, _id in await _coupled(conn, table_id)] == [DESK]


@pytest.mark.parametrize(
    ("kind", "no", "sales_id", "message"),
    [
        ("vendor", "1896-S", DESK, "Cannot couple 'vendor': use one of item, customer, resource, unit, salesperson."),
        ("item", "1896-S", "not-a-guid", "'not-a-guid' is not a valid Dynamics 365 Sales id (a GUID)."),
        ("item", "NOPE", DESK, "The Item does not exist. Identification fields and values: No.='NOPE'"),
        ("unit", "CRATE", DESK, "The Unit of Measure does not exist. Identification fields and values: Code='CRATE'"),
        ("customer", "99999", DESK, "The Customer does not exist. Identification fields and values: No.='99999'"),
    ],
)
async def test_couple_refusals(conn: AsyncConnection, kind: str, no: str, sales_id: str, message: str) -> None:
    await md.upsert_item(conn, COMPANY, "1896-S")
    assert await _error(md.couple(conn, COMPANY, kind, no, sales_id)) == message
    assert (await conn.execute(select(func.count()).select_from(t.crm_integration_record))).scalar_one() == 0


async def test_uncouple_refusals(conn: AsyncConnection) -> None:
    assert await _error(md.uncouple(conn, COMPANY, "vendor", "1")) == (
        "Cannot uncouple 'vendor': use one of item, customer, resource, unit, salesperson."
    )
    assert await _error(md.uncouple(conn, COMPANY, "resource", "NOPE")) == (
        "The Resource does not exist. Identification fields and values: No.='NOPE'"
    )
