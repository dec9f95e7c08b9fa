"""In api mode a real BC keeps its notes (its API v2.0 has none of them): the Sales Order Notes
job does nothing, asks Sales nothing, and adding a note here is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.order_notes import NoteError, add_order_note
from orders.sync.notes_job import run_notes
from orders.sync.scheduler import SyncScheduler
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.sync_fakes import FakeSales


async def _api_mode(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(update(t.connection_setup).values(bc_mode="api"))


async def test_the_notes_job_does_nothing_in_api_mode(engine: AsyncEngine, demo: dict[str, Any]) -> None:
    await _api_mode(engine)
    sales = FakeSales()
    sales.table("annotations")["a1"] = {"annotationid": "a1", "objecttypecode": "salesorder", "subject": "x"}
    result = await run_notes(engine, COMPANY, sales)
    assert result.api_mode and result.activity == 0
    scheduler = SyncScheduler(engine, COMPANY, lambda: _sales(sales), notes_probe=0.0)
    probes = sales.probes
    assert await scheduler.probe_notes(sales) == 0
    assert sales.probes == probes  # Sales was not asked
    async with engine.connect() as conn:
        jobs = (await conn.execute(select(func.count()).select_from(t.integration_synch_job))).scalar_one()
    assert jobs == 0


async def _sales(sales: FakeSales) -> FakeSales:
    return sales


async def test_a_note_cannot_be_added_here_in_api_mode(engine: AsyncEngine, demo: dict[str, Any]) -> None:
    await _api_mode(engine)
    with pytest.raises(NoteError, match=r"Business Central is the system of record.*Add notes to sales orders"):
        await add_order_note(engine, COMPANY, "SO000001", "text")
