"""Notes both ways (issue 12, item 4; bc-sync.md §11) over real HTTP with the Sales simulator: a
note added to a coupled BC order becomes an annotation on the Sales order once; an annotation
added and then changed in Sales becomes a BC note and its update; nothing comes back (no echo),
our error notes never become BC notes; the Sales Order Notes job is woken within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from orders.dataverse.client import DataverseClient
from orders.error_notes import success_note
from orders.sync import api
from orders.sync.defaults import NOTES_JOB
from orders.sync.notes import JOB_MESSAGE
from orders.sync.notes_job import run_notes
from orders.sync.ports import SalesPort
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.helpers import cli

WITHIN = 15.0  # generous: a loaded machine; the job is woken within about a second


@pytest.fixture
async def client(sales_sim: Any) -> AsyncIterator[DataverseClient]:
    sim = sales_sim
    async with aiohttp.ClientSession() as session:
        yield DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)


@pytest.fixture
def sales(client: DataverseClient) -> SalesPort:
    return api.dataverse_sales(client)


@pytest.fixture
async def notes_job(harness: Any, sales: SalesPort) -> AsyncIterator[api.SyncScheduler]:
    """The worker's synchronisation scheduler with only the Sales Order Notes job active."""

    async def factory() -> SalesPort:
        return sales

    scheduler = api.SyncScheduler(harness.engine, COMPANY, factory, tick=0.05, wake_delay=0.0, notes_probe=0.2)
    jqe = t.job_queue_entry
    await scheduler.run_once()  # BC's default job queue entries; the notes job runs (nothing) and sleeps
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(jqe).where(jqe.c.object_id_to_run != NOTES_JOB).values(status="On Hold"))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _annotations(sim: Any, order_id: str) -> list[dict[str, Any]]:
    return [n for n in sim.rows("annotations") if n["objectid"].id == order_id]


async def _bc_notes(harness: Any, order_no: str) -> list[Any]:
    nt = t.sales_note
    async with harness.engine.connect() as conn:
        return list((await conn.execute(select(nt).where(nt.c.document_no == order_no).order_by(nt.c.id))).all())


async def _created_order(harness: Any, **columns: Any) -> tuple[str, str]:
    order_id = await harness.order(**columns)
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    return order_id, row.document_no


async def _job_is_idle(harness: Any) -> bool:
    entry = await api.JobQueue(harness.engine).entry(COMPANY, NOTES_JOB, "")
    return entry is not None and entry.status != "In Process" and entry.lease_owner is None


async def _job_sleeps(harness: Any) -> bool:
    entry = await api.JobQueue(harness.engine).entry(COMPANY, NOTES_JOB, "")
    return entry is not None and entry.sleeping and entry.lease_owner is None


async def _runs_leave_things_as_they_are(harness: Any, sales: SalesPort, times: int = 3) -> None:
    """Several more runs (besides the scheduler's): nothing to do, nothing made."""
    assert await harness.wait_for(lambda: _job_is_idle(harness), within=WITHIN)
    for _ in range(times):
        again = await run_notes(harness.engine, COMPANY, sales)
        assert again.activity == 0, again


async def test_a_bc_note_on_a_coupled_order_reaches_sales_once_and_never_comes_back(
    harness: Any, settings: Any, sales: SalesPort, notes_job: api.SyncScheduler
) -> None:
    sim = harness.sim
    order_id, order_no = await _created_order(
        harness, notes=[{"subject": "From Sales", "notetext": "<div>Deliver to the back door</div>"}]
    )
    (copied,) = await _bc_notes(harness, order_no)  # the order's creation copied the Sales note
    assert copied.sales_note_id is not None
    # Asleep for 5 minutes (once it has looked at the new Sales note): only a change wakes it.
    assert await harness.wait_for(lambda: _job_sleeps(harness), within=WITHIN)

    code, out, err = await cli(
        settings, "orders", "note", order_no, "Call the buyer before delivery.", "--description", "Delivery"
    )
    assert code == 0, err
    assert f"to sales order {order_no}" in out

    async def in_sales() -> list[dict[str, Any]] | None:
        found = [n for n in _annotations(sim, order_id) if n["subject"] == "Delivery"]
        return found or None

    (made,) = await harness.wait_for(in_sales, within=WITHIN)
    assert made["notetext"] == "Call the buyer before delivery."
    assert (made["isdocument"], made["objecttypecode"], made["filesize"]) == (False, "salesorder", 0)
    assert made["createdby"].id == sim.integration_user_id

    await _runs_leave_things_as_they_are(harness, sales)
    assert sorted(n["subject"] for n in _annotations(sim, order_id)) == ["Delivery", "From Sales"]
    notes = await _bc_notes(harness, order_no)
    assert [(n.description, n.note) for n in notes] == [
        ("From Sales", "Deliver to the back door"),
        ("Delivery", "Call the buyer before delivery."),
    ]
    cp = t.crm_annotation_coupling
    async with harness.engine.connect() as conn:
        coupled = {r.record_link_id: str(r.crm_annotation_id) for r in (await conn.execute(select(cp))).all()}
    assert coupled == {notes[0].id: str(copied.sales_note_id), notes[1].id: made["annotationid"]}

    code, out, err = await cli(settings, "orders", "notes", order_no, "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(n["description"], n["from_sales"], n["sales_annotation_id"] is not None) for n in listed] == [
        ("From Sales", True, True),
        ("Delivery", False, True),
    ]
    assert listed[1]["record_id"] == f"Sales Header: Order,{order_no}" and listed[1]["type"] == "Note"
    code, out, err = await cli(settings, "orders", "notes", order_no)
    assert code == 0, err
    assert out.splitlines()[0].split()[:2] == ["LINK", "ID"] and "Call the buyer before delivery." in out


