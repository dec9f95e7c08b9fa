"""`make demo` works: the whole loop (Sales -> gateway in api mode -> BC, stock back to Sales), then
the order's life in an embedded BC (released, shipped, invoiced, each seen in Sales), in a few
seconds, run as a newcomer runs it; part one on SQLite and on PostgreSQL."""

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
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()  # a demo that hangs must not outlive its test
        out, _ = await proc.communicate()
        raise AssertionError("make demo did not finish within 120 s:\n" + out.decode()) from None
    text = out.decode()
    assert proc.returncode == 0, text
    expected = [
        "S-ORD101001, External Document No. GW-",
        "Qty_on_Sales_Order 3",
        "lastbackofficesubmit = ",
        "Inventory 51 -> 61",
        "The whole loop worked in",
        # Part two, the order's life back in Sales: each step of BC's is seen in Sales.
        'posts: 1 on the wall, the newest "The order status has changed to Released."',
        'posts: 2 on the wall, the newest "A shipment has been created for the order."',
        "quantityonhand 51.0 -> 49.0",
        'state Invoiced, total 3000.00; posts: 4 on the wall, the newest "An invoice has been created',
        "Sales invoice PSI000001: 1 invoice product(s), total 3000.0, payment status Active / Billed",
        "account statistics of customer 20000: Balance (LCY) 3000.0",
        "payment status Paid / Complete",
        "Balance (LCY) 0.0",
    ]
    assert [e for e in expected if e not in text] == [], text
    assert "FAILED" not in text, text
