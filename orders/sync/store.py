"""The synchronisation's rows in our database: mappings and their marks, couplings, the log.

Each function takes a connection; the engine decides the transactions (one per record written,
one per pass's job row), so that a failure part-way keeps what was done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orders.sync.defaults import BC_TABLES, JOBS, MAPPINGS
from orders.sync.model import (
    Counters,
    Coupling,
    DeletionConflictResolution,
    Direction,
    FieldMapping,
    SynchResult,
    TableMapping,
    UpdateConflictResolution,
)
from schemas import tables as t
from schemas.db import insert_ignore

BC_TABLE_OBJECTS: dict[int, Any] = {
    t.TABLE_UNIT_OF_MEASURE: t.unit_of_measure,
    t.TABLE_ITEM: t.item,
    t.TABLE_RESOURCE: t.resource,
    t.TABLE_CUSTOMER: t.customer,
    t.TABLE_CONTACT: t.contact,
    t.TABLE_CURRENCY: t.currency,
    t.TABLE_SALES_INVOICE_HEADER: t.sales_invoice_header,
    t.TABLE_CUSTOMER_PRICE_GROUP: t.customer_price_group,
    t.TABLE_SALES_PRICE: t.sales_price,
    t.TABLE_SALESPERSON_PURCHASER: t.salesperson_purchaser,
    t.TABLE_OPPORTUNITY: t.opportunity,
}

MESSAGE_LENGTH = 250


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- mappings ---------------------------------------------------------------------------------


def _mapping_values(m: TableMapping) -> dict[str, Any]:
    return {
        "name": m.name,
        "table_id": m.table_id,
        "integration_table": m.integration_table,
        "direction": m.direction.value,
        "table_filter": m.table_filter,
        "integration_table_filter": m.integration_table_filter,
        "synch_only_coupled_records": m.synch_only_coupled_records,
        "dependency_filter": m.dependency_filter,
        "deletion_conflict_resolution": m.deletion_conflict_resolution.value,
        "update_conflict_resolution": m.update_conflict_resolution.value,
        "create_new_in_case_of_no_match": m.create_new_in_case_of_no_match,
        "synch_after_bulk_coupling": m.synch_after_bulk_coupling,
        "disable_event_job_resch": m.disable_event_job_resch,
        "status": "Enabled" if m.enabled else "Disabled",
    }


def _field_values(f: FieldMapping) -> dict[str, Any]:
    return {
        "no": f.no,
        "field_name": f.field_name,
        "integration_table_field": f.integration_field,
        "direction": f.direction.value,
        "constant_value": f.constant_value,
        "lookup_mapping": f.lookup_mapping,
        "transformation_rule": f.transformation_rule,
        "not_null": f.not_null,
        "clear_value_on_failed_sync": f.clear_value_on_failed_sync,
        "status": "Enabled" if f.enabled else "Disabled",
        "use_for_match_based_coupling": f.use_for_match_based_coupling,
        "case_sensitive_matching": f.case_sensitive_matching,
        "match_priority": f.match_priority,
    }


async def ensure_defaults(conn: AsyncConnection, company: str) -> list[str]:
    """BC's default mappings (with their field rows) and job queue entries, where missing.
    Returns the names of the mappings created."""
    itm, ifm, jqe = t.integration_table_mapping, t.integration_field_mapping, t.job_queue_entry
    have = set((await conn.execute(select(itm.c.name).where(itm.c.company == company))).scalars())
    created = []
    for m in MAPPINGS:
        if m.name in have:
            continue
        # Another worker may be doing the same at this moment: a row it made first is kept.
        result = await conn.execute(
            insert_ignore(conn, itm, ["company", "name"]).values(company=company, **_mapping_values(m))
        )
        if m.fields:
            await conn.execute(
                insert_ignore(conn, ifm, ["company", "mapping_name", "no"]),
                [{"company": company, "mapping_name": m.name, **_field_values(f)} for f in m.fields],
            )
        if result.rowcount:
            created.append(m.name)
    jobs = {
        (r.object_id_to_run, r.record_id_to_process)
        for r in (await conn.execute(select(jqe).where(jqe.c.company == company))).all()
    }
    start = now()
    for job in JOBS:
        if (job.codeunit, job.mapping) in jobs:
            continue
        await conn.execute(
            insert_ignore(conn, jqe, ["company", "object_id_to_run", "record_id_to_process"]).values(
                id=str(uuid.uuid4()),
                company=company,
                object_id_to_run=job.codeunit,
                record_id_to_process=job.mapping,
                description=job.description,
                job_queue_category_code=job.category,
                status=job.status,
                recurring_job=True,
                no_of_minutes_between_runs=job.minutes,
                inactivity_timeout_period=job.inactivity,
                earliest_start_date_time=start,
                maximum_no_of_attempts_to_run=job.attempts,
            )
        )
    return created


def _caption(field_name: str) -> str:
    for m in MAPPINGS:
        for f in m.fields:
            if f.field_name == field_name and f.caption:
                return f.caption
    return ""


def _mapping_from_row(row: Any, fields: Iterable[Any]) -> TableMapping:
    return TableMapping(
        name=row.name,
        table_id=row.table_id,
        integration_table=row.integration_table,
        direction=Direction(row.direction),
        fields=tuple(
            FieldMapping(
                no=f.no,
                field_name=f.field_name,
                integration_field=f.integration_table_field,
                direction=Direction(f.direction),
                constant_value=f.constant_value,
                lookup_mapping=f.lookup_mapping,
                transformation_rule=f.transformation_rule,
                not_null=f.not_null,
                clear_value_on_failed_sync=f.clear_value_on_failed_sync,
                enabled=f.status == "Enabled",
                use_for_match_based_coupling=f.use_for_match_based_coupling,
                case_sensitive_matching=f.case_sensitive_matching,
                match_priority=f.match_priority,
                caption=_caption(f.field_name),
            )
            for f in fields
        ),
        table_filter=row.table_filter,
        integration_table_filter=row.integration_table_filter,
        synch_only_coupled_records=row.synch_only_coupled_records,
        synch_modified_on_filter=row.synch_modified_on_filter,
        synch_int_tbl_mod_on_fltr=row.synch_int_tbl_mod_on_fltr,
        dependency_filter=row.dependency_filter,
        deletion_conflict_resolution=DeletionConflictResolution(row.deletion_conflict_resolution),
        update_conflict_resolution=UpdateConflictResolution(row.update_conflict_resolution),
        create_new_in_case_of_no_match=row.create_new_in_case_of_no_match,
        synch_after_bulk_coupling=row.synch_after_bulk_coupling,
        disable_event_job_resch=row.disable_event_job_resch,
        enabled=row.status == "Enabled",
    )


async def load_mappings(conn: AsyncConnection, company: str, name: str | None = None) -> list[TableMapping]:
    itm, ifm = t.integration_table_mapping, t.integration_field_mapping
    query = select(itm).where(itm.c.company == company, itm.c.parent_name == "")
    if name is not None:
        query = query.where(itm.c.name == name)
    rows = (await conn.execute(query.order_by(itm.c.name))).all()
    fields = (
        await conn.execute(select(ifm).where(ifm.c.company == company).order_by(ifm.c.mapping_name, ifm.c.no))
    ).all()
    by_mapping: dict[str, list[Any]] = {}
    for f in fields:
        by_mapping.setdefault(f.mapping_name, []).append(f)
    return [_mapping_from_row(r, by_mapping.get(r.name, [])) for r in rows]


async def load_mapping(conn: AsyncConnection, company: str, name: str) -> TableMapping | None:
    found = await load_mappings(conn, company, name)
    return found[0] if found else None


async def save_marks(
    conn: AsyncConnection, company: str, name: str, *, to_mark: dt.datetime | None, from_mark: dt.datetime | None
) -> None:
    itm = t.integration_table_mapping
    values: dict[str, Any] = {}
    if to_mark is not None:
        values["synch_int_tbl_mod_on_fltr"] = to_mark
    if from_mark is not None:
        values["synch_modified_on_filter"] = from_mark
    if values:
        await conn.execute(update(itm).where(itm.c.company == company, itm.c.name == name).values(**values))


# -- couplings --------------------------------------------------------------------------------


def coupling_from_row(row: Any) -> Coupling:
    return Coupling(
        id=row.id,
        crm_id=row.crm_id,
        integration_id=row.integration_id,
        table_id=row.table_id,
        last_synch_modified_on=row.last_synch_modified_on,
        last_synch_crm_modified_on=row.last_synch_crm_modified_on,
        last_synch_crm_etag=row.last_synch_crm_etag,
        last_synch_result=SynchResult(row.last_synch_result),
        last_synch_error=row.last_synch_error,
        last_synch_crm_result=SynchResult(row.last_synch_crm_result),
        last_synch_crm_error=row.last_synch_crm_error,
        skipped=row.skipped,
    )


async def couplings(
    conn: AsyncConnection,
    company: str,
    table_id: int,
    *,
    integration_ids: Iterable[str] = (),
    crm_ids: Iterable[str] = (),
) -> list[Coupling]:
    cir = t.crm_integration_record
    found: list[Coupling] = []
    for column, ids in ((cir.c.integration_id, integration_ids), (cir.c.crm_id, crm_ids)):
        wanted = sorted({i.lower() for i in ids if i})
        for start in range(0, len(wanted), 500):
            rows = await conn.execute(
                select(cir).where(
                    cir.c.company == company, cir.c.table_id == table_id, column.in_(wanted[start : start + 500])
                )
            )
            found += [coupling_from_row(r) for r in rows.all()]
    return found


async def failed_couplings(conn: AsyncConnection, company: str, table_id: int, direction: Direction) -> list[Coupling]:
    cir = t.crm_integration_record
    result = cir.c.last_synch_crm_result if direction == Direction.TO else cir.c.last_synch_result
    rows = await conn.execute(
        select(cir).where(
            cir.c.company == company,
            cir.c.table_id == table_id,
            cir.c.skipped.is_(False),
            result == SynchResult.FAILURE.value,
        )
    )
    return [coupling_from_row(r) for r in rows.all()]


async def insert_coupling(
    conn: AsyncConnection, company: str, table_id: int, crm_id: str, integration_id: str, **values: Any
) -> None:
    await insert_couplings(conn, company, table_id, [{"crm_id": crm_id, "integration_id": integration_id, **values}])


async def insert_couplings(conn: AsyncConnection, company: str, table_id: int, couplings: list[dict[str, Any]]) -> None:
    """Many couplings in one statement (executemany): each a dict of ``crm_id``, ``integration_id``
    and the other columns, as ``insert_coupling`` takes them."""
    if not couplings:
        return
    at = now()
    rows = [
        {
            **c,
            "company": company,
            "table_id": table_id,
            "crm_id": c["crm_id"].lower(),
            "integration_id": c["integration_id"].lower(),
            "coupled_at": at,
        }
        for c in couplings
    ]
    await conn.execute(insert(t.crm_integration_record), rows)


async def update_coupling(conn: AsyncConnection, coupling_id: int, **values: Any) -> None:
    cir = t.crm_integration_record
    await conn.execute(update(cir).where(cir.c.id == coupling_id).values(**values))


async def delete_coupling(conn: AsyncConnection, coupling_id: int) -> None:
    cir = t.crm_integration_record
    await conn.execute(delete(cir).where(cir.c.id == coupling_id))


async def coupled_codes(conn: AsyncConnection, company: str, table_id: int) -> dict[str, str]:
    """BC code (our key) -> coupled Sales id, for a table's lookups."""
    table = BC_TABLE_OBJECTS[table_id]
    key = table.c[BC_TABLES[table_id].key]
    cir = t.crm_integration_record
    rows = await conn.execute(
        select(key, cir.c.crm_id)
        .select_from(cir.join(table, and_(table.c.company == cir.c.company, table.c.system_id == cir.c.integration_id)))
        .where(cir.c.company == company, cir.c.table_id == table_id)
    )
    return {code: crm_id for code, crm_id in rows.all()}


