"""docs/BENCHMARKS.md: the machine, the date, the versions, then every case with its same-run
baseline, figure, ratio, goal, verdict and the command that reproduces it."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.processes import ROOT

HISTORY = 4  # full runs shown under "Before and after"
CASES = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _run(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "unknown"


def environment(postgres_version: str | None) -> list[str]:
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("aiohttp", "SQLAlchemy", "aiosqlite", "asyncpg", "uvloop", "orjson")
        if _installed(name)
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- machine: {_cpu_model()}, {os.cpu_count()} CPUs, {_memory()}; {platform.system()} {platform.release()}",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average at the end {load}",
        f"- commit: {_run('git', 'rev-parse', '--short', 'HEAD')} ({_run('git', 'rev-parse', '--abbrev-ref', 'HEAD')})",
        f"- Python {platform.python_version()}; {versions}; SQLite {sqlite3.sqlite_version}"
        + (f"; PostgreSQL {postgres_version}" if postgres_version else "; PostgreSQL not run"),
        f"- load generator: {_run('wrk', '-v')}",
    ]


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def history_entry(figures: Sequence[Figure], label: str, options: str) -> dict[str, Any]:
    return {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        "commit": _run("git", "rev-parse", "--short", "HEAD"),
        "label": label,
        "options": options,
        "figures": {f.case: {"figure": f.figure, "ratio": f.ratio, "verdict": f.verdict} for f in figures},
    }


def load_history(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text()))
    except (OSError, ValueError):
        return []


def _history_lines(history: Sequence[dict[str, Any]]) -> list[str]:
    """Each case over the runs kept: what a change did shows as before and after."""
    if len(history) < 2:
        return []
    runs = history[-HISTORY:]
    lines = [
        "## Before and after",
        "",
        "The last full runs, oldest first (kept in docs/benchmarks-history.json by `make bench`).",
        "",
    ]
    lines += [
        f"- run {i}: {r['date']} UTC, commit {r['commit']}: {r.get('label') or '—'}" for i, r in enumerate(runs, 1)
    ]
    lines += ["", "| case | " + " | ".join(f"run {i}" for i in range(1, len(runs) + 1)) + " |"]
    lines.append("|---|" + "---|" * len(runs))
    for case in runs[-1]["figures"]:
        cells = []
        for r in runs:
            got = r["figures"].get(case)
            if not got:
                cells.append("—")
                continue
            ratio = "" if got["ratio"] is None else f" (ratio {got['ratio']:.3f})"
            cells.append(f"{got['figure']}{ratio}: {got['verdict']}")
        lines.append("| " + " | ".join(_cell(x) for x in [case, *cells]) + " |")
    return [*lines, ""]


# What follows this line in docs/BENCHMARKS.md is written by hand (bench/imports.py's P7 figures)
# and kept as it is when `make bench` writes the file again.
KEPT = "<!-- written by hand below: kept by make bench -->"


def _kept(path: Path) -> list[str]:
    text = path.read_text() if path.exists() else ""
    return ["", *text[text.index(KEPT) :].splitlines()] if KEPT in text else []


def write(
    path: Path,
    figures: Sequence[Figure],
    header: list[str],
    options: str,
    seconds_total: float,
    history: Sequence[dict[str, Any]] = (),
) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/, issue 13); do not edit by hand. Every HTTP figure is a ratio",
        "against a bare aiohttp app (uvloop, no access log, the same JSON body) measured by the same wrk",
        "load in alternating windows of the same run; CPU time per answer is the server process's",
        "utime + stime from `/proc/<pid>/stat`. No test asserts a speed: CI runs the bench at a tiny",
        "scale only to keep it working.",
        "",
        *header,
        f"- options: {options}; {seconds_total:.0f} s in all",
        "",
        "| case | what | baseline (same run) | figure | ratio | goal | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            "| "
            + " | ".join(
                _cell(x) for x in (f.case, f.title, f.baseline, f.figure, f.ratio_text(), f.goal, f"**{f.verdict}**")
            )
            + " |"
        )
    lines += ["", "## Cases", ""]
    for f in figures:
        lines += [f"### {f.case}: {f.title}", ""]
        lines += [f"- baseline: {f.baseline}", f"- figure: {f.figure}", f"- ratio: {f.ratio_text()}"]
        lines += [f"- goal: {f.goal}; verdict: **{f.verdict}**"]
        lines += [f"- {d}" for d in f.details]
        lines += ["", "```", f.command, "```", ""]
    lines += _history_lines(history)
    lines += _kept(path)
    path.write_text("\n".join(lines))
