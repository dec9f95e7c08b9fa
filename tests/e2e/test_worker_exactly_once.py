"""Exactly once under crashes and several workers (real processes, real database)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from typing import Any

import pytest

from orders.worker import OrderWorker
from tests.support.helpers import cli_env


async def test_crash_between_commit_and_write_back_gives_no_duplicate(receiver_only: Any, settings: Any) -> None:
    h = receiver_only
    # The write-back hangs, so the worker process is killed with the BC order committed and
    # the write-back not done.
    h.sim.fail_next("PATCH", r"salesorders\(", count=1, status="timeout", delay=60)
    env = cli_env(settings) | {"BCGW_WORKER_POLL_INTERVAL": "0.05", "BCGW_LEASE_SECONDS": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        order_id = await h.order()
        await h.sim.submit_order(order_id)
        row = await h.wait_state(order_id, "created", within=15)
        assert row.writeback_state == "pending"

        async def patch_arrived() -> bool:
            return any(r.method == "PATCH" for r in h.sim.api_requests("PATCH"))

        assert await h.wait_for(patch_arrived, within=10)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert len(await h.documents("Order")) == 1

    # Another worker takes over once the dead one's lease has run out.
    quick = dataclasses.replace(settings, lease_seconds=1)
    worker = OrderWorker(h.engine, quick)
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:

        async def written_back() -> bool:
            await worker.run_once()
            rows = await h.inbox_rows(order_id)
            return rows[0].writeback_state == "done"

        assert await h.wait_for(written_back, within=10)
    finally:
        await worker.close()
    assert len(await h.documents("Order")) == 1
    sales = h.sim.row("salesorders", order_id)
    assert sales["lastbackofficesubmit"] is not None and sales["statecode"] == 1


async def test_several_workers_create_each_order_once(receiver_only: Any, settings: Any) -> None:
    h = receiver_only
    orders = [await h.order() for _ in range(12)]
    for order_id in orders:
        await h.sim.submit_order(order_id)
    await h.sim.flush()
    workers = [OrderWorker(h.engine, settings, owner=f"w{i}") for i in range(3)]
    for w in workers:
        w.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        for _ in range(50):
            done = await asyncio.gather(*(w.run_once() for w in workers))
            if not any(done):
                break
    finally:
        for w in workers:
            await w.close()
    documents = await h.documents("Order")
    assert len(documents) == len(orders)
    assert sorted(d.sales_id for d in documents) == sorted(orders)
    assert len({d.no for d in documents}) == len(orders)
    for order_id in orders:
        (row,) = await h.inbox_rows(order_id)
        assert row.state == "created" and row.writeback_state == "done"


@pytest.mark.skipif(os.name != "posix", reason="uses POSIX signals")
async def test_worker_command_runs_once(receiver_only: Any, settings: Any) -> None:
    h = receiver_only
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    await h.sim.flush()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "worker",
        "--once",
        env=cli_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "Handled" in out.decode()
    assert (await h.inbox_rows(order_id))[0].state == "created"
