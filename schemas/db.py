"""The one place that creates database engines, and the few dialect differences we need."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

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


def _setup_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
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


def is_unavailable(error: BaseException) -> bool:
    """True when the database itself failed (down, locked, disk full), not the statement."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError)
    return isinstance(error, OSError | ConnectionError | TimeoutError)
