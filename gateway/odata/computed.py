"""Entity sets whose rows the host computes per request (`EntitySet.computed`, edm.ComputedRows).

The rows are not in a table, so the request must say which rows it wants: the value of the
set's `by` property, from an equality in $filter or from the key predicate. They are then put in
the query as a VALUES list (a CTE: SQLite does not name the columns of a VALUES subquery), and
the service filters, orders, counts, selects and pages them exactly as it does a SQL source.

Meant for answers of tens or thousands of rows: every value is a bound parameter, and the
databases bind at most about 32,000 per statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from odata_query import ast
from sqlalchemy import ColumnElement, column, false, literal, select, values
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.types import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    TypeEngine,
)

from gateway.odata import edm
from gateway.odata.errors import ODataError, bad_request, not_implemented
from gateway.odata.filter import compile_filter
from gateway.odata.filter_types import chain_terms

# Bound parameters in one statement: SQLite allows 32,766, PostgreSQL 32,767.
MAX_VALUES = 30000


class _UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in and out on every database (SQLite keeps no zone: naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class _GuidText(TypeDecorator[str]):
    """A GUID as its canonical text, as the filter compiler binds GUID literals."""

    impl = String(36)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else edm.normalise_guid(str(value))


def sql_type(prop: edm.Property) -> TypeEngine[Any]:
    """The column type a computed property's values are bound with."""
    t = prop.type
    if t == edm.GUID:
        return _GuidText()
    if t == edm.INT32:
        return Integer()
    if t == edm.INT64:
        return BigInteger()
    if t == edm.DECIMAL:
        return Numeric(asdecimal=True)
    if t == edm.BOOLEAN:
        return Boolean()
    if t == edm.DATE:
        return Date()
    if t == edm.DATETIMEOFFSET:
        return _UtcDateTime()
    return String()


def rows_source(entity_set: edm.EntitySet, rows: Sequence[Mapping[str, Any]]) -> FromClause:
    """The rows as a FROM clause whose columns are named and typed after the set's properties."""
    props = entity_set.properties
    types = [sql_type(p) for p in props]
    if not rows:
        nothing = [literal(None, t).label(p.name) for p, t in zip(props, types, strict=True)]
        return select(*nothing).where(false()).cte("s")
    if len(rows) * len(props) > MAX_VALUES:
        raise not_implemented(
            f"The answer of '{entity_set.name}' has {len(rows)} rows, more than this service computes at once."
        )
    data = []
    for row in rows:
        missing = [p.name for p in props if p.name not in row]
        if missing:
            raise ValueError(f"{entity_set.name}: a computed row lacks {', '.join(missing)}")
        # A null bound with its type: PostgreSQL would otherwise type a column of nulls as text.
        data.append(
            tuple(literal(None, t) if row[p.name] is None else row[p.name] for p, t in zip(props, types, strict=True))
        )
    table = values(*[column(p.name, t) for p, t in zip(props, types, strict=True)], name="s").data(data)
    return table.cte("s")


def columns_of(source: FromClause, entity_set: edm.EntitySet) -> dict[str, ColumnElement[Any]]:
    return {p.name: source.c[p.name] for p in entity_set.properties}


def missing_value(entity_set: edm.EntitySet) -> ODataError:
    spec = entity_set.computed
    assert spec is not None
    prop = entity_set.by_name[spec.by]
    example = spec.example or f"<an {prop.type} value>"
    keyed = (
        f" (or address one row by its key: {entity_set.name}({','.join(f'{k}=...' for k in entity_set.key)}))"
        if spec.by in entity_set.key
        else ""
    )
    return bad_request(
        f"'{entity_set.name}' is computed for one {spec.by} at a time: add $filter={spec.by} eq {example} "
        f"to the request{keyed}; other conditions may follow with 'and'.",
        "BadRequest_FilterRequired",
    )


def _equality(tree: ast._Node, name: str) -> ast._Node | None:
    """The literal that `name eq <literal>` (or `name in (<literal>)`) compares with, at the top
    level of the filter or in a chain of `and`; None when there is none."""
    terms = chain_terms(tree) if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
    for term in terms:
        if not isinstance(term, ast.Compare):
            continue
        left, right = term.left, term.right
        if isinstance(term.comparator, ast.In):
            items = right.val if isinstance(right, ast.List) else [right]
            if isinstance(left, ast.Identifier) and left.name == name and len(items) == 1:
                right = items[0]
            else:
                continue
        elif not isinstance(term.comparator, ast.Eq):
            continue
        if isinstance(right, ast.Identifier) and right.name == name:
            left, right = right, left
        if (
            isinstance(left, ast.Identifier)
            and not left.namespace
            and left.name == name
            and isinstance(right, ast._Literal)
            and not isinstance(right, ast.Null)
        ):
            return right
    return None


def _value(node: ast._Node, prop: edm.Property) -> Any:
    """The Python value of a literal the filter compiler has already checked against the property."""
    if prop.type == edm.GUID and isinstance(node, ast.GUID | ast.String):
        raw = node.val if isinstance(node, ast.GUID) else node.py_val
        return edm.normalise_guid(str(raw))
    if prop.type == edm.STRING and isinstance(node, ast.String):
        return node.py_val
    if prop.type in (edm.INT32, edm.INT64) and isinstance(node, ast.Integer):
        return node.py_val
    return None


def wanted_value(
    entity_set: edm.EntitySet,
    filter_text: str | None,
    aliases: Mapping[str, str],
    keys: Mapping[str, Any] | None = None,
) -> Any:
    """The value of `by` the request names, or the 400 that says how to name it.

    The whole $filter is checked first (against columns of the right types and no rows), so a
    bad filter is a 400 before the host computes anything.
    """
    spec = entity_set.computed
    assert spec is not None
    if keys is not None:
        if spec.by in keys:
            return keys[spec.by]
        raise missing_value(entity_set)
    if filter_text is None:
        raise missing_value(entity_set)
    _clause, tree = compile_filter(
        filter_text, entity_set, columns_of(rows_source(entity_set, []), entity_set), aliases
    )
    node = _equality(tree, spec.by)
    value = _value(node, entity_set.by_name[spec.by]) if node is not None else None
    if value is None:
        raise missing_value(entity_set)
    return value


async def computed_columns(
    entity_set: edm.EntitySet,
    company: str,
    filter_text: str | None,
    aliases: Mapping[str, str],
    keys: Mapping[str, Any] | None = None,
) -> dict[str, ColumnElement[Any]]:
    """The host's rows for the value the request names, as columns the service queries."""
    spec = entity_set.computed
    assert spec is not None
    value = wanted_value(entity_set, filter_text, aliases, keys)
    rows = await spec.read(company, value)
    return columns_of(rows_source(entity_set, rows), entity_set)
