"""Status back to Sales (issue 12, item 2; bc-sync.md §10) over real HTTP with the Sales simulator:
a BC order released, shipped and invoiced in the embedded BC is told to Sales by the Sales Order
Status job, woken by the change feed — each post once, the order's fields, Submitted, then
Invoiced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from orders.dataverse.client import DataverseClient
from orders.sync import api
from orders.sync.defaults import ORDER_STATUS_JOB
from orders.sync.order_status_job import run_order_status
from orders.sync.ports import SalesPort
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.helpers import cli

RELEASED = "The order status has changed to Released."
SHIPPED = "A shipment has been created for the order."
INVOICED = "An invoice has been created for the order."


@pytest.fixture
async def sales(sales_sim: Any) -> AsyncIterator[SalesPort]:
    sim = sales_sim
    async with aiohttp.ClientSession() as session:
        yield api.dataverse_sales(
            DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)
        )


@pytest.fixture
async def status_job(harness: Any, sales: SalesPort) -> AsyncIterator[api.SyncScheduler]:
    """The worker's synchronisation scheduler with only the Sales Order Status job active (the
    mapping jobs are put On Hold: they are not what this test is about)."""

    async def factory() -> SalesPort:
        return sales

    scheduler = api.SyncScheduler(harness.engine, COMPANY, factory, tick=0.05, wake_delay=0.0)
    jqe = t.job_queue_entry
    await scheduler.run_once()  # BC's default job queue entries; the status job runs (nothing) and sleeps
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(jqe).where(jqe.c.object_id_to_run != ORDER_STATUS_JOB).values(status="On Hold"))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _posts(sim: Any, order_id: str) -> list[str]:
    return [p["text"] for p in sim.rows("posts") if p["regardingobjectid"].id == order_id]


def _order(sim: Any, order_id: str) -> dict[str, Any]:
    return next(r for r in sim.rows("salesorders") if r["salesorderid"] == order_id)


async def test_release_ship_and_invoice_reach_sales_within_seconds_each_post_once(
    harness: Any, settings: Any, sales: SalesPort, status_job: api.SyncScheduler
) -> None:
    sim = harness.sim
    order_id = await harness.order(
        [{"product": harness.products["1896-S"], "quantity": 3, "priceperunit": 1000}], requestdeliveryby="2026-12-24"
    )
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    entry = await api.JobQueue(harness.engine).entry(COMPANY, ORDER_STATUS_JOB, "")
    assert entry is not None and entry.sleeping  # asleep for 7 minutes: only the change feed wakes it

    async def posted(*texts: str) -> bool:
        return _posts(sim, order_id) == list(texts)

    code, _out, err = await cli(settings, "orders", "release", row.document_no)
    assert code == 0, err
    assert await harness.wait_for(lambda: posted(RELEASED))
    order = _order(sim, order_id)
    assert (order["statecode"], order["statuscode"]) == (1, 3)  # back to Submitted
    assert float(order["totalamountlessfreight"]) == 3000.0 and str(order["requestdeliveryby"])[:10] == "2026-12-24"
    (post,) = [p for p in sim.rows("posts") if p["regardingobjectid"].id == order_id]
    assert (post["source"], post["type"], post["regardingobjectid"].logical_name) == (2, 1, "salesorder")

    code, _out, err = await cli(settings, "orders", "post", row.document_no, "--ship", "--quantity", "10000=2")
    assert code == 0, err
    assert await harness.wait_for(lambda: posted(RELEASED, SHIPPED))
    order = _order(sim, order_id)
    assert order["statecode"] == 1 and order["datefulfilled"] is not None

    code, _out, err = await cli(settings, "orders", "post", row.document_no, "--ship", "--invoice")
    assert code == 0, err
    assert await harness.wait_for(lambda: posted(RELEASED, SHIPPED, SHIPPED, INVOICED))
    order = _order(sim, order_id)
    assert (order["statecode"], order["statuscode"]) == (4, 100003)  # Invoiced

    # Repeated runs post nothing twice; nor does a run after a crash between the post and the mark.
    pb = t.crm_post_buffer

    async def all_marked() -> list[Any] | None:  # a row is marked sent just after its post is made
        async with harness.engine.connect() as conn:
            rows = (await conn.execute(select(pb).order_by(pb.c.id))).all()
        return rows if all(r.sent_at is not None for r in rows) else None

    rows = await harness.wait_for(all_marked)
    assert [(r.change_type, r.sent_at is not None, r.post_id is not None) for r in rows] == [
        ("Release", True, True),
        ("Shipment", True, True),
        ("Shipment", True, True),
        ("Invoice", True, True),
    ]
    assert (await run_order_status(harness.engine, COMPANY, sales)).posts == 0
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(pb).where(pb.c.id == rows[-1].id).values(sent_at=None, post_id=None))
    again = await run_order_status(harness.engine, COMPANY, sales)
    assert again.posts == 0 and again.orders == 1
    assert _posts(sim, order_id) == [RELEASED, SHIPPED, SHIPPED, INVOICED]
    assert _order(sim, order_id)["statecode"] == 4
    job = t.integration_synch_job
    async with harness.engine.connect() as conn:
        modified = (
            await conn.execute(
                select(func.sum(job.c.modified)).where(job.c.integration_table_mapping_name == str(ORDER_STATUS_JOB))
            )
        ).scalar_one()
        messages = set(
            (
                await conn.execute(
                    select(job.c.message).where(job.c.integration_table_mapping_name == str(ORDER_STATUS_JOB))
                )
            ).scalars()
        )
    assert modified == 4 and messages == {"Sent messages about status change of sales orders."}


async def test_an_uncoupled_order_is_told_nothing(harness: Any, settings: Any, sales: SalesPort) -> None:
    order_id = await harness.order([{"product": harness.products["1896-S"], "quantity": 1, "priceperunit": 10}])
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    cir = t.crm_integration_record
    async with write_transaction(harness.engine) as conn:
        await conn.execute(cir.delete().where(cir.c.crm_id == order_id))
    code, _out, err = await cli(settings, "orders", "release", row.document_no)
    assert code == 0, err
    result = await run_order_status(harness.engine, COMPANY, sales)
    assert (result.posts, result.discarded) == (0, 1)
    assert _posts(harness.sim, order_id) == []
