"""Many rows at the driver: the bulk writes of the imports (issue 13, P7).

`conn.execute(table.insert(), rows)` costs SQLAlchemy's parameter processing per row (about as
much as the database's own work on SQLite). Here the statement is compiled once, each column's
bind processing is applied as SQLAlchemy would apply it (its type's processor, Python-side
defaults such as system_modified_at), and the rows go to the driver as plain tuples: on
PostgreSQL a plain INSERT is a `COPY` (asyncpg's copy_records_to_table) and an upsert a `COPY`
into a temporary table and one INSERT ... SELECT ... ON CONFLICT; on SQLite sqlite3's
executemany (one hop to aiosqlite's thread). `among` is an IN list as one parameter.

The writes happen in the connection's transaction. A driver error comes back as SQLAlchemy's
(IntegrityError for a constraint, OperationalError for SQLite's locked or unreadable file,
DBAPIError otherwise), so callers handle it as before (schemas.db.is_unavailable included).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import Column, MetaData, String, Table, any_, bindparam, exc, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

Row = Mapping[str, Any]
FEW = 20  # fewer rows than this: SQLAlchemy's own executemany (no COPY set-up for a handful)


def _groups(rows: Sequence[Row]) -> dict[tuple[str, ...], list[Row]]:
    """Rows by the columns they give (a row leaves out what takes the column's default)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups


def _defaults(table: Table, given: Sequence[str]) -> dict[str, Any]:
    """Python-side defaults of the columns not given (one value per call: one per batch)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.key in given or default is None:
            continue
        if default.is_scalar:
            found[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            found[column.key] = default.arg(None)  # type: ignore[attr-defined]
        else:  # a sequence or SQL expression: SQLAlchemy's own path renders it
            raise NotImplementedError(f"{table.name}.{column.key}: default {default!r}")
    return found


_PROCESSORS: dict[tuple[str, str, str], Any] = {}


def _processor(conn: AsyncConnection, table: Table, name: str) -> Any:
    """The column's bind processing on this database (None: none), worked out once."""
    dialect = conn.dialect
    key = (dialect.name, table.name, name)
    if key not in _PROCESSORS:
        _PROCESSORS[key] = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return _PROCESSORS[key]


def _tuples(
    conn: AsyncConnection, table: Table, names: Sequence[str], rows: Sequence[Row], constants: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Each row's values in `names` order, bind-processed; `constants` (the defaults, the same in
    every row) are processed once."""
    fixed: dict[str, Any] = {}
    for name, value in constants.items():
        p = _processor(conn, table, name)
        fixed[name] = p(value) if p else value
    given = [name for name in names if name not in fixed]
    processors = [_processor(conn, table, name) for name in given]
    if any(processors):
        pairs = list(zip(given, processors, strict=True))
        records = [tuple([p(row[n]) if p else row[n] for n, p in pairs]) for row in rows]
    else:
        records = [tuple([row[n] for n in given]) for row in rows]
    if not fixed:
        return records
    tail = tuple(fixed.values())
    order = [*given, *fixed]
    if list(names) == order:
        return [r + tail for r in records]
    # The statement wants the constants among the rows' own columns: reorder at C speed.
    at = [order.index(name) for name in names]
    if len(at) == 1:
        return [((r + tail)[at[0]],) for r in records]
    pick = itemgetter(*at)
    return [pick(r + tail) for r in records]


def _wrap(error: Exception, statement: str) -> exc.DBAPIError:
    cls: type[exc.DBAPIError] = exc.DBAPIError
    if isinstance(error, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError):
        cls = exc.IntegrityError
    elif isinstance(error, sqlite3.OperationalError):
        cls = exc.OperationalError
    return cls(statement, None, error, hide_parameters=True)


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql" and not driver.is_in_transaction():
        # asyncpg's adapter begins lazily, at the first statement: begin it now.
        await conn.exec_driver_sql("SELECT 1")
    return driver


async def insert_many(
    conn: AsyncConnection, table: Table, rows: Sequence[Row], same: Mapping[str, Any] | None = None
) -> None:
    """What `conn.execute(table.insert(), rows)` writes (no RETURNING), at the driver. `same`:
    columns with one value for every row (the company, a time stamp), processed once."""
    same = same or {}
    if len(rows) < FEW:
        if rows:
            await conn.execute(table.insert(), [{**row, **same} for row in rows])
        return
    for given, group in _groups(rows).items():
        defaults = {**same, **_defaults(table, [*given, *same])}
        names = [*given, *defaults]
        if conn.dialect.name == "postgresql":
            records = _tuples(conn, table, names, group, defaults)
            driver = await _driver(conn)
            try:
                await driver.copy_records_to_table(table.name, records=records, columns=names)
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                raise _wrap(error, f"COPY {table.name}") from error
        else:
            await _executemany(conn, table, table.insert(), names, group, defaults)


async def execute_many(
    conn: AsyncConnection, table: Table, statement: Insert, rows: Sequence[Row], same: Mapping[str, Any] | None = None
) -> None:
    """An INSERT ... ON CONFLICT (an upsert) for many rows of `table`, at the driver. Every row
    gives the same columns (and `same`, as insert_many); the statement's parameters are those columns."""
    same = same or {}
    if len(rows) < FEW:
        if rows:
            await conn.execute(statement, [{**row, **same} for row in rows])
        return
    names = list(rows[0])
    defaults = {**same, **_defaults(table, [*names, *same])}
    await _executemany(conn, table, statement, [*names, *defaults], rows, defaults)


async def _executemany(
    conn: AsyncConnection,
    table: Table,
    statement: Insert,
    names: Sequence[str],
    rows: Sequence[Row],
    defaults: Mapping[str, Any],
) -> None:
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(names))
    records = _tuples(conn, table, list(compiled.positiontup or ()), rows, defaults)
    sql = str(compiled)
    driver = await _driver(conn)
    try:
        await driver.executemany(sql, records)
    except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise _wrap(error, sql) from error


