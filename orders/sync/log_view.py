"""Reading the synchronisation log (BC's "Integration Synch. Job List" and "Integration
Synchronization Errors" pages), the couplings, and forgetting old log entries.

bc-sync.md §1.7: one job row per pass with its counters, one error row per failed record with
BC's message. "Delete entries older than N days" spares the jobs that failed: so do we.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, case, delete, desc, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import tables as t
from schemas.db import write_transaction

job = t.integration_synch_job
err = t.integration_synch_job_errors
cir = t.crm_integration_record

COUNTERS = ("inserted", "modified", "unchanged", "skipped", "failed", "deleted", "coupled", "uncoupled")


@dataclass(frozen=True)
class SynchJob:
    id: str
    start: dt.datetime
    finish: dt.datetime | None
    mapping: str
    direction: str
    type: str
    message: str
    inserted: int
    modified: int
    unchanged: int
    skipped: int
    failed: int
    deleted: int
    coupled: int
    uncoupled: int
    errors: int  # error rows still kept for it

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SynchError:
    no: int
    job_id: str
    mapping: str
    direction: str
    date_time: dt.datetime
    source: str
    destination: str
    message: str
    error_message: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


async def list_jobs(
    engine: AsyncEngine,
    company: str,
    *,
    mapping: str | None = None,
    failed_only: bool = False,
    limit: int = 50,
) -> list[SynchJob]:
    """The newest job rows first."""
    errors = select(func.count()).select_from(err).where(err.c.integration_synch_job_id == job.c.id).scalar_subquery()
    query = select(job, errors.label("errors")).where(job.c.company == company)
    if mapping:
        query = query.where(func.upper(job.c.integration_table_mapping_name) == mapping.upper())
    if failed_only:
        query = query.where(job.c.failed > 0)
    query = query.order_by(desc(job.c.start_date_time), job.c.id).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        SynchJob(
            id=str(r.id),
            start=_utc(r.start_date_time) or r.start_date_time,
            finish=_utc(r.finish_date_time),
            mapping=r.integration_table_mapping_name,
            direction=r.synch_direction,
            type=r.type,
            message=r.message,
            inserted=r.inserted,
            modified=r.modified,
            unchanged=r.unchanged,
            skipped=r.skipped,
            failed=r.failed,
            deleted=r.deleted,
            coupled=r.coupled,
            uncoupled=r.uncoupled,
            errors=r.errors,
        )
        for r in rows
    ]


async def list_errors(
    engine: AsyncEngine,
    company: str,
    *,
    mapping: str | None = None,
    job_id: str | None = None,
    limit: int = 50,
) -> list[SynchError]:
    """The newest error rows first, with their job's mapping and direction."""
    query = (
        select(err, job.c.integration_table_mapping_name, job.c.synch_direction)
        .join(job, job.c.id == err.c.integration_synch_job_id)
        .where(err.c.company == company)
    )
    if mapping:
        query = query.where(func.upper(job.c.integration_table_mapping_name) == mapping.upper())
    if job_id:
        query = query.where(err.c.integration_synch_job_id == job_id.lower())
    query = query.order_by(desc(err.c.date_time), desc(err.c.no)).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        SynchError(
            r.no,
            str(r.integration_synch_job_id),
            r.integration_table_mapping_name,
            r.synch_direction,
            _utc(r.date_time) or r.date_time,
            r.source_record_id,
            r.destination_record_id,
            r.message,
            r.error_message or r.message,
        )
        for r in rows
    ]


async def find_error(engine: AsyncEngine, company: str, no: int) -> SynchError | None:
    query = (
        select(err, job.c.integration_table_mapping_name, job.c.synch_direction)
        .join(job, job.c.id == err.c.integration_synch_job_id)
        .where(err.c.company == company, err.c.no == no)
    )
    async with engine.connect() as conn:
        r = (await conn.execute(query)).first()
    if r is None:
        return None
    return SynchError(
        r.no,
        str(r.integration_synch_job_id),
        r.integration_table_mapping_name,
        r.synch_direction,
        _utc(r.date_time) or r.date_time,
        r.source_record_id,
        r.destination_record_id,
        r.message,
        r.error_message or r.message,
    )


