"""``make demo``: the whole loop in a minute — Dynamics 365 Sales → the gateway → Business Central.

Everything runs on loopback in this one process: the BC simulator (the system of record, its
CRONUS demo company and published pages), the Sales simulator, and the gateway in **api mode**
with its order worker and its mirror of BC, on a temporary SQLite database (or ``--database-url``).
Then: a Sales order is submitted and becomes one sales order in BC; the gateway shows it at once;
Sales gets ``lastbackofficesubmit`` back; stock is posted in BC and Sales' availability request
(``ProductItemAvailability``) shows it. Part two (tests/support/demo_order_life.py) follows an
order's life in an embedded BC — released, shipped in part, shipped and invoiced — and prints what
Sales shows after each step. Each step is printed with its timing; a step that fails stops the
demo with exit status 1.

    .venv/bin/python -m tests.support.demo [--database-url URL] [--keep] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from gateway.app import GATEWAY, create_app
from gateway.config import Settings
from gateway.initialise import initialise
from orders.bc_link.writer_json import document_key
from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas.db import create_engine
from schemas.users import UserService
from tests.support.bc_simulator import BcSimulator
from tests.support.demo_order_life import order_life
from tests.support.helpers import basic, q
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER, add_demo_records

T = TypeVar("T")
ATHENS_DESK = "5a1e5000-0000-4000-8000-000000001896"  # Sales' product id of item 1896-S (the demo coupling)
PAGES = {
    "bc_ledger_entries_service": "ItemLedgerEntries",
    "bc_item_units_service": "ItemUnitsOfMeasure",
    "bc_resources_service": "Resources",
}
STEP_LIMIT = 20.0  # seconds any one step may take


class StepFailed(Exception):
    """A step of the demo did not give what it should; the demo stops with exit 1."""


class Steps:
    """Prints each step as ``[elapsed] what ... (its own time)``."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.count = 0

    @contextlib.asynccontextmanager
    async def step(self, title: str) -> AsyncIterator[list[str]]:
        self.count += 1
        begun = time.monotonic()
        print(f"[{begun - self.started:6.2f}s] {self.count}. {title}", flush=True)
        notes: list[str] = []
        try:
            yield notes
        except Exception as exc:
            print(f"          FAILED: {type(exc).__name__}: {exc}", flush=True)
            raise StepFailed(title) from exc
        for note in notes:
            print(f"          {note}", flush=True)
        print(f"          ok in {time.monotonic() - begun:.2f} s", flush=True)


async def until(check: Callable[[], Awaitable[T | None]], what: str, within: float = STEP_LIMIT) -> T:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:g} s")
        await asyncio.sleep(0.05)


