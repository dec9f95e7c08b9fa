"""The synchronisation's entry points (docs/sync.md "Engine API"): what the command line, the
OData sets and the worker call. Stable: other modules build on these names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.dataverse.webapi import WebApiSession
from orders.dataverse.writes import DataverseTables
from orders.sync import store
from orders.sync.bc_records import TableRecords
from orders.sync.defaults import (
    BC_TABLES,
    FULL_SYNC_PRIORITY,
    ITEM_AVAILABILITY_JOB,
    canonical_name,
)
from orders.sync.engine import MappingNotFound, Progress, RunResult
from orders.sync.engine import run_mapping as _run_mapping
from orders.sync.jobs import JobBusy, JobEntry, JobQueue, mapping_lock
from orders.sync.model import Counters, DeletionConflictResolution, Direction, JobSummary, TableMapping
from orders.sync.ports import BcRecords, SalesPort
from orders.sync.sales_adapter import DataverseSales
from orders.sync.scheduler import SyncScheduler
from schemas import tables as t
from schemas.db import write_transaction

__all__ = [
    "Counters",
    "Direction",
    "JobBusy",
    "JobEntry",
    "JobQueue",
    "JobStatus",
    "JobSummary",
    "MappingNotFound",
    "RunResult",
    "SyncScheduler",
    "bc_records",
    "dataverse_sales",
    "ensure_defaults",
    "full_sync",
    "full_sync_order",
    "job_status",
    "mapping_lock",
    "restore_skipped",
    "retry",
    "run_mapping",
]


async def ensure_defaults(engine: AsyncEngine, company: str) -> list[str]:
    """BC's default mappings, field mappings and job queue entries, created when missing."""
    async with write_transaction(engine) as conn:
        return await store.ensure_defaults(conn, company)


