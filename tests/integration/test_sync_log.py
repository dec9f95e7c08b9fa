"""Reading the synchronisation log on a real database: `sync log`, `sync errors`, `sync skipped`,
and pruning after BCGW_RETENTION_DAYS (failed jobs are spared, as BC's "Delete entries older
than N days" spares them)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select, update

from orders.sync.log_view import prune
from schemas import tables as t
from tests.support.helpers import cli
from tests.support.sync_log_rows import add_job

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
UNIT_MESSAGE = "Base Unit of Measure BOX must be coupled to a record in Dataverse."


async def test_empty_log_says_so_and_what_to_do(settings: Any, demo: dict[str, Any]) -> None:
    code, out, _e = await cli(settings, "sync", "log")
    assert code == 0
    assert out.startswith("No synchronisation jobs have run yet. Next: bc-gateway sync full")
    code, out, _e = await cli(settings, "sync", "errors")
    assert code == 0 and out.startswith("No synchronisation errors yet.") and "bc-gateway sync log" in out
    code, out, _e = await cli(settings, "sync", "skipped")
    assert code == 0 and out.startswith("No skipped couplings")
    code, out, _e = await cli(settings, "sync", "log", "--json")
    assert code == 0 and json.loads(out) == []


async def test_jobs_and_errors_are_listed_newest_first(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    company = settings.company
    await add_job(engine, company, "UNIT OF MEASURE", start=T0, inserted=3, coupled=3)
    failed = await add_job(
        engine,
        company,
        "ITEM-PRODUCT",
        start=T0 + dt.timedelta(minutes=5),
        inserted=15,
        unchanged=1,
        errors=[("Item: 1900-S", "", UNIT_MESSAGE)],
    )
    await add_job(
        engine,
        company,
        "ITEM-PRODUCT",
        start=T0 + dt.timedelta(minutes=6),
        direction="FromIntegrationTable",
        unchanged=16,
    )

    code, out, err = await cli(settings, "sync", "log")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "START", "FINISH", "MAPPING", "DIRECTION", "TYPE", "INSERTED", "MODIFIED", "UNCHANGED", "SKIPPED",
        "FAILED", "DELETED", "COUPLED", "MESSAGE",
    ]  # fmt: skip
    assert lines[1].split()[:7] == ["2026-11-30", "09:06:00", "09:06:30", "ITEM-PRODUCT", "Sales", "->", "BC"]
    assert lines[2].split()[3:] == [
        "ITEM-PRODUCT",
        "BC",
        "->",
        "Sales",
        "Synchronization",
        "15",
        "0",
        "1",
        "0",
        "1",
        "0",
        "0",
    ]
    assert lines[3].split()[3:6] == ["UNIT", "OF", "MEASURE"]
    assert "Some records failed: bc-gateway sync errors" in out

    code, out, _e = await cli(settings, "sync", "log", "--failed", "--json")
    (only,) = json.loads(out)
    assert only["id"] == failed and only["failed"] == 1 and only["inserted"] == 15 and only["errors"] == 1
    code, out, _e = await cli(settings, "sync", "log", "--mapping", "customer")
    assert "No synchronisation jobs of customer in the log." in out

    code, out, _e = await cli(settings, "sync", "errors")
    assert code == 0
    header, row, *rest = out.splitlines()
    assert header.split() == ["NO.", "DATE/TIME", "MAPPING", "DIRECTION", "SOURCE", "DESTINATION", "MESSAGE"]
    assert "ITEM-PRODUCT" in row and "Item: 1900-S" in row and row.endswith(UNIT_MESSAGE)
    assert "bc-gateway sync retry NO" in rest[-1]
    code, out, _e = await cli(settings, "sync", "errors", "--job", failed, "--json")
    (e,) = json.loads(out)
    assert e["job_id"] == failed and e["error_message"] == UNIT_MESSAGE and e["mapping"] == "ITEM-PRODUCT"


async def test_skipped_couplings_are_listed(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    cir = t.crm_integration_record
    async with engine.begin() as conn:
        item = (await conn.execute(select(t.item.c.system_id).where(t.item.c.no == "1900-S"))).scalar_one()
        await conn.execute(
            update(cir)
            .where(cir.c.integration_id == item, cir.c.table_id == t.TABLE_ITEM)
            .values(skipped=True, last_synch_crm_result="Failure", last_synch_crm_error=UNIT_MESSAGE)
        )
    code, out, _e = await cli(settings, "sync", "skipped")
    assert code == 0
    header, row, hint = out.splitlines()
    assert header.split() == ["ENTRY", "NO.", "TABLE", "NO.", "SALES", "ID", "MESSAGE"]
    assert row.split()[1:3] == ["Item", "1900-S"] and row.endswith(UNIT_MESSAGE)
    assert "bc-gateway sync restore-skipped ENTRY_NO" in hint


async def test_old_jobs_are_pruned_but_failed_ones_kept(engine: Any, settings: Any, demo: dict[str, Any]) -> None:
    now = T0 + dt.timedelta(days=40)
    await add_job(engine, settings.company, "CUSTOMER", start=T0, unchanged=5)
    await add_job(engine, settings.company, "ITEM-PRODUCT", start=T0, errors=[("Item: 1000", "", "x")])
    recent = await add_job(engine, settings.company, "CUSTOMER", start=now - dt.timedelta(days=2), modified=1)
    assert await prune(engine, 0, now) == 0
    assert await prune(engine, 30, now) == 1
    async with engine.connect() as conn:
        left = (await conn.execute(select(t.integration_synch_job.c.id, t.integration_synch_job.c.failed))).all()
        errors = (await conn.execute(select(func.count()).select_from(t.integration_synch_job_errors))).scalar_one()
    assert sorted(r.failed for r in left) == [0, 1] and recent in {str(r.id) for r in left}
    assert errors == 1


async def test_status_lists_each_job_before_any_run(settings: Any, demo: dict[str, Any]) -> None:
    code, out, err = await cli(settings, "sync", "status")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:7] == ["JOB", "STATUS", "EVERY", "LAST", "RUN", "NEXT", "RUN"]
    jobs = {line.split("  ")[0] for line in rows if line and not line.startswith("No job")}
    assert {"UNIT OF MEASURE", "ITEM-PRODUCT", "RESOURCE-PRODUCT", "CUSTOMER", "CONTACT", "CURRENCY"} <= jobs
    assert any(line.startswith("ITEM-PRODUCT") and "30 min" in line for line in rows)
    assert "No job has run on its schedule yet: the worker (bc-gateway serve or worker) runs them." in out
    code, out, _e = await cli(settings, "sync", "status", "--json")
    data = {s["mapping_name"] or s["description"]: s for s in json.loads(out)}
    assert data["ITEM-PRODUCT"]["minutes"] == 30 and data["ITEM-PRODUCT"]["inactivity"] == 1440
    assert data["ITEM-PRODUCT"]["last_run"] is None and data["ITEM-PRODUCT"]["sleeping"] is False


async def test_restore_skipped_by_entry_and_all(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    cir = t.crm_integration_record
    async with engine.begin() as conn:
        await conn.execute(
            update(cir)
            .where(cir.c.table_id == t.TABLE_ITEM)
            .values(skipped=True, last_synch_crm_result="Failure", last_synch_crm_error=UNIT_MESSAGE)
        )
        entries = (await conn.execute(select(cir.c.id).where(cir.c.table_id == t.TABLE_ITEM).order_by(cir.c.id))).all()
    first = str(entries[0].id)
    code, out, err = await cli(settings, "sync", "restore-skipped", first)
    assert code == 0, err
    assert out.startswith("Restored 1 skipped coupling(s)")
    async with engine.connect() as conn:
        row = (await conn.execute(select(cir).where(cir.c.id == entries[0].id))).one()
        still = (await conn.execute(select(func.count()).select_from(cir).where(cir.c.skipped.is_(True)))).scalar_one()
    assert row.skipped is False and row.last_synch_crm_result == "" and still == len(entries) - 1
    code, out, _e = await cli(settings, "sync", "restore-skipped", "--mapping", "customer")
    assert code == 0 and out.startswith("No skipped couplings to restore.")
    code, out, _e = await cli(settings, "sync", "restore-skipped", "--mapping", "NOPE")
    assert code == 1
    code, out, _e = await cli(settings, "sync", "restore-skipped", "--all")
    assert code == 0 and out.startswith(f"Restored {len(entries) - 1} skipped coupling(s)")
    code, out, _e = await cli(settings, "sync", "restore-skipped", "x1")
    assert code == 2


async def test_retry_of_an_unknown_error_and_now_of_an_unknown_mapping(settings: Any, demo: dict[str, Any]) -> None:
    code, _out, err = await cli(settings, "sync", "retry", "999")
    assert code == 1 and "There is no synchronisation error 999. 'bc-gateway sync errors' lists them." in err
    code, _out, err = await cli(settings, "sync", "now", "NOPE")
    assert code == 1 and "The Dataverse connection is not set up" in err