async def run(database_url: str | None, keep: bool) -> int:
    steps = Steps()
    workdir = Path(tempfile.mkdtemp(prefix="bcgw-demo-"))
    os.environ.setdefault("BCGW_SECRET_KEY_FILE", str(workdir / "secret.key"))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'demo.db'}"
    settings = Settings(
        database_url=database_url,
        company="CRONUS",
        worker_poll_interval=0.1,
        change_poll_interval=0.1,
        retry_base_delay=1.0,
        reconcile_interval=0,
        bc_poll_interval=0.5,
        bc_webhooks=False,
        sync_jobs=False,
    )
    engine = create_engine(database_url)
    bc = BcSimulator(seed_demo=True)
    from tests.support.sales_simulator import SalesSimulator

    sales = SalesSimulator(ORG_HOST, base_currency="USD")
    runner: web.AppRunner | None = None
    try:
        async with steps.step("Business Central: the simulator of its API v2.0, company CRONUS") as notes:
            await bc.start()
            for page in PAGES.values():
                bc.publish(page)
            notes.append(f"API {bc.base_url}")
            notes.append(f"{len(bc.records('items'))} items, {len(bc.records('customers'))} customers; "
                         f"published pages: {', '.join(PAGES.values())}")  # fmt: skip

        async with steps.step("Dynamics 365 Sales: the simulator of its Web API and webhooks") as notes:
            await sales.start()
            demo = add_demo_records(sales)
            notes.append(f"Web API {sales.api_url}")

        async with steps.step("Gateway database: schema, company CRONUS, the DEMO user and its key") as notes:
            await initialise(engine, settings, demo=True)
            _user, key = await UserService(engine).change_key("DEMO")
            notes.append(database_url.replace(str(workdir), "$TMP"))

        async with steps.step("Gateway: serve (order worker, mirror of BC), on loopback") as notes:
            runner = web.AppRunner(create_app(settings, engine=engine, worker=True, mirror=True))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            base = f"http://127.0.0.1:{port}"
            gateway = runner.app[GATEWAY]
            notes.append(f"{base}/  (OData V4 {base}/ODataV4/, webhook {base}/webhooks/dataverse)")

        async with steps.step("Setup: Sales order integration, and Business Central in api mode") as notes:
            who = bc.identity("DEMO")
            change = {
                "sales_url": f"https://{ORG_HOST}",
                "sales_order_integration_enabled": True,
                "auto_create_sales_orders": True,
                "auto_process_sales_quotes": True,
                "webhook_auth_mode": "header",
                "webhook_header_name": WEBHOOK_HEADER,
                "rotate_webhook_secret": True,
                "dataverse_url": sales.org_url,
                "dataverse_token_url": sales.token_url,
                "dataverse_client_id": sales.client_id,
                "dataverse_client_secret": sales.client_secret,
                "write_in_product": "item:1896-S",
                "freight_gl_account": "6710",
                "bc_mode": "api",
                "bc_api_url": bc.base_url,
                "bc_company": "CRONUS",
                "bc_auth": "oauth",
                "bc_token_url": bc.token_url,
                "bc_client_id": who.client_id,
                "bc_client_secret": who.client_secret,
                **PAGES,
            }
            result = await SetupService(engine, settings).change(SetupChange.parse(change), "demo")
            assert result.webhook_secret
            sales.register_webhook(f"{base}/webhooks/dataverse", auth=("header", WEBHOOK_HEADER, result.webhook_secret))
            notes.append("as: bc-gateway setup --bc-mode api --bc-api-url <BC API> --bc-company CRONUS --bc-auth oauth "
                         "--bc-token-url <token URL> --bc-client-id <app id> --bc-client-secret - "
                         + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in PAGES.items()))  # fmt: skip
            notes.append("and Sales' webhook registered for submitted orders and activated/won quotes")

        async with steps.step("Mirror: the initial load of BC's items, customers, units and ledger") as notes:
            await until(lambda: _ready(gateway), "the mirror's initial load")
            notes.append("our BC tables are now a read model of the BC simulator")

        http = aiohttp.ClientSession(headers={"Authorization": basic("DEMO", key)})
        try:
            await _loop(steps, bc, sales, demo, base, http, gateway)
        finally:
            await http.close()
        await order_life(steps, until, workdir)
        print(f"\nThe whole loop worked in {time.monotonic() - steps.started:.1f} s.", flush=True)
        return 0
    except StepFailed as failed:
        print(f"\nThe demo stopped at: {failed}", flush=True)
        return 1
    finally:
        if runner is not None:
            await runner.cleanup()
        await sales.close()
        await bc.close()
        await engine.dispose()
        if keep:
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _ready(gateway: Any) -> bool:
    return bool(gateway.mirror_ready)


