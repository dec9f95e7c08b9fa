"""Master data through the command line on a real database: import, couple, inventory post, init."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from schemas import tables as t
from tests.support.helpers import cli, run_cli


async def _count(engine: Any, table: Any) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_init_is_idempotent(settings: Any, engine: Any) -> None:
    code, out, err = await cli(settings, "init")
    assert code == 0, err
    assert "Created company CRONUS" in out
    code, out, _e = await cli(settings, "init")
    assert code == 0 and "Created company" not in out
    code, out, _e = await cli(settings, "db", "current")
    assert code == 0 and "(run" not in out


async def _units_and_currencies(settings: Any, tmp_path: Path) -> None:
    """What items, resources and customers refer to, as BC needs it first (test_operator_masterdata)."""
    (tmp_path / "uom.csv").write_text("Code,Description\nPCS,Piece\nBOX,Box\nHOUR,Hour\n")
    (tmp_path / "currencies.csv").write_text("Code,Description\nEUR,Euro\n")
    assert (await cli(settings, "import", "units-of-measure", str(tmp_path / "uom.csv"), "--quiet"))[0] == 0
    assert (await cli(settings, "import", "currencies", str(tmp_path / "currencies.csv"), "--quiet"))[0] == 0


async def test_import_items_keeps_good_rows_and_reports_bad_ones(settings: Any, engine: Any, tmp_path: Path) -> None:
    await cli(settings, "init")
    await _units_and_currencies(settings, tmp_path)
    csv = tmp_path / "items.csv"
    csv.write_text(
        "No,Description,Type,Base_Unit_of_Measure,Unit_Price,Blocked,CRM_ID\n"
        "1000,Bicycle,Inventory,PCS,4000,false,11111111-1111-1111-1111-111111111111\n"
        "1001,Touring Bike,Inventory,PCS,abc,,\n"
        ",No number,Inventory,PCS,1,,\n"
        "1002,Service kit,Service,PCS,25,,\n"
        "1003,Odd,Gadget,PCS,1,,\n"
        "1004,Short row\n"
        "1005,Coupled twice,Inventory,PCS,1,,11111111-1111-1111-1111-111111111111\n"
        "1006,Ünïcödé bell,Inventory,PCS,12.5,yes,\n",
        encoding="utf-8",
    )
    code, out, err = await cli(settings, "import", "items", str(csv), "--quiet")
    assert code == 1
    assert "Imported 3 of 8 rows into items (3 created, 0 updated, 5 refused)." in out
    assert f"{csv}:3: Unit_Price: 'abc' is not a number" in err
    assert f"{csv}:4: No must have a value" in err
    assert f"{csv}:6: Type must be one of Inventory, Service, Non-Inventory; 'Gadget' is not." in err
    assert f"{csv}:7: 2 values for 7 columns" in err
    assert f"{csv}:8: The Dynamics 365 Sales record 11111111-1111-1111-1111-111111111111 is already coupled" in err
    async with engine.connect() as conn:
        items = {r.no: r for r in (await conn.execute(select(t.item))).all()}
    assert set(items) == {"1000", "1002", "1006"}
    assert items["1006"].blocked and items["1006"].unit_price == Decimal("12.5")
    # Importing again updates.
    csv.write_text("No,Description\n1000,Bicycle (red)\n")
    code, out, _e = await cli(settings, "import", "items", str(csv), "--quiet")
    assert code == 0 and "(0 created, 1 updated, 0 refused)" in out


async def test_import_other_kinds(settings: Any, engine: Any, tmp_path: Path) -> None:
    await cli(settings, "init")
    await _units_and_currencies(settings, tmp_path)
    (tmp_path / "items.csv").write_text("No;Description;Base_Unit_of_Measure\n1000;Bicycle;PCS\n")
    (tmp_path / "units.csv").write_text("Item_No,Code,Qty_per_Unit_of_Measure\n1000,BOX,6\n1000,PCS,2\n9999,BOX,1\n")
    (tmp_path / "customers.csv").write_text(
        "No,Name,City,Currency_Code,CRM_ID\n10000,Adatum,Atlanta,EUR,22222222-2222-2222-2222-222222222222\n"
    )
    (tmp_path / "resources.csv").write_text("No,Name,Base_Unit_of_Measure,Unit_Price\nLINA,Lina Townsend,HOUR,95\n")
    (tmp_path / "ledger.csv").write_text(
        "Item_No,Quantity,Location_Code,Posting_Date,Entry_Type\n1000,10,,2026-11-01,Purchase\n1000,-3,,,\n"
        "1000,0,,,\n1000,5,NOWHERE,,\n1000,1,,2026-13-01,\n"
    )
    (tmp_path / "couplings.csv").write_text(
        "Table,No,CRM_ID\nItem,1000,33333333-3333-3333-3333-333333333333\n156,LINA,44444444-4444-4444-4444-444444444444\n"
        "Vendor,1,55555555-5555-5555-5555-555555555555\nItem,1000,not-a-guid\n"
    )
    results = {}
    for kind in ("items", "units", "customers", "resources", "ledger", "couplings"):
        results[kind] = await cli(settings, "import", kind, str(tmp_path / f"{kind}.csv"), "--quiet")
    assert results["items"][0] == 0
    code, _o, err = results["units"]
    assert code == 1 and "The base unit of measure must have a Qty. per Unit of Measure of 1." in err
    assert "The Item does not exist. Identification fields and values: No.='9999'" in err
    assert results["customers"][0] == 0 and results["resources"][0] == 0
    code, out, err = results["ledger"]
    assert "Imported 2 of 5 rows" in out
    assert "Quantity must not be 0." in err
    assert "The Location does not exist. Identification fields and values: Code='NOWHERE'" in err
    assert "Posting_Date: '2026-13-01' is not a date" in err
    code, out, err = results["couplings"]
    assert "Imported 2 of 4 rows" in out
    assert "Table 'Vendor' is not Item, Customer, Resource or Unit" in err
    assert "'not-a-guid' is not a valid Dynamics 365 Sales id" in err
    async with engine.connect() as conn:
        inventory = (await conn.execute(select(t.item_inventory.c.inventory))).scalar_one()
    assert inventory == 7
    assert await _count(engine, t.crm_integration_record) == 3


async def test_import_refuses_a_file_with_unknown_or_missing_columns(settings: Any, tmp_path: Path) -> None:
    await cli(settings, "init")
    bad = tmp_path / "bad.csv"
    bad.write_text("No,Colour\n1,red\n")
    code, _o, err = await cli(settings, "import", "items", str(bad), "--quiet")
    assert code == 1 and "unknown column(s) Colour" in err
    bad.write_text("Description\nx\n")
    code, _o, err = await cli(settings, "import", "items", str(bad), "--quiet")
    assert code == 1 and "the column(s) No are required" in err
    code, _o, err = await cli(settings, "import", "items", str(tmp_path / "nope.csv"), "--quiet")
    assert code == 1 and "no such file" in err


async def test_import_shows_a_progress_bar(settings: Any, demo: Any, tmp_path: Path) -> None:
    csv = tmp_path / "items.csv"
    csv.write_text("No,Description\n" + "".join(f"P{i},Part {i}\n" for i in range(50)))
    code, out, err = await run_cli(settings, "import", "items", str(csv), "--progress")
    assert code == 0, err
    assert "import items" in err and "50/50" in err
    assert "Imported 50 of 50 rows" in out


async def test_couple_and_uncouple_messages(settings: Any, demo: Any) -> None:
    code, out, _e = await cli(settings, "couple", "item", "1925-W", "AAAAAAAA-0000-4000-8000-000000001925")
    assert code == 0 and "Coupled item 1925-W to Dynamics 365 Sales record aaaaaaaa-0000-4000-8000-000000001925." in out
    code, _o, err = await cli(settings, "couple", "item", "1925-W", "bbbbbbbb-0000-4000-8000-000000001925")
    assert code == 1 and "Item 1925-W is already coupled to the Dynamics 365 Sales record aaaaaaaa-" in err
    code, _o, err = await cli(settings, "couple", "item", "1953-W", "aaaaaaaa-0000-4000-8000-000000001925")
    assert code == 1 and "is already coupled to another item" in err
    code, _o, err = await cli(settings, "couple", "item", "NOPE", "aaaaaaaa-0000-4000-8000-000000000000")
    assert code == 1 and "The Item does not exist. Identification fields and values: No.='NOPE'" in err
    code, _o, err = await cli(settings, "couple", "unit", "CRATE", "aaaaaaaa-0000-4000-8000-000000000000")
    assert code == 1 and "The Unit of Measure does not exist. Identification fields and values: Code='CRATE'" in err
    code, out, _e = await cli(settings, "uncouple", "item", "1925-W")
    assert code == 0 and "Uncoupled item 1925-W." in out
    code, _o, err = await cli(settings, "uncouple", "item", "1925-W")
    assert code == 1 and "Item 1925-W is not coupled to a record in Dynamics 365 Sales." in err


async def test_inventory_post(settings: Any, demo: Any, engine: Any) -> None:
    async def inventory() -> Decimal:
        async with engine.connect() as conn:
            return (
                await conn.execute(select(t.item_inventory.c.inventory).where(t.item_inventory.c.item_no == "1896-S"))
            ).scalar_one()

    before = await inventory()
    code, out, err = await cli(settings, "inventory", "post", "1896-S", "12.5", "--location", "RED")
    assert code == 0, err
    assert "1896-S +12.5 at RED" in out
    code, out, _e = await cli(settings, "inventory", "post", "1896-S", "-2.5")
    assert code == 0
    assert await inventory() == before + 10
    code, _o, err = await cli(settings, "inventory", "post", "NOPE", "1")
    assert code == 1 and "The Item does not exist. Identification fields and values: No.='NOPE'" in err
    code, _o, err = await cli(settings, "inventory", "post", "1896-S", "lots")
    assert code == 2 and "'lots' is not a number" in err