async def bc_records(engine: AsyncEngine, company: str) -> BcRecords:
    """BC's records over our tables; read-only in api mode (BC is written through its API)."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.connection_setup.c.bc_mode))).first()
    return TableRecords(engine, company, writable=not (row and row.bc_mode == "api"))


def dataverse_sales(client: WebApiSession) -> SalesPort:
    """The SalesPort over the Dataverse Web API client (orders/dataverse/client.py)."""
    return DataverseSales(DataverseTables(client))


async def run_mapping(
    engine: AsyncEngine,
    company: str,
    name: str,
    sales: SalesPort,
    *,
    bc: BcRecords | None = None,
    system_ids: Sequence[str] | None = None,
    crm_ids: Sequence[str] | None = None,
    force: bool = False,
    only_coupled: bool | None = None,
    direction: Direction | None = None,
    job_queue_entry_id: str | None = None,
    progress: Progress | None = None,
    lock: bool = True,
) -> RunResult:
    """Run one mapping (both its passes, or ``direction``'s); see docs/sync.md. With ``lock`` (a
    person's run) it holds the mapping's job lock meanwhile; the scheduler, which claimed the
    entry itself, runs the engine directly."""
    await ensure_defaults(engine, company)
    if lock:
        async with mapping_lock(engine, company, name):
            return await run_mapping(
                engine,
                company,
                name,
                sales,
                bc=bc,
                system_ids=system_ids,
                crm_ids=crm_ids,
                force=force,
                only_coupled=only_coupled,
                direction=direction,
                job_queue_entry_id=job_queue_entry_id,
                progress=progress,
                lock=False,
            )
    return await _run_mapping(
        engine,
        company,
        name,
        sales,
        bc or await bc_records(engine, company),
        system_ids=system_ids,
        crm_ids=crm_ids,
        force=force,
        only_coupled=only_coupled,
        direction=direction,
        job_queue_entry_id=job_queue_entry_id,
        progress=progress,
    )


def full_sync_order(mappings: Sequence[TableMapping]) -> list[TableMapping]:
    """Dependency order: a mapping after every enabled mapping in its dependency filter; between
    independent ones, the prerequisites and then the seed's job order (units, resources, items)."""
    rank = {name: i for i, name in enumerate(FULL_SYNC_PRIORITY)}
    pending = sorted((m for m in mappings if m.enabled), key=lambda m: (rank.get(m.name, len(rank)), m.name))
    names = {m.name for m in pending}
    done: list[TableMapping] = []
    placed: set[str] = set()
    while pending:
        for m in pending:
            if all(d in placed or d not in names for d in m.dependencies):
                done.append(m)
                placed.add(m.name)
                pending.remove(m)
                break
        else:  # a cycle: take the rest in rank order
            done += pending
            break
    return done


async def full_sync(
    engine: AsyncEngine,
    company: str,
    sales: SalesPort,
    *,
    bc: BcRecords | None = None,
    progress: Progress | None = None,
    mappings: Sequence[str] | None = None,
) -> list[RunResult]:
    """BC's Run Full Synchronization: every enabled mapping (or those named) in dependency order,
    each as a forced one-off copy with "only coupled" off, so that every BC record missing in Sales
    is created there and coupled (records are not created in BC from Sales). A coupling that points
    at a row Sales no longer has (or never had: couplings typed in, the demo's fixed ids) is
    restored: the row is created afresh and coupled (Restore Records)."""
    await ensure_defaults(engine, company)
    bc = bc or await bc_records(engine, company)
    async with engine.connect() as conn:
        all_mappings = await store.load_mappings(conn, company)
    wanted = {canonical_name(n) for n in mappings} if mappings else None
    results = []
    for mapping in full_sync_order(all_mappings):
        if wanted is not None and mapping.name not in wanted:
            continue
        async with mapping_lock(engine, company, mapping.name):
            result = await _run_mapping(
                engine,
                company,
                mapping.name,
                sales,
                bc,
                force=True,
                only_coupled=False,
                progress=progress,
                deletion_resolution=DeletionConflictResolution.RESTORE,
            )
        results.append(result)
    return results


async def restore_skipped(
    engine: AsyncEngine, company: str, mapping_name: str | None = None, ids: Sequence[str] | None = None
) -> int:
    """Clear Skipped (and the failure marks, so the next run tries again) on couplings: all, those
    of one mapping's table, or those whose CRM ID or Integration ID is given. How many."""
    cir = t.crm_integration_record
    query = update(cir).where(cir.c.company == company, cir.c.skipped.is_(True))
    if mapping_name is not None:
        async with engine.connect() as conn:
            mapping = await store.load_mapping(conn, company, canonical_name(mapping_name))
        if mapping is None:
            raise MappingNotFound(f"The Integration Table Mapping {mapping_name} does not exist.")
        query = query.where(cir.c.table_id == mapping.table_id)
    if ids:
        wanted = [i.lower().strip("{}") for i in ids]
        query = query.where(cir.c.crm_id.in_(wanted) | cir.c.integration_id.in_(wanted))
    async with write_transaction(engine) as conn:
        result = await conn.execute(
            query.values(
                skipped=False,
                last_synch_result="",
                last_synch_error="",
                last_synch_crm_result="",
                last_synch_crm_error="",
                statistics_uploaded=False,  # BC: a customer restored has its statistics sent again
            )
        )
        return int(result.rowcount or 0)


async def retry(engine: AsyncEngine, company: str, error_no: int, sales: SalesPort) -> RunResult:
    """Run again the record an error row is about (a forced one-off run of that record)."""
    err, job = t.integration_synch_job_errors, t.integration_synch_job
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(err, job.c.integration_table_mapping_name, job.c.synch_direction)
                .select_from(err.join(job, job.c.id == err.c.integration_synch_job_id))
                .where(err.c.company == company, err.c.no == error_no)
            )
        ).first()
    if row is None:
        raise LookupError(f"There is no synchronization error {error_no}.")
    direction = Direction(row.synch_direction)
    async with engine.connect() as conn:
        mapping = await store.load_mapping(conn, company, row.integration_table_mapping_name)
    if mapping is None:
        raise MappingNotFound(f"The Integration Table Mapping {row.integration_table_mapping_name} does not exist.")
    source = row.source_record_id
    bc = await bc_records(engine, company)
    if direction == Direction.TO:
        key = source.split(": ", 1)[1] if ": " in source else source
        records = await bc.by_keys(mapping.table_id, [key])
        system_ids = [str(r["system_id"]) for r in records.values()]
        await restore_skipped(engine, company, mapping.name, system_ids)
        return await run_mapping(
            engine, company, mapping.name, sales, bc=bc, system_ids=system_ids, force=True, direction=direction
        )
    crm_id = source.split("{", 1)[1].rstrip("}") if "{" in source else source
    await restore_skipped(engine, company, mapping.name, [crm_id])
    return await run_mapping(
        engine, company, mapping.name, sales, bc=bc, crm_ids=[crm_id], force=True, direction=direction
    )


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One job queue entry for `sync status`."""

    mapping_name: str  # "" for a codeunit job (item availability)
    codeunit: int
    description: str
    status: str
    sleeping: bool
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    next_run: dt.datetime | None
    minutes: int
    inactivity: int
    error_message: str
    last_jobs: tuple[JobSummary, ...]  # the last run's passes


async def job_status(engine: AsyncEngine, company: str) -> list[JobStatus]:
    await ensure_defaults(engine, company)
    entries = await JobQueue(engine).entries(company)
    job = t.integration_synch_job
    out = []
    async with engine.connect() as conn:
        for e in entries:
            name = e.mapping_name or ("ITEM-PRODUCT" if e.codeunit == ITEM_AVAILABILITY_JOB else "")
            rows = (
                await conn.execute(
                    select(job)
                    .where(job.c.company == company, job.c.job_queue_entry_id == e.id)
                    .order_by(job.c.start_date_time.desc())
                    .limit(2)
                )
            ).all()
            last = tuple(_summary(r) for r in rows if not rows or r.start_date_time >= rows[0].start_date_time - _RUN)
            out.append(
                JobStatus(
                    mapping_name=name if e.mapping_name else "",
                    codeunit=e.codeunit,
                    description=e.description,
                    status=e.status,
                    sleeping=e.sleeping,
                    last_started_at=e.last_started_at,
                    last_finished_at=e.last_finished_at,
                    next_run=e.next_run,
                    minutes=e.minutes,
                    inactivity=e.inactivity,
                    error_message=e.error_message,
                    last_jobs=last,
                )
            )
    return out


_RUN = dt.timedelta(minutes=10)


def _summary(row: Any) -> JobSummary:
    counters = Counters(**{name: getattr(row, name) for name in Counters.__dataclass_fields__})
    return JobSummary(
        row.id,
        row.integration_table_mapping_name,
        row.synch_direction,
        row.start_date_time,
        row.finish_date_time,
        row.message,
        counters,
    )


def bc_caption(table_id: int) -> str:
    return BC_TABLES[table_id].caption
