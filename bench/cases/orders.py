"""P4 and P5: Sales orders through the webhook into BC, on SQLite and on PostgreSQL.

P4 a Sales order of 10 lines is submitted in the Sales simulator, which delivers the webhook to
   two `bc-gateway serve` processes sharing one port (each with its order worker); the time
   until the BC order is committed (the inbox row `created`). p50 and p99 over orders sent one
   at a time, and orders per second for a burst sent at once. The simulator answers at once.
P5 the webhook intake alone: wrk posts Sales' own webhook body (a fresh order id each time) to
   one gateway without a worker, against the bare aiohttp app reading the same body.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench import large_company
from bench.context import Context, scratch_key_file
from bench.figures import NO_GOAL, Figure, failed, not_run, verdict
from bench.measure import alternate
from bench.processes import bare, free_port, gateway, started
from gateway.config import Settings
from gateway.initialise import initialise
from orders.change_setup import SetupService
from orders.dataverse.webhook_context import classify, parse_context
from orders.setup import SetupChange
from schemas import tables as t
from schemas.db import create_engine
from schemas.demo_company import ITEMS, UNCOUPLED, account_id, product_id, uom_id

# The Sales simulator is the one piece of tests/ the bench uses: it speaks Sales' documented wire
# format (webhooks, Web API, OAuth), which the order path needs a peer for; writing a second one
# here would only let the two drift apart. Nothing else of tests/ is imported (pyproject's
# import-linter contract "bench uses only the simulators of tests/support").
from tests.support.sales_simulator import SalesSimulator

LINES = 10
WEBHOOK_HEADER = "x-bc-webhook-secret"
ORG_HOST = "contoso.crm4.dynamics.com"
PLACEHOLDER = "00000000-0000-4000-8000-00000000beef"


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Orders:
    """The Sales side: the demo company's products and accounts under the ids the demo couples."""

    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        pcs = sim.add_uom("PCS", uomid=uom_id(1))
        for i, code in enumerate(("BOX", "HOUR"), start=2):
            sim.add_uom(code, uomid=uom_id(i))
        self.products = [
            sim.add_product(no, name, producttypecode=1, uom=pcs, productid=product_id(no))
            for no, name, *_rest in ITEMS
            if no not in UNCOUPLED
        ]
        self.account = sim.add_account("Adatum Corporation", accountnumber="10000", accountid=account_id("10000"))

    async def new(self) -> str:
        lines = [
            {"product": self.products[i % len(self.products)], "quantity": 1 + i, "priceperunit": 100 + i}
            for i in range(LINES)
        ]
        return await self.sim.create_order(("account", self.account), lines)


async def _fresh_database(ctx: Context, kind: str) -> str:
    if kind == "PostgreSQL":
        assert ctx.postgres_url
        await large_company.reset_postgres(ctx.postgres_url)
        return ctx.postgres_url
    return f"sqlite+aiosqlite:///{ctx.tmp / 'orders.db'}"


async def _setup(url: str, sim: SalesSimulator, port: int) -> str:
    """The demo company, and the connection setup pointing at the simulator. The webhook secret."""
    settings = Settings(database_url=url)
    engine = create_engine(url)
    try:
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
                    "dataverse_url": sim.org_url,
                    "dataverse_token_url": sim.token_url,
                    "dataverse_client_id": sim.client_id,
                    "dataverse_client_secret": sim.client_secret,
                    "local_currency_code": "EUR",
                }
            ),
            "bench",
        )
    finally:
        await engine.dispose()
    assert result.webhook_secret
    return result.webhook_secret