async def _loop(
    steps: Steps, bc: BcSimulator, sales: Any, demo: Any, base: str, http: aiohttp.ClientSession, gateway: Any
) -> None:
    async def odata(path: str) -> Any:
        async with http.get(base + path) as resp:
            return resp.status, await resp.json(content_type=None)

    async with steps.step("Sales: an order for Adatum Corporation is submitted") as notes:
        order_id = await sales.create_order(
            ("account", demo.accounts["10000"]),
            [
                {"product": demo.products["1896-S"], "quantity": 3, "priceperunit": Decimal("1000.80")},
                {"product": demo.products["1900-S"], "quantity": 2, "uom": demo.units["BOX"], "priceperunit": 1156.8},
            ],
            name="PO-2026-001",
        )
        await sales.submit_order(order_id)
        number = sales.row("salesorders", order_id)["ordernumber"]
        notes.append(f"{number}: 3 x ATHENS Desk, 2 BOX of PARIS Guest Chair; Sales delivers the webhook")

    async with steps.step("Business Central: one sales order, created by the gateway through the API") as notes:
        key = document_key(order_id)

        async def bc_order() -> dict[str, Any] | None:
            found = [o for o in bc.records("salesOrders") if o["externalDocumentNumber"] == key]
            return found[0] if found else None

        order = await until(bc_order, "the order in BC")
        lines = [ln for ln in bc.records("salesOrderLines") if ln["documentId"] == order["id"]]
        notes.append(f"{order['number']}, External Document No. {key} (our key), status {order['status']}")
        for ln in sorted(lines, key=lambda ln: ln["sequence"]):
            line = f"  {ln['sequence']:>6} {ln['lineType']:<8} {ln['lineObjectNumber']:<7} {ln['description'][:40]:<40}"
            if ln["lineType"] != "Comment":
                line += f" {ln['quantity']:>3} {ln['unitOfMeasureCode']:<4} {ln['amountExcludingTax']:>9}"
            notes.append(line)
        notes.append(f"total {order['totalAmountExcludingTax']} {order['currencyCode']}")

    async with steps.step("Gateway: SalesOrders and Qty_on_Sales_Order show what BC holds, at once") as notes:

        async def shown() -> Any:
            status, body = await odata(f"/ODataV4/SalesOrders('{order['number']}')")
            return body if status == 200 else None

        # BC answered; the coupling, the inbox state and the copy of the order commit together next.
        body = await until(shown, "the order in SalesOrders")
        notes.append(f"SalesOrders('{body['No']}'): Status {body['Status']}, Amount {body['Amount']}, Id {body['Id']}")
        status, body = await odata("/ODataV4/ItemAvailability('1896-S')")
        if status != 200:
            raise RuntimeError(f"ItemAvailability answered {status}: {body}")
        notes.append(f"ItemAvailability('1896-S'): Inventory {body['Inventory']}, "
                     f"Qty_on_Sales_Order {body['Qty_on_Sales_Order']}")  # fmt: skip

    async with steps.step("Sales: the order is marked as submitted to the back office") as notes:

        async def written_back() -> Any:
            return sales.row("salesorders", order_id).get("lastbackofficesubmit")

        when = await until(written_back, "lastbackofficesubmit")
        notes.append(f"lastbackofficesubmit = {when}")

    pia = f"/ODataV4/Company('CRONUS')/ProductItemAvailability?$filter={q(f'CRM_ID eq {ATHENS_DESK}')}"

    async def inventory() -> Any:
        status, body = await odata(pia)
        return body["value"][0]["Inventory"] if status == 200 and body.get("value") else None

    before = await until(inventory, "ProductItemAvailability")
    async with steps.step("Business Central: 10 ATHENS Desks are received at BLUE (an item ledger entry)") as notes:
        entry = bc.post_stock("1896-S", 10, "BLUE")
        notes.append(f"entry {entry['entryNumber']}: Purchase of 10, location BLUE")

    async with steps.step("Sales asks ProductItemAvailability (as its product form does): BC's stock") as notes:
        after = await until(lambda: _changed(inventory, before), "the new inventory in ProductItemAvailability")
        notes.append(f"ATHENS Desk (CRM_ID {ATHENS_DESK}): Inventory {before} -> {after}")


async def _changed(read: Callable[[], Awaitable[Any]], before: Any) -> Any:
    value = await read()
    return value if value is not None and value != before else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="the gateway's database (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--verbose", action="store_true", help="show the gateway's log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(name)s: %(message)s")
    return asyncio.run(run(args.database_url, args.keep))


if __name__ == "__main__":
    sys.exit(main())
