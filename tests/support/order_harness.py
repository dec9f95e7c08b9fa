"""The whole order flow for tests: the gateway (with or without its worker) on a real port, the Sales
simulator delivering webhooks to it and answering its Web API calls, both over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gateway.app import GATEWAY
from orders import inbox
from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas import tables as t
from schemas.demo_company import account_id, product_id, service_product_id, uom_id
from tests.support.sales_simulator import SalesSimulator

ORG_HOST = "contoso.crm4.dynamics.com"
WEBHOOK_HEADER = "x-bc-webhook-secret"


@dataclass
class Harness:
    sim: SalesSimulator
    server: Any
    engine: Any
    settings: Any
    secret: str
    products: dict[str, str]
    accounts: dict[str, str]
    uoms: dict[str, str]

    @property
    def gateway(self) -> Any:
        return self.server.app[GATEWAY]

    @property
    def webhook_url(self) -> str:
        return str(self.server.make_url("/webhooks/dataverse"))

    async def setup(self, **values: Any) -> None:
        await SetupService(self.engine, self.settings).change(SetupChange.parse(values), "test")
        await self.gateway.reload_setup()

    async def inbox_rows(self, sales_id: str) -> list[inbox.InboxRow]:
        return await inbox.find(self.engine, self.settings.company, sales_id)

    async def wait_for(self, check: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
        deadline = time.monotonic() + within
        while True:
            result = await check()
            if result or time.monotonic() > deadline:
                return result
            await asyncio.sleep(0.02)

    async def wait_state(self, sales_id: str, *states: str, within: float = 30.0) -> inbox.InboxRow:
        async def check() -> inbox.InboxRow | None:
            rows = await self.inbox_rows(sales_id)
            done = [r for r in rows if r.state in states]
            return done[-1] if done else None

        row = await self.wait_for(check, within)
        assert row is not None, f"{sales_id} never reached {states}: {await self.inbox_rows(sales_id)}"
        return row

    async def wait_written_back(self, sales_id: str, within: float = 30.0) -> inbox.InboxRow:
        async def check() -> inbox.InboxRow | None:
            rows = [r for r in await self.inbox_rows(sales_id) if r.writeback_state == "done"]
            return rows[-1] if rows else None

        row = await self.wait_for(check, within)
        assert row is not None, f"write-back of {sales_id} never done: {await self.inbox_rows(sales_id)}"
        return row

    async def documents(self, document_type: str = "Order") -> list[Any]:
        async with self.engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        select(t.sales_header)
                        .where(t.sales_header.c.document_type == document_type)
                        .order_by(t.sales_header.c.no)
                    )
                ).all()
            )

    async def lines(self, document_type: str, no: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        select(t.sales_line)
                        .where(t.sales_line.c.document_type == document_type, t.sales_line.c.document_no == no)
                        .order_by(t.sales_line.c.line_no)
                    )
                ).all()
            )

    async def order(self, lines: list[dict[str, Any]] | None = None, account: str = "10000", **columns: Any) -> str:
        """A Sales order for a coupled demo customer, with demo products."""
        return await self.sim.create_order(
            ("account", self.accounts[account]),
            lines if lines is not None else [{"product": self.products["1896-S"], "quantity": 2, "priceperunit": 1000}],
            **columns,
        )

    async def quote(self, lines: list[dict[str, Any]] | None = None, account: str = "10000", **columns: Any) -> str:
        """A Draft Sales quote for a coupled demo customer, with demo products."""
        return await self.sim.create_quote(
            ("account", self.accounts[account]),
            lines if lines is not None else [{"product": self.products["1896-S"], "quantity": 2, "priceperunit": 1000}],
            **columns,
        )


@dataclass(frozen=True)
class DemoRecords:
    """Sales ids of the rows the demo company is coupled to, by BC number or unit code."""

    units: dict[str, str]
    products: dict[str, str]
    accounts: dict[str, str]


def add_demo_records(sim: SalesSimulator) -> DemoRecords:
    """Sales with the demo company's accounts, products and units, under the ids the demo couples."""
    from schemas.demo_company import ITEMS, RESOURCES

    units = {code: sim.add_uom(code, uomid=uom_id(i)) for i, code in enumerate(("PCS", "BOX", "HOUR"), start=1)}
    products = {}
    for no, description, _price, _base, _second in ITEMS:
        products[no] = sim.add_product(no, description, producttypecode=1, uom=units["PCS"], productid=product_id(no))
    for i, (no, name, _unit, _price) in enumerate(RESOURCES, start=1):
        products[no] = sim.add_product(no, name, producttypecode=3, uom=units["HOUR"], productid=service_product_id(i))
    accounts = {
        no: sim.add_account(name, accountnumber=no, accountid=account_id(no))
        for no, name in (("10000", "Adatum Corporation"), ("20000", "Trey Research"), ("40000", "Alpine Ski House"))
    }
    return DemoRecords(units, products, accounts)


async def start_harness(
    sim: SalesSimulator, server: Any, engine: Any, settings: Any, *, auto_create: bool = True
) -> Harness:
    """Sales with the demo company's accounts, products and units, coupled as the demo has them."""
    demo = add_demo_records(sim)
    units, products, accounts = demo.units, demo.products, demo.accounts
    service = SetupService(engine, settings)
    result = await service.change(
        SetupChange.parse(
            {
                "sales_url": f"https://{ORG_HOST}",
                "sales_order_integration_enabled": True,
                "auto_create_sales_orders": auto_create,
                "auto_process_sales_quotes": auto_create,
                "webhook_auth_mode": "header",
                "webhook_header_name": WEBHOOK_HEADER,
                "rotate_webhook_secret": True,
                "dataverse_url": sim.org_url,
                "dataverse_token_url": sim.token_url,
                "dataverse_client_id": sim.client_id,
                "dataverse_client_secret": sim.client_secret,
                "write_in_product": "item:1896-S",
                "freight_gl_account": "6710",
                "local_currency_code": "EUR",
            }
        ),
        "test",
    )
    secret = result.webhook_secret
    assert secret
    harness = Harness(sim, server, engine, settings, secret, products, accounts, units)
    await harness.gateway.reload_setup()
    # The worker talks to the simulator with short backoffs, so retries show in milliseconds.
    if harness.gateway.worker is not None:
        harness.gateway.worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 1.0}
    # The OData requests' Sales reads (SalesOrderDifferences) likewise: short backoffs, their own timeout.
    harness.gateway.sales_reads.client_options.update(base_delay=0.01, max_delay=0.05)
    sim.register_webhook(harness.webhook_url, auth=("header", WEBHOOK_HEADER, secret))
    return harness
