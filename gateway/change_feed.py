"""Reads the change feed (schemas/changes.py) and hands each change to whoever cares.

Several gateway processes and the CLI write to one database; each process polls the feed a few
times a second, so a change made anywhere reaches every cache within the poll interval. A write
made in this process wakes the poller at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.wake import woken
from schemas.sqlite_reader import reader_for
from schemas.tables import change_log

log = logging.getLogger("bcgw.changes")

Handler = Callable[[list[Any]], Awaitable[None]]
KEEP = dt.timedelta(hours=6)
# On PostgreSQL a sequence number is taken at INSERT but seen at COMMIT, so seq 11 can be read
# before seq 10 commits. A number skipped over is re-asked for this long (then it was rolled back).
GAP_WAIT = 60.0
MAX_GAPS = 1000


class ChangeFeed:
    def __init__(self, engine: AsyncEngine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        # SQLite: "anything new?" asked of the driver itself (schemas/sqlite_reader.py), a few
        # microseconds on the loop's thread; the poll through the engine only when there is.
        # Polling through aiosqlite four times a second cost ~10 % of a busy gateway's CPU.
        self._reader = reader_for(engine)
        self._newest = str(select(func.max(change_log.c.seq)).compile(dialect=engine.dialect))
        self.handlers: dict[str, list[Handler]] = defaultdict(list)
        self.last_seq = 0
        self._gaps: dict[int, float] = {}  # seq not yet seen below last_seq -> when first missed
        self._wake = asyncio.Event()
        self._last_prune = 0.0

    def on(self, topic: str, handler: Handler) -> None:
        self.handlers[topic].append(handler)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        async with self.engine.connect() as conn:
            self.last_seq = (await conn.execute(select(func.coalesce(func.max(change_log.c.seq), 0)))).scalar_one()

    async def poll(self) -> int:
        """Read and dispatch new changes; return how many there were."""
        now = time.monotonic()
        self._gaps = {seq: since for seq, since in self._gaps.items() if now - since < GAP_WAIT}
        if self._reader is not None and not self._gaps:
            ((newest,),) = await self._reader.fetch(self._newest, [])
            if newest is None or newest <= self.last_seq:
                return 0
        wanted = change_log.c.seq > self.last_seq
        if self._gaps:
            wanted = or_(wanted, change_log.c.seq.in_(sorted(self._gaps)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(change_log).where(wanted).order_by(change_log.c.seq).limit(5000))).all()
        fresh = []
        for row in rows:
            if self._gaps.pop(row.seq, None) is None:
                if row.seq <= self.last_seq:
                    continue
                for missing in range(max(self.last_seq + 1, row.seq - MAX_GAPS), row.seq):
                    self._gaps[missing] = now
                self.last_seq = row.seq
            fresh.append(row)
        if len(self._gaps) > MAX_GAPS:
            self._gaps = dict(sorted(self._gaps.items())[-MAX_GAPS:])
        if not fresh:
            return 0
        by_topic: dict[str, list[Any]] = defaultdict(list)
        for row in fresh:
            by_topic[row.topic].append(row)
        for topic, topic_rows in by_topic.items():
            for handler in self.handlers.get(topic, ()):
                try:
                    await handler(topic_rows)
                except Exception:
                    log.exception("change handler for %s failed", topic)
        return len(rows)

    async def prune(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - KEEP
        async with self.engine.begin() as conn:
            await conn.execute(delete(change_log).where(change_log.c.changed_at < cutoff))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                while await self.poll() >= 5000:
                    continue  # a full batch: there may be more at once
                if loop.time() - self._last_prune > 600:
                    self._last_prune = loop.time()
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away for a while; keep trying
                log.warning("change feed poll failed: %s", type(exc).__name__)
            self._wake.clear()
            await woken(self._wake, self.interval)
