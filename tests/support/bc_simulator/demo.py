"""Seed data: a CRONUS-like demo company, and bulk data for load tests.

Demo ids are derived from names (uuid5), so every run of the demo gives the same GUIDs. The bulk
helper writes rows straight into the tables (no rules, no events, one sort), which is what makes
100,000 items and 1,000,000 ledger entries take seconds, not minutes.
"""

from __future__ import annotations

import gc
import itertools
import uuid
from datetime import timedelta
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
    if ledger_entries and not items:
        raise ValueError("ledger entries need items")
    # Millions of new dicts would trigger the cyclic GC over and over; none of them form cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _bulk(store, company, items, ledger_entries, locations, prefix)
    finally:
        if was_enabled:
            gc.enable()


def _bulk(
    store: Store, company: Company, items: int, ledger_entries: int, locations: tuple[str, ...], prefix: str
) -> None:
    now = store.clock.now()
    posting = store.clock.today() - timedelta(days=10)
    stem = uuid.uuid4().hex
    id_prefix = f"{stem[:8]}-{stem[8:12]}-4{stem[13:16]}-8{stem[17:20]}-"
    serial = itertools.count(int(stem[20:24], 16) << 32)
    for code in locations:
        if company.table("locations").by_key(code) is None:
            _add(company, "locations", code, code=code, displayName=code.title())
    if company.table("unitsOfMeasure").by_key("PCS") is None:
        _add(company, "unitsOfMeasure", "PCS", code="PCS", displayName="Piece")
    pcs = company.table("unitsOfMeasure").by_key("PCS")
    assert pcs is not None
    template = masterdata.blank(company.table("items").defn, company)
    template.update(
        unitPrice=Decimal(10),
        unitCost=Decimal(6),
        baseUnitOfMeasureCode="PCS",
        baseUnitOfMeasureId=pcs["id"],
        lastModifiedDateTime=now,
    )
    numbers = [f"{prefix}{i:06d}" for i in range(1, items + 1)]
    item_rows = []
    for no in numbers:
        row = template.copy()
        row["id"], row["number"], row["displayName"] = f"{id_prefix}{next(serial):012x}", no, f"Bulk item {no}"
        item_rows.append(row)
    company.table("items").bulk_load(item_rows)
    unit_template = {"code": "PCS", "qtyPerUnitOfMeasure": Decimal(1), "lastModifiedDateTime": now}
    units = []
    for no in numbers:
        row = unit_template.copy()
        row["id"], row["itemNumber"] = f"{id_prefix}{next(serial):012x}", no
        units.append(row)
    company.table("itemUnitsOfMeasure").bulk_load(units)
    start = company.next_entry_no
    entry_template: Rec = {
        "postingDate": posting,
        "entryType": "Purchase",
        "sourceNumber": "10000",
        "sourceType": "Vendor",
        "documentType": "Purchase Receipt",
        "description": "",
        "salesAmountActual": Decimal(0),
        "lastModifiedDateTime": now,
        "_variant": "",
        "_open": True,
    }
    quantities = [Decimal(q) for q in range(1, 11)]
    costs = [q * 6 for q in quantities]
    width = len(locations)
    entries = []
    for i in range(ledger_entries):
        row = entry_template.copy()
        q = i % 10
        row["id"] = f"{id_prefix}{next(serial):012x}"
        row["entryNumber"] = start + i
        row["itemNumber"] = numbers[i % items]
        row["documentNumber"] = f"BULK{i // 100:06d}"
        row["quantity"] = row["_remaining"] = quantities[q]
        row["costAmountActual"] = costs[q]
        row["_location"] = locations[i % width]
        entries.append(row)
    company.table("itemLedgerEntries").bulk_load(entries)
    company.next_entry_no = start + ledger_entries
    totals: dict[str, Decimal] = {}
    for row in entries:
        no = row["itemNumber"]
        totals[no] = totals.get(no, Decimal(0)) + row["quantity"]
    for no, qty in totals.items():
        company.inventory[no] = company.inventory.get(no, Decimal(0)) + qty
    company.forget_open_entries()
