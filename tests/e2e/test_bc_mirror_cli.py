"""`bc-gateway mirror` (the initial load with its progress bar), `mirror status` and `mirror
reconcile` against the BC simulator over loopback, and BC's records refused locally in api mode.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from schemas import tables as t
from tests.support.bc_mirror import link_to
from tests.support.bc_simulator import BcSimulator
from tests.support.helpers import cli

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def _inventory(engine: Any, item_no: str) -> Decimal | None:
    async with engine.connect() as conn:
        inv = t.item_inventory
        value = await conn.scalar(select(inv.c.inventory).where(inv.c.company == "CRONUS", inv.c.item_no == item_no))
        return None if value is None else Decimal(str(value))


async def test_mirror_once_status_and_reconcile(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    await link_to(engine, settings, sim)
    code, out, _err = await cli(settings, "mirror", "status")
    assert code == 0, out
    assert "not ready (loading)" in out and "no process is keeping it fresh" in out and "Next: " in out

    # The initial load, with tqdm's bars (forced: no terminal here) showing counts and a rate.
    code, out, err = await cli(settings, "mirror", "--once", "--progress")
    assert code == 0, out + err
    assert "load items: 100%" in err and "rows/s" in err and "load itemLedgerEntries" in err
    items = len(sim.records("items"))
    assert f"{items}/{items}" in err
    assert out.startswith("Mirror ready: ") and f"{items} items" in out
    assert await _inventory(engine, "1896-S") == 51

    code, out, _err = await cli(settings, "mirror", "status")
    assert code == 0, out
    assert "  ready;" in out
    header = next(line for line in out.splitlines() if "entity" in line and "phase" in line)
    assert header.split() == ["entity", "phase", "rows", "read", "changed", "watermark"]
    (items_line,) = [line for line in out.splitlines() if line.split()[:1] == ["items"]]
    assert items_line.split()[1:3] == ["ready", str(items)]
    assert "webhooks: none (BC reaches the gateway only with BCGW_PUBLIC_URL" in out
    assert "Next: " in out

    # Drift no delta can see: a customer here that BC does not have (deleted there without a
    # webhook), a total gone wrong. Reconcile repairs both.
    async with engine.begin() as conn:
        await conn.execute(insert(t.customer).values(company="CRONUS", no="99999", name="Gone from BC",
                                                     system_id="0badc0de-0000-4000-8000-000000099999"))  # fmt: skip
        inv = t.item_inventory
        await conn.execute(update(inv).where(inv.c.company == "CRONUS", inv.c.item_no == "1896-S").values(inventory=7))
    code, out, err = await cli(settings, "mirror", "reconcile", "--quiet")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "Repaired: inventory 1, removed 1.", out
    (customers,) = [line.split() for line in out.splitlines() if line.split()[:1] == ["customers"]]
    assert customers[4:] == ["1", "0", "99999"]
    assert await _inventory(engine, "1896-S") == 51
    async with engine.connect() as conn:
        assert await conn.scalar(select(t.customer.c.name).where(t.customer.c.no == "99999")) is None
    code, out, _err = await cli(settings, "mirror", "status")
    # How long ago depends on the machine's speed; that it ran and what it repaired does not.
    assert re.search(r"last reconciliation: \d+ s ago; drift repaired: ", out), out
    assert "drift repaired: none" not in out
    code, out, err = await cli(settings, "mirror", "reconcile", "--quiet")
    assert code == 0 and out.splitlines()[-1] == "No drift: the mirror equals Business Central.", out + err


async def test_api_mode_refuses_local_writes_of_bc_data(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator, tmp_path: Path
) -> None:
    await link_to(engine, settings, bc_simulator)
    code, _out, err = await cli(settings, "inventory", "post", "1896-S", "5")
    assert code != 0
    assert "Business Central is the system of record" in err and "Post inventory in Business Central" in err
    csv = tmp_path / "items.csv"
    csv.write_text("No,Description,Base_Unit_of_Measure\nNEW-1,New item,PCS\n")
    code, _out, err = await cli(settings, "import", "items", str(csv))
    assert code != 0 and "Create and change items in Business Central" in err
    async with engine.connect() as conn:
        assert await conn.scalar(select(t.item.c.no).where(t.item.c.no == "NEW-1")) is None


async def test_mirror_in_embedded_mode_says_what_to_do(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    code, out, err = await cli(settings, "mirror", "--once")
    assert code != 0 and "there is nothing to mirror" in err and "bc-gateway setup --bc-mode api" in err
    code, out, _err = await cli(settings, "mirror", "status")
    assert code == 0 and out.strip()
