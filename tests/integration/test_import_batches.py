"""Imports in batches (issue 13): what happens at a batch's edges. A bad row in the middle of a
batch, a file of exactly the batch size, a key twice in one batch, a batch the database refuses,
and the running totals of any ledger file equal to the plain sum of its accepted rows."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from gateway import csv_import
from gateway.csv_import import import_csv
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction

LOCATIONS = ("", "BLUE", "RED")
_companies = itertools.count()


async def _company(engine: Any, items: tuple[str, ...] = ("A", "B", "C")) -> str:
    name = f"BATCH{next(_companies)}"
    async with write_transaction(engine) as conn:
        await master_data.ensure_company(conn, name)
        await master_data.ensure_unit(conn, name, "PCS", "Piece")
        for code in LOCATIONS[1:]:
            await master_data.ensure_location(conn, name, code, code.title())
        for no in items:
            await master_data.upsert_item(conn, name, no, base_unit_of_measure="PCS")
        await master_data.upsert_item(conn, name, "SRV", type="Service")
    return name


def _file(tmp_path: Path, name: str, header: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


async def _totals(engine: Any, company: str) -> tuple[dict[str, Decimal], dict[tuple[str, str], Decimal]]:
    ii, ili = t.item_inventory, t.item_location_inventory
    async with engine.connect() as conn:
        items = (await conn.execute(select(ii.c.item_no, ii.c.inventory).where(ii.c.company == company))).all()
        by_location = (
            await conn.execute(
                select(ili.c.item_no, ili.c.location_code, ili.c.inventory).where(ili.c.company == company)
            )
        ).all()
    return {r.item_no: r.inventory for r in items}, {(r.item_no, r.location_code): r.inventory for r in by_location}


async def test_a_bad_row_in_the_middle_of_a_batch_keeps_the_others(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "BULK_BATCH", 5)
    company = await _company(engine)
    lines = ["A,BLUE,1", "A,BLUE,2", "NOPE,BLUE,4", "A,RED,8", "A,,16", "B,BLUE,32", "B,BLUE,x", "B,GREEN,128"]
    path = _file(tmp_path, "ledger.csv", "Item_No,Location_Code,Quantity", lines)
    result = await import_csv(engine, company, "ledger", path)
    assert (result.rows, result.created, result.updated) == (8, 5, 0)
    assert result.errors == [
        (4, "The Item does not exist. Identification fields and values: No.='NOPE'"),
        (8, "Quantity: 'x' is not a number"),
        (9, "The Location does not exist. Identification fields and values: Code='GREEN'"),
    ]
    items, by_location = await _totals(engine, company)
    assert items == {"A": 27, "B": 32}
    assert by_location == {("A", "BLUE"): 3, ("A", "RED"): 8, ("A", ""): 16, ("B", "BLUE"): 32}


async def test_files_of_exactly_one_and_two_batches(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "BULK_BATCH", 4)
    company = await _company(engine)
    seen: list[int] = []
    for count in (4, 8):
        items = [f"E{count}-{i},Item {i},Inventory,PCS,{i}" for i in range(count)]
        path = _file(tmp_path, "items.csv", "No,Description,Type,Base_Unit_of_Measure,Unit_Price", items)
        result = await import_csv(engine, company, "items", path, progress=seen.append)
        assert (result.rows, result.created, result.errors) == (count, count, [])
    assert seen == [4, 4, 4]  # one call per batch, no empty batch at the end
    async with engine.connect() as conn:
        made = await conn.scalar(select(func.count()).select_from(t.item).where(t.item.c.company == company))
        units = await conn.scalar(
            select(func.count()).select_from(t.item_unit_of_measure).where(t.item_unit_of_measure.c.company == company)
        )
    assert made == 4 + 12 and units == 3 + 12  # and those of _company: A, B, C (PCS), SRV (no unit)


async def test_keys_twice_in_one_batch(engine: Any, tmp_path: Path) -> None:
    company = await _company(engine)
    items = [
        "N1,First,Inventory,PCS,10,",
        "N1,Second,,,20,0d000000-0000-4000-8000-000000000001",
        "N2,Other,Inventory,PCS,1,0d000000-0000-4000-8000-000000000001",  # that Sales id is N1's now
        "N1,Third,,,,0d000000-0000-4000-8000-000000000001",  # the same coupling again: fine
    ]
    header = "No,Description,Type,Base_Unit_of_Measure,Unit_Price,CRM_ID"
    result = await import_csv(engine, company, "items", _file(tmp_path, "items.csv", header, items))
    assert (result.created, result.updated) == (1, 2)
    assert result.errors == [
        (4, "The Dynamics 365 Sales record 0d000000-0000-4000-8000-000000000001 is already coupled to another item.")
    ]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.item).where(t.item.c.company == company, t.item.c.no.like("N%")))).all()
        coupled = (
            await conn.execute(
                select(t.item.c.no)
                .join(t.crm_integration_record, t.crm_integration_record.c.integration_id == t.item.c.system_id)
                .where(t.item.c.company == company)
            )
        ).all()
    assert [(r.no, r.description, r.unit_price) for r in rows] == [("N1", "Third", Decimal(20))]
    assert [r.no for r in coupled] == ["N1"]

    couplings = [
        "Item,A,0d000000-0000-4000-8000-00000000000a",
        "Item,B,0d000000-0000-4000-8000-00000000000a",  # taken by A a row ago
        "Item,A,0d000000-0000-4000-8000-00000000000b",  # A is coupled a row ago
        "Item,C,0d000000-0000-4000-8000-00000000000b",
    ]
    result = await import_csv(
        engine, company, "couplings", _file(tmp_path, "couplings.csv", "Table,No,CRM_ID", couplings)
    )
    assert result.created == 2 and [line for line, _m in result.errors] == [3, 4]
    assert "already coupled to another item" in result.errors[0][1]
    assert "Item A is already coupled to the Dynamics 365 Sales record 0d000000" in result.errors[1][1]


async def test_a_batch_the_database_refuses_goes_row_by_row(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a statement of the batch fail at the database, nothing of the batch stays; its rows
    are applied again one by one (each on a savepoint), as before batches."""
    company = await _company(engine)
    real = csv_import.KINDS["ledger"].apply_batch
    assert real is not None

    async def refused_at_the_end(conn: Any, company_: str, rows: list[dict[str, Any]]) -> list[bool | str]:
        outcome = await real(conn, company_, rows)
        await conn.execute(insert(t.company).values(name=company_, system_id=master_data.new_id()))  # a duplicate
        return outcome

    monkeypatch.setitem(
        csv_import.KINDS, "ledger", dataclasses.replace(csv_import.KINDS["ledger"], apply_batch=refused_at_the_end)
    )
    lines = ["A,BLUE,5", "A,BLUE,0", "B,,7"]
    result = await import_csv(
        engine, company, "ledger", _file(tmp_path, "ledger.csv", "Item_No,Location_Code,Quantity", lines)
    )
    assert (result.rows, result.created) == (3, 2) and result.errors == [(3, "Quantity must not be 0.")]
    items, _by_location = await _totals(engine, company)
    assert items == {"A": 5, "B": 7}  # once: the refused batch wrote nothing
    async with engine.connect() as conn:
        entries = await conn.scalar(
            select(func.count()).select_from(t.item_ledger_entry).where(t.item_ledger_entry.c.company == company)
        )
    assert entries == 2


