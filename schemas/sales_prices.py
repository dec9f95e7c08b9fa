"""BC's prices without extended pricing: Customer Price Group (table 6) and Sales Price (table 7002).

Each change is checked as BC's tables check it (TableRelations, TestField, the date order), with
BC's messages, and recorded in the change feed (topic master), so that the CUSTPRCGRP-PRICE and
SALESPRC-PRODPRICE jobs wake within seconds. A blank Starting Date is BC's 0D, kept as
``BLANK_DATE`` (date.min) so that BC's key has no NULL in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.master_data import MasterDataError, customer_price_group_refusal, new_id, require_currency

BLANK_DATE = dt.date.min  # BC's 0D
CUSTOMER_PRICE_GROUP = "Customer Price Group"
ALL_CUSTOMERS = "All Customers"
CAMPAIGN = "Campaign"
CUSTOMER = "Customer"


def _code(value: str, length: int = 10) -> str:
    text = value.strip().upper()  # a Code field: upper case, trimmed
    if len(text) > length:
        raise MasterDataError(
            f"The length of the string is {len(text)}, but it must be less than or equal to {length} characters. "
            f"Value: {text}"
        )
    return text


# -- Customer Price Group ------------------------------------------------------------------------


async def upsert_customer_price_group(conn: AsyncConnection, company: str, code: str, **values: Any) -> bool:
    """Create or change a Customer Price Group; columns not given keep their value. True when created."""
    code = _code(code)
    if not code:
        raise MasterDataError("Code must have a value.")
    description = values.get("description")
    if description is not None and len(description) > 100:
        raise MasterDataError("Description can have at most 100 characters.")
    table = t.customer_price_group
    where = (table.c.company == company, table.c.code == code)
    exists = (await conn.execute(select(table.c.code).where(*where))).first() is not None
    if exists:
        if values:
            await conn.execute(update(table).where(*where).values(**values))
    else:
        await conn.execute(table.insert().values(company=company, code=code, system_id=new_id(), **values))
    await changes.record(conn, changes.MASTER, company=company)
    return not exists


async def customer_price_group(conn: AsyncConnection, company: str, code: str) -> dict[str, Any]:
    """The group (BC's message when there is none)."""
    table = t.customer_price_group
    row = (await conn.execute(select(table).where(table.c.company == company, table.c.code == code))).first()
    if row is None:
        raise MasterDataError(customer_price_group_refusal(code))
    return dict(row._mapping)


async def customer_price_groups(conn: AsyncConnection, company: str) -> list[dict[str, Any]]:
    table = t.customer_price_group
    rows = await conn.execute(select(table).where(table.c.company == company).order_by(table.c.code))
    return [dict(r._mapping) for r in rows]


async def set_customer_price_group(conn: AsyncConnection, company: str, customer_no: str, code: str) -> None:
    """The customer's Customer Price Group ("" clears it)."""
    code = _code(code)
    if code:
        await customer_price_group(conn, company, code)
    table = t.customer
    result = await conn.execute(
        update(table).where(table.c.company == company, table.c.no == customer_no).values(customer_price_group=code)
    )
    if result.rowcount == 0:
        raise MasterDataError(f"The Customer does not exist. Identification fields and values: No.='{customer_no}'")
    await changes.record(conn, changes.MASTER, company=company)


# -- Sales Price ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceKey:
    """BC's key of a Sales Price."""

    item_no: str
    sales_type: str = CUSTOMER_PRICE_GROUP
    sales_code: str = ""
    starting_date: dt.date | None = None
    currency_code: str = ""
    variant_code: str = ""
    unit_of_measure_code: str = ""
    minimum_quantity: Decimal = Decimal(0)

    def normalised(self) -> PriceKey:
        """As BC stores it: codes upper-cased, All Customers without a Sales Code."""
        if self.sales_type not in t.SALES_TYPES:
            raise MasterDataError(f"Sales Type must be one of {', '.join(t.SALES_TYPES)}; '{self.sales_type}' is not.")
        sales_code = "" if self.sales_type == ALL_CUSTOMERS else _code(self.sales_code, 20)
        return PriceKey(
            item_no=self.item_no.strip(),
            sales_type=self.sales_type,
            sales_code=sales_code,
            starting_date=self.starting_date,
            currency_code=_code(self.currency_code),
            variant_code=_code(self.variant_code),
            unit_of_measure_code=_code(self.unit_of_measure_code),
            minimum_quantity=self.minimum_quantity,
        )

    def describe(self) -> str:
        """BC's record text for messages: the key fields and their values."""
        return (
            f"Item No.={self.item_no}, Sales Type={self.sales_type}, Sales Code={self.sales_code}, "
            f"Starting Date={self.starting_date or ''}, Currency Code={self.currency_code}, "
            f"Variant Code={self.variant_code}, Unit of Measure Code={self.unit_of_measure_code}, "
            f"Minimum Quantity={self.minimum_quantity.normalize():f}"
        )

    def columns(self) -> dict[str, Any]:
        return {
            "item_no": self.item_no,
            "sales_type": self.sales_type,
            "sales_code": self.sales_code,
            "starting_date": self.starting_date or BLANK_DATE,
            "currency_code": self.currency_code,
            "variant_code": self.variant_code,
            "unit_of_measure_code": self.unit_of_measure_code,
            "minimum_quantity": self.minimum_quantity,
        }


def check_price_values(key: PriceKey, values: Mapping[str, Any], ending_date: dt.date | None) -> None:
    """What BC's Sales Price checks on its own fields (no other table). Raises with BC's message."""
    if not key.item_no:
        raise MasterDataError(
            f"Item No. must have a value in Sales Price: {key.describe()}. It cannot be zero or empty."
        )
    if key.sales_type != ALL_CUSTOMERS and not key.sales_code:
        raise MasterDataError(
            f"Sales Code must have a value in Sales Price: {key.describe()}. It cannot be zero or empty."
        )
    if key.minimum_quantity < 0:
        raise MasterDataError("Minimum Quantity must not be negative.")
    price = values.get("unit_price")
    if price is not None and price < 0:
        raise MasterDataError("Unit Price must not be negative.")
    if key.starting_date and ending_date and key.starting_date > ending_date:
        raise MasterDataError("Starting Date cannot be after Ending Date")


async def _check_relations(conn: AsyncConnection, company: str, key: PriceKey) -> dict[str, Any] | None:
    """BC's TableRelations of the key; the price group when the Sales Type is one."""
    item = t.item
    found = await conn.execute(select(item.c.no).where(item.c.company == company, item.c.no == key.item_no))
    if found.first() is None:
        raise MasterDataError(f"The Item does not exist. Identification fields and values: No.='{key.item_no}'")
    group = None
    if key.sales_type == CUSTOMER_PRICE_GROUP:
        group = await customer_price_group(conn, company, key.sales_code)
    elif key.sales_type == CUSTOMER:
        c = t.customer
        hit = await conn.execute(select(c.c.no).where(c.c.company == company, c.c.no == key.sales_code))
        if hit.first() is None:
            raise MasterDataError(
                f"The Customer does not exist. Identification fields and values: No.='{key.sales_code}'"
            )
    elif key.sales_type == CAMPAIGN:
        raise MasterDataError("Sales Type Campaign is not supported here: this Business Central has no campaigns.")
    if key.currency_code:
        await require_currency(conn, company, key.currency_code)
    if key.unit_of_measure_code:
        iuom = t.item_unit_of_measure
        hit = await conn.execute(
            select(iuom.c.code).where(
                iuom.c.company == company, iuom.c.item_no == key.item_no, iuom.c.code == key.unit_of_measure_code
            )
        )
        if hit.first() is None:
            raise MasterDataError(
                "The Item Unit of Measure does not exist. Identification fields and values: "
                f"Item No.='{key.item_no}',Code='{key.unit_of_measure_code}'"
            )
    if key.variant_code:
        v = t.item_variant
        hit = await conn.execute(
            select(v.c.code).where(v.c.company == company, v.c.item_no == key.item_no, v.c.code == key.variant_code)
        )
        if hit.first() is None:
            raise MasterDataError(
                "The Item Variant does not exist. Identification fields and values: "
                f"Item No.='{key.item_no}',Code='{key.variant_code}'"
            )
    return group


def _where(company: str, key: PriceKey) -> tuple[Any, ...]:
    table = t.sales_price
    return (table.c.company == company, *(table.c[name] == value for name, value in key.columns().items()))


async def upsert_sales_price(conn: AsyncConnection, company: str, key: PriceKey, **values: Any) -> bool:
    """Create or change the Sales Price with BC's key ``key``; columns not given keep their value
    (a new Customer Price Group price takes the group's Price Includes VAT and discount flags, as
    BC's Sales Code does). True when created."""
    key = key.normalised()
    table = t.sales_price
    existing = (await conn.execute(select(table).where(*_where(company, key)))).first()
    ending = values.get("ending_date", existing.ending_date if existing else None)
    check_price_values(key, values, ending)
    group = await _check_relations(conn, company, key)
    if existing is not None:
        if values:
            await conn.execute(update(table).where(*_where(company, key)).values(**values))
    else:
        defaults: dict[str, Any] = {}
        if group is not None:
            defaults = {name: group[name] for name in ("price_includes_vat", "allow_invoice_disc", "allow_line_disc")}
        await conn.execute(
            table.insert().values(company=company, system_id=new_id(), **key.columns(), **{**defaults, **values})
        )
    await changes.record(conn, changes.MASTER, company=company)
    return existing is None


async def delete_sales_price(conn: AsyncConnection, company: str, key: PriceKey) -> None:
    """Delete a Sales Price. Its Sales price list item stays (BC propagates no deletions)."""
    key = key.normalised()
    result = await conn.execute(delete(t.sales_price).where(*_where(company, key)))
    if result.rowcount == 0:
        raise MasterDataError(f"The Sales Price does not exist. Identification fields and values: {key.describe()}")
    await changes.record(conn, changes.MASTER, company=company)


def price_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A sales_price row as BC shows it: a blank Starting Date is None."""
    record = dict(row)
    if record.get("starting_date") == BLANK_DATE:
        record["starting_date"] = None
    return record


async def sales_prices(
    conn: AsyncConnection,
    company: str,
    *,
    sales_type: str | None = None,
    sales_code: str | None = None,
    item_no: str | None = None,
) -> list[dict[str, Any]]:
    table = t.sales_price
    query = select(table).where(table.c.company == company)
    if sales_type is not None:
        query = query.where(table.c.sales_type == sales_type)
    if sales_code is not None:
        query = query.where(table.c.sales_code == sales_code.upper())
    if item_no is not None:
        query = query.where(table.c.item_no == item_no)
    query = query.order_by(
        table.c.sales_type, table.c.sales_code, table.c.item_no, table.c.starting_date, table.c.unit_of_measure_code
    )
    return [price_record(dict(r._mapping)) for r in await conn.execute(query)]
