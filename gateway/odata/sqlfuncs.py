"""SQL functions for $filter that give the same answer on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import Integer, Numeric, String


class odata_lower(GenericFunction[str]):
    type = String()
    inherit_cache = True


class odata_upper(GenericFunction[str]):
    type = String()
    inherit_cache = True


class odata_position(GenericFunction[int]):
    """1-based position of the second argument in the first; 0 when absent."""

    type = Integer()
    inherit_cache = True


class odata_floor(GenericFunction[Any]):
    type = Numeric()
    inherit_cache = True


class odata_ceiling(GenericFunction[Any]):
    type = Numeric()
    inherit_cache = True


def _args(element: Any, compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


def _one(element: Any, compiler: Any, **kw: Any) -> str:
    """The compiled single argument (not a Python tuple's repr)."""
    (arg,) = _args(element, compiler, **kw)
    return arg


@compiles(odata_lower)
def _lower(element: Any, compiler: Any, **kw: Any) -> str:
    return f"lower({_one(element, compiler, **kw)})"


@compiles(odata_lower, "sqlite")
def _lower_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # SQLite's lower() folds ASCII only; this one is Python's str.lower (see schemas/db.py).
    return f"bcgw_lower({_one(element, compiler, **kw)})"


@compiles(odata_upper)
def _upper(element: Any, compiler: Any, **kw: Any) -> str:
    return f"upper({_one(element, compiler, **kw)})"


@compiles(odata_upper, "sqlite")
def _upper_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"bcgw_upper({_one(element, compiler, **kw)})"


@compiles(odata_position)
def _position(element: Any, compiler: Any, **kw: Any) -> str:
    return "strpos({}, {})".format(*tuple(_args(element, compiler, **kw)))


@compiles(odata_position, "sqlite")
def _position_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "instr({}, {})".format(*tuple(_args(element, compiler, **kw)))


@compiles(odata_floor)
def _floor(element: Any, compiler: Any, **kw: Any) -> str:
    return f"floor({_one(element, compiler, **kw)})"


@compiles(odata_floor, "sqlite")
def _floor_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    return f"(CAST(({x}) AS INTEGER) - (({x}) < CAST(({x}) AS INTEGER)))"


@compiles(odata_ceiling)
def _ceiling(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ceil({_one(element, compiler, **kw)})"


@compiles(odata_ceiling, "sqlite")
def _ceiling_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    return f"(CAST(({x}) AS INTEGER) + (({x}) > CAST(({x}) AS INTEGER)))"


class odata_decimal(GenericFunction[Any]):
    """A value as a decimal for division: SQLite would divide integers as integers."""

    type = Numeric()
    inherit_cache = True


@compiles(odata_decimal)
def _decimal(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST({_one(element, compiler, **kw)} AS NUMERIC)"


@compiles(odata_decimal, "sqlite")
def _decimal_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST({_one(element, compiler, **kw)} AS REAL)"
