"""The mirror's initial load: how fast a real BC's items and item ledger come into our tables.

The BC simulator (tests/support/bc_simulator/) holds ``--items`` items (default 100,000) and
``--entries`` item ledger entries (default 1,000,000) spread over them and three locations, and
serves them over loopback as BC's API v2.0 does: server-driven pages of ``--page-size`` rows (BC
online's cap, 20,000, by default) linked by ``@odata.nextLink``. The mirror (orders/bc_link/mirror/)
loads everything once, as ``bc-gateway mirror --once`` does, into SQLite in a temporary directory
(or ``--database-url`` / BCGW_BENCH_DATABASE_URL: a scratch database, its tables are emptied), with
tqdm's progress bars on standard error.

With ``--interrupt-after N`` the load is stopped (cancelled, as Ctrl-C does) once N ledger entries
are in, and a second run resumes it: its figure shows how many rows it still had to read.

It prints one figure line per entity and a summary line::

    mirror_load items=100000 entries=1000000 seconds=... rows_per_s=... db=sqlite

Run: ``python bench/mirror_load.py [--items N --entries M] [--page-size P]``. A figure, not a test:
nothing here is compared with a stored number (tests/integration/test_mirror_load_bench.py runs a
tiny one to show it works).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/mirror_load.py` from a checkout

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from gateway.config import Settings  # noqa: E402
from gateway.initialise import initialise  # noqa: E402
from orders.bc_link import BcLimits  # noqa: E402
from orders.bc_link.from_setup import BcLink  # noqa: E402
from orders.bc_link.mirror import Mirror, MirrorOptions, Progress  # noqa: E402
from schemas import tables as t  # noqa: E402
from schemas.db import create_engine  # noqa: E402
from tests.support.bc_mirror import link_to  # noqa: E402
from tests.support.bc_simulator import BcSimulator  # noqa: E402

COMPANY = "CRONUS"
LIMITS = BcLimits(timeout=600.0, connect_timeout=10.0, base_delay=0.2, max_delay=2.0)


@dataclasses.dataclass
class Figure:
    what: str
    rows: int = 0
    seconds: float = 0.0
    started: float = dataclasses.field(default_factory=time.perf_counter)


class Bars:
    """A tqdm bar per entity (counts and rate), and the rows and seconds of each for the figures."""

    def __init__(self, show: bool, stop_after: int | None = None) -> None:
        self.show = show
        self.stop_after = stop_after  # ledger entries after which the load is interrupted
        self.figures: dict[str, Figure] = {}
        self.interrupted = asyncio.Event()

    def __call__(self, what: str, total: int | None) -> Progress:
        from tqdm import tqdm

        figure = self.figures.setdefault(what, Figure(what))
        figure.started = time.perf_counter()
        bar = tqdm(total=total, unit=" rows", desc=f"load {what}", file=sys.stderr,
                   disable=not self.show, mininterval=0.5)  # fmt: skip
        owner = self

        class Tracked:
            first = True

            def update(self, n: int) -> object:
                # The first update is what a resumed load already held: not read in this run.
                if not self.first:
                    figure.rows += n
                    if (
                        owner.stop_after is not None
                        and what.endswith("LedgerEntries")
                        and figure.rows >= owner.stop_after
                    ):
                        owner.interrupted.set()
                self.first = False
                return bar.update(n)

            def close(self) -> object:
                figure.seconds += time.perf_counter() - figure.started
                return bar.close()

        return Tracked()


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(select(func.count()).select_from(table).where(table.c.company == COMPANY))
        return int(result.scalar_one())


async def _scratch(engine: AsyncEngine, url: str) -> None:
    """A scratch database: emptied whole (its stored setup's secrets were sealed by another run's key)."""
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    else:
        path = Path(url.split("///", 1)[1])
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)


async def _load_once(
    engine: AsyncEngine, settings: Settings, bars: Bars, page_size: int
) -> tuple[float, dict[str, str]]:
    """One mirror cycle (the initial load), stopped early when ``bars`` says so."""
    options = MirrorOptions(page_size=page_size, delta_interval=3600.0, reconcile_interval=0.0)
    link = BcLink(limits=LIMITS)
    mirror = Mirror(engine, link, settings.company, options, progress=bars, owner="bench")
    started = time.perf_counter()
    try:
        cycle = asyncio.ensure_future(mirror.cycle())
        stop = asyncio.ensure_future(bars.interrupted.wait())
        await asyncio.wait({cycle, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not cycle.done():
            cycle.cancel()  # as Ctrl-C stops `bc-gateway mirror`
            await asyncio.gather(cycle, return_exceptions=True)
            return time.perf_counter() - started, {"interrupted": "yes"}
        stop.cancel()
        result = cycle.result()
        return time.perf_counter() - started, result.failed
    finally:
        await link.aclose()
        from schemas import mirror_state
        from schemas.db import write_transaction

        async with write_transaction(engine) as conn:  # a second run may take over at once
            await mirror_state.release_lease(conn, settings.company, "bench")


async def run(items: int, entries: int, page_size: int, database_url: str | None, interrupt_after: int | None,
              show: bool, *, scratch: bool = True) -> dict[str, Any]:  # fmt: skip
    """The load; its figures (also what the smoke test checks). ``database_url`` is emptied first
    unless ``scratch`` is False (a test's database, empty already)."""
    with tempfile.TemporaryDirectory(prefix="bcgw-mirror-bench-") as tmp:
        os.environ.setdefault("BCGW_SECRET_KEY_FILE", str(Path(tmp) / "secret.key"))
        url = database_url or f"sqlite+aiosqlite:///{tmp}/mirror.db"
        settings = Settings(database_url=url, company=COMPANY, reconcile_interval=0, bc_webhooks=False)
        engine = create_engine(url)
        sim = BcSimulator(max_page_size=max(page_size, 1))
        try:
            seeded = time.perf_counter()
            sim.add_company(COMPANY)
            sim.bulk_seed(COMPANY, items=items, ledger_entries=entries)
            seed_seconds = time.perf_counter() - seeded
            await sim.start()
            if database_url and scratch:
                await _scratch(engine, url)
            await initialise(engine, settings)
            await link_to(engine, settings, sim, company=COMPANY)
            runs = []
            bars = Bars(show, interrupt_after)
            seconds, failed = await _load_once(engine, settings, bars, page_size)
            runs.append({"seconds": seconds, "failed": failed, "figures": bars.figures})
            if failed.get("interrupted"):
                held = await _count(engine, t.item_ledger_entry)
                print(f"interrupted after {held:,} ledger entries ({seconds:.1f} s); resuming", file=sys.stderr)
                bars = Bars(show)
                seconds, failed = await _load_once(engine, settings, bars, page_size)
                runs.append({"seconds": seconds, "failed": failed, "figures": bars.figures})
            held_items = await _count(engine, t.item)
            held_entries = await _count(engine, t.item_ledger_entry)
            async with engine.connect() as conn:
                inventory = await conn.scalar(
                    select(func.coalesce(func.sum(t.item_inventory.c.inventory), 0)).where(
                        t.item_inventory.c.company == COMPANY
                    )
                )
            bc_inventory = sum(int(e["quantity"]) for e in sim.company(COMPANY).table("itemLedgerEntries").scan())
            requests = len(sim.request_log)
        finally:
            await sim.close()
            await engine.dispose()
    return {
        "items": held_items,
        "entries": held_entries,
        "inventory": int(inventory or 0),
        "bc_inventory": bc_inventory,
        "runs": runs,
        "seed_seconds": seed_seconds,
        "requests": requests,
        "db": url.split(":")[0].split("+")[0],
    }


def report(result: dict[str, Any], items: int, entries: int, page_size: int) -> str:
    lines = [f"database: {result['db']}; page size {page_size:,}; simulator seeded in {result['seed_seconds']:.1f} s"]
    lines.append(f"{'run':<4} {'entity':<22} {'rows read':>12} {'seconds':>9} {'rows/s':>10}")
    total_rows, total_seconds = 0, 0.0
    for n, one in enumerate(result["runs"], 1):
        for figure in one["figures"].values():
            if not figure.rows and not figure.seconds:
                continue
            rate = figure.rows / figure.seconds if figure.seconds else 0.0
            lines.append(f"{n:<4} {figure.what:<22} {figure.rows:>12,} {figure.seconds:>9.2f} {rate:>10,.0f}")
            total_rows += figure.rows
        total_seconds += one["seconds"]
        if one["failed"] and not one["failed"].get("interrupted"):
            lines.append(f"     failed: {one['failed']}")
    lines.append(
        f"held: {result['items']:,} items, {result['entries']:,} ledger entries; inventory {result['inventory']:,} "
        f"(BC: {result['bc_inventory']:,}); {result['requests']:,} requests to BC"
    )
    rate = total_rows / total_seconds if total_seconds else 0.0
    lines.append(
        f"mirror_load items={items} entries={entries} seconds={total_seconds:.2f} rows_per_s={rate:.0f} "
        f"db={result['db']} runs={len(result['runs'])}"
    )
    return "\n".join(lines)


def bench_row(result: dict[str, Any], items: int, entries: int) -> dict[str, Any]:
    """The report row `make bench` takes (bench/cases/mirror.py): rows per second, no goal set."""
    seconds = sum(one["seconds"] for one in result["runs"])
    rows = result["items"] + result["entries"]
    return {
        "case": "P8 mirror",
        "title": f"the mirror's initial load from the BC simulator ({items:,} items, {entries:,} entries)",
        "baseline": "—",
        "figure": f"{rows / seconds if seconds else 0:,.0f} rows/s ({seconds:.1f} s, {result['db']})",
        "ratio": None,
        "goal": "—",
        "verdict": "no goal",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--items", type=int, default=100_000, help="items in BC (default 100,000)")
    p.add_argument("--entries", type=int, default=1_000_000, help="item ledger entries in BC (default 1,000,000)")
    p.add_argument("--page-size", type=int, default=20_000, help="BC's page cap (default 20,000, BC online's)")
    p.add_argument("--database-url", default=os.environ.get("BCGW_BENCH_DATABASE_URL"),
                   help="a scratch database (default: SQLite in a temporary directory)")  # fmt: skip
    p.add_argument("--interrupt-after", type=int, default=None, metavar="N",
                   help="stop the load after N ledger entries, then resume it")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--scale", type=float, default=None,
                   help="make bench's scale: S x (100,000 items, 1,000,000 entries); prints a BENCH row")  # fmt: skip
    args = p.parse_args(argv)
    if args.scale is not None:
        args.items = max(10, round(100_000 * args.scale))
        args.entries = max(10, round(1_000_000 * args.scale))
        args.quiet = True
    if args.items < 1 or args.entries < 0 or args.page_size < 1:
        p.error("--items and --page-size must be at least 1, --entries at least 0")
    result = asyncio.run(
        run(args.items, args.entries, args.page_size, args.database_url, args.interrupt_after, not args.quiet)
    )
    print(report(result, args.items, args.entries, args.page_size))
    if args.scale is not None:
        print("BENCH " + json.dumps(bench_row(result, args.items, args.entries)))
    complete = result["items"] >= args.items and result["entries"] == args.entries
    return 0 if complete and result["inventory"] == result["bc_inventory"] else 1


if __name__ == "__main__":
    sys.exit(main())
