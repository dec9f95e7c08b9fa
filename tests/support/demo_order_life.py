"""``make demo``, part two: the order's life back in Sales, with the gateway's own tables as BC.

A real BC posts by itself; the embedded BC posts with BC's actions (release, ship, invoice), so
this part runs a second gateway in **embedded** mode (its own temporary database) against an empty
Sales simulator. As a BC administrator does after connecting, it first runs the full
synchronisation (``bc-gateway sync full``): Sales gets BC's units, products and accounts, coupled.
Then the jobs that tell Sales what BC did run event-driven: codeunit 5352 (order status: the posts
and the order's state), 5356 (item availability: ``quantityonhand``), POSTEDSALESINV-INV (the
posted invoice) and 5350 (customer statistics, and the invoice's payment status); the other
mapping jobs are put On Hold so that what the demo prints comes from those.

Each step prints what Sales shows afterwards, so every step is visible on the Sales side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select, update

from gateway.app import create_app
from gateway.config import Settings
from gateway.initialise import initialise
from orders import inbox
from orders.change_setup import SetupService
from orders.customer_payments import pay
from orders.dataverse.client import DataverseClient
from orders.post_sales_order import post_sales_order, release_sales_order
from orders.setup import SetupChange
from orders.sync import api
from orders.sync.defaults import (
    INTEGRATION_SYNCH_JOB_RUNNER,
    ITEM_AVAILABILITY_JOB,
    ORDER_STATUS_JOB,
    POSTED_SALES_INVOICE,
    STATISTICS_JOB,
)
from schemas import tables as t
from schemas.db import create_engine, write_transaction
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER

ACTIVE_JOBS = (ORDER_STATUS_JOB, ITEM_AVAILABILITY_JOB, STATISTICS_JOB)
ACTIVE_MAPPINGS = (POSTED_SALES_INVOICE,)


async def order_life(steps: Any, until: Callable[..., Awaitable[Any]], workdir: Path) -> None:
    """Part two of the demo; ``steps`` and ``until`` are the demo's (tests/support/demo.py)."""
    from tests.support.sales_simulator import SalesSimulator

    database_url = f"sqlite+aiosqlite:///{workdir / 'embedded.db'}"
    settings = Settings(
        database_url=database_url,
        company="CRONUS",
        worker_poll_interval=0.1,
        change_poll_interval=0.1,
        retry_base_delay=1.0,
        reconcile_interval=0,
        sync_jobs=True,
        sync_poll_interval=0.1,
        sync_wake_seconds=0.2,
    )
    engine = create_engine(database_url)
    sales = SalesSimulator(ORG_HOST, base_currency="EUR")  # the demo company's local currency
    runner: web.AppRunner | None = None
    try:
        async with steps.step("Part two: a gateway in embedded mode (its own tables are BC), a fresh Sales") as notes:
            await sales.start()
            await initialise(engine, settings, demo=True)
            result = await SetupService(engine, settings).change(
                SetupChange.parse(
                    {
                        "sales_url": f"https://{ORG_HOST}",
                        "sales_order_integration_enabled": True,
                        "auto_create_sales_orders": True,
                        "webhook_auth_mode": "header",
                        "webhook_header_name": WEBHOOK_HEADER,
                        "rotate_webhook_secret": True,
                        "dataverse_url": sales.org_url,
                        "dataverse_token_url": sales.token_url,
                        "dataverse_client_id": sales.client_id,
                        "dataverse_client_secret": sales.client_secret,
                        "write_in_product": "item:1896-S",
                        "freight_gl_account": "6710",
                        "local_currency_code": "EUR",
                    }
                ),
                "demo",
            )
            await api.ensure_defaults(engine, "CRONUS")  # BC's default mappings and job queue entries
            await _hold_mapping_jobs(engine)
            runner = web.AppRunner(create_app(settings, engine=engine, worker=True, mirror=False))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            assert result.webhook_secret
            sales.register_webhook(f"{base}/webhooks/dataverse", auth=("header", WEBHOOK_HEADER, result.webhook_secret))
            notes.append(f"{base}/  jobs running: 5352 (Sales Order Status), 5356 (Item Availability),")
            notes.append("  POSTEDSALESINV-INV (posted invoices), 5350 (Customer Statistics)")

        async with steps.step("Full synchronisation to the empty Sales (bc-gateway sync full)") as notes:
            async with aiohttp.ClientSession() as session:
                client = DataverseClient(session, sales.org_url, sales.token_url, sales.client_id, sales.client_secret)
                results = await api.full_sync(engine, "CRONUS", api.dataverse_sales(client))
            for result in results:
                for job in result.jobs:
                    c = job.counters
                    if c.inserted or c.modified or c.failed or c.coupled:
                        notes.append(f"{job.mapping_name:<22} inserted {c.inserted}, modified {c.modified}, "
                                     f"coupled {c.coupled}, failed {c.failed}")  # fmt: skip
            if any(job.counters.failed for result in results for job in result.jobs):
                raise RuntimeError("the full synchronisation failed for some records: bc-gateway sync errors")
            desk, account = (
                await _coupled(engine, t.TABLE_ITEM, t.item, "1896-S"),
                await _coupled(engine, t.TABLE_CUSTOMER, t.customer, "20000"),
            )

        async with steps.step("Sales: an order for Trey Research is submitted; BC makes its sales order") as notes:
            order_id = await sales.create_order(
                ("account", account),
                [{"product": desk, "quantity": 3, "priceperunit": Decimal("1000")}],
                name="PO-2026-002",
                requestdeliveryby="2026-12-24",
            )
            await sales.submit_order(order_id)
            row = await until(lambda: _created(engine, order_id), "the BC order")
            no = row.document_no
            notes.append(f"{sales.row('salesorders', order_id)['ordernumber']} -> BC sales order {no}")
            notes.append(_sales_view(sales, order_id))

        async with steps.step(f"BC: sales order {no} is released") as notes:
            await release_sales_order(engine, "CRONUS", no)
            await until(lambda: _posts_are(sales, order_id, 1), "the release post in Sales")
            notes.append(_sales_view(sales, order_id))

        stock = sales.row("products", desk).get("quantityonhand")
        async with steps.step(f"BC: 2 of the 3 ATHENS Desks are shipped (orders post {no} --ship)") as notes:
            await post_sales_order(engine, "CRONUS", no, ship=True, invoice=False, quantities={10000: Decimal(2)})
            await until(lambda: _posts_are(sales, order_id, 2), "the shipment post in Sales")
            after = await until(lambda: _stock_changed(sales, desk, stock), "quantityonhand")
            notes.append(_sales_view(sales, order_id))
            notes.append(f"Sales product 1896-S quantityonhand {stock} -> {after}")

        async with steps.step("BC: the last desk is shipped and the order invoiced (--ship --invoice)") as notes:
            posted = await post_sales_order(engine, "CRONUS", no, ship=True, invoice=True)
            await until(lambda: _invoiced(sales, order_id), "the order Invoiced in Sales")
            notes.append(f"posted sales invoice {posted.invoice_no}; BC deleted order {no}, as BC does")
            notes.append(_sales_view(sales, order_id))

        async with steps.step(
            f"Sales: invoice {posted.invoice_no} with its products, and the account's figures"
        ) as notes:
            invoice = await until(lambda: _invoice(sales, posted.invoice_no, 0), "the invoice in Sales")
            notes.append(_invoice_view(sales, invoice))
            figures = await until(lambda: _statistics(sales, "20000", Decimal(3000)), "the account statistics")
            notes.append(_statistics_view(figures))

        async with steps.step(
            f"BC: Trey Research pays 3000 (customers pay 20000 3000 --applies-to {posted.invoice_no})"
        ) as notes:
            await pay(engine, "CRONUS", "20000", Decimal(3000), applies_to=posted.invoice_no)
            invoice = await until(lambda: _invoice(sales, posted.invoice_no, 2), "the invoice paid in Sales")
            notes.append(_invoice_view(sales, invoice))
            figures = await until(lambda: _statistics(sales, "20000", Decimal(0)), "the new balance in Sales")
            notes.append(_statistics_view(figures))
    finally:
        if runner is not None:
            await runner.cleanup()
        await sales.close()
        await engine.dispose()


