"""P7 on its own: `bc-gateway import items | couplings | ledger`, rows per second.

    python bench/imports.py --rows 20000 [--database-url postgresql+asyncpg://.../scratch] [--profile]

Writes the three CSV files (items with a base unit and a price; couplings of those items;
ledger entries over five locations, purchases and sales), then imports each one with
`gateway.csv_import.import_csv`, the function `bc-gateway import` calls, into a fresh SQLite
database (and, when given, a PostgreSQL one: a scratch database, its `public` schema is dropped).
The figure is the import's own time; the process start-up is not in it. `--profile` writes a
cProfile of each import next to the CSV files and prints its top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import datetime as dt
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a plain script

from sqlalchemy import text

from gateway.config import Settings
from gateway.csv_import import import_csv
from gateway.initialise import initialise
from schemas import master_data
from schemas.db import create_engine, write_transaction

COMPANY = "CRONUS"
LOCATIONS = ("BLUE", "RED", "GREEN", "WHITE", "YELLOW")
KINDS = ("items", "couplings", "ledger")  # in this order: couplings and entries refer to items


def write_csvs(folder: Path, n: int) -> dict[str, Path]:
    today = dt.date.today()
    files = {kind: folder / f"{kind}.csv" for kind in KINDS}
    with files["items"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["No", "Description", "Type", "Base_Unit_of_Measure", "Unit_Price"])
        for i in range(n):
            w.writerow([f"B{i:07d}", f"Imported item {i}", "Inventory", "PCS", f"{1 + i % 997}.50"])
    with files["couplings"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Table", "No", "CRM_ID"])
        for i in range(n):
            w.writerow(["Item", f"B{i:07d}", f"c0000000-0000-4000-8000-{i:012d}"])
    with files["ledger"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Item_No", "Location_Code", "Quantity", "Posting_Date", "Entry_Type", "Document_No"])
        for i in range(n):
            qty = -(1 + i % 3) if i % 4 == 3 else 1 + i % 40
            w.writerow(
                [
                    f"B{(i * 7) % max(1, n // 4):07d}",  # about four entries per item
                    LOCATIONS[i % len(LOCATIONS)],
                    qty,
                    (today - dt.timedelta(days=i % 365)).isoformat(),
                    "Purchase" if qty > 0 else "Sale",
                    f"IMP{i:06d}",
                ]
            )
    return files


async def fresh(url: str) -> None:
    engine = create_engine(url)
    try:
        if url.startswith("postgresql"):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await initialise(engine, Settings(database_url=url, company=COMPANY))
        async with write_transaction(engine) as conn:
            await master_data.ensure_unit(conn, COMPANY, "PCS", "Pieces")
            for code in LOCATIONS:
                await master_data.ensure_location(conn, COMPANY, code, code.title())
    finally:
        await engine.dispose()


def _ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 when it is gone or not ours to read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


async def _backends(engine: Any) -> dict[int, int]:
    """PostgreSQL: the server processes serving this (scratch) database -> their CPU ticks so far."""
    if not str(engine.url).startswith("postgresql"):
        return {}
    async with engine.connect() as conn:
        pids = (
            await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        ).scalars()
        return {pid: _ticks(pid) for pid in pids}


async def run_import(url: str, kind: str, path: Path, profile: Path | None) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds: this process's and the database server's, rows imported, refused)."""
    engine = create_engine(url)
    profiler = cProfile.Profile() if profile else None
    try:
        before = await _backends(engine)
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = await import_csv(engine, COMPANY, kind, path)
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        after = await _backends(engine)
        # The server's CPU: its processes for this database (the engine's pool keeps them open).
        server = sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / os.sysconf("SC_CLK_TCK")
        if server:
            print(f"  (CPU: this process {cpu:.2f} s, the database server {server:.2f} s)", file=sys.stderr)
        cpu += server
    finally:
        await engine.dispose()
    if profiler and profile:
        profiler.dump_stats(str(profile))
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(18)
    return seconds, cpu, result.succeeded, len(result.errors)


async def bench(url: str, label: str, folder: Path, files: dict[str, Path], profile: bool) -> None:
    await fresh(url)
    for kind in KINDS:
        prof = folder / f"{label}-{kind}.prof" if profile else None
        seconds, cpu, ok, refused = await run_import(url, kind, files[kind], prof)
        rows = ok + refused
        print(
            f"{label:<10} import {kind:<9} {rows:>8,} rows in {seconds:6.2f} s: {rows / seconds:>9,.0f} rows/s;"
            f" CPU {cpu:5.2f} s: {rows / cpu:>9,.0f} rows per CPU second",
            end="",
        )
        print(f"  ({refused} refused)" if refused else "", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per file (default 20,000)")
    parser.add_argument("--database-url", help="also a PostgreSQL scratch database (its public schema is dropped)")
    parser.add_argument("--profile", action="store_true", help="cProfile each import and print its top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bcgw-imports-") as tmp:
        folder = Path(tmp)
        files = write_csvs(folder, args.rows)
        print(f"bench/imports.py: {args.rows:,} rows per file, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
        asyncio.run(bench(f"sqlite+aiosqlite:///{folder / 'imports.db'}", "SQLite", folder, files, args.profile))
        if args.database_url:
            asyncio.run(bench(args.database_url, "PostgreSQL", folder, files, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
