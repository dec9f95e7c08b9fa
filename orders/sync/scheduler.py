"""The synchronisation jobs inside the worker: due job queue entries are claimed and run; a change
in BC wakes its mapping within seconds; each interval a sleeping mapping asks Sales (``$top=1``)
whether anything changed there.

Several workers may run this against one PostgreSQL database: each entry is claimed by one of
them (orders/sync/jobs.py), so a job never runs twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import decide, store
from orders.sync.bc_records import TableRecords
from orders.sync.defaults import (
    INTEGRATION_SYNCH_JOB_RUNNER,
    ITEM_AVAILABILITY_JOB,
    NOTES_JOB,
    ORDER_STATUS_JOB,
    SALES_TABLES,
    STATISTICS_JOB,
)
from orders.sync.engine import run_mapping
from orders.sync.item_availability import run_item_availability
from orders.sync.jobs import JobEntry, JobQueue
from orders.sync.model import TableMapping
from orders.sync.notes_job import in_api_mode, run_notes, sales_has_news
from orders.sync.order_status_job import run_order_status
from orders.sync.ports import BcRecords, SalesPort, SalesUnavailable
from orders.sync.statistics_job import run_statistics
from orders.wake import woken
from schemas import change_log as changes
from schemas import tables as t

log = logging.getLogger("bcgw.sync.jobs")

SalesFactory = Callable[[], Awaitable[SalesPort | None]]
BcFactory = Callable[[], Awaitable[BcRecords]]
NOT_ENABLED = "The Microsoft Dynamics 365 Sales connection is not enabled."
FAILED_CYCLE_PAUSE = 30.0  # after a cycle failed: not a warning every tick


class SyncScheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        company: str,
        sales_factory: SalesFactory,
        *,
        bc_factory: BcFactory | None = None,
        owner: str | None = None,
        tick: float = 1.0,
        lease_seconds: float = 300.0,
        wake_delay: float = 1.0,
        notes_probe: float = 10.0,
    ) -> None:
        self.engine = engine
        self.company = company
        self.sales_factory = sales_factory
        self.bc_factory = bc_factory or self._table_records
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:sync:{uuid.uuid4().hex[:8]}"
        self.tick = tick
        self.lease_seconds = lease_seconds
        self.wake_delay = dt.timedelta(seconds=wake_delay)
        self.queue = JobQueue(engine)
        self._wake = asyncio.Event()
        self._last_seq: int | None = None
        self._defaults_done = False
        # How often the Sales Order Notes job asks Sales whether an annotation came or changed.
        self.notes_probe = dt.timedelta(seconds=notes_probe)
        self._notes_probed_at: dt.datetime | None = None

    async def _table_records(self) -> BcRecords:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.connection_setup.c.bc_mode))).first()
        return TableRecords(self.engine, self.company, writable=not (row and row.bc_mode == "api"))

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            pause = self.tick
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away (or not set up yet): try again later
                log.warning("sync jobs: cycle failed: %s: %s", type(exc).__name__, exc)
                pause = max(self.tick, FAILED_CYCLE_PAUSE)
            self._wake.clear()
            await woken(self._wake, pause)

    async def run_once(self) -> int:
        """Notice changes, poll Sales for sleeping jobs, run the due ones. How many ran."""
        if not self._defaults_done:
            from schemas.db import write_transaction

            async with write_transaction(self.engine) as conn:
                await store.ensure_defaults(conn, self.company)
            self._defaults_done = True
        await self.notice_bc_changes()
        sales: SalesPort | None = None
        ran = 0
        for entry in await self.queue.due(self.company):
            if not await self.queue.claim(entry.id, self.owner, self.lease_seconds):
                continue  # another worker has it
            if sales is None:
                sales = await self._sales()
            await self._run_entry(entry, sales)
            ran += 1
        await self.poll_sales(sales)
        await self.probe_notes(sales)
        return ran

    async def _sales(self) -> SalesPort | None:
        try:
            return await self.sales_factory()
        except Exception as exc:
            log.warning("sync jobs: Sales is not available: %s", exc)
            return None

    # -- waking ---------------------------------------------------------------------------------

    async def notice_bc_changes(self) -> int:
        """Read the change feed since last time: BC master data changed -> wake each mapping with
        records after its mark; inventory moved -> wake item availability. How many entries moved."""
        log_table = t.change_log
        async with self.engine.connect() as conn:
            if self._last_seq is None:
                self._last_seq = (await conn.execute(select(func.coalesce(func.max(log_table.c.seq), 0)))).scalar_one()
                # at start: whatever changed while nobody watched
                topics = {changes.MASTER, changes.ORDER_STATUS, changes.CUST_STATISTICS, changes.NOTES}
            else:
                rows = (
                    await conn.execute(
                        select(log_table.c.seq, log_table.c.topic).where(
                            log_table.c.seq > self._last_seq,
                            log_table.c.company.in_((self.company, "")),
                        )
                    )
                ).all()
                if not rows:
                    return 0
                self._last_seq = max(r.seq for r in rows)
                topics = {r.topic for r in rows}
            # A posted invoice or payment (cust_statistics) has its mapping (POSTEDSALESINV-INV) looked at too.
            wake_mappings = topics & {changes.MASTER, changes.CUST_STATISTICS}
            mappings = await store.load_mappings(conn, self.company) if wake_mappings else []
            names = [
                m.name
                for m in mappings
                if m.enabled and not m.disable_event_job_resch and await store.has_bc_changes(conn, self.company, m)
            ]
        moved = await self.queue.wake(self.company, INTEGRATION_SYNCH_JOB_RUNNER, names, self.wake_delay)
        if changes.ITEM in topics:
            moved += await self.queue.wake(self.company, ITEM_AVAILABILITY_JOB, [""], self.wake_delay)
        if changes.ORDER_STATUS in topics:  # a release, shipment or invoice: Sales hears within seconds
            moved += await self.queue.wake(self.company, ORDER_STATUS_JOB, [""], self.wake_delay)
        if topics & {changes.CUST_STATISTICS, changes.ITEM}:  # a posting, a payment, an order's lines
            moved += await self.queue.wake(self.company, STATISTICS_JOB, [""], self.wake_delay)
        if changes.NOTES in topics:  # a note added to a BC order: Sales has it within seconds
            moved += await self.queue.wake(self.company, NOTES_JOB, [""], self.wake_delay)
        return moved

    async def probe_notes(self, sales: SalesPort | None) -> int:
        """Every ``notes_probe`` seconds: an annotation added or changed on a Sales order since
        the notes job's marks (``$top=1``) wakes the job, unless it is due anyway."""
        at = store.now()
        if self._notes_probed_at is not None and at - self._notes_probed_at < self.notes_probe:
            return 0
        self._notes_probed_at = at
        entry = await self.queue.entry(self.company, NOTES_JOB, "")
        if entry is None or entry.status in ("On Hold", "Finished"):
            return 0
        if entry.next_run is not None and entry.next_run <= at + self.wake_delay:
            return 0
        if await in_api_mode(self.engine):  # the job runs only in embedded mode
            return 0
        sales = sales or await self._sales()
        if sales is None:
            return 0
        try:
            news = await sales_has_news(self.engine, self.company, sales)
        except SalesUnavailable as exc:
            log.warning("sync jobs: could not ask Sales about notes: %s", exc)
            return 0
        return await self.queue.wake(self.company, NOTES_JOB, [""], self.wake_delay) if news else 0

    async def poll_sales(self, sales: SalesPort | None) -> int:
        """Each interval, a sleeping mapping job asks Sales whether a row changed after its mark."""
        at = store.now()
        entries = [
            e
            for e in await self.queue.entries(self.company)
            if e.codeunit == INTEGRATION_SYNCH_JOB_RUNNER
            and e.sleeping
            and (e.last_sales_poll_at is None or e.last_sales_poll_at + dt.timedelta(minutes=e.minutes) <= at)
        ]
        if not entries:
            return 0
        sales = sales or await self._sales()
        if sales is None:
            return 0
        async with self.engine.connect() as conn:
            mappings = {m.name: m for m in await store.load_mappings(conn, self.company)}
        woken = 0
        for entry in entries:
            mapping = mappings.get(entry.mapping_name)
            if mapping is None:
                continue
            try:
                changed = await _sales_changed(sales, mapping)
            except SalesUnavailable as exc:
                log.warning("sync jobs: could not ask Sales about %s: %s", mapping.name, exc)
                continue
            await self.queue.polled_sales(entry.id, at)
            if changed:
                woken += await self.queue.wake(self.company, entry.codeunit, [entry.mapping_name], self.wake_delay)
        return woken

    # -- one entry ------------------------------------------------------------------------------

    async def _keep_lease(self, entry: JobEntry) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.lease_seconds / 3))
            try:
                if not await self.queue.renew(entry.id, self.owner, self.lease_seconds):
                    return
            except SQLAlchemyError as exc:
                log.warning("sync jobs: could not renew the lease of %s: %s", entry.description, exc)

    async def _run_entry(self, entry: JobEntry, sales: SalesPort | None) -> None:
        keeper = asyncio.create_task(self._keep_lease(entry))
        try:
            if sales is None:
                await self.queue.finish(entry, self.owner, activity=False, error=NOT_ENABLED)
                return
            activity = 0
            if entry.codeunit == ORDER_STATUS_JOB:
                status_run = await run_order_status(self.engine, self.company, sales, entry.id)
                await self.queue.finish(entry, self.owner, activity=status_run.activity > 0)
                return
            if entry.codeunit == STATISTICS_JOB:
                stats_run = await run_statistics(self.engine, self.company, sales, entry.id)
                await self.queue.finish(entry, self.owner, activity=stats_run.activity > 0)
                return
            if entry.codeunit == NOTES_JOB:
                notes_run = await run_notes(self.engine, self.company, sales, entry.id)
                await self.queue.finish(entry, self.owner, activity=notes_run.activity > 0)
                return
            bc = await self.bc_factory()
            if entry.codeunit == ITEM_AVAILABILITY_JOB:
                result = await run_item_availability(self.engine, self.company, sales, bc, entry.id)
                activity = result.counters.activity() if result else 0
            else:
                result = await run_mapping(
                    self.engine, self.company, entry.mapping_name, sales, bc, job_queue_entry_id=entry.id
                )
                activity = result.counters.activity()
            await self.queue.finish(entry, self.owner, activity=activity > 0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sync jobs: %s failed: %s: %s", entry.description, type(exc).__name__, exc)
            with contextlib.suppress(Exception):
                await self.queue.finish(entry, self.owner, activity=True, error=f"{type(exc).__name__}: {exc}")
        finally:
            keeper.cancel()
            # Not suppress(CancelledError) around the await: that would also swallow the
            # cancellation of this task (a worker stopping while a job ends), and the loop would
            # go on. gather() hands back the keeper's own cancellation as a result.
            await asyncio.gather(keeper, return_exceptions=True)


async def _sales_changed(sales: SalesPort, mapping: TableMapping) -> bool:
    from orders.sync.model import Direction

    if not mapping.runs(Direction.FROM):
        return False
    user = await sales.integration_user_id() if mapping.filters_integration_user() else None
    since = decide.from_pass_since(mapping.synch_modified_on_filter)
    return await sales.any_changed(
        SALES_TABLES[mapping.integration_table].entity_set, mapping.integration_table_filter, since, user
    )
