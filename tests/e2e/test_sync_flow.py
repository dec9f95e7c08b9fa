"""The synchronisation jobs against the Sales simulator over real HTTP: a fresh demo company after a
full synchronisation has its units, products and accounts in Sales, coupled, and an order for them
converts with no manual coupling; then the jobs running in the gateway's worker carry BC's changes
within seconds, and Sales' back, by BC's rules."""

from __future__ import annotations

import dataclasses
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
from schemas.inventory import JournalLine, post_journal_line
from tests.conftest import COMPANY
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER, Harness
from tests.support.sales_simulator import SalesSimulator


def _ref(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    return getattr(value, "id", value)


# A wait, not a speed test: a busy machine may need longer than BC-style "seconds".
WAIT = 20.0


async def _coupling(engine: AsyncEngine, table: Any, table_id: int, no: str) -> Any:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(cir)
                .select_from(cir.join(table, table.c.system_id == cir.c.integration_id))
                .where(cir.c.table_id == table_id, table.c.no == no)
            )
        ).first()


@pytest.fixture
async def sales_client(sim: SalesSimulator) -> AsyncIterator[DataverseClient]:
    async with aiohttp.ClientSession() as session:
        yield DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)


async def _connect(engine: AsyncEngine, settings: Settings, sim: SalesSimulator) -> str:
    """The Dataverse connection and order processing, as an administrator sets them up."""
    result = await SetupService(engine, settings).change(
        SetupChange.parse(
            {
                "sales_url": f"https://{ORG_HOST}",
                "sales_order_integration_enabled": True,
                "auto_create_sales_orders": True,
                "webhook_auth_mode": "header",
                "webhook_header_name": WEBHOOK_HEADER,
                "rotate_webhook_secret": True,
                "dataverse_url": sim.org_url,
                "dataverse_token_url": sim.token_url,
                "dataverse_client_id": sim.client_id,
                "dataverse_client_secret": sim.client_secret,
                "local_currency_code": "EUR",
            }
        ),
        "test",
    )
    assert result.webhook_secret
    return result.webhook_secret


@pytest.fixture
async def synced(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], sim: SalesSimulator, sales_client: DataverseClient
) -> list[api.RunResult]:
    """A fresh demo company and an empty Sales, after `sync full`."""
    await _connect(engine, settings, sim)
    return await api.full_sync(engine, COMPANY, api.dataverse_sales(sales_client))


@pytest.fixture
async def synced_items(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], sim: SalesSimulator, sales_client: DataverseClient
) -> list[api.RunResult]:
    """Only units and items synchronised: what the item tests need (CI time)."""
    await _connect(engine, settings, sim)
    sales = api.dataverse_sales(sales_client)
    return await api.full_sync(engine, COMPANY, sales, mappings=["UNIT OF MEASURE", ITEM_PRODUCT])


async def _serve(settings: Settings, engine: AsyncEngine, sim: SalesSimulator, aiohttp_server: Any) -> Harness:
    """The gateway with its worker and the synchronisation jobs, wired to the simulator."""
    from gateway.app import create_app

    live = dataclasses.replace(settings, sync_jobs=True, sync_poll_interval=0.05, sync_wake_seconds=0.0)
    server = await aiohttp_server(create_app(live, engine=engine, worker=True))
    secret = await _connect(engine, settings, sim)
    harness = Harness(sim, server, engine, live, secret, {}, {}, {})
    await harness.gateway.reload_setup()
    harness.gateway.worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    sim.register_webhook(harness.webhook_url, auth=("header", WEBHOOK_HEADER, secret))
    return harness


async def test_a_full_sync_couples_the_demo_company_and_its_orders_convert_without_manual_coupling(
    synced: list[api.RunResult], settings: Settings, engine: AsyncEngine, sim: SalesSimulator, aiohttp_server: Any
) -> None:
    failed = {r.mapping_name: r.counters.failed for r in synced if r.counters.failed}
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        messages = list((await conn.execute(select(err.c.message))).scalars())
    assert failed == {}, messages
    groups = {g["name"]: g for g in sim.rows("uomschedules")}
    assert {"NAV PCS", "NAV BOX", "NAV HOUR"} <= set(groups)
    products = {p["productnumber"]: p for p in sim.rows("products")}
    desk, lina = products["1896-S"], products["LINA"]
    assert (desk["producttypecode"], lina["producttypecode"]) == (1, 3)
    assert (desk["statecode"], desk["statuscode"]) == (0, 1)
    assert _ref(desk, "defaultuomscheduleid") == groups["NAV PCS"]["uomscheduleid"]
    assert desk["price"] == Decimal("1000.8")
    accounts = {a["name"]: a for a in sim.rows("accounts")}
    assert {"Adatum Corporation", "Relecloud"} <= set(accounts)
    coupling = await _coupling(engine, t.item, t.TABLE_ITEM, "1900-S")
    assert coupling.crm_id == products["1900-S"]["productid"]

    harness = await _serve(settings, engine, sim, aiohttp_server)
    box = next(u for u in sim.rows("uoms") if _ref(u, "uomscheduleid") == groups["NAV BOX"]["uomscheduleid"])
    order_id = await sim.create_order(
        ("account", accounts["Adatum Corporation"]["accountid"]),
        [
            {"product": products["1900-S"]["productid"], "quantity": 2, "uom": box["uomid"], "priceperunit": 1100},
            {"product": lina["productid"], "quantity": 3, "priceperunit": 95},
        ],
    )
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created", "failed")
    assert row.state == "created", row.last_error
    lines = {(ln.type, ln.no): ln for ln in await harness.lines("Order", row.document_no)}
    assert lines[("Item", "1900-S")].unit_of_measure_code == "BOX"
    assert lines[("Item", "1900-S")].quantity_base == 12
    assert lines[("Resource", "LINA")].quantity == 3