_LEDGER_ROWS = st.lists(
    st.tuples(
        st.sampled_from(("A", "B", "C", "SRV", "NOPE")),
        st.sampled_from((*LOCATIONS, "GREEN")),
        st.integers(-50, 50),
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_LEDGER_ROWS, batch=st.integers(1, 9))
async def test_running_totals_are_the_sum_of_the_accepted_entries(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str, str, int]], batch: int
) -> None:
    monkeypatch.setattr(csv_import, "BULK_BATCH", batch)
    company = await _company(engine)
    path = _file(tmp_path, f"{company}.csv", "Item_No,Location_Code,Quantity", [f"{i},{loc},{q}" for i, loc, q in rows])
    result = await import_csv(engine, company, "ledger", path)
    # The naive sum: a row counts when its item is an inventory item, its location exists and it moves something.
    accepted = [(i, loc, q) for i, loc, q in rows if i in ("A", "B", "C") and loc != "GREEN" and q != 0]
    expected_items: dict[str, Decimal] = defaultdict(Decimal)
    expected_locations: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for item_no, loc, qty in accepted:
        expected_items[item_no] += qty
        expected_locations[item_no, loc] += qty
    assert result.created == len(accepted) and len(result.errors) == len(rows) - len(accepted)
    assert await _totals(engine, company) == (dict(expected_items), dict(expected_locations))
