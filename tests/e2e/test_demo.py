"""`make demo` works: the whole loop (Sales -> gateway in api mode -> BC, stock back to Sales) in
a few seconds, run as a newcomer runs it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_make_demo_shows_the_whole_loop(db_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, BCGW_SECRET_KEY_FILE=str(tmp_path / "secret.key"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.demo",
        "--database-url",
        db_url,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "S-ORD101001, External Document No. GW-" in text
    assert "Qty_on_Sales_Order 3" in text and "lastbackofficesubmit = " in text
    assert "Inventory 51 -> 61" in text and "The whole loop worked in" in text
    assert "FAILED" not in text
