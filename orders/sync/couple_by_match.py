"""Match-based coupling, the use case (BC's "Match-Based Coupling" action on a mapping): read the
uncoupled BC records and the Sales rows in the mapping's filter, decide by
:mod:`orders.sync.matching`, couple what matched in one transaction and report what did not.

BC records are read from our BC tables, which are BC itself in embedded mode and the mirror of BC in
api mode (docs/bc-link.md); Sales rows through the engine's SalesPort (orders/sync/ports.py).
`organisation_url` names the Sales environment in BC's message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, false, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.change_setup import load_sales_setup
from orders.sync.log_view import record_coupling_job
from orders.sync.matching import (
    CRITERIA,
    BcRecord,
    Match,
    MatchCriteria,
    NotMatched,
    SalesRow,
    Unmatched,
    describe,
    failure_message,
    plan_matches,
)
from orders.sync.ports import SalesPort
from orders.sync.store import load_mapping
from schemas import change_log as changes
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction

TABLE_IDS = {kind: table_id for kind, (table_id, _table, _caption) in master_data.COUPLING_KINDS.items()}


@dataclass
class MatchResult:
    criteria: MatchCriteria
    coupled: list[Match] = field(default_factory=list)
    to_create: list[BcRecord] = field(default_factory=list)  # to be created in Sales by the synchronisation
    created: list[tuple[str, str]] = field(default_factory=list)  # (BC No., new Sales id), once created
    unmatched: list[NotMatched] = field(default_factory=list)
    considered: int = 0  # uncoupled BC records looked at
    sales_rows: int = 0  # Sales rows in the mapping's filter
    message: str = ""  # BC's log message for what stayed unmatched, "" when none did
    job_id: str = ""  # the Coupling row in the synchronisation log

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.criteria.kind,
            "mapping": self.criteria.mapping,
            "considered": self.considered,
            "sales_rows": self.sales_rows,
            "coupled": [
                {"no": m.record.key, "sales_id": m.row_id, "priority": m.priority, "on": list(m.on)}
                for m in self.coupled
            ],
            "created": [{"no": no, "sales_id": sales_id} for no, sales_id in self.created],
            "unmatched": [
                {"no": u.record.key, "reason": str(u.reason), "candidates": list(u.candidates)} for u in self.unmatched
            ],
            "message": self.message,
            "job_id": self.job_id,
        }


def _bc_columns(kind: str) -> tuple[Any, list[tuple[str, Any]], list[Any]]:
    """The BC table, its match fields by caption, and the mapping's table filter."""
    if kind == "item":
        i = t.item
        return i, [("No.", i.c.no), ("Description", i.c.description)], [i.c.blocked == false()]
    if kind == "resource":
        r = t.resource
        return r, [("No.", r.c.no), ("Name", r.c.name)], [r.c.blocked == false()]
    if kind == "customer":
        c = t.customer
        return c, [("No.", c.c.no), ("Name", c.c.name)], [c.c.blocked == false()]
    if kind == "salesperson":
        sp = t.salesperson_purchaser
        return sp, [("Code", sp.c.code), ("E-Mail", sp.c.e_mail)], []
    u = t.unit_of_measure
    return u, [("Code", u.c.code)], []


async def uncoupled_records(conn: AsyncConnection, company: str, kind: str) -> list[BcRecord]:
    """The BC records of `kind` in the mapping's table filter that have no coupling."""
    table, fields, table_filter = _bc_columns(kind)
    cir = t.crm_integration_record
    key = fields[0][1]
    query = (
        select(key.label("key"), table.c.system_id, *(col.label(f"f{i}") for i, (_n, col) in enumerate(fields)))
        .select_from(
            table.outerjoin(
                cir,
                and_(
                    cir.c.company == table.c.company,
                    cir.c.table_id == TABLE_IDS[kind],
                    cir.c.integration_id == table.c.system_id,
                ),
            )
        )
        .where(table.c.company == company, cir.c.id.is_(None), *table_filter)
        .order_by(key)
    )
    if kind in ("item", "resource"):
        # The write-in product is never synchronised (bc-sync.md §4, §5).
        sales_setup = await load_sales_setup(conn, company)
        if sales_setup.write_in_product_no and sales_setup.write_in_product_type.lower() == kind:
            query = query.where(key != sales_setup.write_in_product_no)
    rows = (await conn.execute(query)).all()
    return [
        BcRecord(r.key, str(r.system_id), {name: getattr(r, f"f{i}") or "" for i, (name, _c) in enumerate(fields)})
        for r in rows
    ]


async def coupled_sales_ids(conn: AsyncConnection, company: str, kind: str) -> set[str]:
    cir = t.crm_integration_record
    rows = await conn.execute(select(cir.c.crm_id).where(cir.c.company == company, cir.c.table_id == TABLE_IDS[kind]))
    return {str(r.crm_id).lower() for r in rows}