async def _coupled(engine: Any, table_id: int, table: Any, no: str) -> str:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        found = await conn.execute(
            select(cir.c.crm_id)
            .join(table, cir.c.integration_id == table.c.system_id)
            .where(cir.c.table_id == table_id, table.c.no == no)
        )
        return str(found.scalar_one())


async def _hold_mapping_jobs(engine: Any) -> None:
    jqe = t.job_queue_entry
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(jqe)
            .where(
                jqe.c.object_id_to_run.not_in(ACTIVE_JOBS),
                ~(
                    (jqe.c.object_id_to_run == INTEGRATION_SYNCH_JOB_RUNNER)
                    & jqe.c.record_id_to_process.in_(ACTIVE_MAPPINGS)
                ),
            )
            .values(status="On Hold")
        )


async def _created(engine: Any, order_id: str) -> Any:
    rows = await inbox.find(engine, "CRONUS", order_id)
    return next((r for r in rows if r.state == inbox.InboxState.CREATED), None)


def _posts(sales: Any, order_id: str) -> list[str]:
    return [p["text"] for p in sales.rows("posts") if p["regardingobjectid"].id == order_id]


async def _posts_are(sales: Any, order_id: str, count: int) -> bool:
    return len(_posts(sales, order_id)) >= count


async def _stock_changed(sales: Any, product_id: str, before: Any) -> Any:
    now = sales.row("products", product_id).get("quantityonhand")
    return now if now is not None and now != before else None


