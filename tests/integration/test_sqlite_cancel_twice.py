"""A task cancelled twice in the middle of a SQLite statement leaves nothing pending behind.

SQLAlchemy closes the invalidated connection in a shielded task; with aiosqlite 0.22's close()
that task waited for ever when the second cancellation came first, and a loop's shutdown that
gathers its tasks (asyncio.run, pytest's teardown, the gateway's exit) hung with it (seen in CI)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from schemas.db import create_engine

# About a second of SQLite work: long enough to cancel into, short enough for a unit test.
SLOW = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c"


async def test_a_statement_cancelled_twice_leaves_no_task_pending(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")

    async def query() -> None:
        async with engine.connect() as conn:
            await conn.execute(text(SLOW))

    try:
        task = asyncio.create_task(query())
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.sleep(0.1)
        task.cancel()  # as the gateway's stop() does to a task still running after its grace
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        # The close runs once the statement is over; it must end then, not wait for ever.
        _done, pending = await asyncio.wait(others, timeout=20) if others else (set(), set())
        assert not pending, pending
    finally:
        await engine.dispose()
