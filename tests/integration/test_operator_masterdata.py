"""Master data as BC has it: `inventory post` is an item journal line (a Sale of 5 posts -5), and
imports refuse an unknown unit of measure or currency with BC's message, keeping the good rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schemas import tables as t
from tests.support.helpers import cli


async def _inventory(engine: Any, item: str = "1896-S", location: str | None = None) -> Decimal:
    async with engine.connect() as conn:
        if location is None:
            stmt = select(t.item_inventory.c.inventory).where(t.item_inventory.c.item_no == item)
        else:
            stmt = select(t.item_location_inventory.c.inventory).where(
                t.item_location_inventory.c.item_no == item, t.item_location_inventory.c.location_code == location
            )
        return (await conn.execute(stmt)).scalar_one_or_none() or Decimal(0)


@pytest.mark.parametrize(
    ("entry_type", "quantity", "change"),
    [
        ("Sale", "5", -5),
        ("Sale", "-2", 2),  # a negative sale is a return, as in BC's item journal
        ("Negative Adjmt.", "3", -3),
        ("Consumption", "1.5", Decimal("-1.5")),
        ("Purchase", "7", 7),
        ("Positive Adjmt.", "2", 2),
        ("Output", "4", 4),
    ],
)
async def test_inventory_post_signs_the_quantity_by_the_entry_type(
    settings: Any, demo: Any, engine: Any, entry_type: str, quantity: str, change: Decimal
) -> None:
    before = await _inventory(engine)
    code, out, err = await cli(settings, "inventory", "post", "1896-S", quantity, "--entry-type", entry_type)
    assert code == 0, err
    assert await _inventory(engine) == before + change
    assert f"1896-S {Decimal(change):+} ({entry_type})" in out


async def test_without_an_entry_type_the_sign_chooses_the_adjustment(settings: Any, demo: Any, engine: Any) -> None:
    before = await _inventory(engine)
    code, out, _e = await cli(settings, "inventory", "post", "1896-S", "-2")
    assert code == 0 and "1896-S -2 (Negative Adjmt.)" in out
    assert await _inventory(engine) == before - 2


async def test_a_transfer_moves_between_locations(settings: Any, demo: Any, engine: Any) -> None:
    total, blue, red = (
        await _inventory(engine),
        await _inventory(engine, location="BLUE"),
        await _inventory(engine, location="RED"),
    )
    code, out, err = await cli(
        settings,
        "inventory",
        "post",
        "1896-S",
        "4",
        "--entry-type",
        "Transfer",
        "--location",
        "BLUE",
        "--new-location",
        "RED",
    )
    assert code == 0, err
    assert "1896-S -4 at BLUE (Transfer)" in out and "1896-S +4 at RED (Transfer)" in out
    assert await _inventory(engine) == total
    assert await _inventory(engine, location="BLUE") == blue - 4
    assert await _inventory(engine, location="RED") == red + 4
    code, _o, err = await cli(
        settings, "inventory", "post", "1896-S", "4", "--entry-type", "Transfer", "--location", "BLUE"
    )
    assert code == 1 and "New Location Code must have a value in Item Journal Line." in err
    code, _o, err = await cli(
        settings, "inventory", "post", "1896-S", "1", "--entry-type", "Sale", "--new-location", "RED"
    )
    assert code == 1 and "only with the Entry Type Transfer" in err
    code, _o, err = await cli(settings, "inventory", "post", "1896-S", "1", "--entry-type", "Gift")
    assert code == 2 and "invalid choice: 'Gift'" in err


async def test_imports_refuse_unknown_units_and_currencies_as_bc_does(
    settings: Any, engine: Any, tmp_path: Path
) -> None:
    await cli(settings, "init")
    uom = tmp_path / "uom.csv"
    uom.write_text("Code,Description\nPCS,Piece\nHOUR,Hour\nMUCH-TOO-LONG,x\n")
    code, out, err = await cli(settings, "import", "units-of-measure", str(uom), "--quiet")
    assert code == 1 and "Imported 2 of 3 rows" in out
    assert "must be less than or equal to 10 characters. Value: MUCH-TOO-LONG" in err
    (tmp_path / "cur.csv").write_text("Code,Description\nEUR,Euro\n")
    assert (await cli(settings, "import", "currencies", str(tmp_path / "cur.csv"), "--quiet"))[0] == 0

    items = tmp_path / "items.csv"
    items.write_text("No,Description,Base_Unit_of_Measure\n1000,Bicycle,PCS\n1001,Crate of bells,CRATE\n")
    code, out, err = await cli(settings, "import", "items", str(items), "--quiet")
    assert code == 1 and "Imported 1 of 2 rows into items (1 created, 0 updated, 1 refused)." in out
    assert f"{items}:3: The Unit of Measure does not exist. Identification fields and values: Code='CRATE'" in err
    assert "Import those first: bc-gateway import units-of-measure FILE.csv" in err

    units = tmp_path / "units.csv"
    units.write_text("Item_No,Code,Qty_per_Unit_of_Measure\n1000,PALLET,40\n")
    code, _o, err = await cli(settings, "import", "units", str(units), "--quiet")
    assert code == 1 and "Code='PALLET'" in err

    customers = tmp_path / "customers.csv"
    customers.write_text("No,Name,Currency_Code\n10000,Adatum,EUR\n20000,Trey,XYZ\n")
    code, out, err = await cli(settings, "import", "customers", str(customers), "--quiet")
    assert code == 1 and "Imported 1 of 2 rows" in out
    assert f"{customers}:3: The Currency does not exist. Identification fields and values: Code='XYZ'" in err
    assert "Import those first: bc-gateway import currencies FILE.csv" in err

    resources = tmp_path / "resources.csv"
    resources.write_text("No,Name,Base_Unit_of_Measure\nLINA,Lina,HOUR\nKATE,Kate,DAY\n")
    code, _o, err = await cli(settings, "import", "resources", str(resources), "--quiet")
    assert code == 1 and "Code='DAY'" in err

    async with engine.connect() as conn:
        assert [r.no for r in (await conn.execute(select(t.item))).all()] == ["1000"]
        assert [r.no for r in (await conn.execute(select(t.customer))).all()] == ["10000"]
        assert [r.no for r in (await conn.execute(select(t.resource))).all()] == ["LINA"]
        codes = sorted(r.code for r in (await conn.execute(select(t.unit_of_measure))).all())
    assert codes == ["HOUR", "PCS"]  # nothing was made up for the refused rows