async def test_the_jobs_carry_changes_within_seconds_once_and_by_bcs_rules(
    synced_items: list[api.RunResult], settings: Settings, engine: AsyncEngine, sim: SalesSimulator, aiohttp_server: Any
) -> None:
    harness = await _serve(settings, engine, sim, aiohttp_server)

    # A new item in BC is a product in Sales within seconds, coupled.
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(
            conn, COMPANY, "1970-S", description="VIENNA Desk Lamp", base_unit_of_measure="PCS", unit_price=Decimal(45)
        )

    coupling = await harness.wait_for(lambda: _coupling(engine, t.item, t.TABLE_ITEM, "1970-S"), within=WAIT)
    assert coupling is not None
    lamp = sim.row("products", coupling.crm_id)
    assert (lamp["productnumber"], lamp["name"], lamp["price"]) == ("1970-S", "VIENNA Desk Lamp", Decimal(45))
    assert lamp["statecode"] == 0

    # A ledger entry updates quantityonhand.
    async with write_transaction(engine) as conn:
        await post_journal_line(conn, COMPANY, JournalLine("1970-S", Decimal(12), "BLUE", entry_type="Purchase"))

    async def stocked() -> bool:
        return sim.row("products", lamp["productid"])["quantityonhand"] == Decimal(12)

    assert await harness.wait_for(stocked, within=WAIT)

    # Many items moving at once: their products are updated in one $batch.
    moved = ["1896-S", "1900-S", "1906-S", "1908-S", "1920-S", "1936-S"]
    products = {p["productnumber"]: p for p in sim.rows("products")}
    before = {no: products[no]["quantityonhand"] for no in moved}
    batches = len([r for r in sim.api_requests("POST") if r.resource == "$batch"])
    async with write_transaction(engine) as conn:
        for no in moved:
            await post_journal_line(conn, COMPANY, JournalLine(no, Decimal(2), "RED", entry_type="Purchase"))

    async def all_moved() -> bool:
        return all(sim.row("products", products[no]["productid"])["quantityonhand"] == before[no] + 2 for no in moved)

    assert await harness.wait_for(all_moved, within=WAIT)
    assert len([r for r in sim.api_requests("POST") if r.resource == "$batch"]) > batches

    # A price change goes out once, and the integration user's write does not come back.
    patches_before = len(sim.api_requests("PATCH"))
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(conn, COMPANY, "1970-S", unit_price=Decimal(49))

    async def repriced() -> bool:
        return sim.row("products", lamp["productid"])["price"] == Decimal(49)

    assert await harness.wait_for(repriced, within=WAIT)
    # Run the mapping once more by hand: it finds nothing to do on either side.
    again = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, await harness.gateway.worker._sync_sales())
    assert [j.counters.activity() for j in again.jobs] == [0, 0]
    price_patches = [
        r
        for r in sim.api_requests("PATCH")[patches_before:]
        if r.resource == f"products({lamp['productid']})" and "price" in (r.body or {})
    ]
    assert len(price_patches) == 1
    async with engine.connect() as conn:
        item = (await conn.execute(select(t.item).where(t.item.c.no == "1970-S"))).one()
    assert item.description == "VIENNA Desk Lamp"


async def test_a_product_edited_in_sales_and_bc_at_once_gives_bcs_conflict_message(
    synced_items: list[api.RunResult], engine: AsyncEngine, sim: SalesSimulator, sales_client: DataverseClient
) -> None:
    sales = api.dataverse_sales(sales_client)
    await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)  # the marks settle after the full sync
    coupling = await _coupling(engine, t.item, t.TABLE_ITEM, "1906-S")
    await sim.update("products", coupling.crm_id, name="ATHENS Pedestal (Sales)")
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(conn, COMPANY, "1906-S", description="ATHENS Pedestal (BC)")
    result = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert result.jobs[0].counters.failed == 1
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        rows = (await conn.execute(select(err).where(err.c.integration_synch_job_id == result.jobs[0].id))).all()
    assert [r.source_record_id for r in rows] == ["Item: 1906-S"]
    assert rows[0].message.startswith(
        "Cannot update a record in the Dataverse Product table. The mapping between Description field on the Item "
        "table and the name field on the Dataverse Product table is bi-directional"
    )
    assert sim.row("products", coupling.crm_id)["name"] == "ATHENS Pedestal (Sales)"
