"""Seed data: a CRONUS-like demo company, and bulk data for load tests.

Demo ids are derived from names (uuid5), so every run of the demo gives the same GUIDs. The bulk
helper writes rows straight into the tables (no rules, no events, one sort), which is what makes
100,000 items and 1,000,000 ledger entries take seconds, not minutes.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from . import masterdata
from .fields import EMPTY_GUID
from .store import Company, Rec, Store

NAMESPACE = uuid.UUID("8c1a6f52-3b0e-4d7a-9f21-5e4c3b2a1d00")

ITEMS = [
    ("1896-S", "ATHENS Desk", "1000.8", None),
    ("1900-S", "PARIS Guest Chair, black", "192.8", ("BOX", "6")),
    ("1906-S", "ATHENS Mobile Pedestal", "281.4", None),
    ("1908-S", "LONDON Swivel Chair, blue", "190.1", ("BOX", "6")),
    ("1920-S", "ANTWERP Conference Table", "649.4", None),
    ("1925-W", "Conference Bundle 1-6", "133.7", None),
    ("1928-S", "AMSTERDAM Lamp", "54.9", ("BOX", "12")),
    ("1936-S", "BERLIN Guest Chair, yellow", "192.8", ("BOX", "6")),
    ("1953-W", "Guest Section 1", "1160.0", None),
    ("1960-S", "ROME Guest Chair, green", "192.8", ("BOX", "6")),
    ("1964-S", "TOKYO Guest Chair, blue", "192.8", ("BOX", "6")),
    ("1968-S", "MEXICO Swivel Chair, black", "190.1", ("BOX", "6")),
    ("1972-S", "MUNICH Swivel Chair, yellow", "190.1", ("BOX", "6")),
    ("1980-S", "MOSCOW Swivel Chair, red", "190.1", ("BOX", "6")),
    ("1988-S", "SEOUL Guest Chair, red", "192.8", ("BOX", "6")),
    ("1996-S", "ATLANTA Whiteboard, base", "1397.3", None),
    ("2000-S", "SYDNEY Swivel Chair, green", "190.1", ("BOX", "6")),
]
UNITS = [("PCS", "Piece", "H87"), ("BOX", "Box", "BX"), ("HOUR", "Hour", "HUR")]
LOCATIONS = [("BLUE", "Blue Warehouse"), ("RED", "Red Warehouse"), ("YELLOW", "Yellow Warehouse")]
CUSTOMERS = [
    ("10000", "Adatum Corporation", "192 Market Square", "Atlanta", "GA", "31772", "US", ""),
    ("20000", "Trey Research", "153 Thomas Drive", "Chicago", "IL", "61236", "US", ""),
    ("30000", "School of Fine Art", "10 High Tower Green", "Miami", "FL", "37125", "US", ""),
    ("40000", "Alpine Ski House", "10 Deerfield Road", "Montreal", "QC", "H3B 2K9", "CA", "CAD"),
    ("50000", "Relecloud", "Hauptstrasse 5", "Munich", "", "80331", "DE", "EUR"),
]
CURRENCIES = [("EUR", "Euro", "€"), ("GBP", "Pound Sterling", "£"), ("CAD", "Canadian dollar", "$")]
ACCOUNTS = [("6110", "Sales, Retail - Dom.", "Income"), ("6710", "Freight", "Income")]
RESOURCES = [("KATHERINE", "Katherine Hull", "110", "60"), ("LINA", "Lina Townsend", "95", "55")]
VARIANTS = [("1900-S", "BLACK", "PARIS Guest Chair, black leather"), ("1900-S", "WHITE", "PARIS Guest Chair, white")]


def demo_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _add(company: Company, set_name: str, key: str, **values: Any) -> Rec:
    table = company.table(set_name)
    rec = masterdata.blank(table.defn, company)
    rec["id"] = demo_id(company.name, set_name, key)
    rec.update(values)
    table.insert(rec, notify=False)
    return rec


def seed_demo(store: Store, name: str = "CRONUS", display_name: str = "CRONUS USA, Inc.") -> Company:
    """The demo company; ledger: purchases into each warehouse a month ago, a few sales two days ago."""
    company = store.add_company(name, display_name, demo_id("company", name))
    today = store.clock.today()
    units = {
        c: _add(company, "unitsOfMeasure", c, code=c, displayName=n, internationalStandardCode=iso, symbol="")
        for c, n, iso in UNITS
    }
    for code, label in LOCATIONS:
        _add(company, "locations", code, code=code, displayName=label, city="Atlanta", country="US")
    for code, label, symbol in CURRENCIES:
        _add(
            company,
            "currencies",
            code,
            code=code,
            displayName=label,
            symbol=symbol,
            amountDecimalPlaces="2:2",
            amountRoundingPrecision=Decimal("0.01"),
        )
    for no, label, category in ACCOUNTS:
        _add(company, "accounts", no, number=no, displayName=label, category=category, directPosting=True)
    for no, label, price, second in ITEMS:
        _add(
            company,
            "items",
            no,
            number=no,
            displayName=label,
            type="Inventory",
            unitPrice=Decimal(price),
            unitCost=(Decimal(price) * Decimal("0.6")).quantize(Decimal("0.01")),
            baseUnitOfMeasureCode="PCS",
            baseUnitOfMeasureId=units["PCS"]["id"],
            generalProductPostingGroupCode="RETAIL",
            inventoryPostingGroupCode="RESALE",
        )
        masterdata.ensure_item_unit(company, no, "PCS")
        if second:
            masterdata.ensure_item_unit(company, no, second[0], Decimal(second[1]))
    for item_no, code, label in VARIANTS:
        item = company.table("items").by_key(item_no)
        assert item is not None
        _add(
            company,
            "itemVariants",
            f"{item_no}/{code}",
            itemId=item["id"],
            itemNumber=item_no,
            code=code,
            description=label,
        )
    currencies = company.table("currencies")
    for no, label, street, city, state, post, country, currency in CUSTOMERS:
        cur = currencies.by_key(currency) if currency else None
        _add(
            company,
            "customers",
            no,
            number=no,
            displayName=label,
            type="Company",
            addressLine1=street,
            city=city,
            state=state,
            postalCode=post,
            country=country,
            currencyCode=currency,
            currencyId=cur["id"] if cur else EMPTY_GUID,
            email=f"info@{label.split()[0].lower()}.example",
            phoneNumber="+1 555 0100",
            paymentTermsId=EMPTY_GUID,
        )
        _add(
            company,
            "contacts",
            no,
            number=f"CT{no}",
            type="Company",
            displayName=label,
            companyNumber=f"CT{no}",
            companyName=label,
            contactBusinessRelation="Customer",
            searchName=label.upper(),
            city=city,
            country=country,
        )
    for no, label, price, cost in RESOURCES:
        _add(
            company,
            "resources",
            no,
            number=no,
            name=label,
            type="Person",
            baseUnitOfMeasure="HOUR",
            unitPrice=Decimal(price),
            unitCost=Decimal(cost),
            searchName=label.upper(),
        )
    for n, (no, *_rest) in enumerate(ITEMS):
        for k, (location, _label) in enumerate(LOCATIONS):
            masterdata.post_entry(
                company,
                item_no=no,
                quantity=(n * 7 + k * 13) % 40 + 5,
                entry_type="Purchase",
                posting_date=today - timedelta(days=30),
                document_no=f"107{n:03d}",
                document_type="Purchase Receipt",
                location=location,
                source_type="Vendor",
                source_no="10000",
            )
        if n % 3 == 0:
            masterdata.post_entry(
                company,
                item_no=no,
                quantity=-3,
                entry_type="Sale",
                posting_date=today - timedelta(days=2),
                document_no=f"102{n:03d}",
                document_type="Sales Shipment",
                location="BLUE",
                source_type="Customer",
                source_no="10000",
            )
    return company


def bulk_seed(
    store: Store,
    company: Company,
    items: int = 100_000,
    ledger_entries: int = 1_000_000,
    locations: tuple[str, ...] = ("BLUE", "RED", "YELLOW"),
    prefix: str = "BULK",
) -> None:
    """Many items (``{prefix}000001`` ...) and positive, open ledger entries spread over them and the locations."""
    clock_now = store.clock.now()
    posting = date.today() - timedelta(days=10)
    id_base = uuid.uuid4().hex[:20]
    ids = iter(range(1, 10**12))

    def next_id() -> str:
        n = next(ids)
        return f"{id_base[:8]}-{id_base[8:12]}-4{id_base[13:16]}-8{id_base[17:20]}-{n:012x}"

    for code in locations:
        if company.table("locations").by_key(code) is None:
            _add(company, "locations", code, code=code, displayName=code.title())
    if company.table("unitsOfMeasure").by_key("PCS") is None:
        _add(company, "unitsOfMeasure", "PCS", code="PCS", displayName="Piece")
    pcs = company.table("unitsOfMeasure").by_key("PCS")
    assert pcs is not None
    item_defn = company.table("items").defn
    template = masterdata.blank(item_defn, company)
    numbers = [f"{prefix}{i:06d}" for i in range(1, items + 1)]
    item_rows: list[Rec] = []
    uom_rows: list[Rec] = []
    for no in numbers:
        row = dict(template)
        row.update(
            id=next_id(),
            number=no,
            displayName=f"Bulk item {no}",
            unitPrice=Decimal(10),
            unitCost=Decimal(6),
            baseUnitOfMeasureCode="PCS",
            baseUnitOfMeasureId=pcs["id"],
            lastModifiedDateTime=clock_now,
        )
        item_rows.append(row)
        uom_rows.append(
            {
                "id": next_id(),
                "itemNumber": no,
                "code": "PCS",
                "qtyPerUnitOfMeasure": Decimal(1),
                "lastModifiedDateTime": clock_now,
            }
        )
    company.table("items").bulk_load(item_rows)
    company.table("itemUnitsOfMeasure").bulk_load(uom_rows)
    entries: list[Rec] = []
    start = company.next_entry_no
    inventory = company.inventory
    quantities = [Decimal(q) for q in range(1, 11)]
    for i in range(ledger_entries):
        no = numbers[i % items] if items else ""
        location = locations[i % len(locations)]
        qty = quantities[i % 10]
        entry_id = next_id()
        entries.append(
            {
                "id": entry_id,
                "entryNumber": start + i,
                "itemNumber": no,
                "postingDate": posting,
                "entryType": "Purchase",
                "sourceNumber": "10000",
                "sourceType": "Vendor",
                "documentNumber": f"BULK{i // 100:06d}",
                "documentType": "Purchase Receipt",
                "description": "",
                "quantity": qty,
                "salesAmountActual": Decimal(0),
                "costAmountActual": qty * 6,
                "lastModifiedDateTime": clock_now,
                "_location": location,
                "_variant": "",
                "_remaining": qty,
                "_open": True,
            }
        )
        inventory[no] = inventory.get(no, Decimal(0)) + qty
        company.open_entries.setdefault((no, location, ""), []).append(entry_id)
    company.table("itemLedgerEntries").bulk_load(entries)
    company.next_entry_no = start + ledger_entries
