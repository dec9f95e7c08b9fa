"""`make demo` works: the whole loop (Sales -> gateway in api mode -> BC, stock back to Sales), then
the order's life in an embedded BC (released, shipped, invoiced, paid, each seen in Sales), in a few
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
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "S-ORD101001, External Document No. GW-" in text
    assert "Qty_on_Sales_Order 3" in text and "lastbackofficesubmit = " in text
    assert "Inventory 51 -> 61" in text and "The whole loop worked in" in text
    # Part two, the order's life back in Sales: each step of BC's is seen in Sales.
    assert 'posts: 1 on the wall, the newest "The order status has changed to Released."' in text
    assert 'posts: 2 on the wall, the newest "A shipment has been created for the order."' in text
    assert "quantityonhand 51.0 -> 49.0" in text
    assert 'state Invoiced, total 3000.00; posts: 4 on the wall, the newest "An invoice has been created' in text
    # The posted invoice and the payment: the invoice and the account statistics in Sales.
    assert "Sales sees: invoice PSI000001 (Active / Billed), total 3000.0, 1 invoice product(s)" in text
    assert "Sales sees: invoice PSI000001 (Paid / Complete)" in text
    assert "account statistics balance 3000.0, outstanding orders 0.0, sales this year 3000.0" in text
    assert "account statistics balance 0.0, outstanding orders 0.0, sales this year 3000.0" in text
    assert "FAILED" not in text