async def test_an_annotation_made_and_changed_in_sales_becomes_a_bc_note_and_its_update(
    harness: Any, sales: SalesPort, client: DataverseClient, notes_job: api.SyncScheduler
) -> None:
    sim = harness.sim
    order_id, order_no = await _created_order(harness)
    assert await _bc_notes(harness, order_no) == []
    # Our own error note on the order (written as orders/error_notes.py writes it): never a BC note.
    ours = success_note(COMPANY, 1, "salesorder", "Order", order_no)
    await client.create_note("salesorders", order_id, ours.subject, ours.text, annotation_id=ours.annotation_id)

    note_id = await sim.add_note(
        order_id, "Gate code", '<div class="ck-content"><div>Gate &amp; code 1234</div></div>', "salesorder"
    )

    async def bc_note(text: str) -> list[Any] | None:
        notes = await _bc_notes(harness, order_no)
        return notes if [n.note for n in notes] == [text] else None

    (note,) = await harness.wait_for(lambda: bc_note("Gate & code 1234"), within=WITHIN)
    assert (note.description, note.type, str(note.sales_note_id)) == ("Gate code", "Note", note_id)

    await sim.update("annotations", note_id, notetext="<div>Gate code 9876</div><div><b>Ring</b> twice</div>")
    (changed,) = await harness.wait_for(lambda: bc_note("Gate code 9876\nRing twice"), within=WITHIN)
    assert changed.id == note.id  # the same note, rewritten

    await _runs_leave_things_as_they_are(harness, sales)
    assert len(await _bc_notes(harness, order_no)) == 1
    assert sorted(n["subject"] for n in _annotations(sim, order_id)) == sorted(["Gate code", ours.subject])
    job = t.integration_synch_job
    async with harness.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(job.c.inserted, job.c.modified, job.c.message).where(
                    job.c.integration_table_mapping_name == str(NOTES_JOB)
                )
            )
        ).all()
    assert sum(r.inserted for r in rows) == 1 and sum(r.modified for r in rows) == 1
    assert {r.message for r in rows} == {JOB_MESSAGE}


async def test_notes_of_an_order_that_is_not_there_or_has_none(settings: Any, harness: Any) -> None:
    code, _out, err = await cli(settings, "orders", "note", "SO999999", "text")
    assert code == 1
    assert (
        "The Sales Header does not exist. Identification fields and values: Document Type='Order',No.='SO999999'" in err
    )
    code, _out, err = await cli(settings, "orders", "notes", "SO999999")
    assert code == 1 and "No.='SO999999'" in err
    _order_id, order_no = await _created_order(harness)
    code, out, err = await cli(settings, "orders", "notes", order_no)
    assert code == 0, err
    assert out.strip() == f'Sales order {order_no} has no notes. Add one: bc-gateway orders note {order_no} "text"'
    code, _out, err = await cli(settings, "orders", "note", order_no, "   ")
    assert code == 1 and "The note is empty" in err


async def test_a_note_on_an_order_whose_sales_order_is_gone_is_not_sent(
    harness: Any, settings: Any, sales: SalesPort
) -> None:
    order_id, order_no = await _created_order(harness)
    del harness.sim.store.rows["salesorders"][order_id]  # deleted in Sales; BC still has it coupled
    code, _out, err = await cli(settings, "orders", "note", order_no, "Too late")
    assert code == 0, err
    result = await run_notes(harness.engine, COMPANY, sales)
    assert (result.to_sales, result.failed) == (0, 0)
    assert _annotations(harness.sim, order_id) == []