async def _invoiced(sales: Any, order_id: str) -> bool:
    return sales.row("salesorders", order_id)["statecode"] == 4 and len(_posts(sales, order_id)) >= 4


async def _invoice(sales: Any, number: str, statecode: int) -> Any:
    found = [r for r in sales.rows("invoices") if r.get("invoicenumber") == number]
    return found[0] if found and found[0]["statecode"] == statecode else None


def _invoice_view(sales: Any, invoice: dict[str, Any]) -> str:
    lines = [d for d in sales.rows("invoicedetails") if d["invoiceid"].id == invoice["invoiceid"]]
    state = {0: "Active", 2: "Paid"}.get(invoice["statecode"], str(invoice["statecode"]))
    status = {4: "Billed", 100001: "Complete", 100002: "Partial"}.get(invoice["statuscode"], str(invoice["statuscode"]))
    return (
        f"Sales invoice {invoice['invoicenumber']}: {len(lines)} invoice product(s), "
        f"total {invoice.get('totalamount')}, payment status {state} / {status}"
    )


async def _statistics(sales: Any, customer_no: str, balance: Decimal) -> Any:
    found = [r for r in sales.rows("nav_accountstatisticses") if r.get("nav_customerno") == customer_no]
    if found and Decimal(str(found[0].get("nav_balancelcy"))) == balance:
        return found[0]
    return None


def _statistics_view(row: dict[str, Any]) -> str:
    return (
        f"account statistics of customer {row['nav_customerno']}: Balance (LCY) {row.get('nav_balancelcy')}, "
        f"Outstanding Orders {row.get('nav_outstandingorderslcy')}, Sales this year {row.get('nav_totalsaleslcy')}"
    )


_STATES = {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"}


def _sales_view(sales: Any, order_id: str) -> str:
    order = sales.row("salesorders", order_id)
    posts = _posts(sales, order_id)
    state = _STATES.get(order["statecode"], str(order["statecode"]))
    wall = f'{len(posts)} on the wall, the newest "{posts[-1]}"' if posts else "none on the wall"
    return f"Sales sees: state {state}, total {order.get('totalamount')}; posts: {wall}"
