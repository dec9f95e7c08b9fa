"""Inventory postings, keeping BC's sums (SIFT) as running totals in the same transaction.

No request ever sums the ledger: `item_inventory` and `item_location_inventory` hold the totals,
changed here together with each ledger entry and each change of outstanding sales quantity.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas.bulk import among, insert_many, upsert_many
from schemas.db import in_chunks, upsert_add
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


def _item_refusal(item_no: str, item_type: str | None) -> str | None:
    """BC's message when an entry cannot be posted for this item (None: no such item)."""
    if item_type is None:
        return f"The Item does not exist. Identification fields and values: No.='{item_no}'"
    if item_type != "Inventory":
        return f"Type must be equal to 'Inventory'  in Item: No.={item_no}. Current value is '{item_type}'."
    return None


def _location_refusal(code: str) -> str:
    return f"The Location does not exist. Identification fields and values: Code='{code}'"


def _entry_type_refusal(entry_type: str) -> str | None:
    if entry_type in ENTRY_TYPES:
        return None
    return f"Entry Type '{entry_type}' is not one of: {', '.join(ENTRY_TYPES)}."


async def _check_item(conn: AsyncConnection, company: str, item_no: str) -> None:
    row = (await conn.execute(select(item.c.type).where(item.c.company == company, item.c.no == item_no))).first()
    refusal = _item_refusal(item_no, None if row is None else row.type)
    if refusal:
        raise PostingError(refusal)


async def _check_location(conn: AsyncConnection, company: str, code: str) -> None:
    if not code:
        return
    found = (
        await conn.execute(select(location.c.code).where(location.c.company == company, location.c.code == code))
    ).first()
    if found is None:
        raise PostingError(_location_refusal(code))


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
        refusal = _entry_type_refusal(entry_type)
        if refusal:
            raise PostingError(refusal)
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


async def post_ledger_entries_in_bulk(
    conn: AsyncConnection, company: str, lines: Sequence[LedgerLine], today: dt.date | None = None
) -> list[str | None]:
    """Post many item ledger entries at once (an import): per line BC's message when it is refused
    (it writes nothing) or None when posted.

    Checked as post_ledger_entries checks each line, with one query for the items and one for the
    locations; then one INSERT of the entries, the running totals summed here and added with one
    upsert per item and per item and location, and one change-feed row per touched item.
    """
    item_nos = {line.item_no for line in lines}
    codes = {line.location_code for line in lines if line.location_code}
    types: dict[str, str] = {}
    for chunk in in_chunks(sorted(item_nos)):
        found = await conn.execute(
            select(item.c.no, item.c.type).where(item.c.company == company, among(conn, item.c.no, chunk))
        )
        types.update({row.no: row.type for row in found})
    locations: set[str] = set()
    for chunk in in_chunks(sorted(codes)):
        found = await conn.execute(
            select(location.c.code).where(location.c.company == company, among(conn, location.c.code, chunk))
        )
        locations.update(row.code for row in found)
    default_date = today or dt.date.today()
    outcomes: list[str | None] = []
    entries: list[dict[str, object]] = []
    by_item: dict[str, Decimal] = defaultdict(Decimal)
    by_location: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        entry_type = line.entry_type or ("Positive Adjmt." if line.quantity > 0 else "Negative Adjmt.")
        refusal = (
            "Quantity must not be 0."
            if line.quantity == 0
            else _item_refusal(line.item_no, types.get(line.item_no))
            or (
                _location_refusal(line.location_code)
                if line.location_code and line.location_code not in locations
                else None
            )
            or _entry_type_refusal(entry_type)
        )
        outcomes.append(refusal)
        if refusal:
            continue
        entries.append(
            {
                "item_no": line.item_no,
                "location_code": line.location_code,
                "posting_date": line.posting_date or default_date,
                "entry_type": entry_type,
                "document_no": line.document_no,
                "description": line.description,
                "quantity": line.quantity,
            }
        )
        by_item[line.item_no] += line.quantity
        by_location[line.item_no, line.location_code] += line.quantity
    if not entries:
        return outcomes
    await insert_many(conn, item_ledger_entry, entries, {"company": company})
    await upsert_many(
        conn,
        item_inventory,
        ("company", "item_no"),
        [{"item_no": no, "inventory": qty} for no, qty in sorted(by_item.items())],
        {"company": company},
        add=("inventory",),
    )
    await upsert_many(
        conn,
        item_location_inventory,
        ("company", "item_no", "location_code"),
        [{"item_no": no, "location_code": code, "inventory": qty} for (no, code), qty in sorted(by_location.items())],
        {"company": company},
        add=("inventory",),
    )
    await changes.record_items(conn, company, set(by_item))
    return outcomes


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
