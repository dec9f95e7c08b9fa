"""Reads on SQLite without a thread hop: the OData service's raw reader (gateway/odata/plans.py).

aiosqlite runs every call (BEGIN, execute, fetch, ROLLBACK) on its connection's thread: each hop
is a wake-up and a fight for the GIL, ~2 ms of CPU per one-row answer under load where SQLite
itself needs ~10 µs. A SELECT by an index is over before a hop could start, so it runs here on
the caller's (the event loop's) thread, on a connection of its own, with a time budget: SQLite's
progress handler stops a statement that runs longer (a scan, a large page), and that statement
runs again on a worker thread, where it blocks nobody. A connection that is busy (never in WAL
mode for a reader, but a checkpoint may) is never waited for on the loop: the worker thread waits.

Each SELECT is its own read transaction (autocommit), so it sees one committed state, as before.
The connections are read-only (`query_only`). Errors are raised as SQLAlchemy's DBAPIError around
the driver's error, exactly what an engine raises, so the callers' handling (503 when the database
cannot be used, 400 for a query error) is unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.db import configure_sqlite

BUDGET = 0.002  # seconds a statement may run on the loop's thread
_CHECK_EVERY = 2000  # SQLite virtual machine steps between looks at the clock
_THREADS = 4


class _Interrupted(Exception):
    """The statement used up its budget on the loop's thread."""


class SqliteReader:
    def __init__(self, path: str, budget: float = BUDGET) -> None:
        self.path = path
        self.budget = budget
        self._inline: sqlite3.Connection | None = None
        self._deadline = 0.0
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    # connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            configure_sqlite(conn)
            conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _inline_connection(self) -> sqlite3.Connection:
        if self._inline is None:
            conn = self._connect()
            conn.execute("PRAGMA busy_timeout=0")  # never wait on the loop's thread
            conn.set_progress_handler(self._over_budget, _CHECK_EVERY)
            self._inline = conn
        return self._inline

    def _over_budget(self) -> int:
        return 1 if time.perf_counter() > self._deadline else 0

    def _drop_inline(self) -> None:
        conn, self._inline = self._inline, None
        if conn is not None:
            conn.close()

    # reads ---------------------------------------------------------------------------------
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        if self._closed:
            raise RuntimeError("the reader is closed")
        try:
            return self._fetch_inline(sql, params)
        except _Interrupted:
            pass  # over its budget, or the file busy: the worker thread below runs it
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error, hide_parameters=True) from exc
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._fetch_in_thread, sql, params)

    def _fetch_inline(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        conn = self._inline_connection()
        self._deadline = time.perf_counter() + self.budget
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if text == "interrupted" and time.perf_counter() > self._deadline:
                raise _Interrupted from None
            if "locked" in text or "busy" in text:
                raise _Interrupted from None  # the worker thread waits for it
            self._drop_inline()
            raise
        except sqlite3.Error:
            self._drop_inline()  # a file gone or broken: open it afresh next time
            raise

    def _fetch_in_thread(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        try:
            conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect()
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            stale = getattr(self._local, "conn", None)
            self._local.conn = None
            if stale is not None:
                stale.close()
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error, hide_parameters=True) from exc

    def close(self) -> None:
        self._closed = True
        self._drop_inline()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def reader_for(engine: AsyncEngine) -> SqliteReader | None:
    """A raw reader for an engine on a SQLite file; None for PostgreSQL or an in-memory database."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query:
        return None  # URI filenames and driver options: leave them to the engine
    return SqliteReader(url.database)
