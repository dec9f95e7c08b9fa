"""The one place that creates database engines, and the few dialect differences we need."""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Table, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# SQLite keeps NUMERIC as floating point; Decimal5 rounds results back to 5 places.
warnings.filterwarnings("ignore", message=r".*does \*not\* support Decimal objects natively")


def is_sqlite(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and BEGIN IMMEDIATE for writers."""
    # Errors never carry the statement's values: they may hold secrets (the setup's client secret).
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _setup_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _fold(fn: Any) -> Any:
    def fold(value: Any) -> Any:
        return fn(value) if isinstance(value, str) else value

    return fold


def configure_sqlite(dbapi_conn: Any) -> None:
    """What every SQLite connection of ours has: WAL, our BEGINs, case-sensitive LIKE, our functions."""
    # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred and too late).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # OData's contains/startswith are case-sensitive, as LIKE is on PostgreSQL.
    cur.execute("PRAGMA case_sensitive_like=ON")
    cur.close()
    # SQLite's lower()/upper() fold ASCII only; $filter's tolower/toupper use these.
    dbapi_conn.create_function("bcgw_lower", 1, _fold(str.lower), deterministic=True)
    dbapi_conn.create_function("bcgw_upper", 1, _fold(str.upper), deterministic=True)


async def _close_aiosqlite_without_hanging(self: Any) -> None:
    """Close an invalidated aiosqlite connection through its worker thread, without hanging.

    SQLAlchemy closes the connection of a task cancelled mid-query in a shielded task, and stops
    its thread at once if the task is cancelled again meanwhile. aiosqlite's ``close()`` (0.22)
    then waits, in its ``finally``, for a second stop that the already stopped thread never
    answers: the shielded task stays pending for ever, and whoever gathers the loop's tasks at
    exit (``asyncio.run``, pytest) hangs. ``stop()`` closes the connection in the thread after
    the running statement and answers once; a second ``stop()`` is never awaited."""
    stopped = self._connection.stop()
    if stopped is not None:
        await stopped


def _fix_aiosqlite_terminate() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite as sa_aiosqlite

    adapted = sa_aiosqlite.AsyncAdapt_aiosqlite_connection
    # Only where aiosqlite has stop() (0.22.1+); older ones have no force close either.
    if hasattr(adapted, "_terminate_graceful_close") and hasattr(adapted, "_terminate_force_close"):
        import aiosqlite

        if hasattr(aiosqlite.Connection, "stop"):
            adapted._terminate_graceful_close = _close_aiosqlite_without_hanging  # type: ignore[method-assign]


def _setup_sqlite(engine: AsyncEngine) -> None:
    _fix_aiosqlite_terminate()
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        configure_sqlite(dbapi_conn)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock at BEGIN, so two writers queue instead of deadlocking.
        if conn.get_execution_options().get("write", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: on SQLite it holds the write lock from its start."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(write=True)
        async with conn.begin():
            yield conn


def upsert_add(
    conn: AsyncConnection,
    table: Table,
    keys: dict[str, Any],
    increments: dict[str, Any],
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET col = col + excluded.col."""
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(table).values(**keys, **increments)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={col: table.c[col] + stmt.excluded[col] for col in increments},
    )
    return stmt


def upsert_add_many(conn: AsyncConnection, table: Table, keys: Sequence[str], increments: Sequence[str]) -> Any:
    """upsert_add for executemany: run it with a list of rows (keys and increments each)."""
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={col: table.c[col] + stmt.excluded[col] for col in increments},
    )


def upsert_replace_many(conn: AsyncConnection, table: Table, keys: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET col = excluded.col, for executemany."""
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={col: stmt.excluded[col] for col in columns})


def in_chunks(values: Iterable[str], size: int = 5000) -> Iterator[list[str]]:
    """Values for IN lists of at most `size`: SQLite and asyncpg cap a statement's parameters."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def insert_ignore(conn: AsyncConnection, table: Table, index_elements: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING."""
    dialect_insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))


# SQLSTATE classes that mean "the server cannot serve now", not "this statement is wrong":
# 08 connection exception, 53 insufficient resources (too many connections, disk full, out of
# memory), 57 operator intervention (shutting down, starting up, a crash recovery).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
# What SQLite says when its file cannot be used (as opposed to a statement it cannot run).
_SQLITE_UNAVAILABLE = (
    "locked",
    "busy",
    "unable to open",
    "disk i/o",
    "readonly",
    "read-only",
    "not a database",
    "malformed",
    "disk is full",
    "database or disk is full",
)


def _causes(error: BaseException) -> list[BaseException]:
    """The error, what SQLAlchemy wrapped (`orig`) and what caused each, once each."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        context = None if current.__suppress_context__ else current.__context__
        todo += [getattr(current, "orig", None), current.__cause__, context]
    return found


def is_unavailable(error: BaseException) -> bool:
    """True when the database itself failed (down, refused, dropped the connection, out of
    connections, locked, its file unreadable, disk full), not the statement.

    asyncpg raises a refused or reset connection as a bare OSError that SQLAlchemy does not wrap,
    and SQLAlchemy's own pool time-out is no DBAPI error: each is looked for along the chain.
    """
    for cause in _causes(error):
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, exc.InterfaceError | exc.TimeoutError | exc.DisconnectionError):
            return True
        if isinstance(cause, OSError | ConnectionError | TimeoutError):
            return True
        if isinstance(cause, asyncpg.InterfaceError | asyncpg.InternalClientError):
            # "connection is closed", "another operation is in progress" on a dropped connection.
            return True
        sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        if isinstance(cause, sqlite3.Error):
            text = str(cause).lower()
            if any(word in text for word in _SQLITE_UNAVAILABLE):
                return True
    # Other OperationalErrors (SQLite's "no such function", say) stay as they were: unavailable,
    # unless the caller knows better (the OData service tells query errors apart first).
    return isinstance(error, exc.OperationalError)
