"""Rows of the synchronisation log as the engine writes them, for tests of reading the log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas import tables as t


async def add_job(
    engine: Any,
    company: str,
    mapping: str,
    *,
    start: dt.datetime,
    minutes: float = 0.5,
    direction: str = "ToIntegrationTable",
    errors: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    **counters: int,
) -> str:
    """One Integration Synch. Job row (and its error rows: source, destination, message)."""
    job_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            t.integration_synch_job.insert().values(
                id=job_id,
                company=company,
                start_date_time=start,
                finish_date_time=start + dt.timedelta(minutes=minutes),
                integration_table_mapping_name=mapping,
                synch_direction=direction,
                type="Synchronization",
                message="",
                failed=len(errors),
                **counters,
            )
        )
        for source, destination, message in errors:
            await conn.execute(
                t.integration_synch_job_errors.insert().values(
                    company=company,
                    integration_synch_job_id=job_id,
                    source_record_id=source,
                    destination_record_id=destination,
                    message=message[:250],
                    error_message=message,
                    date_time=start + dt.timedelta(minutes=minutes),
                )
            )
    return job_id
