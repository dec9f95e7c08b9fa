"""Running one mapping: BC's "Integration Synch. Job Runner" (bc-sync.md §1.2–§1.5).

Per pass (BC -> Sales, then Sales -> BC on a bidirectional mapping): one Integration Synch. Job
row; the records to look at (those that failed last time, then those changed after the pass's
high-water mark); per record the decision of orders/sync/decide.py, the transfer of
orders/sync/transfer.py and the table's hooks; the coupling and the log written per record; the
mark moved at the end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import decide, filters, store
from orders.sync.context import HookError, PassContext, parse_sales_time
from orders.sync.decide import Action
from orders.sync.defaults import BC_TABLES, CURRENCY, SALES_TABLES, canonical_name
from orders.sync.hooks import Hooks, hooks_for, lcy_currency_id
from orders.sync.model import (
    Counters,
    Coupling,
    DeletionConflictResolution,
    Direction,
    JobSummary,
    SynchResult,
    TableMapping,
)
from orders.sync.ports import BcRecords, SalesChangedMeanwhile, SalesPort, SalesRefused, SalesUnavailable
from orders.sync.transfer import BcField, LookupTable, differing_bidirectional, to_bc, to_sales
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
    pass


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


class MappingRun:
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

    async def to_sales_pass(self) -> JobSummary:
        direction = Direction.TO
        started = store.now()
        async with write_transaction(self.engine) as conn:
            job_id = await store.start_job(
                conn, self.company, self.mapping.name, direction.value, started, self.job_queue_entry_id
            )
        counters = Counters()
        message = ""
        try:
            ctx = await self._context(direction, job_id)
            records = await self._bc_records_to_read()
            async with self.engine.connect() as conn:
                coupled = {
                    c.integration_id: c
                    for c in await store.couplings(
                        conn, self.company, self.mapping.table_id, integration_ids=[r["system_id"] for r in records]
                    )
                }
            self.batching = len(records) >= BATCH_MIN
            counterparts = await self.sales.rows_by_id(
                self.sales_table.entity_set, [c.crm_id for c in coupled.values()]
            )
            seen: dt.datetime | None = None
            for index, record in enumerate(records):
                seen = _later(seen, record.get("system_modified_at"))
                coupling = coupled.get(str(record["system_id"]).lower())
                if coupling is None and not filters.accepts(self.mapping.table_filter, record):
                    continue  # outside the table filter; a coupled one still goes (a blocked item retires)
                counterpart = counterparts.get(coupling.crm_id) if coupling else None
                await self._to_record(ctx, counters, record, coupling, counterpart)
                if self.progress:
                    self.progress(self.mapping.name, index + 1, len(records))
            await self._flush(ctx, counters)
            if not self.one_off:
                mark = decide.advance_mark(self.mapping.synch_int_tbl_mod_on_fltr, seen, started - COMMIT_GRACE)
                if mark != self.mapping.synch_int_tbl_mod_on_fltr:
                    async with write_transaction(self.engine) as conn:
                        await store.save_marks(conn, self.company, self.mapping.name, to_mark=mark, from_mark=None)
        except Exception as exc:
            return await self._pass_failed(exc, job_id, direction, started, counters)
        return await self._finish(job_id, direction, started, counters, message)

    async def _bc_records_to_read(self) -> list[dict[str, Any]]:
        table_id = self.mapping.table_id
        if self.system_ids is not None:
            found = await self.bc.by_system_ids(table_id, self.system_ids)
            return list(found.values())
        if self.crm_ids is not None:
            async with self.engine.connect() as conn:
                cs = await store.couplings(conn, self.company, table_id, crm_ids=self.crm_ids)
            return list((await self.bc.by_system_ids(table_id, [c.integration_id for c in cs])).values())
        async with self.engine.connect() as conn:
            failed = await store.failed_couplings(conn, self.company, table_id, Direction.TO)
        records = dict(await self.bc.by_system_ids(table_id, [c.integration_id for c in failed]))
        since = None if self.force else self.mapping.synch_int_tbl_mod_on_fltr
        for record in await self.bc.changed(table_id, since):
            records.setdefault(str(record["system_id"]).lower(), record)
        return list(records.values())

    async def _to_record(
        self,
        ctx: PassContext,
        counters: Counters,
        record: dict[str, Any],
        coupling: Coupling | None,
        counterpart: dict[str, Any] | None,
    ) -> None:
        direction = Direction.TO
        force = self.force
        try:
            if self.repair and coupling is not None and coupling.skipped and counterpart is None:
                # A full sync restores a coupling to a row Sales lacks even when it was skipped
                # (it failed as "coupled to a deleted record" twice before the full sync ran).
                coupling = dataclasses.replace(coupling, skipped=False)
            if coupling is None and not self.only_coupled:
                found = await self._match_and_couple(ctx, counters, record)
                if found is not None:
                    coupling, counterpart, force = found[0], found[1], True
            decision = decide.decide_record(
                direction,
                coupling,
                only_coupled=self.only_coupled,
                bidirectional=self.mapping.direction == Direction.BIDIRECTIONAL,
                counterpart_exists=counterpart is not None,
                source_time=record.get("system_modified_at"),
                destination_time=parse_sales_time(counterpart.get("modifiedon")) if counterpart else None,
                deletion_resolution=self.mapping.deletion_conflict_resolution,
                source_caption=ctx.bc_caption,
                force=force,
                destination_touched=bool(counterpart and coupling)
                and decide.touched_by_others(
                    parse_sales_time(counterpart.get("modifiedon")) if counterpart else None,
                    counterpart.get("_modifiedby_value") if counterpart else None,
                    coupling.last_synch_crm_modified_on if coupling else None,
                    ctx.integration_user,
                ),
            )
            if decision.action == Action.IGNORE:
                return
            if decision.action == Action.SKIP:
                counters.skipped += 1
                return
            if decision.action == Action.UNCHANGED:
                counters.unchanged += 1
                return
            if decision.action == Action.FAIL:
                await self._fail(ctx, counters, direction, record, coupling, decision.message)
                return
            if decision.action in (Action.REMOVE_COUPLING, Action.RESTORE) and coupling is not None:
                async with write_transaction(self.engine) as conn:
                    await store.delete_coupling(conn, coupling.id)
                counters.uncoupled += 1
                if decision.action == Action.REMOVE_COUPLING:
                    return
                coupling, counterpart = None, None
                found = await self._match_and_couple(ctx, counters, record)
                if found is not None:
                    await self._update_in_sales(ctx, counters, record, found[0], found[1], False)
                    return
            if coupling is None or counterpart is None:
                await self._insert_in_sales(ctx, counters, record)
                return
            await self._update_in_sales(ctx, counters, record, coupling, counterpart, decision.both_modified)
        except RECORD_ERRORS as exc:
            await self._fail(ctx, counters, direction, record, coupling, str(exc))

    async def _match_and_couple(
        self, ctx: PassContext, counters: Counters, record: dict[str, Any]
    ) -> tuple[Coupling, dict[str, Any]] | None:
        """BC's uncoupled-destination matching: a Sales row found for the record (by the table's
        hook) and coupled to nothing else is coupled at once, then force-updated."""
        matched = await self.hooks.match(ctx, record)
        if matched is None:
            return None
        crm_id = str(matched[self.sales_table.key]).lower()
        async with write_transaction(self.engine) as conn:
            if await store.couplings(conn, self.company, self.mapping.table_id, crm_ids=[crm_id]):
                return None
            await store.insert_coupling(conn, self.company, self.mapping.table_id, crm_id, str(record["system_id"]))
            found = await store.couplings(conn, self.company, self.mapping.table_id, crm_ids=[crm_id])
        counters.coupled += 1
        return found[0], matched

    async def _insert_in_sales(self, ctx: PassContext, counters: Counters, record: dict[str, Any]) -> None:
        rows = self.mapping.field_rows(Direction.TO)
        transfer = to_sales(rows, record, None, ctx.lookups)
        if transfer.error:
            await self._fail(ctx, counters, Direction.TO, record, None, transfer.error)
            return
        values = transfer.values
        await self.hooks.complete(ctx, record, values, None)
        row = await self.sales.create_row(self.sales_table.entity_set, values)
        crm_id = str(row[self.sales_table.key]).lower()
        # The coupling once the hooks are done (state, price list line), with Sales' last
        # modifiedon. A crash before it leaves an uncoupled row, which the next run matches.
        error = ""
        try:
            row = await self.hooks.after_write(ctx, record, row, inserted=True)
        except RECORD_ERRORS as exc:
            error = str(exc)
        async with write_transaction(self.engine) as conn:
            await store.insert_coupling(
                conn,
                self.company,
                self.mapping.table_id,
                crm_id,
                str(record["system_id"]),
                last_synch_modified_on=record.get("system_modified_at"),
                last_synch_crm_modified_on=parse_sales_time(row.get("modifiedon")),
                last_synch_crm_result=(SynchResult.FAILURE if error else SynchResult.SUCCESS).value,
                last_synch_crm_error=error,
                last_synch_crm_job_id=ctx.job_id,
            )
            if error:
                await store.log_error(
                    conn, self.company, ctx.job_id, ctx.bc_record_id(record), ctx.sales_record_id(crm_id), error
                )
        counters.inserted += 1
        if error:
            counters.failed += 1

    async def _update_in_sales(
        self,
        ctx: PassContext,
        counters: Counters,
        record: dict[str, Any],
        coupling: Coupling,
        counterpart: dict[str, Any],
        both_modified: bool,
    ) -> None:
        direction = Direction.TO
        transfer = to_sales(self.mapping.field_rows(direction), record, counterpart, ctx.lookups)
        if transfer.error:
            await self._fail(ctx, counters, direction, record, coupling, transfer.error)
            return
        conflict = decide.resolve_update_conflict(
            direction,
            both_modified,
            differing_bidirectional(transfer, direction),
            self.mapping.update_conflict_resolution,
            ctx.bc_caption,
            self.sales_table.caption,
        )
        if conflict.skip:
            counters.skipped += 1
            return
        if not conflict.proceed:
            await self._fail(ctx, counters, direction, record, coupling, conflict.message)
            return
        values = transfer.values
        await self.hooks.complete(ctx, record, values, counterpart)
        crm_time = parse_sales_time(counterpart.get("modifiedon"))
        if values and self.batching and not self.hooks.needs_after_write(values):
            self._pending.append(
                _Pending(record, coupling, values, counterpart.get("@odata.etag"), conflict.wind_back_other)
            )
            if len(self._pending) >= BATCH_SIZE:
                await self._flush(ctx, counters)
            return
        if values:
            try:
                row = await self.sales.update_row(
                    self.sales_table.entity_set, coupling.crm_id, values, etag=counterpart.get("@odata.etag")
                )
            except SalesChangedMeanwhile:
                await self._fail(ctx, counters, direction, record, coupling, CHANGED_MEANWHILE)
                return
            row = await self.hooks.after_write(ctx, record, row, inserted=False)
            counters.modified += 1
            crm_time = parse_sales_time(row.get("modifiedon"))
            if conflict.wind_back_other:
                crm_time = decide.wound_back(crm_time, Direction.TO)
        else:
            if self.repair:  # a full sync also puts right what the hooks keep (the price list line)
                await self.hooks.after_write(ctx, record, counterpart, inserted=False)
            counters.unchanged += 1
            if both_modified:
                crm_time = coupling.last_synch_crm_modified_on  # Sales' change is still to be read
        async with write_transaction(self.engine) as conn:
            await store.update_coupling(
                conn,
                coupling.id,
                last_synch_modified_on=_later(coupling.last_synch_modified_on, record.get("system_modified_at")),
                last_synch_crm_modified_on=crm_time,
                last_synch_crm_result=SynchResult.SUCCESS.value,
                last_synch_crm_job_id=ctx.job_id,
                last_synch_crm_error="",
            )

    async def _flush(self, ctx: PassContext, counters: Counters) -> None:
        """Send the updates waiting for a batch, as one ``$batch``; then their couplings."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        results = await self.sales.update_rows(
            self.sales_table.entity_set, [(p.coupling.crm_id, p.values, p.etag) for p in pending]
        )
        for p, result in zip(pending, results, strict=True):
            if isinstance(result, SalesChangedMeanwhile):
                await self._fail(ctx, counters, Direction.TO, p.record, p.coupling, CHANGED_MEANWHILE)
                continue
            if isinstance(result, Exception):
                await self._fail(ctx, counters, Direction.TO, p.record, p.coupling, str(result))
                continue
            counters.modified += 1
            crm_time = parse_sales_time(result.get("modifiedon"))
            if p.wind_back_other:
                crm_time = decide.wound_back(crm_time, Direction.TO)
            async with write_transaction(self.engine) as conn:
                await store.update_coupling(
                    conn,
                    p.coupling.id,
                    last_synch_modified_on=_later(
                        p.coupling.last_synch_modified_on, p.record.get("system_modified_at")
                    ),
                    last_synch_crm_modified_on=crm_time,
                    last_synch_crm_result=SynchResult.SUCCESS.value,
                    last_synch_crm_job_id=ctx.job_id,
                    last_synch_crm_error="",
                )

    # -- Sales -> BC --------------------------------------------------------------------------

    async def from_sales_pass(self) -> JobSummary:
        direction = Direction.FROM
        started = store.now()
        async with write_transaction(self.engine) as conn:
            job_id = await store.start_job(
                conn, self.company, self.mapping.name, direction.value, started, self.job_queue_entry_id
            )
        counters = Counters()
        if not self.bc.writable:
            message = (
                "Business Central is the system of record (api mode): changes made in Dynamics 365 Sales "
                "are not written to its records here."
            )
            return await self._finish(job_id, direction, started, counters, message)
        message = ""
        try:
            ctx = await self._context(direction, job_id)
            rows = await self._sales_rows_to_read()
            key = self.sales_table.key
            async with self.engine.connect() as conn:
                coupled = {
                    c.crm_id: c
                    for c in await store.couplings(
                        conn, self.company, self.mapping.table_id, crm_ids=[str(r[key]) for r in rows]
                    )
                }
            records = await self.bc.by_system_ids(self.mapping.table_id, [c.integration_id for c in coupled.values()])
            seen: dt.datetime | None = None
            for index, row in enumerate(rows):
                seen = _later(seen, parse_sales_time(row.get("modifiedon")))
                coupling = coupled.get(str(row[key]).lower())
                record = records.get(coupling.integration_id) if coupling else None
                await self._from_row(ctx, counters, row, coupling, record)
                if self.progress:
                    self.progress(self.mapping.name, index + 1, len(rows))
            if not self.one_off:
                mark = decide.advance_mark(self.mapping.synch_modified_on_filter, seen, started)
                if mark != self.mapping.synch_modified_on_filter:
                    async with write_transaction(self.engine) as conn:
                        await store.save_marks(conn, self.company, self.mapping.name, to_mark=None, from_mark=mark)
        except Exception as exc:
            return await self._pass_failed(exc, job_id, direction, started, counters)
        return await self._finish(job_id, direction, started, counters, message)

    async def _sales_rows_to_read(self) -> list[dict[str, Any]]:
        entity_set = self.sales_table.entity_set
        if self.crm_ids is not None:
            return list((await self.sales.rows_by_id(entity_set, self.crm_ids)).values())
        if self.system_ids is not None:
            async with self.engine.connect() as conn:
                cs = await store.couplings(conn, self.company, self.mapping.table_id, integration_ids=self.system_ids)
            return list((await self.sales.rows_by_id(entity_set, [c.crm_id for c in cs])).values())
        async with self.engine.connect() as conn:
            failed = await store.failed_couplings(conn, self.company, self.mapping.table_id, Direction.FROM)
        rows = dict(await self.sales.rows_by_id(entity_set, [c.crm_id for c in failed]))
        user = await self.sales.integration_user_id() if self.mapping.filters_integration_user() else None
        since = None if self.force else decide.from_pass_since(self.mapping.synch_modified_on_filter)
        for row in await self.sales.changed_rows(entity_set, self.mapping.integration_table_filter, since, user):
            rows.setdefault(str(row[self.sales_table.key]).lower(), row)
        return list(rows.values())

    async def _from_row(
        self,
        ctx: PassContext,
        counters: Counters,
        row: dict[str, Any],
        coupling: Coupling | None,
        record: dict[str, Any] | None,
    ) -> None:
        direction = Direction.FROM
        try:
            # Records are not created in BC from Sales here: an uncoupled row is left alone.
            decision = decide.decide_record(
                direction,
                coupling,
                only_coupled=True,
                bidirectional=self.mapping.direction == Direction.BIDIRECTIONAL,
                counterpart_exists=record is not None,
                source_time=parse_sales_time(row.get("modifiedon")),
                destination_time=record.get("system_modified_at") if record else None,
                deletion_resolution=self.mapping.deletion_conflict_resolution,
                source_caption=self.sales_table.caption,
                force=self.force,
                source_touched=coupling is not None
                and decide.touched_by_others(
                    parse_sales_time(row.get("modifiedon")),
                    row.get("_modifiedby_value"),
                    coupling.last_synch_crm_modified_on,
                    ctx.integration_user,
                ),
            )
            if decision.action == Action.IGNORE:
                return
            if decision.action == Action.SKIP:
                counters.skipped += 1
                return
            if decision.action == Action.UNCHANGED:
                counters.unchanged += 1
                return
            if decision.action == Action.FAIL or coupling is None:
                await self._fail_from(ctx, counters, row, coupling, decision.message)
                return
            if decision.action in (Action.REMOVE_COUPLING, Action.RESTORE):
                # Restoring a BC record from Sales is not done here: the coupling goes either way.
                async with write_transaction(self.engine) as conn:
                    await store.delete_coupling(conn, coupling.id)
                counters.uncoupled += 1
                return
            assert record is not None
            transfer = to_bc(
                self.mapping.field_rows(direction), row, record, ctx.lookups, _bc_fields(self.mapping.table_id)
            )
            if transfer.error:
                await self._fail_from(ctx, counters, row, coupling, transfer.error)
                return
            conflict = decide.resolve_update_conflict(
                direction,
                decision.both_modified,
                differing_bidirectional(transfer, direction),
                self.mapping.update_conflict_resolution,
                self.sales_table.caption,
                ctx.bc_caption,
            )
            if conflict.skip:
                counters.skipped += 1
                return
            if not conflict.proceed:
                await self._fail_from(ctx, counters, row, coupling, conflict.message)
                return
            bc_time = record.get("system_modified_at")
            if transfer.values:
                updated = await self.bc.update(self.mapping.table_id, str(record["system_id"]), transfer.values)
                counters.modified += 1
                bc_time = updated.get("system_modified_at")
                if conflict.wind_back_other:
                    bc_time = decide.wound_back(bc_time, Direction.FROM)
            else:
                counters.unchanged += 1
                if decision.both_modified:
                    bc_time = coupling.last_synch_modified_on  # BC's change is still to be sent
            async with write_transaction(self.engine) as conn:
                await store.update_coupling(
                    conn,
                    coupling.id,
                    last_synch_modified_on=bc_time,
                    last_synch_crm_modified_on=_later(
                        coupling.last_synch_crm_modified_on, parse_sales_time(row.get("modifiedon"))
                    ),
                    last_synch_result=SynchResult.SUCCESS.value,
                    last_synch_job_id=ctx.job_id,
                    last_synch_error="",
                )
        except RECORD_ERRORS as exc:
            await self._fail_from(ctx, counters, row, coupling, str(exc))

    # -- failures and the log -----------------------------------------------------------------

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


