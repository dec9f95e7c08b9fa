"""bench/mirror_load.py works: a tiny initial load from the BC simulator, interrupted and resumed,
on SQLite and PostgreSQL. Its speed is a bench figure (bench/mirror_load.py at 100,000 items and
1,000,000 ledger entries), never asserted here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mirror_load_bench", ROOT / "bench" / "mirror_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_an_interrupted_initial_load_resumes_where_it_stopped(
    db_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("BCGW_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    bench = _bench()
    result = await bench.run(
        items=60, entries=4500, page_size=2250, database_url=db_url, interrupt_after=2250, show=False, scratch=False
    )
    assert (result["items"], result["entries"]) == (60, 4500)
    # Every entry is in the running totals once: none lost, none counted twice across the stop.
    assert result["inventory"] == result["bc_inventory"] > 0
    first, second = result["runs"]
    assert first["failed"] == {"interrupted": "yes"} and second["failed"] == {}
    read_first = first["figures"]["itemLedgerEntries"].rows
    read_second = second["figures"]["itemLedgerEntries"].rows
    # The second run read only what the first had not stored. Pages of 2,250 entries: on
    # PostgreSQL each goes in by COPY (orders/bc_link/mirror/ledger.py, schemas/mirror_ledger.py).
    assert (read_first, read_second) == (2250, 2250)
    assert "items" not in second["figures"] or second["figures"]["items"].rows == 0
    line = bench.report(result, 60, 4500, 2250).splitlines()[-1]
    assert line.startswith("mirror_load items=60 entries=4500 seconds=") and " rows_per_s=" in line


@pytest.mark.slow
def test_the_bench_runs_from_the_command_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "bench/mirror_load.py", "--items", "20", "--entries", "200", "--page-size", "50", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "BCGW_SECRET_KEY_FILE": str(tmp_path / "secret.key")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "held: 20 items, 200 ledger entries" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("mirror_load items=20 entries=200 ")
