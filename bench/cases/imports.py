"""P7: `bc-gateway import items | couplings | ledger`, rows per second, on SQLite and PostgreSQL.

Each import runs as the command a user types, in a fresh database with the company, its unit of
measure PCS and 5 locations. The same-run baseline is the same command on a one-row file: the
process's start (Python, the schema check) is taken out, so the figure is the import's own rate:
(rows - 1) / (time of the file - time of one row). Items first: couplings and entries refer to them.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench import large_company
from bench.context import Context, scratch_key_file
from bench.figures import Figure, failed, not_run, verdict
from bench.processes import ROOT, gateway_env
from gateway.config import Settings
from gateway.initialise import initialise
from schemas import master_data
from schemas.db import create_engine, write_transaction

GOAL = 20_000  # rows per second (issue 13)
KINDS = ("items", "couplings", "ledger")


def rows_at(scale: float) -> int:
    """Rows per file: 50,000 at full scale (enough for the import's own time to outweigh the
    command's start-up), BCGW_BENCH_IMPORT_ROWS to change it."""
    given = os.environ.get("BCGW_BENCH_IMPORT_ROWS")
    return int(given) if given else max(50, round(50_000 * min(1.0, scale * 10)))


def write_csvs(folder: Path, n: int, prefix: str = "I") -> dict[str, Path]:
    """items, couplings and ledger files of n rows each (and 1-row ones for the baseline)."""
    today = dt.date.today()
    files = {}
    for count, tag in ((n, ""), (1, "-one")):
        # The one-row files use their own numbers: the timed files start from nothing.
        p = prefix if not tag else prefix + "X"
        items = folder / f"items{tag}.csv"
        with items.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["No", "Description", "Base_Unit_of_Measure", "Unit_Price"])
            for i in range(count):
                w.writerow([f"{p}{i:06d}", f"Imported item {i}", "PCS", f"{1 + i % 997}.50"])
        couplings = folder / f"couplings{tag}.csv"
        with couplings.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Table", "No", "CRM_ID"])
            for i in range(count):
                w.writerow(["Item", f"{p}{i:06d}", f"c0000000-0000-4000-8{len(p):03d}-{i:012d}"])
        ledger = folder / f"ledger{tag}.csv"
        with ledger.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Item_No", "Location_Code", "Quantity", "Posting_Date", "Entry_Type", "Document_No"])
            for i in range(count):
                qty = -(1 + i % 3) if i % 4 == 3 else 1 + i % 40
                w.writerow(
                    [
                        f"{p}{(i * 7) % count:06d}",
                        large_company.LOCATIONS[i % len(large_company.LOCATIONS)],
                        qty,
                        (today - dt.timedelta(days=i % 365)).isoformat(),
                        "Purchase" if qty > 0 else "Sale",
                        f"IMP{i:06d}",
                    ]
                )
        files.update({f"items{tag}": items, f"couplings{tag}": couplings, f"ledger{tag}": ledger})
    return files


async def _fresh(url: str) -> None:
    if url.startswith("postgresql"):
        await large_company.reset_postgres(url)
    engine = create_engine(url)
    try:
        await initialise(engine, Settings(database_url=url))
        async with write_transaction(engine) as conn:
            await master_data.ensure_unit(conn, "CRONUS", "PCS", "Pieces")
            for code in large_company.LOCATIONS:
                await master_data.ensure_location(conn, "CRONUS", code, code.title())
    finally:
        await engine.dispose()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, float] = {}  # kind -> the command's own CPU seconds (its last run), for the notes


def _import(url: str, kind: str, path: Path) -> float:
    env = gateway_env(url)
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "import", kind, str(path), "--quiet"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    CPU[kind] = _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"bc-gateway import {kind} failed ({done.returncode}): {(done.stderr or done.stdout)[-500:]}"
        )
    return seconds


def measure(url: str, folder: Path, n: int) -> tuple[dict[str, float], float]:
    """(kind -> seconds for its n-row file, seconds for a 1-row items file: the start-up)."""
    asyncio.run(_fresh(url))
    files = write_csvs(folder, n)
    one = _import(url, "items", files["items-one"])
    CPU["one"] = CPU["items"]
    return {kind: _import(url, kind, files[kind]) for kind in KINDS}, one


def _rate(n: int, full: float, one: float) -> float:
    """Rows per second without the start-up; when the start-up is most of it (a tiny file), all of it."""
    own = full - one
    return (n - 1) / own if own > 0.2 * full else n / full


def run(ctx: Context) -> list[Figure]:
    n = rows_at(ctx.scale)
    figures = []
    for db in ("SQLite", "PostgreSQL"):
        if db == "PostgreSQL" and not ctx.postgres_url:
            why = "not run: give --postgres (or BCGW_BENCH_POSTGRES_URL), a scratch database"
            figures.append(not_run("P7 PostgreSQL", "imports", f"≥ {GOAL:,} rows/s", ctx.command("P7"), why))
            continue
        url = ctx.postgres_url if db == "PostgreSQL" else f"sqlite+aiosqlite:///{ctx.tmp / 'imports.db'}"
        assert url
        folder = ctx.tmp / f"csv-{db}"
        folder.mkdir(exist_ok=True)
        with scratch_key_file(ctx):
            try:
                times, one = measure(url, folder, n)
            except Exception as exc:  # the other database's figures still count
                traceback.print_exc()
                figures.append(failed(f"P7 {db}", ctx.command("P7"), exc))
                continue
        rates = {k: _rate(n, full, one) for k, full in times.items()}
        slowest = min(rates.values())
        figures.append(
            Figure(
                f"P7 {db}",
                "`bc-gateway import items | couplings | ledger`: rows/s",
                f"the same command on a 1-row file (its start-up): {one:.2f} s",
                ", ".join(f"{k} {rates[k]:,.0f} rows/s ({n:,} rows in {full:.1f} s)" for k, full in times.items()),
                None,
                f"≥ {GOAL:,} rows/s each",
                verdict(slowest >= GOAL),
                ctx.command("P7"),
                [
                    f"{db}; {n:,} rows per file, no bad rows; rate = (rows - 1) / (time - time of the 1-row file)",
                    "the command's own CPU (this machine is shared: wall time waits for a CPU): "
                    + ", ".join(f"{k} {CPU[k]:.1f} s" for k in (*KINDS, "one"))
                    + (" (PostgreSQL's own CPU not included)" if db == "PostgreSQL" else ""),
                    "before item 2 of issue 13 (batched imports): see 'Before and after' below",
                ],
            )
        )
    return figures
