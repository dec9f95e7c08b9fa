"""The order worker: claims inbox rows, turns them into BC documents, writes back to Sales.

Runs inside `bc-gateway serve` (unless --no-worker) or alone as `bc-gateway worker`; several can
run against one PostgreSQL database. The worker also runs the synchronisation jobs with Sales
(orders/sync/scheduler.py, docs/sync.md) unless BCGW_SYNC_JOBS is off. A rule failure (BC's
message) waits for a person; a passing failure (Sales or the database away) is retried with
backoff up to `max_attempts`. The write-back to Sales is retried on its own and never creates the
BC document again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.bc_link.from_setup import BcLink
from orders.bc_link.writer import ApiWriter
from orders.bc_writer import BcWriter, EmbeddedWriter
from orders.change_setup import load_connection_setup
from orders.create_bc_sales_order import Outcome, WaitsForSales, create_bc_sales_order
from orders.dataverse.client import DataverseClient, DataverseError
from orders.dataverse.setup_client import NOT_SET_UP, SetupClient
from orders.dataverse.webapi import deadline
from orders.error_notes import send_due_notes
from orders.inbox import QUOTE, SALESORDER, InboxRow
from orders.inbox.states import InboxEvent, InboxState, Source
from orders.process_bc_sales_quote import process_bc_sales_quote
from orders.process_inbox_row import Handler, InboxRowProcessing, NotConfigured, RuleFailure
from orders.settings import ProcessingSettings
from orders.setup import ConnectionSetup
from orders.sync.api import SyncScheduler, dataverse_sales
from orders.sync.log_view import prune as prune_synch_log
from orders.sync.ports import SalesPort
from orders.wake import woken

log = logging.getLogger("bcgw.worker")


PRUNE_EVERY = 3600.0
# A won quote whose order's row another task holds tries again this soon (that task is short).
BUSY_RETRY = 1.0


class OrderWorker(InboxRowProcessing):
    def __init__(
        self,
        engine: AsyncEngine,
        settings: ProcessingSettings,
        *,
        owner: str | None = None,
        today: Callable[[], dt.date] | None = None,
        client_options: dict[str, Any] | None = None,
        bc_link: BcLink | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.company = settings.company
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # BC dates documents by the company's calendar, not UTC's.
        zone = ZoneInfo(settings.time_zone)
        self.today = today or (lambda: dt.datetime.now(zone).date())
        self.client_options = client_options or {}
        self._wake = asyncio.Event()
        self._sales = SetupClient()
        self._last_reconcile = 0.0
        self._last_prune = 0.0
        self.concurrency = max(1, settings.worker_concurrency)
        # Inbox row id -> the task working on it (processing or write-back), while it runs.
        self._tasks: dict[int, asyncio.Task[Any]] = {}
        self._reconcile_task: asyncio.Task[int] | None = None
        self._notes_task: asyncio.Task[int] | None = None
        # Inbox row id -> the Sales number read while processing it, stored with its outcome.
        self.sales_numbers: dict[int, str] = {}
        # Where BC documents are stored (orders/bc_writer.py): in api mode through the process's one
        # BC client (the gateway's BcLink, shared with the mirror; a worker alone makes its own).
        self.bc_link = bc_link or BcLink()
        self._own_bc_link = bc_link is None
        self.bc_writer: BcWriter | None = None  # a test may set one
        self._api_writer: ApiWriter | None = None
        # The synchronisation jobs (docs/sync.md), run beside the inbox in the same process.
        self.sync: SyncScheduler | None = None
        if getattr(settings, "sync_jobs", False):
            self.sync = SyncScheduler(
                engine,
                self.company,
                self._sync_sales,
                owner=f"{self.owner}:sync",
                tick=settings.sync_poll_interval,
                wake_delay=settings.sync_wake_seconds,
                notes_probe=getattr(settings, "sync_notes_probe_seconds", 10.0),
            )
        self.handlers: dict[tuple[str, str], Handler] = {
            (SALESORDER, InboxEvent.SUBMIT): _order_submit,
            (QUOTE, InboxEvent.ACTIVATE): _quote,
            (QUOTE, InboxEvent.WIN): _quote,
            (QUOTE, InboxEvent.CHECK): _quote,
        }

    # -- lifecycle --------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def wake_sync(self) -> None:
        """A change in BC (the change feed): the synchronisation jobs look at once."""
        if self.sync is not None:
            self.sync.wake()

    async def _sync_sales(self) -> SalesPort | None:
        """Sales for the synchronisation jobs; None while the Dataverse connection is not set up."""
        try:
            return dataverse_sales(self.client(await self._setup()))
        except NotConfigured:
            return None

    async def close(self) -> None:
        await self._sales.close()
        if self._own_bc_link:
            await self.bc_link.aclose()

    async def run(self) -> None:
        """Forever: keep up to `worker_concurrency` rows in hand. A row that ends frees its slot
        for the next due row at once, so one slow Sales call never holds up the others."""
        loop = asyncio.get_running_loop()
        sync_task = asyncio.create_task(self.sync.run(), name="sync-jobs") if self.sync is not None else None
        try:
            while True:
                filled = False
                try:
                    filled = await self._start_due()
                    interval = self.settings.reconcile_interval
                    if interval and loop.time() - self._last_reconcile >= interval and not self._reconciling():
                        self._last_reconcile = loop.time()
                        # In the background: it pages through Sales and must not keep slots idle.
                        self._reconcile_task = asyncio.create_task(self.reconcile(), name="reconcile")
                    if not self._sending_notes():
                        self._notes_task = asyncio.create_task(self.send_notes(), name="notes")
                    if loop.time() - self._last_prune >= PRUNE_EVERY:
                        self._last_prune = loop.time()
                        await inbox.prune(self.engine, self.settings.retention_days)
                        await prune_synch_log(self.engine, self.settings.retention_days)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be away; try again after a pause
                    log.warning("worker cycle failed: %s: %s", type(exc).__name__, exc)
                if not filled:
                    await self._pause()
        finally:
            if sync_task is not None:
                sync_task.cancel()
                # gather hands back the task's own cancellation (or error) as a result, and lets
                # a cancellation of this task through; suppress() would swallow both alike.
                await asyncio.gather(sync_task, return_exceptions=True)
            await self._stop_tasks()
            await self.close()

    def _sending_notes(self) -> bool:
        return self._notes_task is not None and not self._notes_task.done()

    def _reconciling(self) -> bool:
        return self._reconcile_task is not None and not self._reconcile_task.done()

    async def _start_due(self) -> bool:
        """Claim due rows, then due write-backs, for the free slots and start a task for each.
        True when every free slot was filled (more may be due: look again at once)."""
        # Cleared before claiming, so that a wake coming meanwhile is not lost; cleared when every
        # slot is taken too, or the pause would not pause (a freed slot wakes the loop anyway).
        self._wake.clear()
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return False
        setup, rows = await self._claim_rows(free)
        for row in rows:
            self._spawn(row.id, self.process(row, setup))
        writebacks = await self._claim_writebacks(free - len(rows)) if free > len(rows) else []
        for row in writebacks:
            self._spawn(row.id, self.write_back(row, setup))
        return len(rows) + len(writebacks) == free

    def _spawn(self, row_id: int, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work, name=f"inbox-row-{row_id}")
        self._tasks[row_id] = task

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.pop(row_id, None)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("inbox row %s: %s", row_id, finished.exception())
            self._wake.set()  # a slot is free

        task.add_done_callback(done)

    async def _pause(self) -> None:
        """Until woken (a delivery, a freed slot) or the poll interval has passed."""
        await woken(self._wake, self.settings.worker_poll_interval)

    async def _stop_tasks(self) -> None:
        """On shutdown: the rows in hand stop; their leases run out and another pass takes them."""
        tasks = [
            *self._tasks.values(),
            *(task for task in (self._reconcile_task, self._notes_task) if task is not None),
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_once(self) -> int:
        """One pass: due inbox rows (up to `worker_concurrency`, at once), then due write-backs
        (those of the rows just created too). Returns how many were handled."""
        setup, rows = await self._claim_rows(self.concurrency)
        results = await asyncio.gather(*(self.process(row, setup) for row in rows))
        writebacks = await self._claim_writebacks(self.concurrency)
        await asyncio.gather(*(self.write_back(row, setup) for row in writebacks))
        await self.send_notes()
        return len(results) + len(writebacks)

    async def _claim_rows(self, limit: int) -> tuple[ConnectionSetup, list[InboxRow]]:
        setup = await self._setup()
        auto = tuple(
            table
            for table, on in ((SALESORDER, setup.auto_create_sales_orders), (QUOTE, setup.auto_process_sales_quotes))
            if on and setup.sales_order_integration_enabled
        )
        rows = await inbox.claim(
            self.engine,
            self.owner,
            self.settings.lease_seconds,
            limit=limit,
            auto_tables=auto,
            company=self.company,
            exclude=tuple(self._tasks),
        )
        if rows:
            # Claiming may have waited for the database's write lock: decide on the setup as it is now.
            setup = await self._setup()
        return setup, rows

    async def _claim_writebacks(self, limit: int) -> list[InboxRow]:
        return await inbox.claim_writebacks(
            self.engine,
            self.owner,
            self.settings.lease_seconds,
            limit=limit,
            company=self.company,
            exclude=tuple(self._tasks),
        )

    async def _setup(self) -> ConnectionSetup:
        async with self.engine.connect() as conn:
            return await load_connection_setup(conn)

    def client(self, setup: ConnectionSetup) -> DataverseClient:
        options = {
            "timeout": self.settings.sales_timeout,
            "max_retry_after": self.settings.sales_max_wait,
            **self.client_options,
        }
        client = self._sales.client(setup, options)
        if client is None:
            raise NotConfigured(NOT_SET_UP)
        return client

    async def writer(self, setup: ConnectionSetup) -> BcWriter:
        """Where BC documents go: BC's API in api mode, the embedded tables otherwise."""
        if self.bc_writer is not None:
            return self.bc_writer
        if not setup.bc_api_mode:
            return EmbeddedWriter()
        self.bc_link.update(setup)
        client = await self.bc_link.client()
        if self._api_writer is None or self._api_writer.client is not client:
            self._api_writer = ApiWriter(client, settle_seconds=self.settings.bc_settle_seconds)
        return self._api_writer

    # -- write-back -----------------------------------------------------------------------------
    async def write_back(self, row: InboxRow, setup: ConnectionSetup | None = None) -> bool:
        """lastbackofficesubmit := today on the Sales order (Active -> date -> Submitted)."""
        setup = setup or await self._setup()
        try:
            if row.table_name == SALESORDER:
                client = self.client(setup)
                with deadline(self.settings.sales_deadline):
                    await client.write_back_submitted_order(row.sales_id, self.today())
            ok, error = True, ""
        except DataverseError as exc:
            ok, error = False, exc.describe()
            log.warning("write-back of %s %s failed: %s", row.table_name, row.sales_id, error)
        except (NotConfigured, aiohttp.ClientError, TimeoutError, OSError) as exc:
            ok, error = False, str(exc) or type(exc).__name__
            log.warning("write-back of %s %s failed: %s", row.table_name, row.sales_id, error)
        await inbox.finish_writeback(
            self.engine,
            row.id,
            self.owner,
            ok,
            error,
            max_attempts=self.settings.max_attempts,
            base_delay=self.settings.retry_base_delay,
        )
        return ok

    # -- notes in Sales ------------------------------------------------------------------------------
    async def send_notes(self) -> int:
        """The notes the inbox owes Sales (orders/error_notes.py); how many rows were done."""
        try:
            setup = await self._setup()
            with deadline(self.settings.sales_deadline):
                return await send_due_notes(
                    self.engine,
                    self.company,
                    lambda: self.client(setup),
                    enabled=setup.error_notes,
                    max_attempts=self.settings.max_attempts,
                    base_delay=self.settings.retry_base_delay,
                )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("sending notes to Sales failed: %s: %s", type(exc).__name__, exc)
            return 0

    # -- reconciliation -------------------------------------------------------------------------
    async def reconcile(self) -> int:
        from orders.reconcile import reconcile

        setup = await self._setup()
        if not setup.sales_order_integration_enabled:
            return 0
        try:
            return await reconcile(self.engine, self.company, self.client(setup))
        except (DataverseError, NotConfigured, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("reconciliation with Sales failed: %s", exc)
            return 0


async def _order_submit(worker: OrderWorker, row: InboxRow, client: DataverseClient, writer: BcWriter) -> Outcome:
    def on_read(number: str) -> None:
        worker.sales_numbers[row.id] = number

    return await create_bc_sales_order(
        worker.engine, worker.company, client, row, worker.owner, worker.today(), writer, on_read=on_read
    )


async def _quote(worker: OrderWorker, row: InboxRow, client: DataverseClient, writer: BcWriter) -> Outcome:
    async def create_order(order_id: str) -> str:
        """A won quote's submitted order, by the order rules, on the order's own inbox row."""
        order_row, _created = await inbox.enqueue(
            worker.engine, worker.company, SALESORDER, order_id, InboxEvent.SUBMIT, source=Source.QUOTE
        )
        claimed = await inbox.claim_one(worker.engine, order_row.id, worker.owner, worker.settings.lease_seconds)
        if claimed is None:
            # Another task of ours holds the order's row for a moment: look again shortly.
            raise WaitsForSales(
                None, "busy", "The Sales order of this quote is being processed right now.", retry_after=BUSY_RETRY
            )
        result = await worker.process(claimed, force=True)
        if result.state == InboxState.CREATED or (result.state == InboxState.IGNORED and result.document_no):
            return result.document_no
        if result.state == InboxState.FAILED and not result.will_retry:
            raise RuleFailure(result.message)
        raise WaitsForSales(None, "not_created", result.message)

    return await process_bc_sales_quote(
        worker.engine, worker.company, client, row, worker.owner, worker.today(), create_order, writer
    )
