"""Order latency: from Sales' submission to the BC order, as ratios against baselines in one run.

  (a) end to end: the simulator submits an order and delivers the webhook; the gateway stores
      it, its worker reads Sales, converts and commits the BC order. Per order, the time from the
      submission until the inbox row is `created`.
  (b) baseline: the same work without the webhook and the worker's wake-up: an order already in
      the inbox, processed by a direct `OrderWorker.process` call.
  (c) reference: BC's own job runs every 30 minutes (2 minutes in BC 13): the mean wait for it.

The issue's goal is "within a second of the webhook". The ratio (a)/(b) shows what the intake
adds to the conversion itself; (a)/(c) what the gateway gains over BC's schedule.
Everything runs in this process on loopback: the gateway (aiohttp, SQLite in a temporary
directory, or BCGW_BENCH_DATABASE_URL), and tests/support/sales_simulator/ standing in for Sales.
Run: `make bench` (after the availability figures) or `python bench/order_latency.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/order_latency.py` from a checkout

from gateway.app import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.initialise import initialise  # noqa: E402
from orders import inbox  # noqa: E402
from orders.worker import OrderWorker  # noqa: E402
from schemas.db import create_engine  # noqa: E402
from tests.support.order_harness import Harness, start_harness  # noqa: E402
from tests.support.sales_simulator import SalesSimulator  # noqa: E402

ORDERS = int(os.environ.get("BCGW_BENCH_ORDERS", "30"))
BC_JOB_INTERVAL = 30 * 60.0  # BC's "Auto Create Sales Orders" job (docs/reference/bc-rules.md §6)


class _Server:
    """Enough of aiohttp's test server for the harness: the app on a real loopback port."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        self.port = 0

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def make_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def _wait_created(h: Harness, order_id: str) -> float:
    while True:
        rows = await inbox.find(h.engine, h.settings.company, order_id)
        if rows and rows[-1].state == "created":
            return time.perf_counter()
        await asyncio.sleep(0.002)


async def end_to_end(h: Harness) -> list[float]:
    times = []
    for _ in range(ORDERS):
        order_id = await h.order()
        started = time.perf_counter()
        await h.sim.submit_order(order_id)
        times.append(await _wait_created(h, order_id) - started)
    return times


async def direct(h: Harness, settings: Settings) -> list[float]:
    """The same conversion and commit, the row already in the inbox, no webhook, no wake-up."""
    worker = OrderWorker(h.engine, settings, owner="bench")
    worker.client_options = {"timeout": 10.0}
    times = []
    try:
        for _ in range(ORDERS):
            order_id = await h.order()
            h.sim.drop_next_delivery()  # the submission reaches Sales, not the gateway
            await h.sim.submit_order(order_id)
            await h.sim.flush()
            row, _ = await inbox.enqueue(h.engine, settings.company, inbox.SALESORDER, order_id, "submit")
            claimed = await inbox.claim_one(h.engine, row.id, worker.owner, settings.lease_seconds)
            assert claimed is not None
            started = time.perf_counter()
            result = await worker.process(claimed, force=True)
            times.append(time.perf_counter() - started)
            assert result.state == "created", result.message
    finally:
        await worker.close()
    return times


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BCGW_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/orders.db"
        settings = dataclasses.replace(
            Settings(), database_url=url, worker_poll_interval=0.05, reconcile_interval=0, cache_ttl=0
        )
        engine = create_engine(url)
        await initialise(engine, settings, demo=True)
        sim = SalesSimulator()
        await sim.start()
        server = _Server(create_app(settings, engine=engine, worker=True))
        await server.start()
        try:
            h = await start_harness(sim, server, engine, settings)
            h.gateway.worker.client_options = {"timeout": 10.0}
            await end_to_end(h)  # warm-up: imports, pools, first statements
            e2e = await end_to_end(h)
            for task in h.gateway.background:  # the gateway's own worker stays out of (b)
                if task.get_name() == "order-worker":
                    task.cancel()
            base = await direct(h, settings)
        finally:
            await server.close()
            await sim.close()
            await engine.dispose()
    a, b = statistics.median(e2e), statistics.median(base)
    wait = BC_JOB_INTERVAL / 2
    print(f"orders per figure: {ORDERS}; database: {url.split(':')[0]}")
    print(f"{'figure':<52} {'median':>10} {'p90':>10}")
    print(f"{'(a) submission -> BC order, through the webhook':<52} {a * 1000:>8.1f}ms {_p90(e2e) * 1000:>8.1f}ms")
    print(f"{'(b) the worker alone, row already queued':<52} {b * 1000:>8.1f}ms {_p90(base) * 1000:>8.1f}ms")
    print(f"{'(c) mean wait for BC 30-minute job':<52} {wait:>8.0f}s")
    print(f"ratio (a)/(b): {a / b:.2f}   ratio (a)/(c): {a / wait:.6f}   (c)/(a): {wait / a:,.0f}x faster")
    return 0


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
