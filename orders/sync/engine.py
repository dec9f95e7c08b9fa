"""Running one mapping: BC's "Integration Synch. Job Runner" (bc-sync.md §1.2–§1.5).

Per pass (BC -> Sales, then Sales -> BC on a bidirectional mapping): one Integration Synch. Job
row; the records to look at (those that failed last time, then those changed after the pass's
high-water mark); per record the decision of orders/sync/decide.py, the transfer of
orders/sync/transfer.py and the table's hooks; the coupling and the log written per record; the
mark moved at the end.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import store
from orders.sync.defaults import canonical_name
from orders.sync.from_sales import FromSalesPass
from orders.sync.model import (
    DeletionConflictResolution,
    Direction,
)
from orders.sync.ports import BcRecords, SalesPort
from orders.sync.run_base import (
    MappingNotFound,
    Progress,
    RunResult,
)
from orders.sync.to_sales import ToSalesPass


class MappingRun(ToSalesPass, FromSalesPass):
    """One run of a mapping: its BC -> Sales pass, then on a bidirectional mapping its Sales -> BC pass."""


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
