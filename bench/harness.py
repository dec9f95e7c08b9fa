"""`make bench`: every case of issue 13 against a same-run baseline, written to docs/BENCHMARKS.md.

    python -m bench                       # the issue's sizes; SQLite; PostgreSQL rows need --postgres
    python -m bench --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/bcgw_bench
    python -m bench --scale 0.001 --seconds 1 --rounds 1 --report /tmp/B.md   # the CI smoke run
    python -m bench --only P1,P3          # some cases; printed, docs/BENCHMARKS.md left alone

--postgres (or BCGW_BENCH_POSTGRES_URL) must name a scratch database: the bench drops its
public schema. Exit status: 0 when every case ran (met or not), 1 when a case failed, 2 when wrk
is missing and cannot be installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import large_company, report
from bench.context import Context
from bench.figures import FAILED, Figure, failed
from bench.processes import ROOT
from bench.wrk import WrkMissing, ensure_wrk


def _groups() -> list[tuple[tuple[str, ...], Callable[[Context], list[Figure]]]]:
    from bench.cases import availability, imports, mirror, orders

    return [
        (("P1", "P2", "P3", "P6"), availability.run),
        (("P4", "P5"), orders.run),
        (("P7",), imports.run),
        (("P8",), mirror.run),
    ]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--scale", type=float, default=1.0, help="sizes times this (1: 100,000 items, 2,000,000 entries)")
    p.add_argument("--seconds", type=float, default=5.0, help="one measured window (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="windows per side (default 3; 0: warm-ups only)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--only", help="comma-separated cases, e.g. P1,P7")
    p.add_argument("--postgres", default=os.environ.get("BCGW_BENCH_POSTGRES_URL"), help="a scratch PostgreSQL URL")
    p.add_argument("--report", type=Path, help="where to write (default docs/BENCHMARKS.md; not with --only)")
    p.add_argument("--label", default="", help="what this run measures, for 'Before and after' (e.g. 'before X')")
    p.add_argument("--rebuild", action="store_true", help="build the large company again even if it is cached")
    return p


def _postgres_version(url: str | None) -> str | None:
    if not url:
        return None
    import asyncio

    from sqlalchemy import text

    from schemas.db import create_engine

    async def version() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return str((await conn.execute(text("SHOW server_version"))).scalar())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(version())
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # through the finally blocks: the children stop, the scratch folder goes


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = _parser().parse_args(argv)
    only = {c.strip().upper() for c in args.only.split(",")} if args.only else set(report.CASES)
    unknown = only - set(report.CASES)
    if unknown:
        print(f"Unknown case(s) {', '.join(sorted(unknown))}: use {', '.join(report.CASES)}.", file=sys.stderr)
        return 2
    try:
        ensure_wrk()
    except WrkMissing as exc:
        print(f"Cannot run the benchmarks: {exc}.", file=sys.stderr)
        return 2
    target = args.report or (None if args.only else ROOT / "docs" / "BENCHMARKS.md")
    tmp = Path(tempfile.mkdtemp(prefix="bcgw-bench-"))
    ctx = Context(
        scale=args.scale,
        seconds=args.seconds,
        rounds=max(0, args.rounds),
        connections=args.connections,
        tmp=tmp,
        sqlite_large_url=large_company.sqlite_url(args.scale),
        postgres_url=args.postgres,
        rebuild=args.rebuild,
    )
    started = time.perf_counter()
    figures: list[Figure] = []
    try:
        for cases, run in _groups():
            wanted = [c for c in cases if c in only]
            if not wanted:
                continue
            print(f"== {', '.join(wanted)} ...", flush=True)
            case_started = time.perf_counter()
            try:
                got = run(ctx)
            except Exception as exc:
                traceback.print_exc()
                got = [failed(c, ctx.command(c), exc) for c in wanted]
            got = [f for f in got if f.case.split()[0] in wanted]
            for f in got:
                print(f"  {f.case:<14} {f.figure}  [ratio {f.ratio_text()}; goal {f.goal}: {f.verdict}]", flush=True)
            print(f"   ({time.perf_counter() - case_started:.0f} s)", flush=True)
            figures += got
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures.sort(key=lambda f: report.CASES.index(f.case.split()[0]))
    options = (
        f"--scale {args.scale:g} --seconds {args.seconds:g} --rounds {ctx.rounds} --connections {args.connections}"
        + (" --postgres (a scratch database)" if args.postgres else "")
    )
    header = report.environment(_postgres_version(args.postgres))
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        history: list[dict[str, object]] = []
        if args.report is None:  # the full run into docs/: kept for "Before and after"
            history_file = target.with_name("benchmarks-history.json")
            history = [*report.load_history(history_file), report.history_entry(figures, args.label, options)]
            history = history[-report.HISTORY * 2 :]
            history_file.write_text(json.dumps(history, indent=1, ensure_ascii=False) + "\n")
        report.write(target, figures, header, options, time.perf_counter() - started, history)
        print(f"\nWrote {target}. Commit it with the change it measures.")
    else:
        print("\n--only: docs/BENCHMARKS.md left as it is (give --report FILE to write these figures).")
    broken = [f.case for f in figures if f.verdict == FAILED]
    if broken:
        print(f"Failed: {', '.join(broken)}; the output above says why.", file=sys.stderr)
        return 1
    return 0
