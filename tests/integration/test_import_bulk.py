"""Imports in bulk (issue 13): items, couplings and ledger entries give every row the outcome and
the message it gets row by row, and leave the same records. The same file goes into two companies
of one database, once in bulk and once with the bulk path switched off; both are compared."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway import csv_import
from gateway.csv_import import ImportResult, import_csv
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction

BULK, ROWS = "BULK", "ROWS"
HEADERS = {
    "items": "No,Description,Type,Base_Unit_of_Measure,Unit_Price",
    "couplings": "Table,No,CRM_ID",
    "ledger": "Item_No,Location_Code,Quantity,Posting_Date,Entry_Type,Document_No",
}


async def _company(engine: Any, name: str) -> None:
    async with write_transaction(engine) as conn:
        await master_data.ensure_company(conn, name)
        await master_data.ensure_unit(conn, name, "PCS", "Piece")
        await master_data.ensure_location(conn, name, "BLUE", "Blue")
        await master_data.upsert_item(conn, name, "OLD", description="There before", base_unit_of_measure="PCS")
        await master_data.upsert_item(conn, name, "SRV", type="Service")
        await master_data.upsert_item(conn, name, "C1")
        await master_data.upsert_item(conn, name, "C2")
        for no in ("C3", "C4", "C5"):
            await master_data.upsert_item(conn, name, no)
        await master_data.couple(conn, name, "item", "C1", "0c000000-0000-4000-8000-000000000001")
        await master_data.couple(conn, name, "item", "C4", "0c000000-0000-4000-8000-000000000008")


async def _import_both(
    engine: Any, tmp_path: Path, kind: str, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[ImportResult, ImportResult]:
    path = tmp_path / f"{kind}.csv"
    path.write_text("\n".join([HEADERS[kind], *lines]) + "\n")
    one_by_one = 0
    apply = csv_import.KINDS[kind].apply

    async def counted(*args: Any) -> bool:
        nonlocal one_by_one
        one_by_one += 1
        return await apply(*args)

    with monkeypatch.context() as m:
        m.setitem(csv_import.KINDS, kind, dataclasses.replace(csv_import.KINDS[kind], apply=counted))
        bulk = await import_csv(engine, BULK, kind, path)
    bulk.one_by_one = one_by_one  # type: ignore[attr-defined]
    with monkeypatch.context() as m:
        m.setitem(csv_import.KINDS, kind, dataclasses.replace(csv_import.KINDS[kind], apply_batch=None))
        rows = await import_csv(engine, ROWS, kind, path)
    return bulk, rows


async def _records(engine: Any, company: str) -> dict[str, list[tuple[Any, ...]]]:
    """What an import leaves, without what differs by nature between companies (ids, numbers)."""
    ile, cir = t.item_ledger_entry, t.crm_integration_record
    queries = {
        "items": select(t.item.c.no, t.item.c.description, t.item.c.type, t.item.c.base_unit_of_measure,
                        t.item.c.unit_price).where(t.item.c.company == company).order_by(t.item.c.no),
        "units": select(t.item_unit_of_measure.c.item_no, t.item_unit_of_measure.c.code,
                        t.item_unit_of_measure.c.qty_per_unit_of_measure)
        .where(t.item_unit_of_measure.c.company == company).order_by(t.item_unit_of_measure.c.item_no),
        "couplings": select(t.item.c.no, cir.c.crm_id).join(cir, cir.c.integration_id == t.item.c.system_id)
        .where(cir.c.company == company).order_by(t.item.c.no),
        "ledger": select(ile.c.item_no, ile.c.location_code, ile.c.quantity, ile.c.posting_date, ile.c.entry_type,
                         ile.c.document_no).where(ile.c.company == company).order_by(ile.c.entry_no),
        "totals": select(t.item_inventory.c.item_no, t.item_inventory.c.inventory)
        .where(t.item_inventory.c.company == company).order_by(t.item_inventory.c.item_no),
        "by_location": select(t.item_location_inventory.c.item_no, t.item_location_inventory.c.location_code,
                              t.item_location_inventory.c.inventory)
        .where(t.item_location_inventory.c.company == company)
        .order_by(t.item_location_inventory.c.item_no, t.item_location_inventory.c.location_code),
    }  # fmt: skip
    async with engine.connect() as conn:
        return {name: [tuple(r) for r in (await conn.execute(q)).all()] for name, q in queries.items()}


async def _same_outcome(engine: Any, bulk: ImportResult, rows: ImportResult) -> None:
    assert (bulk.rows, bulk.created, bulk.updated, bulk.errors) == (rows.rows, rows.created, rows.updated, rows.errors)
    assert await _records(engine, BULK) == await _records(engine, ROWS)


@pytest.fixture
async def companies(engine: Any) -> Any:
    await _company(engine, BULK)
    await _company(engine, ROWS)
    return engine


async def test_items_in_bulk_as_row_by_row(companies: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "N1,First,Inventory,PCS,10",
        "N2,Unknown unit,Inventory,KG,10",
        "N3,Negative,Inventory,PCS,-1",
        "N4,Odd type,Gadget,PCS,1",
        ",No number,Inventory,PCS,1",
        "N5,Not a number,Inventory,PCS,abc",
        "N6," + "x" * 101 + ",Inventory,PCS,1",
        "N7,No unit,,,",
        "N" + "9" * 25 + ",Too long a number,Inventory,PCS,1",
        "N8,Service,Service,PCS,5",
    ]
    bulk, rows = await _import_both(companies, tmp_path, "items", lines, monkeypatch)
    assert bulk.created == 3 and len(bulk.errors) == 7, bulk.errors
    assert bulk.one_by_one == 0  # in bulk indeed
    await _same_outcome(companies, bulk, rows)
    # An item already there, and one twice in the batch: updated, not created, still in the batch.
    bulk, rows = await _import_both(companies, tmp_path, "items", ["OLD,Changed,,,", "N9,New,,PCS,1", "N9,Again,,,"],
                                    monkeypatch)  # fmt: skip
    assert (bulk.created, bulk.updated) == (1, 2) and bulk.one_by_one == 0
    await _same_outcome(companies, bulk, rows)


async def test_couplings_in_bulk_as_row_by_row(companies: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "Item,C2,0c000000-0000-4000-8000-000000000002",
        "Item,C4,0c000000-0000-4000-8000-000000000008",  # coupled so already: fine
        "Item,C1,0c000000-0000-4000-8000-000000000009",  # C1 is coupled to another Sales record
        "Item,C3,0c000000-0000-4000-8000-000000000001",  # that Sales record is C1's
        "Item,NOPE,0c000000-0000-4000-8000-000000000003",
        "Item,C3,not-a-guid",
        "Shelf,C3,0c000000-0000-4000-8000-000000000004",
        "27,C5,{0C000000-0000-4000-8000-000000000005}",
    ]
    bulk, rows = await _import_both(companies, tmp_path, "couplings", lines, monkeypatch)
    assert bulk.created == 3 and len(bulk.errors) == 5, bulk.errors
    assert bulk.one_by_one == 0
    await _same_outcome(companies, bulk, rows)
    # One record twice in a batch: the batch tells the first from the second as row by row does.
    twice = ["Item,OLD,0c000000-0000-4000-8000-000000000006", "Item,OLD,0c000000-0000-4000-8000-000000000007"]
    bulk, rows = await _import_both(companies, tmp_path, "couplings", twice, monkeypatch)
    assert bulk.created == 1 and len(bulk.errors) == 1 and bulk.one_by_one == 0
    await _same_outcome(companies, bulk, rows)


async def test_ledger_in_bulk_as_row_by_row(companies: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "OLD,BLUE,10,2026-01-02,Purchase,P1",
        "OLD,,5,2026-01-03,,P2",
        "OLD,BLUE,-3,2026-01-04,Sale,S1",
        "OLD,BLUE,0,2026-01-04,Sale,S2",
        "NOPE,BLUE,1,2026-01-04,Purchase,P3",
        "SRV,BLUE,1,2026-01-04,Purchase,P4",
        "OLD,RED,1,2026-01-04,Purchase,P5",
        "OLD,BLUE,1,2026-01-04,Gift,P6",
        "OLD,BLUE,1,2026-13-04,Purchase,P7",
        "C1,BLUE,-2,,,A1",
        "C1,BLUE,7.5,2026-01-05,Positive Adjmt.,A2",
    ]
    bulk, rows = await _import_both(companies, tmp_path, "ledger", lines, monkeypatch)
    assert bulk.created == 5 and len(bulk.errors) == 6, bulk.errors
    assert bulk.one_by_one == 0
    await _same_outcome(companies, bulk, rows)
    records = await _records(companies, BULK)
    assert dict(records["totals"])["OLD"] == Decimal(12) and dict(records["totals"])["C1"] == Decimal("5.5")


async def test_a_large_ledger_file_spans_batches(
    companies: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "BULK_BATCH", 7)
    lines = [f"{'OLD' if i % 3 else 'C2'},{'BLUE' if i % 2 else ''},{i % 5 - 1},2026-02-01,,D{i}" for i in range(40)]
    bulk, rows = await _import_both(companies, tmp_path, "ledger", lines, monkeypatch)
    assert bulk.rows == 40 and bulk.errors and bulk.created == 40 - len(bulk.errors) and bulk.one_by_one == 0
    await _same_outcome(companies, bulk, rows)
