"""Inventory postings, keeping BC's sums (SIFT) as running totals in the same transaction.

No request ever sums the ledger: `item_inventory` and `item_location_inventory` hold the totals,
changed here together with each ledger entry and each change of outstanding sales quantity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas.db import upsert_add, upsert_add_many
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


# BC's Item Journal: a line's Quantity is how much moves; these entry types take it out of stock
# (the item ledger entry gets its negative: a Sale of 5 is -5), the others bring it in. A negative
# journal quantity reverses that, as in BC (a Sale of -5 is a return: +5).
OUTBOUND_ENTRY_TYPES = frozenset({"Sale", "Negative Adjmt.", "Consumption", "Transfer"})


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One item journal line (`bc-gateway inventory post`); a Transfer (BC's reclassification
    journal) moves the quantity from `location_code` to `new_location_code`."""

    item_no: str
    quantity: Decimal
    location_code: str = ""
    posting_date: dt.date | None = None
    entry_type: str | None = None  # default: Positive/Negative Adjmt. by the sign
    document_no: str = ""
    description: str = ""
    new_location_code: str = ""


def journal_entries(line: JournalLine) -> list[LedgerLine]:
    """The item ledger entries BC posts for a journal line, signed by its entry type."""
    if line.entry_type is None:
        # No entry type: an adjustment, by the sign typed (the entry keeps that sign).
        entry_type = "Positive Adjmt." if line.quantity > 0 else "Negative Adjmt."
        return [_entry(line, entry_type, line.quantity, line.location_code)]
    if line.entry_type not in ENTRY_TYPES:
        raise PostingError(f"Entry Type '{line.entry_type}' is not one of: {', '.join(ENTRY_TYPES)}.")
    signed = -line.quantity if line.entry_type in OUTBOUND_ENTRY_TYPES else line.quantity
    if line.entry_type != "Transfer":
        if line.new_location_code:
            raise PostingError("New Location Code can be given only with the Entry Type Transfer.")
        return [_entry(line, line.entry_type, signed, line.location_code)]
    if not line.new_location_code:
        raise PostingError("New Location Code must have a value in Item Journal Line. It cannot be zero or empty.")
    if line.new_location_code == line.location_code:
        raise PostingError("New Location Code must be another location than Location Code for a Transfer.")
    return [
        _entry(line, "Transfer", signed, line.location_code),
        _entry(line, "Transfer", -signed, line.new_location_code),
    ]


def _entry(line: JournalLine, entry_type: str, quantity: Decimal, location: str) -> LedgerLine:
    return LedgerLine(
        line.item_no, quantity, location, line.posting_date, entry_type, line.document_no, line.description
    )


async def post_journal_line(
    conn: AsyncConnection, company: str, line: JournalLine, today: dt.date | None = None
) -> list[tuple[int, LedgerLine]]:
    """Post an item journal line: (entry number, entry) of each item ledger entry it made."""
    entries = journal_entries(line)
    numbers = await post_ledger_entries(conn, company, entries, today)
    return list(zip(numbers, entries, strict=True))


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


async def post_ledger_batch(
    conn: AsyncConnection, company: str, lines: Sequence[LedgerLine], today: dt.date | None = None
) -> list[str | None]:
    """Post many item ledger entries at once (the CSV import): per line None when posted, or BC's
    refusal, the same message post_ledger_entries gives and checked in the same order (quantity,
    item, location, entry type). Two lookups for the whole batch, the entries in one executemany,
    the running totals summed here and added by one upsert per item and per item and location."""
    nos = {line.item_no for line in lines}
    codes = {line.location_code for line in lines if line.location_code}
    types: dict[str, str] = {}
    if nos:
        query = select(item.c.no, item.c.type).where(item.c.company == company, item.c.no.in_(nos))
        types = {no: kind for no, kind in (await conn.execute(query)).all()}
    found: set[str] = set()
    if codes:
        query = select(location.c.code).where(location.c.company == company, location.c.code.in_(codes))
        found = set((await conn.execute(query)).scalars())
    outcome: list[str | None] = []
    rows: list[dict[str, object]] = []
    totals: dict[str, Decimal] = {}
    by_location: dict[tuple[str, str], Decimal] = {}
    posting_date = today or dt.date.today()
    for line in lines:
        entry_type = line.entry_type or ("Positive Adjmt." if line.quantity > 0 else "Negative Adjmt.")
        kind = types.get(line.item_no)
        if line.quantity == 0:
            outcome.append("Quantity must not be 0.")
        elif kind is None:
            outcome.append(f"The Item does not exist. Identification fields and values: No.='{line.item_no}'")
        elif kind != "Inventory":
            outcome.append(
                f"Type must be equal to 'Inventory'  in Item: No.={line.item_no}. Current value is '{kind}'."
            )
        elif line.location_code and line.location_code not in found:
            outcome.append(
                f"The Location does not exist. Identification fields and values: Code='{line.location_code}'"
            )
        elif entry_type not in ENTRY_TYPES:
            outcome.append(f"Entry Type '{entry_type}' is not one of: {', '.join(ENTRY_TYPES)}.")
        else:
            outcome.append(None)
            rows.append(
                {
                    "company": company,
                    "item_no": line.item_no,
                    "location_code": line.location_code,
                    "posting_date": line.posting_date or posting_date,
                    "entry_type": entry_type,
                    "document_no": line.document_no,
                    "description": line.description,
                    "quantity": line.quantity,
                }
            )
            totals[line.item_no] = totals.get(line.item_no, Decimal(0)) + line.quantity
            key = (line.item_no, line.location_code)
            by_location[key] = by_location.get(key, Decimal(0)) + line.quantity
    if rows:
        await conn.execute(insert(item_ledger_entry), rows)
        zero = Decimal(0)
        await conn.execute(
            upsert_add_many(conn, item_inventory, ("company", "item_no"), ("inventory", "qty_on_sales_order")),
            [
                {"company": company, "item_no": no, "inventory": q, "qty_on_sales_order": zero}
                for no, q in totals.items()
            ],
        )
        await conn.execute(
            upsert_add_many(
                conn,
                item_location_inventory,
                ("company", "item_no", "location_code"),
                ("inventory", "qty_on_sales_order"),
            ),
            [
                {"company": company, "item_no": no, "location_code": loc, "inventory": q, "qty_on_sales_order": zero}
                for (no, loc), q in by_location.items()
            ],
        )
        await changes.record_items(conn, company, set(totals))
    return outcome