# -- couplings ---------------------------------------------------------------------------------

# BC table id -> (caption, our table, its key column): to show a coupling with the BC record's key.
COUPLED_TABLES: dict[int, tuple[str, Any, str]] = {
    t.TABLE_ITEM: ("Item", t.item, "no"),
    t.TABLE_RESOURCE: ("Resource", t.resource, "no"),
    t.TABLE_CUSTOMER: ("Customer", t.customer, "no"),
    t.TABLE_UNIT_OF_MEASURE: ("Unit of Measure", t.unit_of_measure, "code"),
    t.TABLE_CURRENCY: ("Currency", t.currency, "code"),
    t.TABLE_CONTACT: ("Contact", t.contact, "no"),
    t.TABLE_CUSTOMER_PRICE_GROUP: ("Customer Price Group", t.customer_price_group, "code"),
    t.TABLE_SALES_PRICE: ("Sales Price", t.sales_price, "system_id"),  # BC's key has eight fields
    t.TABLE_SALESPERSON_PURCHASER: ("Salesperson/Purchaser", t.salesperson_purchaser, "code"),
    t.TABLE_OPPORTUNITY: ("Opportunity", t.opportunity, "no"),
}


def couplings_select(company: str | Any) -> Any:
    """Every coupling with the BC record's key and caption (NULL key: the BC record is gone).
    `company`: a name, or a column to correlate with."""
    joined: Any = cir
    keys = []
    captions = []
    for table_id, (caption, table, key) in COUPLED_TABLES.items():
        alias = table.alias(f"bc_{table_id}")
        joined = joined.outerjoin(
            alias,
            and_(
                cir.c.table_id == table_id, alias.c.company == cir.c.company, alias.c.system_id == cir.c.integration_id
            ),
        )
        keys.append(alias.c[key])
        captions.append((cir.c.table_id == table_id, caption))
    return (
        select(
            cir.c.id.label("Entry_No"),
            cir.c.table_id.label("Table_ID"),
            case(*captions, else_=literal("")).label("Table"),
            func.coalesce(*keys).label("No"),
            cir.c.integration_id.label("Integration_ID"),
            cir.c.crm_id.label("CRM_ID"),
            cir.c.coupled_at.label("Coupled_At"),
            cir.c.last_synch_modified_on.label("Last_Synch_Modified_On"),
            cir.c.last_synch_crm_modified_on.label("Last_Synch_CRM_Modified_On"),
            cir.c.last_synch_result.label("Last_Synch_Result"),
            cir.c.last_synch_job_id.label("Last_Synch_Job_ID"),
            cir.c.last_synch_crm_result.label("Last_Synch_CRM_Result"),
            cir.c.last_synch_crm_job_id.label("Last_Synch_CRM_Job_ID"),
            cir.c.skipped.label("Skipped"),
        )
        .select_from(joined)
        .where(cir.c.company == company)
    )


@dataclass(frozen=True)
class CouplingRow:
    entry_no: int
    table: str
    no: str | None
    crm_id: str
    last_synch_result: str
    last_synch_crm_result: str
    error: str
    skipped: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def skipped_couplings(
    engine: AsyncEngine, company: str, table_ids: Sequence[int] | None = None
) -> list[CouplingRow]:
    """The couplings left out of every synchronisation until a person restores them."""
    query = couplings_select(company).add_columns(
        cir.c.last_synch_error.label("e1"), cir.c.last_synch_crm_error.label("e2")
    )
    query = query.where(cir.c.skipped == true())
    if table_ids:
        query = query.where(cir.c.table_id.in_(list(table_ids)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(cir.c.table_id, cir.c.id))).all()
    return [
        CouplingRow(
            r.Entry_No,
            r.Table,
            r.No,
            str(r.CRM_ID),
            r.Last_Synch_Result,
            r.Last_Synch_CRM_Result,
            r.e2 or r.e1,
            bool(r.Skipped),
        )
        for r in rows
    ]


