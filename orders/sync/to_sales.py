"""A mapping's BC -> Sales pass (bc-sync.md §1.3–§1.4): the BC records to look at, the decision for
each, inserts and updates in Sales (both batched: inserts in orders/sync/batched_inserts.py), the
couplings and the log."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from orders.sync import decide, filters, store
from orders.sync.batched_inserts import BatchedInserts
from orders.sync.context import PassContext, parse_sales_time
from orders.sync.decide import Action
from orders.sync.model import (
    Counters,
    Coupling,
    Direction,
    JobSummary,
    SynchResult,
)
from orders.sync.ports import SalesChangedMeanwhile
from orders.sync.run_base import (
    BATCH_MIN,
    BATCH_SIZE,
    CHANGED_MEANWHILE,
    COMMIT_GRACE,
    RECORD_ERRORS,
    _later,
    _Pending,
)
from orders.sync.transfer import differing_bidirectional, to_sales
from schemas.db import write_transaction


class ToSalesPass(BatchedInserts):
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
                if (coupling is None or self.hooks.keeps_table_filter) and not filters.accepts(
                    self.mapping.table_filter, record
                ):
                    continue  # outside the table filter; a coupled one still goes (a blocked item retires)
                counterpart = counterparts.get(coupling.crm_id) if coupling else None
                await self._to_record(ctx, counters, record, coupling, counterpart)
                if self.progress:
                    self.progress(self.mapping.name, index + 1, len(records))
            await self._flush(ctx, counters)
            await self._flush_inserts(ctx, counters)
            await self.hooks.after_pass(ctx, records)  # a price group's prices follow it (§6)
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
            return _oldest_change_first(found.values())
        if self.crm_ids is not None:
            async with self.engine.connect() as conn:
                cs = await store.couplings(conn, self.company, table_id, crm_ids=self.crm_ids)
            return _oldest_change_first(
                (await self.bc.by_system_ids(table_id, [c.integration_id for c in cs])).values()
            )
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
                    counterpart.get("@odata.etag") if counterpart else None,
                    coupling.last_synch_crm_etag if coupling else "",
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
        if await self._queue_insert(ctx, counters, record, values):
            return
        row = await self.sales.create_row(self.sales_table.entity_set, values)
        # The coupling once the hooks are done (state, price list line), with Sales' last
        # modifiedon. A crash before it leaves an uncoupled row, which the next run matches.
        error = ""
        try:
            row = await self.hooks.after_write(ctx, record, row, inserted=True)
        except RECORD_ERRORS as exc:
            error = str(exc)
        await self._couple_new(ctx, counters, record, row, error)

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
        crm_etag = str(counterpart.get("@odata.etag") or "")
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
            crm_etag = str(row.get("@odata.etag") or "")
            if conflict.wind_back_other:
                crm_time, crm_etag = decide.wound_back(crm_time, Direction.TO), ""
        else:
            if self.repair:  # a full sync also puts right what the hooks keep (the price list line)
                await self.hooks.after_write(ctx, record, counterpart, inserted=False)
            counters.unchanged += 1
            if both_modified:
                crm_time = coupling.last_synch_crm_modified_on  # Sales' change is still to be read
                crm_etag = coupling.last_synch_crm_etag
        async with write_transaction(self.engine) as conn:
            await store.update_coupling(
                conn,
                coupling.id,
                last_synch_modified_on=_later(coupling.last_synch_modified_on, record.get("system_modified_at")),
                last_synch_crm_modified_on=crm_time,
                last_synch_crm_etag=crm_etag,
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
            crm_etag = str(result.get("@odata.etag") or "")
            if p.wind_back_other:
                crm_time, crm_etag = decide.wound_back(crm_time, Direction.TO), ""
            async with write_transaction(self.engine) as conn:
                await store.update_coupling(
                    conn,
                    p.coupling.id,
                    last_synch_modified_on=_later(
                        p.coupling.last_synch_modified_on, p.record.get("system_modified_at")
                    ),
                    last_synch_crm_modified_on=crm_time,
                    last_synch_crm_etag=crm_etag,
                    last_synch_crm_result=SynchResult.SUCCESS.value,
                    last_synch_crm_job_id=ctx.job_id,
                    last_synch_crm_error="",
                )

    # -- Sales -> BC --------------------------------------------------------------------------


def _oldest_change_first(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records named by id in the order a scheduled pass reads them (BC's changed() order): the
    same outcome whichever database answered, e.g. which of two prices gets a list's item."""
    return sorted(
        records, key=lambda r: (r.get("system_modified_at") is not None, r.get("system_modified_at") or _EPOCH)
    )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
