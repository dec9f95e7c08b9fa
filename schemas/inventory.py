"""Inventory postings, keeping BC's sums (SIFT) as running totals in the same transaction.

No request ever sums the ledger: `item_inventory` and `item_location_inventory` hold the totals,
changed here together with each ledger entry and each change of outstanding sales quantity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas.db import upsert_add
from schemas.tables import (
    ENTRY_TYPES,
    item,
    item_inventory,
    item_ledger_entry,
    item_location_inventory,
    location,
)


class PostingError(ValueError):
    """A posting that BC would refuse; the message is BC's."""


@dataclass(frozen=True, slots=True)
class LedgerLine:
    item_no: str
    quantity: Decimal
    location_code: str = ""
    posting_date: dt.date | None = None
    entry_type: str | None = None  # default: Positive/Negative Adjmt. by the sign
    document_no: str = ""
    description: str = ""


async def _check_item(conn: AsyncConnection, company: str, item_no: str) -> None:
    row = (await conn.execute(select(item.c.type).where(item.c.company == company, item.c.no == item_no))).first()
    if row is None:
        raise PostingError(f"The Item does not exist. Identification fields and values: No.='{item_no}'")
    if row.type != "Inventory":
        raise PostingError(f"Type must be equal to 'Inventory'  in Item: No.={item_no}. Current value is '{row.type}'.")


async def _check_location(conn: AsyncConnection, company: str, code: str) -> None:
    if not code:
        return
    found = (
        await conn.execute(select(location.c.code).where(location.c.company == company, location.c.code == code))
    ).first()
    if found is None:
        raise PostingError(f"The Location does not exist. Identification fields and values: Code='{code}'")


async def post_ledger_entries(
    conn: AsyncConnection, company: str, lines: Iterable[LedgerLine], today: dt.date | None = None
) -> list[int]:
    """Write item ledger entries and their totals; return the entry numbers."""
    entry_nos: list[int] = []
    touched: set[str] = set()
    for line in lines:
        if line.quantity == 0:
            raise PostingError("Quantity must not be 0.")
        await _check_item(conn, company, line.item_no)
        await _check_location(conn, company, line.location_code)
        entry_type = line.entry_type or ("Positive Adjmt." if line.quantity > 0 else "Negative Adjmt.")
        if entry_type not in ENTRY_TYPES:
            raise PostingError(f"Entry Type '{entry_type}' is not one of: {', '.join(ENTRY_TYPES)}.")
        result = await conn.execute(
            insert(item_ledger_entry)
            .values(
                company=company,
                item_no=line.item_no,
                location_code=line.location_code,
                posting_date=line.posting_date or today or dt.date.today(),
                entry_type=entry_type,
                document_no=line.document_no,
                description=line.description,
                quantity=line.quantity,
            )
            .returning(item_ledger_entry.c.entry_no)
        )
        entry_nos.append(result.scalar_one())
        await add_to_totals(conn, company, line.item_no, line.location_code, inventory=line.quantity)
        touched.add(line.item_no)
    await changes.record_items(conn, company, touched)
    return entry_nos


async def add_to_totals(
    conn: AsyncConnection,
    company: str,
    item_no: str,
    location_code: str,
    inventory: Decimal = Decimal(0),
    qty_on_sales_order: Decimal = Decimal(0),
) -> None:
    """Add to the running totals of an item and of the item at a location (an upsert each)."""
    inc = {"inventory": inventory, "qty_on_sales_order": qty_on_sales_order}
    await conn.execute(upsert_add(conn, item_inventory, {"company": company, "item_no": item_no}, inc))
    await conn.execute(
        upsert_add(
            conn,
            item_location_inventory,
            {"company": company, "item_no": item_no, "location_code": location_code},
            inc,
        )
    )
