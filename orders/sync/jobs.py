"""The synchronisation's job queue entries (BC's Job Queue Entry, bc-sync.md §1.8).

Each entry recurs every N minutes; after a run with no activity (Inserted + Modified + Deleted +
Failed = 0) it goes "On Hold with Inactivity Timeout" and its next run is pushed back by the
inactivity period. A change in BC brings a mapping's entry forward to a few seconds from now, and
each interval a sleeping entry asks Sales (``$top=1``) whether anything changed there.

The lock: an entry is claimed by one conditional UPDATE of its lease (``lease_until`` in the past
or empty), so of several workers on one PostgreSQL database only one runs a job at a time; a lease
is renewed while the job runs and runs out if its worker dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync.defaults import FULL_SYNC_PRIORITY, INTEGRATION_SYNCH_JOB_RUNNER, canonical_name
from orders.sync.store import now
from schemas import tables as t
from schemas.db import write_transaction

READY = "Ready"
IN_PROCESS = "In Process"
ERROR = "Error"
SLEEPING = "On Hold with Inactivity Timeout"


@dataclass(frozen=True, slots=True)
class JobEntry:
    id: str
    company: str
    codeunit: int
    mapping_name: str
    description: str
    status: str
    minutes: int
    inactivity: int
    next_run: dt.datetime | None
    attempts: int
    max_attempts: int
    rerun_delay: int
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_sales_poll_at: dt.datetime | None
    error_message: str
    lease_owner: str | None
    lease_until: dt.datetime | None

    @property
    def sleeping(self) -> bool:
        return self.status == SLEEPING


def _entry(row: object) -> JobEntry:
    r = row  # a Row of job_queue_entry
    return JobEntry(
        id=r.id,  # type: ignore[attr-defined]
        company=r.company,  # type: ignore[attr-defined]
        codeunit=r.object_id_to_run,  # type: ignore[attr-defined]
        mapping_name=r.record_id_to_process,  # type: ignore[attr-defined]
        description=r.description,  # type: ignore[attr-defined]
        status=r.status,  # type: ignore[attr-defined]
        minutes=r.no_of_minutes_between_runs,  # type: ignore[attr-defined]
        inactivity=r.inactivity_timeout_period,  # type: ignore[attr-defined]
        next_run=r.earliest_start_date_time,  # type: ignore[attr-defined]
        attempts=r.no_of_attempts_to_run,  # type: ignore[attr-defined]
        max_attempts=r.maximum_no_of_attempts_to_run,  # type: ignore[attr-defined]
        rerun_delay=r.rerun_delay_sec,  # type: ignore[attr-defined]
        last_started_at=r.last_started_at,  # type: ignore[attr-defined]
        last_finished_at=r.last_finished_at,  # type: ignore[attr-defined]
        last_sales_poll_at=r.last_sales_poll_at,  # type: ignore[attr-defined]
        error_message=r.error_message,  # type: ignore[attr-defined]
        lease_owner=r.lease_owner,  # type: ignore[attr-defined]
        lease_until=r.lease_until,  # type: ignore[attr-defined]
    )


def next_after_run(entry: JobEntry, finished: dt.datetime, activity: bool) -> tuple[str, dt.datetime]:
    """Status and next run after a successful run (pure)."""
    if activity or entry.inactivity <= 0:
        return READY, finished + dt.timedelta(minutes=entry.minutes)
    return SLEEPING, finished + dt.timedelta(minutes=entry.inactivity)


def next_after_failure(entry: JobEntry, finished: dt.datetime) -> tuple[str, dt.datetime, int]:
    """Status, next run and attempts after a failed run (pure): retried after the rerun delay up to
    the maximum attempts; then Error, tried again at the next interval (a passing outage heals)."""
    attempts = entry.attempts + 1
    if attempts < entry.max_attempts:
        return READY, finished + dt.timedelta(seconds=entry.rerun_delay), attempts
    return ERROR, finished + dt.timedelta(minutes=entry.minutes), 0


def woken(entry_next: dt.datetime | None, at: dt.datetime, delay: dt.timedelta) -> dt.datetime | None:
    """The new next run when a change wakes an entry (pure): ``delay`` from now, unless it would
    run sooner anyway. None: leave it."""
    target = at + delay
    if entry_next is not None and entry_next <= target:
        return None
    return target


class JobQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def entries(self, company: str) -> list[JobEntry]:
        jqe = t.job_queue_entry
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(jqe).where(jqe.c.company == company).order_by(jqe.c.description))
            return [_entry(r) for r in rows.all()]

    async def entry(self, company: str, codeunit: int, mapping_name: str) -> JobEntry | None:
        jqe = t.job_queue_entry
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(jqe).where(
                        jqe.c.company == company,
                        jqe.c.object_id_to_run == codeunit,
                        jqe.c.record_id_to_process == mapping_name,
                    )
                )
            ).first()
        return _entry(row) if row else None

    async def due(self, company: str, at: dt.datetime | None = None) -> list[JobEntry]:
        at = at or now()
        jqe = t.job_queue_entry
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(jqe)
                .where(
                    jqe.c.company == company,
                    jqe.c.status != "On Hold",
                    jqe.c.status != "Finished",
                    jqe.c.earliest_start_date_time <= at,
                    or_(jqe.c.lease_until.is_(None), jqe.c.lease_until < at),
                )
                # Entries woken together run in dependency order (a price group before its prices).
                .order_by(jqe.c.earliest_start_date_time, _dependency_rank(jqe.c.record_id_to_process))
            )
            return [_entry(r) for r in rows.all()]

    async def claim(self, entry_id: str, owner: str, lease_seconds: float, at: dt.datetime | None = None) -> bool:
        """Take the entry's lock: True for exactly one of the workers that try at once."""
        at = at or now()
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                update(jqe)
                .where(
                    jqe.c.id == entry_id,
                    or_(jqe.c.lease_until.is_(None), jqe.c.lease_until < at),
                    jqe.c.earliest_start_date_time <= at,
                )
                .values(
                    lease_owner=owner,
                    lease_until=at + dt.timedelta(seconds=lease_seconds),
                    status=IN_PROCESS,
                    last_started_at=at,
                )
            )
            return bool(result.rowcount == 1)

    async def hold(self, entry_id: str, owner: str, lease_seconds: float) -> bool:
        """Take the lock for a run a person asked for (sync now, full sync), whatever the schedule;
        the entry keeps its status and next run. False while a worker runs the job."""
        at = now()
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                update(jqe)
                .where(jqe.c.id == entry_id, or_(jqe.c.lease_until.is_(None), jqe.c.lease_until < at))
                .values(lease_owner=owner, lease_until=at + dt.timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount == 1)

    async def release(self, entry_id: str, owner: str) -> None:
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                update(jqe)
                .where(jqe.c.id == entry_id, jqe.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def renew(self, entry_id: str, owner: str, lease_seconds: float) -> bool:
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                update(jqe)
                .where(jqe.c.id == entry_id, jqe.c.lease_owner == owner)
                .values(lease_until=now() + dt.timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount == 1)

    async def finish(self, entry: JobEntry, owner: str, *, activity: bool, error: str | None = None) -> None:
        finished = now()
        if error is None:
            status, next_run = next_after_run(entry, finished, activity)
            attempts, message = 0, ""
        else:
            status, next_run, attempts = next_after_failure(entry, finished)
            message = error
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            current = (await conn.execute(select(jqe.c.earliest_start_date_time).where(jqe.c.id == entry.id))).first()
            # A change that came while the job ran asked for an earlier run: keep it.
            woken_at = current.earliest_start_date_time if current else None
            if (
                error is None
                and woken_at is not None
                and woken_at > (entry.next_run or woken_at)
                and woken_at < next_run
            ):
                status, next_run = READY, woken_at
            await conn.execute(
                update(jqe)
                .where(jqe.c.id == entry.id, jqe.c.lease_owner == owner)
                .values(
                    status=status,
                    earliest_start_date_time=next_run,
                    no_of_attempts_to_run=attempts,
                    error_message=message,
                    last_finished_at=finished,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    async def wake(self, company: str, codeunit: int, mapping_names: list[str], delay: dt.timedelta) -> int:
        """Bring the entries forward to ``delay`` from now (a change in BC); how many moved."""
        if not mapping_names:
            return 0
        at = now()
        target = at + delay
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                update(jqe)
                .where(
                    jqe.c.company == company,
                    jqe.c.object_id_to_run == codeunit,
                    jqe.c.record_id_to_process.in_(mapping_names),
                    jqe.c.status.not_in(("On Hold", "Finished")),
                    # A running entry is marked too: it runs again once it is done.
                    or_(
                        jqe.c.status == IN_PROCESS,
                        jqe.c.earliest_start_date_time.is_(None),
                        jqe.c.earliest_start_date_time > target,
                    ),
                )
                .values(
                    earliest_start_date_time=target,
                    status=case((jqe.c.status == IN_PROCESS, IN_PROCESS), else_=READY),
                )
            )
            return int(result.rowcount or 0)

    async def polled_sales(self, entry_id: str, at: dt.datetime) -> None:
        jqe = t.job_queue_entry
        async with write_transaction(self.engine) as conn:
            await conn.execute(update(jqe).where(jqe.c.id == entry_id).values(last_sales_poll_at=at))


def _dependency_rank(mapping: Any) -> Any:
    return case(
        *((mapping == name, rank) for rank, name in enumerate(FULL_SYNC_PRIORITY)), else_=len(FULL_SYNC_PRIORITY)
    )


class JobBusy(RuntimeError):
    """The mapping's job is running in a worker and did not finish in time."""


@contextlib.asynccontextmanager
async def mapping_lock(engine: AsyncEngine, company: str, name: str, wait: float = 600.0) -> AsyncIterator[None]:
    """Hold the lock of the mapping's job queue entry while a person's run goes (a worker's run
    of the same job waits, and this waits for one in progress): a mapping never runs twice at once."""
    queue = JobQueue(engine)
    entry = await queue.entry(company, INTEGRATION_SYNCH_JOB_RUNNER, canonical_name(name))
    if entry is None:
        yield
        return
    owner = f"manual:{uuid.uuid4().hex[:12]}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not await queue.hold(entry.id, owner, LOCK_LEASE):
        if loop.time() >= deadline:
            raise JobBusy(f"The job {entry.description} is running; try again when it has finished.")
        await asyncio.sleep(0.2)
    keeper = asyncio.create_task(_renew(queue, entry.id, owner))
    try:
        yield
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)  # a cancellation of ours still goes on
        await queue.release(entry.id, owner)


LOCK_LEASE = 300.0


async def _renew(queue: JobQueue, entry_id: str, owner: str) -> None:
    while True:
        await asyncio.sleep(LOCK_LEASE / 3)
        with contextlib.suppress(Exception):
            await queue.renew(entry_id, owner, LOCK_LEASE)
