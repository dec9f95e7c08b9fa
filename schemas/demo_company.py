"""A CRONUS-like demo company: items with units, locations, customers, resources, inventory.

Items, customers, resources and units are coupled to fixed Sales ids (listed in the README), so
that the availability service answers at once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import master_data as masterdata
from schemas.inventory import LedgerLine, post_ledger_entries
from schemas.tables import item_ledger_entry

# (No., Description, Unit Price, base unit, second unit and its quantity)
ITEMS = [
    ("1896-S", "ATHENS Desk", "1000.8", "PCS", None),
    ("1900-S", "PARIS Guest Chair, black", "192.8", "PCS", ("BOX", "6")),
    ("1906-S", "ATHENS Mobile Pedestal", "281.4", "PCS", None),
    ("1908-S", "LONDON Swivel Chair, blue", "190.1", "PCS", ("BOX", "6")),
    ("1920-S", "ANTWERP Conference Table", "649.4", "PCS", None),
    ("1925-W", "Conference Bundle 1-6", "133.7", "PCS", None),
    ("1928-S", "AMSTERDAM Lamp", "54.9", "PCS", ("BOX", "12")),
    ("1936-S", "BERLIN Guest Chair, yellow", "192.8", "PCS", ("BOX", "6")),
    ("1953-W", "Guest Section 1", "1160.0", "PCS", None),
    ("1960-S", "ROME Guest Chair, green", "192.8", "PCS", ("BOX", "6")),
    ("1964-S", "TOKYO Guest Chair, blue", "192.8", "PCS", ("BOX", "6")),
    ("1968-S", "MEXICO Swivel Chair, black", "190.1", "PCS", ("BOX", "6")),
    ("1972-S", "MUNICH Swivel Chair, yellow", "190.1", "PCS", ("BOX", "6")),
    ("1980-S", "MOSCOW Swivel Chair, red", "190.1", "PCS", ("BOX", "6")),
    ("1988-S", "SEOUL Guest Chair, red", "192.8", "PCS", ("BOX", "6")),
    ("1996-S", "ATLANTA Whiteboard, base", "1397.3", "PCS", None),
    ("2000-S", "SYDNEY Swivel Chair, green", "190.1", "PCS", ("BOX", "6")),
]
UNITS = [("PCS", "Piece"), ("BOX", "Box"), ("HOUR", "Hour")]
LOCATIONS = [("BLUE", "Blue Warehouse"), ("RED", "Red Warehouse"), ("YELLOW", "Yellow Warehouse")]
CUSTOMERS = [
    ("10000", "Adatum Corporation", "192 Market Square", "Atlanta", "31772", "US", ""),
    ("20000", "Trey Research", "153 Thomas Drive", "Chicago", "61236", "US", ""),
    ("30000", "School of Fine Art", "10 High Tower Green", "Miami", "37125", "US", ""),
    ("40000", "Alpine Ski House", "10 Deerfield Road", "Montreal", "H3B 2K9", "CA", "CAD"),
    ("50000", "Relecloud", "Hauptstrasse 5", "Munich", "80331", "DE", "EUR"),
]
RESOURCES = [
    ("KATHERINE", "Katherine Hull", "HOUR", "110"),
    ("LINA", "Lina Townsend", "HOUR", "95"),
]
CURRENCIES = [("EUR", "Euro"), ("CAD", "Canadian dollar"), ("GBP", "Pound Sterling")]
# Items left uncoupled, to show the difference between ItemAvailability and ProductItemAvailability.
UNCOUPLED = {"1925-W", "1953-W"}


def product_id(item_no: str) -> str:
    """The fixed Sales product id of a demo item: its digits in the last group."""
    return f"5a1e5000-0000-4000-8000-{int(item_no.split('-')[0]):012d}"


def account_id(customer_no: str) -> str:
    return f"ac000000-0000-4000-8000-{int(customer_no):012d}"


def service_product_id(index: int) -> str:
    return f"5e000000-0000-4000-8000-{index:012d}"


def uom_id(index: int) -> str:
    return f"0b000000-0000-4000-8000-{index:012d}"


async def load_demo(conn: AsyncConnection, company: str, today: dt.date | None = None) -> bool:
    """Load the demo company; does nothing (False) if the company already has ledger entries."""
    await masterdata.ensure_company(conn, company, "CRONUS International Ltd." if company == "CRONUS" else company)
    has_entries = (
        await conn.execute(select(item_ledger_entry.c.entry_no).where(item_ledger_entry.c.company == company).limit(1))
    ).first()
    if has_entries:
        return False
    today = today or dt.date.today()
    for i, (code, description) in enumerate(UNITS, start=1):
        await masterdata.ensure_unit(conn, company, code, description)
        await masterdata.couple(conn, company, "unit", code, uom_id(i))
    for code, name in LOCATIONS:
        await masterdata.ensure_location(conn, company, code, name)
    for code, description in CURRENCIES:
        await masterdata.ensure_currency(conn, company, code, description)
    for no, description, price, base, second in ITEMS:
        await masterdata.upsert_item(
            conn,
            company,
            no,
            description=description,
            type="Inventory",
            base_unit_of_measure=base,
            unit_price=Decimal(price),
        )
        if second:
            await masterdata.set_item_unit(conn, company, no, second[0], Decimal(second[1]))
        if no not in UNCOUPLED:
            await masterdata.couple(conn, company, "item", no, product_id(no))
    for no, name, address, city, post_code, country, currency in CUSTOMERS:
        await masterdata.upsert_customer(
            conn,
            company,
            no,
            name=name,
            address=address,
            city=city,
            post_code=post_code,
            country_region_code=country,
            currency_code=currency,
        )
        await masterdata.couple(conn, company, "customer", no, account_id(no))
    for i, (no, name, unit, price) in enumerate(RESOURCES, start=1):
        await masterdata.upsert_resource(
            conn, company, no, name=name, base_unit_of_measure=unit, unit_price=Decimal(price)
        )
        await masterdata.couple(conn, company, "resource", no, service_product_id(i))

    # Purchases into each warehouse, then some sales: inventory differs by item and location.
    lines = []
    for n, (no, *_rest) in enumerate(ITEMS):
        for k, (location, _name) in enumerate(LOCATIONS):
            qty = Decimal((n * 7 + k * 13) % 40 + 5)
            lines.append(LedgerLine(no, qty, location, today - dt.timedelta(days=30), "Purchase", f"PR{n:04d}"))
        if n % 3 == 0:
            lines.append(LedgerLine(no, Decimal(-3), "BLUE", today - dt.timedelta(days=2), "Sale", f"SS{n:04d}"))
    await post_ledger_entries(conn, company, lines)
    return True
