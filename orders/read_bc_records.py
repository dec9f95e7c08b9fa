"""What conversion needs from BC's side: couplings, items, resources, customers, currencies, setup.

Read in one short read-only pass before converting, so that conversion itself stays pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orders.change_setup import load_sales_setup
from orders.conversion_inputs import BcCustomer, BcItem, BcResource, Couplings
from orders.setup import SalesSetup
from schemas import tables as t


@dataclass(frozen=True, slots=True)
class BcInputs:
    couplings: Couplings
    items: dict[str, BcItem]
    resources: dict[str, BcResource]
    customers: dict[str, BcCustomer]
    currency_codes: frozenset[str]
    setup: SalesSetup


def conversion_data(data: Any, bc: BcInputs) -> dict[str, Any]:
    """The fields of an Order/QuoteConversionInput common to both: Sales' side and BC's side."""
    return {
        "lines": data.lines,
        "notes": data.notes,
        "account": data.account,
        "contact": data.contact,
        "products": data.products,
        "uoms": data.uoms,
        "currency": data.currency,
        "couplings": bc.couplings,
        "items": bc.items,
        "resources": bc.resources,
        "customers": bc.customers,
        "currency_codes": bc.currency_codes,
        "setup": bc.setup,
    }


async def read_for(conn: AsyncConnection, company: str, data: Any) -> BcInputs:
    """BC's side of the conversion of a Sales document read by orders.read_sales_document."""
    return await read_bc_inputs(
        conn,
        company,
        account_ids=[data.account.accountid] if data.account else [],
        product_ids=[line.productid for line in data.lines if line.productid],
        uom_ids=[line.uomid for line in data.lines if line.uomid],
    )


async def _coupled(
    conn: AsyncConnection, company: str, table_id: int, table: Any, key: Any, ids: set[str]
) -> dict[str, str]:
    if not ids:
        return {}
    cir = t.crm_integration_record
    rows = (
        await conn.execute(
            select(cir.c.crm_id, key)
            .select_from(
                cir.join(table, and_(table.c.company == cir.c.company, table.c.system_id == cir.c.integration_id))
            )
            .where(cir.c.company == company, cir.c.table_id == table_id, cir.c.crm_id.in_(sorted(ids)))
        )
    ).all()
    return {crm_id: no for crm_id, no in rows}


async def read_bc_inputs(
    conn: AsyncConnection,
    company: str,
    account_ids: Iterable[str] = (),
    product_ids: Iterable[str] = (),
    uom_ids: Iterable[str] = (),
) -> BcInputs:
    accounts = {i.lower() for i in account_ids if i}
    products = {i.lower() for i in product_ids if i}
    uoms = {i.lower() for i in uom_ids if i}
    couplings = Couplings(
        account_to_customer=await _coupled(conn, company, t.TABLE_CUSTOMER, t.customer, t.customer.c.no, accounts),
        product_to_item=await _coupled(conn, company, t.TABLE_ITEM, t.item, t.item.c.no, products),
        product_to_resource=await _coupled(conn, company, t.TABLE_RESOURCE, t.resource, t.resource.c.no, products),
        uom_to_unit=await _coupled(
            conn, company, t.TABLE_UNIT_OF_MEASURE, t.unit_of_measure, t.unit_of_measure.c.code, uoms
        ),
    )
    setup = await load_sales_setup(conn, company)
    item_nos = set(couplings.product_to_item.values())
    resource_nos = set(couplings.product_to_resource.values())
    if setup.write_in_product_no:
        (resource_nos if setup.write_in_product_type == "Resource" else item_nos).add(setup.write_in_product_no)
    return BcInputs(
        couplings=couplings,
        items=await _items(conn, company, item_nos),
        resources=await _resources(conn, company, resource_nos),
        customers=await _customers(conn, company, set(couplings.account_to_customer.values())),
        currency_codes=frozenset(
            (await conn.execute(select(t.currency.c.code).where(t.currency.c.company == company))).scalars()
        ),
        setup=setup,
    )


async def _items(conn: AsyncConnection, company: str, nos: set[str]) -> dict[str, BcItem]:
    if not nos:
        return {}
    units: dict[str, dict[str, Decimal]] = defaultdict(dict)
    iuom = t.item_unit_of_measure
    for item_no, code, qty in (
        await conn.execute(
            select(iuom.c.item_no, iuom.c.code, iuom.c.qty_per_unit_of_measure).where(
                iuom.c.company == company, iuom.c.item_no.in_(sorted(nos))
            )
        )
    ).all():
        units[item_no][code] = qty
    rows = (await conn.execute(select(t.item).where(t.item.c.company == company, t.item.c.no.in_(sorted(nos))))).all()
    return {
        r.no: BcItem(
            no=r.no,
            description=r.description,
            base_unit_of_measure=r.base_unit_of_measure,
            blocked=r.blocked,
            type=r.type,
            units=units[r.no],
        )
        for r in rows
    }


async def _resources(conn: AsyncConnection, company: str, nos: set[str]) -> dict[str, BcResource]:
    if not nos:
        return {}
    rows = (
        await conn.execute(select(t.resource).where(t.resource.c.company == company, t.resource.c.no.in_(sorted(nos))))
    ).all()
    # Resources have one unit here: their base unit.
    return {
        r.no: BcResource(
            no=r.no,
            name=r.name,
            base_unit_of_measure=r.base_unit_of_measure,
            blocked=r.blocked,
            units={r.base_unit_of_measure: Decimal(1)} if r.base_unit_of_measure else {},
        )
        for r in rows
    }


async def _customers(conn: AsyncConnection, company: str, nos: set[str]) -> dict[str, BcCustomer]:
    if not nos:
        return {}
    rows = (
        await conn.execute(select(t.customer).where(t.customer.c.company == company, t.customer.c.no.in_(sorted(nos))))
    ).all()
    return {r.no: BcCustomer(no=r.no, name=r.name, blocked=r.blocked, currency_code=r.currency_code) for r in rows}
