"""A mapping's Sales -> BC pass (bc-sync.md §1.3): the Sales rows changed since the mark (not by the
integration user), the decision for each, BC's record modified through our tables, the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orders.sync import decide, store
from orders.sync.context import PassContext, parse_sales_time
from orders.sync.decide import Action
from orders.sync.model import (
    Counters,
    Coupling,
    Direction,
    JobSummary,
    SynchResult,
)
from orders.sync.run_base import (
    RECORD_ERRORS,
    MappingRunBase,
    _bc_fields,
    _later,
)
from orders.sync.transfer import differing_bidirectional, to_bc
from schemas.db import write_transaction


class FromSalesPass(MappingRunBase):
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
                    row.get("@odata.etag"),
                    coupling.last_synch_crm_etag,
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
                    last_synch_crm_etag=str(row.get("@odata.etag") or ""),
                    last_synch_result=SynchResult.SUCCESS.value,
                    last_synch_job_id=ctx.job_id,
                    last_synch_error="",
                )
        except RECORD_ERRORS as exc:
            await self._fail_from(ctx, counters, row, coupling, str(exc))

    # -- failures and the log -----------------------------------------------------------------