class Watch:
    """Polls the inbox for the orders still on their way; records when each became `created`."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.pending: dict[str, float] = {}  # sales id -> submitted at
        self.done: dict[str, float] = {}  # sales id -> seconds from submission to committed
        self.failed: dict[str, str] = {}

    async def until_done(self, within: float, *, strict: bool = True) -> None:
        """Until every pending order is committed; after `within` seconds an error, or with
        strict=False a return (what is still pending stays in self.pending)."""
        inbox = t.order_inbox
        deadline = time.perf_counter() + within
        while self.pending:
            if time.perf_counter() > deadline:
                if not strict:
                    return
                raise RuntimeError(f"{len(self.pending)} orders not committed within {within:g} s")
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(inbox.c.sales_id, inbox.c.state, inbox.c.last_error).where(
                            inbox.c.sales_id.in_(list(self.pending)), inbox.c.state.in_(("created", "failed"))
                        )
                    )
                ).all()
            now = time.perf_counter()
            for sales_id, state, error in rows:
                started = self.pending.pop(str(sales_id), None)
                if started is None:
                    continue
                if state == "created":
                    self.done[str(sales_id)] = now - started
                else:
                    self.failed[str(sales_id)] = str(error)
            if self.failed:
                raise RuntimeError(f"orders failed in the worker: {list(self.failed.values())[:3]}")
            await asyncio.sleep(0.003)

    async def close(self) -> None:
        await self.engine.dispose()


async def _p4(ctx: Context, kind: str, url: str, logs: Path) -> tuple[Figure, dict[str, Any]]:
    sim = SalesSimulator()
    await sim.start()
    port = free_port()
    watch: Watch | None = None
    try:
        secret = await _setup(url, sim, port)
        orders = Orders(sim)
        sim.register_webhook(f"http://127.0.0.1:{port}/webhooks/dataverse", auth=("header", WEBHOOK_HEADER, secret))
        workers = [
            gateway(url, logs, worker=True, port=port, reuse_port=True, name=f"gateway-worker{i}", cache_ttl="0")
            for i in (1, 2)
        ]
        await asyncio.gather(*(asyncio.to_thread(child.__enter__) for child in workers))
        try:
            watch = Watch(url)
            sequential = max(3, round(30 * min(1.0, ctx.scale * 10)))
            burst = max(5, round(60 * min(1.0, ctx.scale * 10)))
            for _ in range(3 if ctx.rounds else 1):  # warm-up: pools, statement caches, the first token
                order_id = await orders.new()
                watch.pending[order_id] = time.perf_counter()
                await sim.submit_order(order_id)
                await watch.until_done(60)
            watch.done.clear()
            for _ in range(sequential):
                order_id = await orders.new()
                watch.pending[order_id] = time.perf_counter()
                await sim.submit_order(order_id)
                await watch.until_done(60)
            latencies = list(watch.done.values())
            watch.done.clear()
            ids = [await orders.new() for _ in range(burst)]
            started = time.perf_counter()
            for order_id in ids:
                watch.pending[order_id] = time.perf_counter()
                await sim.submit_order(order_id)
            await watch.until_done(60 + 3 * burst, strict=False)
            committed = len(watch.done)
            rate = committed / (time.perf_counter() - started)
            burst_p50 = statistics.median(watch.done.values()) if watch.done else float("nan")
            late = len(watch.pending)
            watch.pending.clear()
            # Sales' own webhook body for P5: the last delivery of a submission (not one of the
            # workers' write-backs, which Sales also delivers), its order id made a placeholder.
            delivery = next(d for d in reversed(sim.deliveries) if _is_submission(d.body))
            template = delivery.body.decode().replace(delivery.row_id.lower(), PLACEHOLDER)
            hook = {"body": template, "headers": {**delivery.headers, WEBHOOK_HEADER: secret}}
        finally:
            for child in workers:
                child.__exit__(None, None, None)
    finally:
        if watch is not None:
            await watch.close()
        await sim.close()
    p50, p99 = statistics.median(latencies) * 1e3, _percentile(latencies, 99) * 1e3
    figure = Figure(
        f"P4 {kind}",
        "webhook → BC order committed (10 lines), two gateway processes with workers",
        "— (no bare equivalent: the work is the order)",
        f"p50 {p50:.0f} ms, p99 {_percentile(latencies, 99) * 1e3:.0f} ms one at a time ({len(latencies)} orders); "
        f"{rate:.1f} orders/s in a burst of {burst} (p50 {burst_p50 * 1e3:.0f} ms"
        + (f"; {late} not committed within {60 + 3 * burst} s)" if late else ")"),
        None,
        "BC order within 1 s of the webhook (p99)",
        verdict(p99 <= 1000 and not late),
        ctx.command("P4"),
        [
            f"{kind}; `bc-gateway serve --reuse-port` twice on one port, each with its order worker; "
            "the Sales simulator in the bench process delivers the webhooks (asynchronous steps, one after "
            "another, as Sales runs them) and answers the workers' Web API calls at once"
        ],
    )
    return figure, hook


def _is_submission(body: bytes) -> bool:
    return classify(parse_context(body), False).event is not None


def _p5(ctx: Context, kind: str, url: str, logs: Path, hook: dict[str, Any]) -> Figure:
    headers = {k: v for k, v in hook["headers"].items() if k.lower() not in ("content-length", "host")}
    headers.setdefault("Content-Type", "application/json")
    path = "/webhooks/dataverse"
    bodies = ctx.tmp / "bodies-webhook"
    bodies.mkdir(exist_ok=True)
    (bodies / "dataverse.json").write_bytes(json.dumps({"outcome": "queued", "inbox_id": 1, "reason": ""}).encode())
    c = min(ctx.connections, 16)
    with started(gateway(url, logs, cache_ttl="0"), bare(logs, bodies)) as (gw, plain):
        # One delivery first: it must be queued as an order, not ignored, or the figure means nothing.
        probe = hook["body"].replace(PLACEHOLDER, "00000000-0000-4000-8000-0000000f00d0")
        request = urllib.request.Request(gw.base + path, data=probe.encode(), headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            answer = json.loads(resp.read())
        if answer["outcome"] == "ignored":
            raise RuntimeError(f"the intake ignores the webhook body ({answer.get('reason')}): not a submitted order")
        b, g = alternate(
            plain, gw, [path], ctx.seconds, ctx.rounds, c, headers=headers, method="POST", body=hook["body"]
        )
    return Figure(
        f"P5 {kind}",
        "webhook intake alone (stored, answered 200): deliveries/s",
        f"bare aiohttp reading the same body {b.per_second:,.0f}/s, {b.cpu_per_answer * 1e3:.3f} ms CPU/answer",
        f"{g.per_second:,.0f}/s, {g.cpu_per_answer * 1e3:.3f} ms CPU/answer "
        f"(×{g.cpu_per_answer / b.cpu_per_answer:.1f} of bare); p99 {g.wrk.p99_ms:.1f} ms",
        g.per_second / b.per_second,
        "none set by the issue",
        NO_GOAL,
        ctx.command("P5"),
        [f"{kind}; one gateway without a worker; Sales' webhook body, a new order id per request; {c} connections"],
    )


def run(ctx: Context) -> list[Figure]:
    figures: list[Figure] = []
    for kind in ("SQLite", "PostgreSQL"):
        if kind == "PostgreSQL" and not ctx.postgres_url:
            why = "not run: give --postgres (or BCGW_BENCH_POSTGRES_URL), a scratch database"
            figures.append(
                not_run("P4 PostgreSQL", "webhook → BC order committed", "p99 ≤ 1 s", ctx.command("P4"), why)
            )
            figures.append(not_run("P5 PostgreSQL", "webhook intake alone", "—", ctx.command("P5"), why))
            continue
        with scratch_key_file(ctx):
            url = asyncio.run(_fresh_database(ctx, kind))
            try:
                p4, hook = asyncio.run(_p4(ctx, kind, url, ctx.tmp))
            except Exception as exc:  # the other database's figures still count
                traceback.print_exc()
                figures += [failed(f"P4 {kind}", ctx.command("P4"), exc), failed(f"P5 {kind}", ctx.command("P5"), exc)]
                continue
            figures.append(p4)
            try:
                figures.append(_p5(ctx, kind, url, ctx.tmp, hook))
            except Exception as exc:
                traceback.print_exc()
                figures.append(failed(f"P5 {kind}", ctx.command("P5"), exc))
    return figures