async def upsert_many(
    conn: AsyncConnection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Row],
    same: Mapping[str, Any] | None = None,
    *,
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE for many rows (each key at most once): the `add`
    columns are added to what the row holds (a running total), the `replace` columns replaced.
    On PostgreSQL the rows are copied into a temporary table (COPY) and upserted from it in one
    statement; on SQLite it is sqlite3's executemany."""
    if conn.dialect.name != "postgresql" or len(rows) < FEW:
        stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        set_ = {c: table.c[c] + stmt.excluded[c] for c in add} | {c: stmt.excluded[c] for c in replace}
        await execute_many(conn, table, stmt.on_conflict_do_update(index_elements=list(keys), set_=set_), rows, same)
        return
    same = same or {}
    names = list(rows[0])
    defaults = {**same, **_defaults(table, [*names, *same])}
    columns = [*names, *defaults]
    records = _tuples(conn, table, columns, rows, defaults)
    temp = f"bulk_{table.name}"
    driver = await _driver(conn)
    # Kept for the session (the pool reuses it), emptied at each commit.
    create = f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    source = Table(temp, MetaData(), *(Column(c, table.c[c].type) for c in columns))
    stmt = postgresql.insert(table).from_select(columns, select(*source.c))
    set_ = {c: table.c[c] + stmt.excluded[c] for c in add} | {c: stmt.excluded[c] for c in replace}
    upsert = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)
    try:
        await driver.execute(create)
        await driver.execute(f"DELETE FROM {temp}")  # (empty but after an earlier upsert of this transaction)
        await driver.copy_records_to_table(temp, records=records, columns=columns, schema_name="pg_temp")
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise _wrap(error, f"COPY {temp}") from error
    await conn.execute(upsert)


def among(conn: AsyncConnection, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)` with the values as one parameter: an array on PostgreSQL (`= ANY`), a
    JSON text on SQLite (`IN (SELECT value FROM json_each(...))`). SQLAlchemy's IN renders and
    binds one parameter per value, which for a batch's 2,000 look-ups cost more than the query."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    given = [processor(v) for v in values] if processor else list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, given, type_=postgresql.ARRAY(String), unique=True))
    text: Any = bindparam(None, json.dumps(given), unique=True)
    listed: Any = select(literal_column("value")).select_from(func.json_each(text))
    return column.in_(listed)
