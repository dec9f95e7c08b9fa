"""Failed authentications, shared across gateway processes: what the lockout counts.

One row per failure and subject (a client address, a user at an address, a webhook caller); the
lockout reads a subject's failures within its window. Old rows go as new ones are written, so
the table holds at most a window's worth of failures.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.db import write_transaction
from schemas.tables import auth_failure

MAX_SUBJECT = 200


def _subject(text: str) -> str:
    # What a client controls (its address as a proxy wrote it) must not make the database refuse it.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:MAX_SUBJECT]


async def record_failures(engine: AsyncEngine, subjects: Sequence[str], at: float, forget_before: float) -> None:
    """Record one failure of each subject at `at`; drop every failure older than `forget_before`."""
    async with write_transaction(engine) as conn:
        await conn.execute(delete(auth_failure).where(auth_failure.c.failed_at < forget_before))
        await conn.execute(insert(auth_failure), [{"subject": _subject(s), "failed_at": at} for s in subjects])


async def recent_failures(engine: AsyncEngine, subjects: Sequence[str], since: float) -> dict[str, list[float]]:
    """The subjects' failures after `since`, oldest first."""
    wanted = {_subject(s): s for s in subjects}
    found: dict[str, list[float]] = {s: [] for s in subjects}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(auth_failure.c.subject, auth_failure.c.failed_at)
            .where(auth_failure.c.subject.in_(list(wanted)), auth_failure.c.failed_at > since)
            .order_by(auth_failure.c.failed_at)
        )
        for subject, failed_at in rows:
            found[wanted[subject]].append(float(failed_at))
    return found