# -- the Coupling job row of match-based coupling ---------------------------------------------------


async def record_coupling_job(
    conn: AsyncConnection,
    company: str,
    mapping: str,
    *,
    start: dt.datetime,
    finish: dt.datetime,
    coupled: int,
    failed: int,
    message: str,
    failures: Sequence[tuple[str, str]] = (),
) -> str:
    """BC's log of a match-based coupling: one job row of type Coupling, and one error row
    (source record, BC's message) per record that stayed unmatched. Returns the job's id."""
    job_id = str(uuid.uuid4())
    await conn.execute(
        job.insert().values(
            id=job_id,
            company=company,
            start_date_time=start,
            finish_date_time=finish,
            message=message[:250],
            integration_table_mapping_name=mapping,
            synch_direction="ToIntegrationTable",
            type="Coupling",
            coupled=coupled,
            failed=failed,
        )
    )
    for source, text in failures:
        await conn.execute(
            err.insert().values(
                company=company,
                integration_synch_job_id=job_id,
                source_record_id=source[:250],
                destination_record_id="",
                message=text[:250],
                error_message=text,
                date_time=finish,
            )
        )
    return job_id


# -- pruning ----------------------------------------------------------------------------------------


async def prune(engine: AsyncEngine, retention_days: int, now: dt.datetime | None = None) -> int:
    """Forget job rows (and their errors) older than `retention_days`, except jobs that failed,
    as BC's "Delete entries older than N days" does. 0 days keeps everything. Returns the
    number of job rows deleted."""
    if retention_days <= 0:
        return 0
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    old = or_(job.c.finish_date_time < cutoff, and_(job.c.finish_date_time.is_(None), job.c.start_date_time < cutoff))
    async with write_transaction(engine) as conn:
        ids = select(job.c.id).where(old, job.c.failed == 0)
        # Errors first: SQLite enforces the cascade only with foreign keys switched on.
        await conn.execute(delete(err).where(err.c.integration_synch_job_id.in_(ids)))
        result = await conn.execute(delete(job).where(old, job.c.failed == 0))
        return result.rowcount or 0


# -- what the commands name -------------------------------------------------------------------------


async def record_system_ids(engine: AsyncEngine, company: str, mapping_name: str, keys: Sequence[str]) -> list[str]:
    """The SystemIds of the BC records of a mapping's table named by No. (or Code), for a run
    of just those; BC's message for a mapping or a record that does not exist."""
    from orders.sync.defaults import canonical_name
    from orders.sync.engine import MappingNotFound
    from orders.sync.store import load_mapping

    async with engine.connect() as conn:
        mapping = await load_mapping(conn, company, canonical_name(mapping_name))
        if mapping is None:
            raise MappingNotFound(f"The Integration Table Mapping {mapping_name} does not exist.")
        caption, table, key = COUPLED_TABLES[mapping.table_id]
        out = []
        for no in keys:
            row = (
                await conn.execute(select(table.c.system_id).where(table.c.company == company, table.c[key] == no))
            ).first()
            if row is None:
                field = "Code" if key == "code" else "No."
                raise LookupError(f"The {caption} does not exist. Identification fields and values: {field}='{no}'")
            out.append(str(row.system_id))
        return out


async def coupling_crm_ids(engine: AsyncEngine, company: str, entries: Sequence[int]) -> list[str]:
    """The CRM IDs of couplings by their entry numbers (the Entry_No of `sync skipped`)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(cir.c.crm_id).where(cir.c.company == company, cir.c.id.in_(list(entries))))
        return [str(r.crm_id) for r in rows]
