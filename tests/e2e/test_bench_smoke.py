"""The bench (`make bench`, issue 13) at a tiny scale: keeps its scripts working. It asserts
nothing about speed (no test does): only that the run succeeds and its report has every case."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.db_fixtures import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CASES = ("P1", "P2", "P3", "P4 SQLite", "P4 PostgreSQL", "P5 SQLite", "P5 PostgreSQL", "P6", "P7 SQLite",
         "P7 PostgreSQL", "P8 mirror", "P8 sync")  # fmt: skip


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells (a cell may hold an escaped pipe)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


@pytest.mark.slow
def test_bench_runs_at_tiny_scale_and_reports_every_case(tmp_path: Path) -> None:
    if shutil.which("wrk") is None and not IN_CI:
        pytest.skip("wrk is not installed (apt-get install wrk; `make bench` installs it)")
    report = tmp_path / "BENCHMARKS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCGW_")}
    env["BCGW_BENCH_IMPORT_ROWS"] = "20"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.0002", "--seconds", "1", "--rounds", "0",
         "--connections", "4", "--report", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    table = [_cells(line) for line in text.splitlines() if line.startswith("| P")]
    assert [cells[0] for cells in table] == list(CASES)
    # Every row has a baseline, figure, goal and verdict; PostgreSQL rows say why they did not run.
    for cells in table:
        assert len(cells) == 7 and all(cells), cells
        assert cells[6].strip("*") in ("met", "not yet", "no goal", "not run", "not available yet"), cells
    # P8's scripts exist: both ran and gave their figure (the mirror's rows/s, the sync's products/s).
    rows = {cells[0]: cells for cells in table}
    assert "rows/s" in rows["P8 mirror"][3] and rows["P8 mirror"][6].strip("*") == "no goal", rows["P8 mirror"]
    assert "products/s" in rows["P8 sync"][3] and rows["P8 sync"][6].strip("*") == "no goal", rows["P8 sync"]
    assert "## Cases" in text and "make bench BENCH_ARGS='--only P1" in text
    assert "machine:" in text and "load generator: wrk" in text
