"""Prepared reads: a statement built and compiled once per request shape, run with new values.

Building a set's select with SQLAlchemy, compiling it and executing it through the ORM-free Core
path costs far more than SQLite takes to answer a one-row lookup (~1 ms against ~10 µs). The
common requests (a page of a set; `Prop eq literal`) differ only in their values, so the service
keeps, per shape, the statement with named bind parameters where those values go (`Plan`); a new
request binds its values and runs it:

- through the host's raw reader when it has one (SQLite: the driver itself, see
  schemas/sqlite_reader.py), with the SQL text, bind and result processing SQLAlchemy compiled
  for that statement, so values go in and come out exactly as through SQLAlchemy;
- else through SQLAlchemy with the same statement object (its compiled form is cached).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.odata.host import RawReader

SLOT = "bcgw_slot_"  # bind names of a plan's per-request values (SQLAlchemy's own are name_N)
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class Compiled:
    """A plan's statement as its dialect's SQL text, for a raw reader."""

    sql: str
    # In the order of the SQL's placeholders: (slot name, None) or (None, constant as bound).
    params: tuple[tuple[str | None, Any], ...]
    bind: Mapping[str, Processor]  # slot name -> bind processor
    results: tuple[Processor, ...]  # per selected column: result processor


@dataclass(frozen=True, slots=True)
class Plan:
    stmt: Select[Any]
    compiled: Compiled | None  # None: the statement cannot be run raw (run it through SQLAlchemy)


def compile_for(stmt: Select[Any], dialect: Dialect) -> Compiled | None:
    """The statement compiled as SQLAlchemy would run it on `dialect` (qmark placeholders), or None
    when it has what a raw run cannot do (post-compile parameters, a named paramstyle)."""
    if dialect.paramstyle != "qmark":
        return None
    compiled = stmt.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params or compiled.positiontup is None:
        return None
    params: list[tuple[str | None, Any]] = []
    bind: dict[str, Processor] = {}
    for name in compiled.positiontup:
        param = compiled.binds[name]
        processor = param.type.dialect_impl(dialect).bind_processor(dialect)
        if name.startswith(SLOT):
            params.append((name, None))
            bind[name] = processor
        else:
            value = param.effective_value
            params.append((None, processor(value) if processor is not None else value))
    results = tuple(_result_processor(col.type, dialect) for col in stmt.selected_columns)
    return Compiled(str(compiled), tuple(params), bind, results)


# (column type, dialect) -> its result processor, one object for every plan: the converters (and
# their memos) below are kept per processor, so plans of the same columns share them.
_PROCESSORS: LRUCache[tuple[Any, type[Dialect]], Processor] = LRUCache(maxsize=1024)


def _result_processor(type_: Any, dialect: Dialect) -> Processor:
    key = (type_, type(dialect))
    if key not in _PROCESSORS:
        _PROCESSORS[key] = type_.dialect_impl(dialect).result_processor(dialect, None)
    return _PROCESSORS[key]


def make_plan(stmt: Select[Any], dialect: Dialect, raw: bool) -> Plan:
    return Plan(stmt, compile_for(stmt, dialect) if raw else None)


async def run_plan(
    plan: Plan, slots: Mapping[str, Any], engine: AsyncEngine, reader: RawReader | None
) -> tuple[list[Sequence[Any]], tuple[Processor, ...] | None]:
    """The plan's rows with these slot values, and None; or, from the raw reader, the rows as the
    driver gave them and the result processor of each column, still to be applied (the caller
    applies them together with its own conversion: see `converter`)."""
    compiled = plan.compiled
    if reader is None or compiled is None:
        async with engine.connect() as conn:
            return list((await conn.execute(plan.stmt, dict(slots))).all()), None
    args = []
    for slot, constant in compiled.params:
        if slot is None:
            args.append(constant)
        else:
            value = slots[slot]
            processor = compiled.bind[slot]
            args.append(processor(value) if processor is not None else value)
    rows = await reader.fetch(compiled.sql, args)
    return rows, compiled.results


def processed(row: Sequence[Any], processors: Sequence[Processor]) -> list[Any]:
    """One raw row as SQLAlchemy would have given it."""
    return [v if p is None else p(v) for v, p in zip(row, processors, strict=True)]


_MEMO_SIZE = 4096  # raw values per column remembered (quantities repeat; a memo is small)


@functools.lru_cache(maxsize=512)  # per (column type, JSON rule): the memo outlives the request
def converter(processor: Processor, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert(processor(raw))`, remembered per raw value: a column's raw values repeat (SQLite
    gives quantities as floats; making each a Decimal and then a JSON number is most of a large
    page's time), and both steps are pure functions of the value. Unhashable values are not kept."""
    if processor is None:
        return convert
    memo: dict[Any, Any] = {}

    def run(raw: Any) -> Any:
        try:
            return memo[raw]
        except KeyError:
            value = memo[raw] = convert(processor(raw))
            if len(memo) > _MEMO_SIZE:
                memo.clear()
            return value
        except TypeError:  # unhashable
            return convert(processor(raw))

    return run
