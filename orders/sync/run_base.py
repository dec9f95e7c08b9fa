"""What both passes of a mapping's run share: its state, the pass context, and how a record's
or a pass's failure is logged (bc-sync.md §1.2, §1.5). The passes are orders/sync/to_sales.py and
orders/sync/from_sales.py; orders/sync/engine.py puts them together."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import decide, store
from orders.sync.context import HookError, PassContext
from orders.sync.defaults import BC_TABLES, CURRENCY, SALES_TABLES
from orders.sync.hooks import Hooks, lcy_currency_id
from orders.sync.model import (
    Counters,
    Coupling,
    DeletionConflictResolution,
    Direction,
    JobSummary,
    SynchResult,
    TableMapping,
)
from orders.sync.ports import BcRecords, SalesPort, SalesRefused, SalesUnavailable
from orders.sync.table_hooks import hooks_for
from orders.sync.transfer import BcField, LookupTable
from schemas.db import write_transaction
from schemas.master_data import MasterDataError

log = logging.getLogger("bcgw.sync")

# A BC change stamped just before a pass began may commit after the pass read: the BC mark stays
# this far behind the pass's start, and what it re-reads is Unchanged through the coupling's time.
COMMIT_GRACE = dt.timedelta(seconds=2)
CHANGED_MEANWHILE = (
    "The record was changed in Dynamics 365 Sales while it was synchronized; it is synchronized again on the next run."
)

Progress = Callable[[str, int, int], None]
# A record's own failure: logged against it, the pass goes on.
RECORD_ERRORS = (HookError, SalesRefused, MasterDataError)


class MappingNotFound(LookupError):
    """No integration table mapping of that name in this company."""


BATCH_MIN = 5
BATCH_SIZE = 100


@dataclass
class _Pending:
    record: dict[str, Any]
    coupling: Coupling
    values: dict[str, Any]
    etag: str | None
    wind_back_other: bool


@dataclass
class RunResult:
    mapping_name: str
    jobs: list[JobSummary] = field(default_factory=list)

    @property
    def counters(self) -> Counters:
        total = Counters()
        for job in self.jobs:
            for name, value in job.counters.as_dict().items():
                setattr(total, name, getattr(total, name) + value)
        return total


def _bc_fields(table_id: int) -> dict[str, BcField]:
    table = store.BC_TABLE_OBJECTS[table_id]
    key = BC_TABLES[table_id].key
    out = {}
    for column in table.c:
        length = getattr(column.type, "length", None)
        code = column.name in (key, "base_unit_of_measure", "currency_code", "country_region_code", "customer_no")
        out[column.name] = BcField(length=length, code=code)
    return out


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class MappingRunBase:
    def __init__(
        self,
        engine: AsyncEngine,
        company: str,
        mapping: TableMapping,
        sales: SalesPort,
        bc: BcRecords,
        *,
        system_ids: Sequence[str] | None,
        crm_ids: Sequence[str] | None,
        force: bool,
        only_coupled: bool | None,
        job_queue_entry_id: str | None,
        progress: Progress | None,
        deletion_resolution: DeletionConflictResolution | None = None,
    ) -> None:
        if deletion_resolution is not None:
            mapping = dataclasses.replace(mapping, deletion_conflict_resolution=deletion_resolution)
        self.engine = engine
        self.company = company
        self.mapping = mapping
        self.sales = sales
        self.bc = bc
        self.system_ids = system_ids
        self.crm_ids = crm_ids
        self.force = force
        self.only_coupled = mapping.synch_only_coupled_records if only_coupled is None else only_coupled
        self.job_queue_entry_id = job_queue_entry_id
        self.progress = progress
        self.hooks: Hooks = hooks_for(mapping.name)
        # A one-off run (records named, or forced) leaves the mapping's marks alone, as BC's copy does.
        self.one_off = force or system_ids is not None or crm_ids is not None
        self.sales_table = SALES_TABLES[mapping.integration_table]
        # Many records at once (a full sync, many items moving): updates that need nothing after
        # them go to Sales in $batch requests of BATCH_SIZE.
        self.batching = False
        self._pending: list[_Pending] = []
        self.repair = deletion_resolution == DeletionConflictResolution.RESTORE

    # -- setup ------------------------------------------------------------------------------

    async def _context(self, direction: Direction, job_id: str) -> PassContext:
        ctx = PassContext(self.engine, self.company, self.mapping, direction, self.sales, self.bc, job_id)
        if self.mapping.direction == Direction.BIDIRECTIONAL:
            ctx.integration_user = await self.sales.integration_user_id()
        async with self.engine.connect() as conn:
            ctx.lcy_code = await store.lcy_code(conn, self.company)
            for row in self.mapping.field_rows(direction):
                if not row.lookup_mapping or row.lookup_mapping in ctx.lookups:
                    continue
                target = await store.load_mapping(conn, self.company, row.lookup_mapping)
                if target is None:
                    continue
                codes = await store.coupled_codes(conn, self.company, target.table_id)
                ctx.lookups[row.lookup_mapping] = LookupTable(SALES_TABLES[target.integration_table].entity_set, codes)
        if CURRENCY in ctx.lookups:
            # A blank BC currency is the LCY: the Sales currency with the LCY's ISO code.
            lcy = await lcy_currency_id(ctx)
            if lcy:
                table = ctx.lookups[CURRENCY]
                ctx.lookups[CURRENCY] = LookupTable(table.entity_set, {**table.code_to_id, "": lcy})
        return ctx

    # -- BC -> Sales --------------------------------------------------------------------------

    async def _fail(
        self,
        ctx: PassContext,
        counters: Counters,
        direction: Direction,
        record: dict[str, Any],
        coupling: Coupling | None,
        message: str,
    ) -> None:
        source = ctx.bc_record_id(record)
        destination = ctx.sales_record_id(coupling.crm_id if coupling else None)
        await self._log_failure(ctx, counters, direction, coupling, message, source, destination)

    async def _fail_from(
        self, ctx: PassContext, counters: Counters, row: dict[str, Any], coupling: Coupling | None, message: str
    ) -> None:
        source = ctx.sales_record_id(str(row.get(self.sales_table.key, "")))
        destination = f"{ctx.bc_caption}: {coupling.integration_id}" if coupling else ctx.bc_caption
        await self._log_failure(ctx, counters, Direction.FROM, coupling, message, source, destination)

    async def _log_failure(
        self,
        ctx: PassContext,
        counters: Counters,
        direction: Direction,
        coupling: Coupling | None,
        message: str,
        source: str,
        destination: str,
    ) -> None:
        counters.failed += 1
        skip = decide.after_failure(coupling, direction, message)
        async with write_transaction(self.engine) as conn:
            await store.log_error(conn, self.company, ctx.job_id, source, destination, message)
            if coupling is not None:
                if direction == Direction.TO:
                    values: dict[str, Any] = {
                        "last_synch_crm_result": SynchResult.FAILURE.value,
                        "last_synch_crm_error": message,
                        "last_synch_crm_job_id": ctx.job_id,
                    }
                else:
                    values = {
                        "last_synch_result": SynchResult.FAILURE.value,
                        "last_synch_error": message,
                        "last_synch_job_id": ctx.job_id,
                    }
                if skip:
                    values["skipped"] = True
                await store.update_coupling(conn, coupling.id, **values)

    async def _pass_failed(
        self, exc: Exception, job_id: str, direction: Direction, started: dt.datetime, counters: Counters
    ) -> JobSummary:
        """The pass could not go on: the job row says why; a refusal is a failure of the pass, anything
        else (Sales away, the database) goes on to the job queue, which tries again later."""
        message = _pass_failure(exc)
        log.warning("%s %s: %s", self.mapping.name, direction.value, message)
        counters.failed += 1
        summary = await self._finish(job_id, direction, started, counters, message)
        if not isinstance(exc, RECORD_ERRORS):
            raise exc
        return summary

    async def _finish(
        self, job_id: str, direction: Direction, started: dt.datetime, counters: Counters, message: str
    ) -> JobSummary:
        async with write_transaction(self.engine) as conn:
            finished = await store.finish_job(conn, job_id, counters, message)
        return JobSummary(job_id, self.mapping.name, direction.value, started, finished, message, counters)


def _pass_failure(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (*RECORD_ERRORS, SalesUnavailable)):
        return text
    return f"{type(exc).__name__}: {text}"
