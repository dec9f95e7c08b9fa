"""`bc-gateway couple --match KIND` against the Sales simulator over loopback: BC's match-based
coupling on the fields it uses, case-insensitive, by priority, with its report of what stayed
unmatched."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select

from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas import tables as t
from schemas.demo_company import ITEMS
from tests.support.helpers import cli
from tests.support.order_harness import add_demo_records
from tests.support.sales_simulator import SalesSimulator


async def _connect(engine: Any, settings: Any, sim: SalesSimulator) -> None:
    change = SetupChange.parse(
        {
            "dataverse_url": sim.org_url,
            "dataverse_token_url": sim.token_url,
            "dataverse_client_id": sim.client_id,
            "dataverse_client_secret": sim.client_secret,
        }
    )
    await SetupService(engine, settings).change(change, "test")


async def _uncouple(engine: Any, table_id: int) -> None:
    async with engine.begin() as conn:
        cir = t.crm_integration_record
        await conn.execute(delete(cir).where(cir.c.table_id == table_id))


async def _couplings(engine: Any, table_id: int, bc_table: Any) -> dict[str, str]:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(bc_table.c.no, cir.c.crm_id)
            .join(cir, (cir.c.integration_id == bc_table.c.system_id) & (cir.c.table_id == table_id))
            .order_by(bc_table.c.no)
        )
        return {r.no: str(r.crm_id) for r in rows}


async def test_items_couple_by_number_then_name_and_the_rest_is_reported(
    settings: Any, engine: Any, demo: dict[str, Any], sim: SalesSimulator
) -> None:
    await _connect(engine, settings, sim)
    records = add_demo_records(sim)
    await _uncouple(engine, t.TABLE_ITEM)
    p = records.products
    # 1900-S: another product number, the name in other case -> matched on Description (priority 2).
    await sim.update("products", p["1900-S"], productnumber="P-1900", name="paris guest chair, BLACK")
    # 1906-S: a twin with the same number and name -> several matches, left for a person.
    twin = sim.add_product("1906-S", "ATHENS Mobile Pedestal")
    # 1908-S: nothing in Sales -> no match; 1920-S: a Service product is outside ITEM-PRODUCT's filter.
    await sim.update("products", p["1908-S"], productnumber="GONE", name="Gone")
    await sim.update("products", p["1920-S"], producttypecode=3)

    code, out, err = await cli(settings, "couple", "--match", "item")
    assert code == 1, err
    coupled = await _couplings(engine, t.TABLE_ITEM, t.item)
    expected = {no: p[no] for no, *_r in ITEMS if no not in {"1906-S", "1908-S", "1920-S"}}
    assert coupled == expected
    assert f"Match-based coupling (ITEM-PRODUCT): {len(ITEMS)} uncoupled items" in out
    lines = out.splitlines()
    assert lines[2].split() == ["NO.", "SALES", "ID", "MATCHED", "ON"]
    assert any(line.split()[:2] == ["1900-S", p["1900-S"]] and "Description (priority 2)" in line for line in lines)
    assert any(line.split()[:2] == ["1896-S", p["1896-S"]] and "No. (priority 1)" in line for line in lines)
    assert f"Coupled {len(expected)} items." in out
    assert f"1906-S  several matches: {', '.join(sorted([p['1906-S'], twin]))}" in out
    assert "1908-S  no match" in out and "1920-S  no match" in out
    assert (
        "Failed to couple 3 record(s), because no unique uncoupled matching entity was found in "
        f"{sim.org_url} with the specified matching criteria."
    ) in out
    assert "Next: couple them by hand (bc-gateway couple item NO SALES_ID)" in out

    # Again: only what is still uncoupled is looked at; nothing coupled twice.
    code, out, _err = await cli(settings, "couple", "--match", "item", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["considered"] == 3 and data["coupled"] == []
    assert {u["no"]: u["reason"] for u in data["unmatched"]} == {
        "1906-S": "several matches",
        "1908-S": "no match",
        "1920-S": "no match",
    }
    assert await _couplings(engine, t.TABLE_ITEM, t.item) == expected


async def test_customers_resources_and_nothing_left(
    settings: Any, engine: Any, demo: dict[str, Any], sim: SalesSimulator
) -> None:
    await _connect(engine, settings, sim)
    records = add_demo_records(sim)
    await _uncouple(engine, t.TABLE_CUSTOMER)
    await _uncouple(engine, t.TABLE_RESOURCE)
    # An account without a number is found by its name, case-insensitively.
    sim.add_account("school of fine art")
    code, out, err = await cli(settings, "couple", "--match", "customer")
    assert code == 1, err
    coupled = await _couplings(engine, t.TABLE_CUSTOMER, t.customer)
    assert set(coupled) == {"10000", "20000", "30000", "40000"}
    assert coupled["10000"] == records.accounts["10000"]
    assert "50000  no match" in out

    code, out, err = await cli(settings, "couple", "--match", "resource")
    assert code == 0, err
    assert await _couplings(engine, t.TABLE_RESOURCE, t.resource) == {
        "KATHERINE": records.products["KATHERINE"],
        "LINA": records.products["LINA"],
    }
    assert "Coupled 2 resources." in out and "UNMATCHED" not in out

    code, out, _err = await cli(settings, "couple", "--match", "resource")
    assert code == 0
    assert "No uncoupled resources: every resource in RESOURCE-PRODUCT's filter is coupled." in out
    assert "Next: bc-gateway sync full" in out


async def test_units_couple_to_bc_named_unit_groups(
    settings: Any, engine: Any, demo: dict[str, Any], sim: SalesSimulator
) -> None:
    await _connect(engine, settings, sim)
    await _uncouple(engine, t.TABLE_UNIT_OF_MEASURE)
    pcs, _unit = sim.add_unit_group("nav pcs", "PCS")
    sim.add_unit_group("BOX", "BOX")  # not BC's name for the group of BOX (beside Sales' "Default Unit")
    code, out, err = await cli(settings, "couple", "--match", "unit")
    assert code == 1, err
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.unit_of_measure.c.code, cir.c.crm_id).join(
                cir,
                (cir.c.integration_id == t.unit_of_measure.c.system_id) & (cir.c.table_id == t.TABLE_UNIT_OF_MEASURE),
            )
        )
        coupled = {r.code: str(r.crm_id) for r in rows}
    assert coupled == {"PCS": pcs}
    assert "Match-based coupling (UNIT OF MEASURE): 3 uncoupled units of measure, 3 Sales unit groups" in out
    assert "BOX   no match" in out and "HOUR  no match" in out


async def test_command_line_mistakes_and_no_connection(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    code, _out, err = await cli(settings, "couple", "--match", "item")
    assert code == 1 and "The Dataverse connection is not set up: bc-gateway setup --dataverse-url" in err
    code, _out, err = await cli(settings, "couple", "--match", "item", "item", "1000")
    assert code == 2 and "takes no BC_NO or SALES_ID" in err
    code, _out, err = await cli(settings, "couple", "item", "1000")
    assert code == 2 and "couple needs KIND BC_NO SALES_ID (or --match KIND)" in err
    code, _out, err = await cli(settings, "couple", "--create-new")
    assert code == 2 and "--create-new and --json go with --match KIND" in err
