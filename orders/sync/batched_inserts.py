"""A BC -> Sales pass's new rows in ``$batch`` requests (docs/sync.md, "What a run does").

While the pass is batching, an insert whose table hooks can tell the writes that follow it (a
product's price list line and state: ``Hooks.follow_insert``) waits; BATCH_SIZE of them go to Sales
in one ``$batch``, each new row and its writes in a change set of its own, so that Sales keeps all of
them or none and a refused one does not stop the others. Then each is coupled, as an insert one at
a time is, with the row as Sales holds it after its writes (read back in chunks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orders.sync import store
from orders.sync.context import PassContext, parse_sales_time
from orders.sync.model import Counters, Direction, SynchResult
from orders.sync.ports import NewRow
from orders.sync.run_base import BATCH_SIZE, MappingRunBase
from schemas.db import write_transaction


@dataclass
class _PendingInsert:
    record: dict[str, Any]
    new: NewRow


class BatchedInserts(MappingRunBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inserts: list[_PendingInsert] = []
        self._insert_ids = 0  # the content ids the waiting inserts and their writes take

    async def _queue_insert(
        self, ctx: PassContext, counters: Counters, record: dict[str, Any], values: dict[str, Any]
    ) -> bool:
        """Keep the insert for the next ``$batch``; False when it is to go alone (the pass is not
        batching, or the hooks can only act once the row exists)."""
        if not self.batching:
            return False
        content_id = self._insert_ids + 1
        then = await self.hooks.follow_insert(ctx, record, values, f"${content_id}")
        if then is None:
            return False
        self._inserts.append(_PendingInsert(record, NewRow(values, str(content_id), tuple(then))))
        self._insert_ids += 1 + len(then)
        if len(self._inserts) >= BATCH_SIZE:
            await self._flush_inserts(ctx, counters)
        return True

    async def _flush_inserts(self, ctx: PassContext, counters: Counters) -> None:
        """Send the waiting inserts as one ``$batch``; then their couplings. A refused change set
        fails its record with Sales' message, as a refused insert does: nothing of it is in Sales,
        so there is nothing to couple."""
        pending, self._inserts, self._insert_ids = self._inserts, [], 0
        if not pending:
            return
        results = await self.sales.create_rows(self.sales_table.entity_set, [p.new for p in pending])
        created: list[dict[str, Any]] = []
        for p, result in zip(pending, results, strict=True):
            if isinstance(result, Exception):
                await self._fail(ctx, counters, Direction.TO, p.record, None, str(result))
                continue
            created.append(self._coupling_values(ctx, p.record, result, ""))
        # The batch's couplings in one statement: one transaction per row cost more than the
        # rows' share of the $batch. Should it fail, none is kept and the next run matches the
        # new rows by their number, as after a crash between the create and the coupling.
        async with write_transaction(self.engine) as conn:
            await store.insert_couplings(conn, self.company, self.mapping.table_id, created)
        counters.inserted += len(created)

    def _coupling_values(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], error: str
    ) -> dict[str, Any]:
        """A new row's coupling, with Sales' last ``modifiedon`` and ETag once its writes are done."""
        return {
            "crm_id": str(row[self.sales_table.key]).lower(),
            "integration_id": str(record["system_id"]),
            "last_synch_modified_on": record.get("system_modified_at"),
            "last_synch_crm_modified_on": parse_sales_time(row.get("modifiedon")),
            "last_synch_crm_etag": str(row.get("@odata.etag") or ""),
            "last_synch_crm_result": (SynchResult.FAILURE if error else SynchResult.SUCCESS).value,
            "last_synch_crm_error": error,
            "last_synch_crm_job_id": ctx.job_id,
        }

    async def _couple_new(
        self, ctx: PassContext, counters: Counters, record: dict[str, Any], row: dict[str, Any], error: str
    ) -> None:
        """Couple a row just created in Sales, with Sales' last ``modifiedon`` and ETag once the
        writes after it are done; ``error``: what failed after it (a hook's), logged against it."""
        values = self._coupling_values(ctx, record, row, error)
        crm_id = values["crm_id"]
        async with write_transaction(self.engine) as conn:
            await store.insert_couplings(conn, self.company, self.mapping.table_id, [values])
            if error:
                await store.log_error(
                    conn, self.company, ctx.job_id, ctx.bc_record_id(record), ctx.sales_record_id(crm_id), error
                )
        counters.inserted += 1
        if error:
            counters.failed += 1