# -- the log ----------------------------------------------------------------------------------


async def start_job(
    conn: AsyncConnection,
    company: str,
    mapping_name: str,
    direction: str,
    started: dt.datetime,
    job_queue_entry_id: str | None = None,
    job_type: str = "Synchronization",
) -> str:
    job_id = str(uuid.uuid4())
    await conn.execute(
        insert(t.integration_synch_job).values(
            id=job_id,
            company=company,
            start_date_time=started,
            integration_table_mapping_name=mapping_name,
            synch_direction=direction,
            type=job_type,
            job_queue_entry_id=job_queue_entry_id,
        )
    )
    return job_id


async def finish_job(conn: AsyncConnection, job_id: str, counters: Counters, message: str = "") -> dt.datetime:
    finished = now()
    job = t.integration_synch_job
    await conn.execute(
        update(job)
        .where(job.c.id == job_id)
        .values(finish_date_time=finished, message=message[:MESSAGE_LENGTH], **counters.as_dict())
    )
    return finished


async def log_error(
    conn: AsyncConnection,
    company: str,
    job_id: str,
    source: str,
    destination: str,
    message: str,
    detail: str = "",
) -> None:
    await conn.execute(
        insert(t.integration_synch_job_errors).values(
            company=company,
            integration_synch_job_id=job_id,
            source_record_id=source[:250],
            destination_record_id=destination[:250],
            message=message[:MESSAGE_LENGTH],
            error_message=message,
            date_time=now(),
            exception_detail=detail,
        )
    )


def replace_fields(mapping: TableMapping, **changes: Any) -> TableMapping:
    return dataclasses.replace(mapping, **changes)


async def lcy_code(conn: AsyncConnection, company: str) -> str:
    row = (
        await conn.execute(select(t.sales_setup.c.local_currency_code).where(t.sales_setup.c.company == company))
    ).first()
    return row.local_currency_code if row else ""


def by_key(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, Mapping[str, Any]]:
    return {str(r[key]).lower(): r for r in rows if r.get(key)}


async def has_bc_changes(conn: AsyncConnection, company: str, mapping: TableMapping) -> bool:
    """Whether a BC record of the mapping's table changed after its BC mark (the early wake-up)."""
    table = BC_TABLE_OBJECTS.get(mapping.table_id)
    if table is None or not mapping.runs(Direction.TO):
        return False
    query = select(table.c.system_id).where(table.c.company == company)
    mark = mapping.synch_int_tbl_mod_on_fltr
    if mark is not None:
        query = query.where(table.c.system_modified_at > mark)
    return (await conn.execute(query.limit(1))).first() is not None
