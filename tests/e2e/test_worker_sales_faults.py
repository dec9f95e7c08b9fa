"""The worker when Sales is slow, erring or throttling: rows are processed side by side (a slow
order holds one slot, not the batch), each row's Sales calls have a deadline, a 500 is passing, a
long Retry-After reschedules the row instead of holding the worker — and each order is still
created exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import update

from gateway.app import create_app
from orders import inbox
from orders.reconcile import rearm_exhausted
from orders.worker import OrderWorker
from schemas import tables as t
from tests.support.order_harness import Harness, start_harness

# Seconds a hanging Sales call takes to answer in these tests: long enough that, even on a busy
# machine, everything asserted below happens while it still hangs (the order of events is what
# is checked, not a time).
SLOW = 12.0


def _tune(h: Harness, **settings: Any) -> OrderWorker:
    """The harness's worker with these settings and a client that waits long for an answer (so
    the deadline, not the per-attempt timeout, is what ends a hanging call)."""
    worker = h.gateway.worker
    assert worker is not None
    worker.settings = dataclasses.replace(worker.settings, **settings)
    worker.concurrency = worker.settings.worker_concurrency
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2 * SLOW}
    return worker


async def test_orders_do_not_queue_behind_a_slow_order(harness: Harness) -> None:
    _tune(harness, sales_deadline=30.0)
    slow = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({slow}\)", status="timeout", delay=SLOW)
    await harness.sim.submit_order(slow)
    await harness.wait_state(slow, "processing")
    others = [await harness.order() for _ in range(4)]
    for order_id in others:
        await harness.sim.submit_order(order_id)
    for order_id in others:
        await harness.wait_state(order_id, "created", within=SLOW - 2)
    # Still on its slow call: the others did not wait for it.
    assert (await harness.inbox_rows(slow))[0].state == "processing", "the other orders waited for the slow one"
    await harness.wait_state(slow, "created", within=SLOW + 5)
    assert len(await harness.documents("Order")) == 5


async def test_new_rows_start_as_soon_as_a_slot_frees(harness: Harness) -> None:
    """With two slots and one taken by a slow order, the others go through the other slot one
    after another, not in batches behind the slow one."""
    _tune(harness, worker_concurrency=2, sales_deadline=30.0)
    slow = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({slow}\)", status="timeout", delay=SLOW)
    await harness.sim.submit_order(slow)
    await harness.wait_state(slow, "processing")
    others = [await harness.order() for _ in range(3)]
    for order_id in others:
        await harness.sim.submit_order(order_id)
    for order_id in others:
        await harness.wait_state(order_id, "created", within=SLOW - 2)
    assert (await harness.inbox_rows(slow))[0].state == "processing"


async def test_a_row_whose_sales_calls_outlast_the_deadline_is_retried_later(harness: Harness) -> None:
    _tune(harness, sales_deadline=1.0, retry_base_delay=60.0)
    order_id = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({order_id}\)", status="timeout", delay=SLOW)
    await harness.sim.submit_order(order_id)
    # Failed before the hanging call answered: the deadline, not the answer, ended it.
    row = await harness.wait_state(order_id, "failed", within=SLOW - 2)
    assert row.failure == "transient" and row.next_attempt_at is not None
    assert f"GET /api/data/v9.2/salesorders({order_id})" in row.last_error
    assert "the deadline of 1 s for this order's Sales calls passed" in row.last_error
    assert await harness.documents("Order") == []


async def test_a_500_from_sales_is_passing(harness: Harness) -> None:
    order_id = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({order_id}\)", status=500)
    await harness.sim.submit_order(order_id)
    await harness.wait_state(order_id, "created")

    _tune(harness, retry_base_delay=60.0)
    stuck = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({stuck}\)", count=100, status=500)
    await harness.sim.submit_order(stuck)
    row = await harness.wait_state(stuck, "failed")
    assert row.failure == "transient" and row.next_attempt_at is not None  # retried, not a person's
    assert "HTTP 500 0x80040216" in row.last_error
    # Once its attempts are used up, reconciliation gives it another round (it did not for a 500).
    async with harness.engine.begin() as conn:
        await conn.execute(
            update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(next_attempt_at=None, attempts=5)
        )
    assert await rearm_exhausted(harness.engine, harness.settings.company) == 1
    assert (await harness.inbox_rows(stuck))[0].state in ("received", "processing", "failed")


async def test_a_long_retry_after_reschedules_the_row_and_holds_nothing(harness: Harness) -> None:
    worker = _tune(harness)
    throttled = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({throttled}\)", status=429, retry_after=300)
    before = inbox.utcnow()
    await harness.sim.submit_order(throttled)
    row = await harness.wait_state(throttled, "failed", within=3)
    assert row.failure == "transient"
    assert row.attempts == 0  # being throttled is not a failed attempt
    assert row.next_attempt_at is not None
    wait = (row.next_attempt_at - before).total_seconds()
    assert 299 <= wait <= 305
    assert "HTTP 429" in row.last_error
    # Meanwhile the worker is free for other orders.
    other = await harness.order()
    await harness.sim.submit_order(other)
    await harness.wait_state(other, "created", within=3)
    assert worker.settings.max_attempts == 5


async def test_retry_after_longer_than_an_hour_is_capped(harness: Harness) -> None:
    _tune(harness)
    order_id = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({order_id}\)", status=429, retry_after=86400)
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "failed", within=3)
    assert row.next_attempt_at is not None
    assert row.next_attempt_at - inbox.utcnow() <= dt.timedelta(hours=1)


@pytest.fixture
async def only_receiver(settings: Any, engine: Any, demo: Any, aiohttp_server: Any, sales_sim: Any) -> Harness:
    """The gateway without its worker: the test runs the workers."""
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False))
    return await start_harness(sales_sim, server, engine, settings)


async def test_concurrent_workers_with_short_leases_create_each_order_once(
    only_receiver: Harness, settings: Any
) -> None:
    """Two running workers, four slots each, leases short enough to run out during slow calls:
    every order once, with its own number, and no task ever holds a row another task holds."""
    h = only_receiver
    rng = random.Random(11)
    orders = [await h.order() for _ in range(16)]
    for order_id in orders:
        if rng.random() < 0.4:
            h.sim.fail_next("GET", rf"salesorders\({order_id}\)", status="timeout", delay=rng.uniform(0.5, 2.5))
        await h.sim.submit_order(order_id)
    await h.sim.flush()
    quick = dataclasses.replace(settings, worker_concurrency=4, lease_seconds=1, sales_deadline=20.0)
    workers = [OrderWorker(h.engine, quick, owner=f"w{i}") for i in range(2)]
    for w in workers:
        w.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 5.0}
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:

        async def all_done() -> bool:
            rows = [r for o in orders for r in await h.inbox_rows(o)]
            return all(r.state == "created" and r.writeback_state == "done" for r in rows)

        assert await h.wait_for(all_done, within=30)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    documents = await h.documents("Order")
    assert sorted(d.sales_id for d in documents) == sorted(orders)
    assert len({d.no for d in documents}) == len(orders)


async def test_a_wake_while_every_slot_is_taken_does_not_spin(harness: Harness) -> None:
    worker = _tune(harness, worker_concurrency=1, sales_deadline=30.0)
    slow = await harness.order()
    harness.sim.fail_next("GET", rf"salesorders\({slow}\)", status="timeout", delay=3)
    await harness.sim.submit_order(slow)
    await harness.wait_state(slow, "processing")
    calls = 0
    start_due = worker._start_due

    async def counted() -> bool:
        nonlocal calls
        calls += 1
        return await start_due()

    worker._start_due = counted  # type: ignore[method-assign]
    worker.wake()  # a delivery, say, while the one slot is busy
    await asyncio.sleep(0.5)
    # The loop pauses for the poll interval (0.05 s here): about 10 passes, not thousands.
    assert calls < 40
