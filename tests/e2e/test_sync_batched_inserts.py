"""A full synchronisation's new products go to the Sales simulator in `$batch` change sets, over real
HTTP: each product with its line on the default price list and its state in one change set, a few
requests per hundred products; a product Sales refuses fails alone, with Sales' message, and the
others are created and coupled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.dataverse.client import DataverseClient
from orders.setup import SetupChange
from orders.sync import api
from orders.sync.defaults import ITEM_PRODUCT
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.sales_simulator import SalesSimulator

NEW_ITEMS = 30  # besides the demo company's


@pytest.fixture
async def sales(
    sim: SalesSimulator, settings: Settings, engine: AsyncEngine, demo: dict[str, Any]
) -> AsyncIterator[Any]:
    """The demo company with NEW_ITEMS more items, connected to an empty Sales; its units synchronised."""
    async with write_transaction(engine) as conn:
        rows: list[master_data.ItemRow] = [
            (
                f"B{i:04d}",
                {"description": f"Batch item {i}", "base_unit_of_measure": "PCS", "unit_price": Decimal(i)},
                None,
            )
            for i in range(NEW_ITEMS)
        ]
        assert not [r for r in await master_data.upsert_items_in_bulk(conn, COMPANY, rows) if isinstance(r, str)]
    change = {
        "dataverse_url": sim.org_url,
        "dataverse_token_url": sim.token_url,
        "dataverse_client_id": sim.client_id,
        "dataverse_client_secret": sim.client_secret,
        "local_currency_code": "EUR",
    }
    await SetupService(engine, settings).change(SetupChange.parse(change), "test")
    async with aiohttp.ClientSession() as session:
        port = api.dataverse_sales(
            DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)
        )
        await api.full_sync(engine, COMPANY, port, mappings=["UNIT OF MEASURE"])
        yield port


async def _items(engine: AsyncEngine) -> dict[str, tuple[Decimal, str | None]]:
    """Item no. -> (unit price, the product it is coupled to)."""
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.item.c.no, t.item.c.unit_price, cir.c.crm_id)
            .select_from(
                t.item.outerjoin(cir, (cir.c.integration_id == t.item.c.system_id) & (cir.c.table_id == t.TABLE_ITEM))
            )
            .where(t.item.c.company == COMPANY, t.item.c.blocked.is_(False))
        )
        return {r.no: (Decimal(r.unit_price), str(r.crm_id) if r.crm_id else None) for r in rows}


async def test_new_products_go_in_change_sets_with_their_price_list_line_and_state(
    engine: AsyncEngine, sim: SalesSimulator, sales: Any
) -> None:
    before = len(sim.requests)
    [result] = await api.full_sync(engine, COMPANY, sales, mappings=[ITEM_PRODUCT])
    requests = sim.requests[before:]

    items = await _items(engine)
    to_sales = result.jobs[0].counters
    assert (to_sales.inserted, to_sales.failed) == (len(items), 0)
    assert len(items) > NEW_ITEMS
    [price_list] = [p for p in sim.rows("pricelevels") if p["name"] == "Business Central Default Price List"]
    lines = {line["productid"].id: line for line in sim.rows("productpricelevels")}
    for no, (price, crm_id) in items.items():
        assert crm_id is not None, no
        product = sim.row("products", crm_id)
        assert product["productnumber"] == no and (product["statecode"], product["statuscode"]) == (0, 1)
        line = lines[crm_id]
        assert line["pricelevelid"].id == price_list["pricelevelid"]
        assert line["uomid"].id == product["defaultuomid"].id and Decimal(line["amount"]) == price
    # One $batch for the new products (fewer than 100), their rows read back in chunks of 50: far
    # fewer requests than the three per product of inserting them one at a time.
    batches = [r for r in requests if r.resource == "$batch"]
    assert len(batches) == 1
    assert not [r for r in requests if r.method == "POST" and r.resource in ("products", "productpricelevels")]
    assert len(requests) < len(items) / 2


async def test_a_product_sales_refuses_fails_alone_with_sales_message(
    engine: AsyncEngine, sim: SalesSimulator, sales: Any
) -> None:
    # A service product with the number of item B0007: not a match for the item (another type),
    # and Sales refuses a second product with that number.
    sim.add_product("B0007", "A service", producttypecode=3)
    [result] = await api.full_sync(engine, COMPANY, sales, mappings=[ITEM_PRODUCT])

    items = await _items(engine)
    to_sales = result.jobs[0].counters
    assert (to_sales.inserted, to_sales.failed) == (len(items) - 1, 1)
    assert items["B0007"][1] is None  # nothing in Sales to couple to: no coupling
    coupled = {no: crm_id for no, (_p, crm_id) in items.items() if crm_id}
    assert set(coupled) == set(items) - {"B0007"}
    lines = {line["productid"].id for line in sim.rows("productpricelevels")}
    assert lines == set(coupled.values())
    assert sorted(p["productnumber"] for p in sim.rows("products") if p["productnumber"] == "B0007") == ["B0007"]
    async with engine.connect() as conn:
        errors = (await conn.execute(select(t.integration_synch_job_errors))).all()
    [error] = errors
    assert error.message.startswith("A record with matching key values already exists")
    assert "B0007" in error.source_record_id
