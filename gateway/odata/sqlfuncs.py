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


class odata_exact(GenericFunction[Any]):
    """An integer operand of add, sub, mul or unary minus, computed without overflow.

    PostgreSQL refuses an integer result beyond 64 bits (an error); SQLite carries on in floating
    point. As NUMERIC, PostgreSQL carries on too: the same answer (rows, not an error) on both.
    The expression keeps its own type (an integer stays one for `div`).
    """

    inherit_cache = True


@compiles(odata_exact)
def _exact(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST({_one(element, compiler, **kw)} AS NUMERIC)"


@compiles(odata_exact, "sqlite")
def _exact_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"({_one(element, compiler, **kw)})"


class odata_intdiv(GenericFunction[Any]):
    """OData's `div` of two integers: truncated toward zero; NULL when dividing by zero."""

    type = Integer()
    inherit_cache = True


@compiles(odata_intdiv)
def _intdiv(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    return f"div(CAST({a} AS NUMERIC), NULLIF(CAST({b} AS NUMERIC), 0))"


@compiles(odata_intdiv, "sqlite")
def _intdiv_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = _args(element, compiler, **kw)
    return f"(({a}) / NULLIF({b}, 0))"


class odata_substring(GenericFunction[str]):
    """OData's substring(s, start[, length]), start 0-based: a negative or fractional start or
    length is cut to a whole number, 0 or more (PostgreSQL refuses a negative length, SQLite
    counts a negative start from the end), and a huge one to the largest string position."""

    type = String()
    inherit_cache = True


def _clamped_pg(x: str, top: int) -> str:
    return f"CAST(LEAST(GREATEST(TRUNC(CAST({x} AS NUMERIC)), 0), {top}) AS INTEGER)"


def _clamped_sqlite(x: str, top: int) -> str:
    return f"max(min(CAST({x} AS INTEGER), {top}), 0)"


@compiles(odata_substring)
def _substring(element: Any, compiler: Any, **kw: Any) -> str:
    s, start, *length = _args(element, compiler, **kw)
    args = [s, _clamped_pg(start, 2147483646) + " + 1", *[_clamped_pg(n, 2147483647) for n in length]]
    return f"substr({', '.join(args)})"


@compiles(odata_substring, "sqlite")
def _substring_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    s, start, *length = _args(element, compiler, **kw)
    args = [s, _clamped_sqlite(start, 2147483646) + " + 1", *[_clamped_sqlite(n, 2147483647) for n in length]]
    return f"substr({', '.join(args)})"