async def run_mapping(
    engine: AsyncEngine,
    company: str,
    name: str,
    sales: SalesPort,
    bc: BcRecords,
    *,
    system_ids: Sequence[str] | None = None,
    crm_ids: Sequence[str] | None = None,
    force: bool = False,
    only_coupled: bool | None = None,
    direction: Direction | None = None,
    job_queue_entry_id: str | None = None,
    progress: Progress | None = None,
    deletion_resolution: DeletionConflictResolution | None = None,
) -> RunResult:
    """Run one mapping's passes; one Integration Synch. Job row per pass (see docs/sync.md)."""
    async with engine.connect() as conn:
        mapping = await store.load_mapping(conn, company, canonical_name(name))
    if mapping is None:
        raise MappingNotFound(f"The Integration Table Mapping {name} does not exist.")
    run = MappingRun(
        engine,
        company,
        mapping,
        sales,
        bc,
        system_ids=[i.lower() for i in system_ids] if system_ids is not None else None,
        crm_ids=[i.lower() for i in crm_ids] if crm_ids is not None else None,
        force=force,
        only_coupled=only_coupled,
        job_queue_entry_id=job_queue_entry_id,
        progress=progress,
        deletion_resolution=deletion_resolution,
    )
    result = RunResult(mapping.name)
    if direction is not None and not mapping.runs(direction):
        raise MappingNotFound(
            f"The Integration Table Mapping {mapping.name} is not configured for {direction.value} synchronization."
        )
    if mapping.runs(Direction.TO) and direction in (None, Direction.TO):
        result.jobs.append(await run.to_sales_pass())
    if mapping.runs(Direction.FROM) and direction in (None, Direction.FROM):
        result.jobs.append(await run.from_sales_pass())
    return result
