"""P8 sync: a full synchronisation of 10,000 products to the Sales simulator, as `bc-gateway sync
full` runs it (`orders.sync.api.full_sync`: every enabled mapping, forced, creating and coupling
what Sales lacks).

The company holds ``--items`` items (default 10,000) with base unit PCS and a price, nothing
coupled; the Sales simulator (tests/support/sales_simulator/) starts empty, on loopback, and is
reached through the product's own Dataverse client. The figure is products created and coupled
per second over the whole full synchronisation (unit groups first, then the items), with the
requests Sales received. It checks that every item ended coupled to a product Sales holds.

    python bench/full_sync.py [--items N] [--database-url URL]   # URL: a scratch database
    python -m bench.full_sync --scale S                           # make bench: S x 10,000; a BENCH row
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/full_sync.py` from a checkout

import aiohttp  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from gateway.config import Settings  # noqa: E402
from gateway.initialise import initialise  # noqa: E402
from orders.change_setup import SetupService  # noqa: E402
from orders.dataverse.client import DataverseClient  # noqa: E402
from orders.setup import SetupChange  # noqa: E402
from orders.sync import api  # noqa: E402
from schemas import master_data  # noqa: E402
from schemas import tables as t  # noqa: E402
from schemas.db import create_engine, write_transaction  # noqa: E402
from tests.support.sales_simulator import SalesSimulator  # noqa: E402

COMPANY = "CRONUS"
ORG_HOST = "bench.crm4.dynamics.com"
FULL = 10_000  # products at scale 1 (issue 13)


async def _seed(engine: AsyncEngine, items: int) -> None:
    """The company's items: base unit PCS, a price; in the import's batches."""
    async with write_transaction(engine) as conn:
        await master_data.ensure_unit(conn, COMPANY, "PCS", "Pieces")
    for start in range(0, items, 2000):
        rows: list[master_data.ItemRow] = []
        for i in range(start, min(items, start + 2000)):
            values = {
                "description": f"Bench item {i}",
                "base_unit_of_measure": "PCS",
                "unit_price": Decimal(1 + i % 997),
            }
            rows.append((f"S{i:07d}", values, None))
        async with write_transaction(engine) as conn:
            refused = [r for r in await master_data.upsert_items_in_bulk(conn, COMPANY, rows) if isinstance(r, str)]
        if refused:
            raise RuntimeError(f"seeding the items failed: {refused[0]}")


async def _connect(engine: AsyncEngine, settings: Settings, sales: SalesSimulator) -> None:
    await SetupService(engine, settings).change(
        SetupChange.parse(
            {
                "sales_url": f"https://{ORG_HOST}",
                "dataverse_url": sales.org_url,
                "dataverse_token_url": sales.token_url,
                "dataverse_client_id": sales.client_id,
                "dataverse_client_secret": sales.client_secret,
                "local_currency_code": "EUR",
            }
        ),
        "bench",
    )
    await api.ensure_defaults(engine, COMPANY)


async def _coupled_items(engine: AsyncEngine) -> list[str]:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(cir.c.crm_id).join(t.item, (t.item.c.system_id == cir.c.integration_id))
            .where(cir.c.company == COMPANY, cir.c.table_id == t.TABLE_ITEM)
        )  # fmt: skip
        return [str(r.crm_id) for r in rows]


async def run(items: int, database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bcgw-full-sync-") as tmp:
        os.environ.setdefault("BCGW_SECRET_KEY_FILE", str(Path(tmp) / "secret.key"))
        url = database_url or f"sqlite+aiosqlite:///{tmp}/full_sync.db"
        settings = Settings(database_url=url, company=COMPANY, reconcile_interval=0)
        engine = create_engine(url)
        sales = SalesSimulator(ORG_HOST, base_currency="EUR")
        try:
            if database_url and url.startswith("postgresql"):
                async with engine.begin() as conn:  # a scratch database: emptied whole
                    await conn.execute(text("DROP SCHEMA public CASCADE"))
                    await conn.execute(text("CREATE SCHEMA public"))
            await sales.start()
            await initialise(engine, settings)
            seeded = time.perf_counter()
            await _seed(engine, items)
            seed_seconds = time.perf_counter() - seeded
            await _connect(engine, settings, sales)
            before = len(sales.requests)
            started, cpu = time.perf_counter(), time.process_time()
            async with aiohttp.ClientSession() as session:
                client = DataverseClient(session, sales.org_url, sales.token_url, sales.client_id, sales.client_secret)
                results = await api.full_sync(engine, COMPANY, api.dataverse_sales(client))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            requests = len(sales.requests) - before
            jobs = [j for r in results for j in r.jobs]
            coupled = await _coupled_items(engine)
            products = {row["productid"] for row in sales.rows("products")}
            async with engine.connect() as conn:
                held = int(await conn.scalar(select(func.count()).select_from(t.item)) or 0)
        finally:
            await sales.close()
            await engine.dispose()
    return {
        "items": held,
        "coupled": len(coupled),
        "in_sales": sum(1 for c in coupled if c in products),
        "failed": sum(j.counters.failed for j in jobs),
        "inserted": sum(j.counters.inserted for j in jobs),
        "seconds": seconds,
        "cpu": cpu,
        "requests": requests,
        "seed_seconds": seed_seconds,
        "db": url.split(":")[0].split("+")[0],
        "jobs": [(j.mapping_name, j.counters.inserted, j.counters.failed) for j in jobs],
    }


def report(result: dict[str, Any]) -> str:
    rate = result["coupled"] / result["seconds"] if result["seconds"] else 0.0
    lines = [f"database: {result['db']}; {result['items']:,} items seeded in {result['seed_seconds']:.1f} s"]
    lines += [f"  {name:<20} inserted {ins:>7,} failed {failed:>5,}" for name, ins, failed in result["jobs"]]
    lines.append(
        f"full_sync items={result['items']} coupled={result['coupled']} in_sales={result['in_sales']} "
        f"failed={result['failed']} seconds={result['seconds']:.2f} cpu={result['cpu']:.2f} "
        f"rows_per_s={rate:.0f} requests={result['requests']}"
    )
    return "\n".join(lines)


def bench_row(result: dict[str, Any]) -> dict[str, Any]:
    """The report row `make bench` takes (bench/cases/mirror.py): products per second, no goal set."""
    seconds = result["seconds"]
    return {
        "case": "P8 sync",
        "title": f"a full synchronisation of {result['items']:,} products to the Sales simulator",
        "baseline": "—",
        "figure": f"{result['coupled'] / seconds if seconds else 0:,.0f} products/s ({seconds:.1f} s, "
        f"{result['requests']:,} requests to Sales, our CPU {result['cpu']:.1f} s, {result['db']})",
        "ratio": None,
        "goal": "—",
        "verdict": "no goal",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=FULL, help="items to synchronise (default 10,000)")
    p.add_argument("--database-url", default=os.environ.get("BCGW_BENCH_DATABASE_URL"),
                   help="a scratch database (default: SQLite in a temporary directory)")  # fmt: skip
    p.add_argument("--scale", type=float, default=None, help="make bench's scale: S x 10,000 items; a BENCH row")
    args = p.parse_args(argv)
    if args.scale is not None:
        args.items = max(10, round(FULL * args.scale))
    if args.items < 1:
        p.error("--items must be at least 1")
    result = asyncio.run(run(args.items, args.database_url))
    print(report(result))
    if args.scale is not None:
        print("BENCH " + json.dumps(bench_row(result)))
    complete = result["coupled"] == result["items"] == result["in_sales"] and not result["failed"]
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