async def read_sales_rows(sales: SalesPort, criteria: MatchCriteria) -> list[SalesRow]:
    """The Sales rows in the mapping's integration table filter."""
    out = []
    for row in await sales.find_rows(criteria.entity_set, criteria.integration_filter):
        row_id = row.get(criteria.key_column)
        if isinstance(row_id, str):
            out.append(SalesRow(row_id.lower(), {c: row.get(c) for c in criteria.columns}))
    return out


async def couple_by_match(
    engine: AsyncEngine,
    company: str,
    sales: SalesPort,
    kind: str,
    *,
    organisation_url: str = "",
    create_new: bool = False,
    create: Callable[[str, list[str]], Awaitable[Any]] | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> MatchResult:
    """Couple the uncoupled BC records of `kind` to the Sales rows they match. With `create_new`
    the records that match nothing are created in Sales and coupled by `create(mapping, system
    ids)` (the engine's one-off run of the mapping, "only coupled" off); `created` then lists the
    couplings it made. Otherwise they are reported with BC's message."""
    criteria = CRITERIA[kind]
    start = now()
    async with engine.connect() as conn:
        await master_data.require_company(conn, company)
        stored = await load_mapping(conn, company, criteria.mapping)
        if stored is not None:  # the mapping's integration table filter as it is set up now
            criteria = dataclasses.replace(criteria, integration_filter=stored.integration_table_filter)
        records = await uncoupled_records(conn, company, kind)
        coupled = await coupled_sales_ids(conn, company, kind)
    result = MatchResult(criteria, considered=len(records))
    if not records:
        return result
    rows = await read_sales_rows(sales, criteria)
    result.sales_rows = len(rows)
    plan = plan_matches(criteria, records, rows, coupled, create_new=create_new)
    result.to_create = list(plan.to_create)
    result.unmatched = list(plan.unmatched)
    table_id = TABLE_IDS[kind]
    cir = t.crm_integration_record
    async with write_transaction(engine) as conn:
        # Read again under the write: someone may have coupled meanwhile (one to one, §1.6).
        mine = await conn.execute(
            select(cir.c.crm_id, cir.c.integration_id).where(cir.c.company == company, cir.c.table_id == table_id)
        )
        taken_rows, taken_records = set(), set()
        for r in mine:
            taken_rows.add(str(r.crm_id).lower())
            taken_records.add(str(r.integration_id).lower())
        stamp = now()
        for m in plan.matches:
            if m.record.system_id.lower() in taken_records:
                continue  # coupled meanwhile: nothing to do for it
            if m.row_id in taken_rows:
                result.unmatched.append(NotMatched(m.record, Unmatched.TAKEN, (m.row_id,)))
                continue
            await conn.execute(
                cir.insert().values(
                    company=company,
                    crm_id=m.row_id,
                    table_id=table_id,
                    integration_id=m.record.system_id,
                    coupled_at=stamp,
                )
            )
            result.coupled.append(m)
        if result.coupled:
            await changes.record(conn, changes.MASTER, company=company)
        if result.unmatched:
            result.unmatched.sort(key=lambda u: u.record.key)
            result.message = failure_message(organisation_url, len(result.unmatched))
        # BC's log of the coupling: a job row of type Coupling, an error row per unmatched record.
        result.job_id = await record_coupling_job(
            conn,
            company,
            criteria.mapping,
            start=start,
            finish=now(),
            coupled=len(result.coupled),
            failed=len(result.unmatched),
            message=result.message or f"Coupled {len(result.coupled)} record(s).",
            failures=[
                (f"{criteria.bc_table}: {u.record.key}", f"{criteria.bc_table} {u.record.key}: {describe(u)}.")
                for u in result.unmatched
            ],
        )
    if result.to_create and create is not None:
        await create(criteria.mapping, [r.system_id for r in result.to_create])
        made = await _couplings_of(engine, company, kind, [r.system_id for r in result.to_create])
        result.created = [(r.key, made[r.system_id.lower()]) for r in result.to_create if r.system_id.lower() in made]
        done = {no for no, _id in result.created}
        # What the run could not create stays in the report (the log has the run's error rows).
        result.unmatched.extend(NotMatched(r, Unmatched.NO_MATCH) for r in result.to_create if r.key not in done)
        result.unmatched.sort(key=lambda u: u.record.key)
        if result.unmatched:
            result.message = failure_message(organisation_url, len(result.unmatched))
    return result


async def _couplings_of(engine: AsyncEngine, company: str, kind: str, system_ids: list[str]) -> dict[str, str]:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(cir.c.integration_id, cir.c.crm_id).where(
                cir.c.company == company,
                cir.c.table_id == TABLE_IDS[kind],
                cir.c.integration_id.in_([i.lower() for i in system_ids]),
            )
        )
        return {str(r.integration_id).lower(): str(r.crm_id).lower() for r in rows}
