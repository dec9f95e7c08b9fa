"""Issue 11's "done when": a fresh demo company, after `bc-gateway sync full` against the Sales
simulator, lets a Sales order for any item, resource or customer become a BC order with no manual
coupling. Everything over real HTTP on loopback: the command line's Dataverse client, the gateway's
webhook receiver and worker, the simulator."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.app import GATEWAY
from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas import tables as t
from schemas.demo_company import CUSTOMERS, ITEMS, RESOURCES
from tests.support.helpers import cli
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER, Harness
from tests.support.sales_simulator import SalesSimulator


async def _couplings(engine: Any, table_id: int, table: Any) -> dict[str, str]:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(table.c.no, cir.c.crm_id).join(
                cir, (cir.c.integration_id == table.c.system_id) & (cir.c.table_id == table_id)
            )
        )
        return {r.no: str(r.crm_id) for r in rows}


async def test_after_a_full_sync_every_item_resource_and_customer_converts(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, sim: SalesSimulator
) -> None:
    from gateway.app import create_app

    server = await aiohttp_server(create_app(settings, engine=engine, worker=True))
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
    await server.app[GATEWAY].reload_setup()
    harness = Harness(sim, server, engine, settings, result.webhook_secret, {}, {}, {})
    sim.register_webhook(harness.webhook_url, auth=("header", WEBHOOK_HEADER, result.webhook_secret))
    assert sim.rows("products") == [] and sim.rows("accounts") == []  # Sales knows nothing of the company

    code, out, err = await cli(settings, "sync", "full", "--quiet")
    assert code == 0, out + err + (await cli(settings, "sync", "errors"))[1]
    items = await _couplings(engine, t.TABLE_ITEM, t.item)
    resources = await _couplings(engine, t.TABLE_RESOURCE, t.resource)
    customers = await _couplings(engine, t.TABLE_CUSTOMER, t.customer)
    assert set(items) == {no for no, *_r in ITEMS}
    assert set(resources) == {no for no, *_r in RESOURCES}
    assert set(customers) == {no for no, *_r in CUSTOMERS}
    for product_id in [*items.values(), *resources.values()]:
        assert sim.row("products", product_id)["statecode"] == 0  # active: Sales users can pick them
    for account_id in customers.values():
        assert sim.row("accounts", account_id)["statecode"] == 0

    # One order per customer; together they hold every item and resource, in its default unit.
    products = [("Item", no, pid) for no, pid in sorted(items.items())] + [
        ("Resource", no, pid) for no, pid in sorted(resources.items())
    ]
    share = -(-len(products) // len(customers))
    expected: dict[str, list[tuple[str, str]]] = {}
    for i, (customer_no, account_id) in enumerate(sorted(customers.items())):
        mine = products[i * share : (i + 1) * share] or products[:1]
        order_id = await sim.create_order(
            ("account", account_id),
            [{"product": pid, "quantity": 1, "priceperunit": 10} for _type, _no, pid in mine],
        )
        await sim.submit_order(order_id)
        expected[order_id] = [(kind, no) for kind, no, _pid in mine]
        row = await harness.wait_state(order_id, "created", "failed", within=10)
        assert row.state == "created", row.last_error
        header = next(h for h in await harness.documents("Order") if h.no == row.document_no)
        assert header.sell_to_customer_no == customer_no
        lines = await harness.lines("Order", header.no)
        assert sorted((ln.type, ln.no) for ln in lines) == sorted(expected[order_id])
        units = {ln.no: ln.unit_of_measure_code for ln in lines}
        assert all(units[no] for _kind, no in expected[order_id])
    covered = {no for lines in expected.values() for _kind, no in lines}
    assert covered == set(items) | set(resources)
