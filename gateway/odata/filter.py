"""$filter: odata-query parses (see filter_text); this module compiles its tree into SQL.

What the wrapping adds to odata-query:
- an allow-list: only the entity set's properties, with their EDM types, can be named;
- type checking, so that `Inventory eq 'x'` is a 400 and never a database error;
- `%` and `_` in contains/startswith/endswith match literally (LIKE ... ESCAPE);
- `in ('x')` with one value, parameter aliases (`@p`), OData V3 literals (`guid'...'`,
  `12M`, `datetime'...'`) and V3's `substringof`;
- its exceptions (and RecursionError on absurd nesting) become 400, unsupported functions 501.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

from odata_query import ast
from odata_query import exceptions as odata_ex
from odata_query.sqlalchemy.core import AstToSqlAlchemyCoreVisitor
from sqlalchemy import (
    ColumnElement,
    and_,
    cast,
    extract,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.types import BigInteger, Date, Integer, Numeric, String

from gateway.odata import edm
from gateway.odata.errors import not_implemented
from gateway.odata.filter_text import parse
from gateway.odata.filter_types import (
    EDM_NAME,
    FUNCTIONS,
    KIND,
    LITERAL_KIND,
    OP_NAME,
    chain_terms,
    invalid,
    is_decimal,
    is_integer,
)
from gateway.odata.sqlfuncs import (
    odata_ceiling,
    odata_decimal,
    odata_exact,
    odata_floor,
    odata_intdiv,
    odata_lower,
    odata_position,
    odata_substring,
    odata_upper,
)

# Business Central's decimals are .NET's: at most this in magnitude, 28 decimal places.
MAX_DECIMAL = Decimal("79228162514264337593543950335")
_DECIMAL_PLACES = Decimal(1).scaleb(-28)


def decimal_value(node: ast.Float) -> Decimal:
    """A decimal literal as BC reads one: beyond Edm.Decimal's range a 400 (on SQLite and
    PostgreSQL alike, which would otherwise overflow differently), rounded to 28 places."""
    try:
        value = Decimal(node.val)
    except ArithmeticError:
        raise invalid(f"'{node.val}' is not a valid number.") from None
    if not value.is_finite() or abs(value) > MAX_DECIMAL:
        raise invalid(
            f"The number {node.val} is outside the range of Edm.Decimal (at most {MAX_DECIMAL} either side of 0)."
        )
    if value.as_tuple().exponent < -28:  # type: ignore[operator]
        value = value.quantize(_DECIMAL_PLACES, context=Context(prec=60))
    return value


def _exact(expr: Any) -> Any:
    return odata_exact(expr, type_=expr.type) if is_integer(expr) else expr


class FilterCompiler(AstToSqlAlchemyCoreVisitor):
    """AST -> SQLAlchemy where clause over the columns of one entity set."""

    def __init__(self, entity_set: edm.EntitySet, columns: Mapping[str, ColumnElement[Any]], text: str = "") -> None:
        super().__init__(None)  # type: ignore[arg-type]  # we resolve identifiers ourselves
        self.entity_set = entity_set
        self.columns = columns
        self.text = text  # the $filter as sent, for positions in messages

    # kinds ----------------------------------------------------------------------------
    def kind(self, node: ast._Node) -> str:
        if isinstance(node, ast.Identifier):
            return KIND[self._prop(node).type]
        for cls, kind in LITERAL_KIND.items():
            if isinstance(node, cls):
                return kind
        if isinstance(node, ast.List):
            return "list"
        if isinstance(node, ast.Call):
            name = node.func.name.lower()
            if node.func.namespace or name not in FUNCTIONS:
                raise not_implemented(f"The function '{node.func.full_name()}' is not supported in $filter.")
            return FUNCTIONS[name][1]
        if isinstance(node, ast.Attribute):
            return str(self.visit_Attribute(node))
        if isinstance(node, ast.CollectionLambda):
            return str(self.visit_CollectionLambda(node))
        if isinstance(node, ast.BinOp):
            return "number"
        if isinstance(node, ast.UnaryOp):
            return "boolean" if isinstance(node.op, ast.Not) else "number"
        if isinstance(node, ast.Compare | ast.BoolOp):
            return "boolean"
        return "unknown"

    def _prop(self, node: ast.Identifier) -> edm.Property:
        if node.namespace:
            raise invalid(f"Qualified names such as '{node.full_name()}' are not supported here.")
        return self.entity_set.prop(node.name)

    # entry point ----------------------------------------------------------------------
    def compile(self, tree: ast._Node) -> ColumnElement[bool]:
        if self.kind(tree) != "boolean":
            raise invalid("The $filter expression must be a condition (true or false).")
        try:
            condition: ColumnElement[bool] = self.visit(tree)
            return condition
        except RecursionError:
            raise invalid("The $filter expression is nested too deeply.") from None
        except odata_ex.UnsupportedFunctionException as exc:
            raise not_implemented(f"The function '{exc.function_name}' is not supported in $filter.") from None
        except NotImplementedError as exc:
            raise not_implemented(f"Not supported in $filter: {exc}") from None
        except odata_ex.ODataException as exc:
            raise invalid(f"Invalid $filter: {exc}") from None

    def bound_value(self, tree: ast.Compare) -> Any:
        """`Prop eq literal` (gateway/odata/hot_filter.py): the checks compile() makes of it and the
        literal as it binds it (a BindParameter); compile() gives `column == that literal`."""
        self._check_pair(tree.comparator, tree.left, tree.right)
        return self._bound(tree.right, tree.left)

    # nodes ----------------------------------------------------------------------------
    def visit_Identifier(self, node: ast.Identifier) -> ColumnElement[Any]:  # type: ignore[override]
        return self.columns[self._prop(node).name]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        owner = node.owner.full_name() if isinstance(node.owner, ast.Identifier) else "..."
        raise invalid(
            f"Navigation ('{owner}/{node.attr}') is not supported: "
            f"'{self.entity_set.name}' has no navigation properties."
        )

    def visit_CollectionLambda(self, node: ast.CollectionLambda) -> Any:
        raise not_implemented("Lambda operators (any, all) are not supported in $filter.")

    def visit_Integer(self, node: ast.Integer) -> Any:
        value = node.py_val
        if not -(2**63) <= value < 2**63:
            raise invalid(
                f"The number {node.val} is outside the range of Edm.Int64 (at most {2**63 - 1} either side of 0)."
            )
        return literal(value)

    def visit_Float(self, node: ast.Float) -> Any:
        return literal(decimal_value(node), type_=Numeric())

    def visit_GUID(self, node: ast.GUID) -> Any:
        return literal(edm.normalise_guid(node.val))

    def visit_DateTime(self, node: ast.DateTime) -> Any:
        value = self._datetime(node)
        return literal(value)

    def visit_Date(self, node: ast.Date) -> Any:
        return literal(self._date(node))

    @staticmethod
    def _date(node: ast.Date) -> dt.date:
        try:
            return node.py_val
        except ValueError:
            raise invalid(f"'{node.val}' is not a valid date (Edm.Date).") from None

    def visit_Time(self, node: ast.Time) -> Any:
        raise invalid("Edm.TimeOfDay values cannot be used here.")

    def visit_Duration(self, node: ast.Duration) -> Any:
        raise invalid("Edm.Duration values cannot be used here.")

    def visit_Geography(self, node: ast.Geography) -> Any:
        raise not_implemented("Geography values are not supported in $filter.")

    @staticmethod
    def _datetime(node: ast.DateTime) -> dt.datetime:
        try:
            value = node.py_val
        except ValueError:
            raise invalid(f"'{node.val}' is not a valid date and time.") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def _bound(self, node: ast._Node, other: ast._Node) -> Any:
        """A literal bound with the type of the property on the other side, if any."""
        if isinstance(node, ast._Literal) and isinstance(other, ast.Identifier):
            col = self.visit(other)
            if isinstance(node, ast.Null):
                return null()
            if isinstance(node, ast.Boolean):
                return true() if node.py_val else false()
            if isinstance(node, ast.DateTime):
                if self.kind(other) == "date":  # V3's datetime'2020-05-01T00:00' for an Edm.Date
                    return literal(self._datetime(node).date(), type_=col.type)
                return literal(self._datetime(node), type_=col.type)
            if isinstance(node, ast.Date):
                return literal(self._date(node), type_=col.type)
            if isinstance(node, ast.String) and self.kind(other) == "guid":
                return literal(edm.normalise_guid(node.py_val), type_=col.type)
            if isinstance(node, ast.GUID):
                # The canonical text, not a uuid.UUID: the column under a Guid property may be plain text.
                return literal(edm.normalise_guid(node.val), type_=col.type)
            if isinstance(node, ast.Float):
                # As a decimal even against an integer column (`Line_No eq 1.5`): SQLite's driver
                # cannot bind a Decimal as an integer.
                return literal(decimal_value(node), type_=Numeric())
            if isinstance(node, ast.Integer):
                self.visit(node)  # range check
                # 64 bits against an Edm.Int32 column (asyncpg cannot send 2147483648 as int4), and an
                # unbounded NUMERIC against a NUMERIC(20, 5) one (PostgreSQL would cast and overflow).
                return literal(node.py_val, type_=BigInteger() if is_integer(col) else Numeric())
            return literal(node.py_val, type_=col.type)
        return self.visit(node)

    def _check_pair(self, op: ast._Node, left: ast._Node, right: ast._Node) -> None:
        lk, rk = self.kind(left), self.kind(right)
        name = OP_NAME.get(type(op), "?")
        if "null" in (lk, rk):
            if not isinstance(op, ast.Eq | ast.NotEq):
                raise invalid(f"The operator '{name}' cannot compare with null.")
            return
        if lk == rk and lk in ("string", "number", "date", "datetime", "guid", "boolean"):
            if lk in ("boolean", "guid") and not isinstance(op, ast.Eq | ast.NotEq):
                raise invalid(f"The operator '{name}' is not defined for {EDM_NAME[lk]} values.")
            return
        # V3 has no Edm.Date ($metadata V3 says Edm.DateTime): a midnight datetime'...' is that date.
        for a, b in ((left, right), (right, left)):
            if self.kind(a) == "date" and isinstance(b, ast.DateTime):
                if self._datetime(b).timetz() != dt.time(0, tzinfo=dt.UTC):
                    raise invalid(f"'{b.val}' has a time of day; an Edm.Date is compared with a date.")
                return
        # A quoted GUID is accepted where a GUID property is compared (lenient, as BC is).
        for a, b in ((left, right), (right, left)):
            if self.kind(a) == "guid" and isinstance(b, ast.String):
                try:
                    edm.normalise_guid(b.py_val)
                except ValueError:
                    raise invalid(f"'{b.py_val}' is not a valid Edm.Guid value.") from None
                return
        left_text, right_text = self._shown(left), self._shown(right)
        where = self._position(f"{left_text} {name} {right_text}")
        raise invalid(
            f"Cannot compare {left_text} ({self._type_name(left)}) with {right_text} ({self._type_name(right)})"
            f"{where}: the operator '{name}' compares values of the same type."
            + (" Numbers are written without quotes." if lk == "number" and rk == "string" else "")
        )

    def _type_name(self, node: ast._Node) -> str:
        """The EDM type of an operand, as $metadata names it where there is one."""
        if isinstance(node, ast.Identifier):
            return self._prop(node).type
        if isinstance(node, ast.Integer):
            return edm.INT32 if -(2**31) <= node.py_val < 2**31 else edm.INT64
        if isinstance(node, ast.Float):
            return edm.DECIMAL
        kind = self.kind(node)
        return EDM_NAME.get(kind, kind)

    @staticmethod
    def _shown(node: ast._Node) -> str:
        """An operand as it reads in a $filter (a property, a literal), else 'the expression'."""
        if isinstance(node, ast.Identifier):
            return str(node.full_name())
        if isinstance(node, ast.String):
            return "'" + node.py_val.replace("'", "''") + "'"
        if isinstance(node, ast.Boolean | ast.Null):
            return str(node.val).lower() if not isinstance(node, ast.Null) else "null"
        if isinstance(node, ast._Literal):
            return str(getattr(node, "val", ""))
        return "the expression"

    def _position(self, snippet: str) -> str:
        """' at position N' when the snippet is found once in the text as sent (1-based)."""
        at = self.text.find(snippet) if self.text else -1
        if at < 0 or self.text.find(snippet, at + 1) >= 0:
            return ""
        return f" at position {at + 1}"

    def visit_Compare(self, node: ast.Compare) -> Any:
        if isinstance(node.comparator, ast.In):
            items = node.right.val if isinstance(node.right, ast.List) else [node.right]
            if not items:
                raise invalid("An 'in' list needs at least one value.")
            for item in items:
                self._check_pair(ast.Eq(), node.left, item)
            left = self.visit(node.left)
            values = [self._bound(item, node.left) for item in items]
            return left.in_(values)
        self._check_pair(node.comparator, node.left, node.right)
        left = self._bound(node.left, node.right)
        right = self._bound(node.right, node.left)
        op = self.visit(node.comparator)
        return op(left, right)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        for side in (node.left, node.right):
            if self.kind(side) != "number":
                raise invalid(
                    f"The operator '{OP_NAME.get(type(node.op), '?')}' needs numbers, "
                    f"not {EDM_NAME.get(self.kind(side), self.kind(side))}."
                )
        if (
            isinstance(node.op, ast.Div | ast.Mod)
            and isinstance(node.right, ast.Integer | ast.Float)
            and Decimal(node.right.val) == 0
        ):
            # PostgreSQL refuses this and SQLite answers NULL: refuse it the same way on both.
            raise invalid("Division by zero in $filter.")
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Div | ast.Mod):
            # A divisor that comes out 0 on a row: NULL (no match) on both databases, where
            # PostgreSQL would fail the whole query and SQLite answer NULL.
            right = func.nullif(right, 0, type_=right.type)
        if isinstance(node.op, ast.Div) and (is_decimal(left) or is_decimal(right)):
            # Edm.Decimal division is exact; only integers divide as integers (OData's div).
            left, right = odata_decimal(left), odata_decimal(right)
        elif isinstance(node.op, ast.Div) and is_integer(left) and is_integer(right):
            # Truncated toward zero on both databases, without PostgreSQL's bigint overflow.
            return odata_intdiv(left, right)
        elif isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
            left, right = _exact(left), _exact(right)
        return self.visit(node.op)(left, right)

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        # `a or b or c ...` is one level, however long: the chain is walked without recursion
        # (300 CRM_ID terms nest 300 deep in the parser's tree).
        terms = chain_terms(node)
        for side in terms:
            if self.kind(side) != "boolean":
                raise invalid("'and' and 'or' need conditions on both sides.")
        op = and_ if isinstance(node.op, ast.And) else or_
        return op(*[self._condition(term) for term in terms])

    def _condition(self, node: ast._Node) -> Any:
        value = self.visit(node)
        if isinstance(node, ast.Identifier):  # a Boolean property used as a condition
            return value == true()
        return value

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        if isinstance(node.op, ast.Not):
            if self.kind(node.operand) != "boolean":
                raise invalid("'not' needs a condition.")
            return not_(self._condition(node.operand))
        if self.kind(node.operand) != "number":
            raise invalid("'-' needs a number.")
        return operator.neg(_exact(self.visit(node.operand)))

    def visit_Call(self, node: ast.Call) -> Any:
        name = node.func.name.lower()
        if node.func.namespace or name not in FUNCTIONS:
            raise odata_ex.UnsupportedFunctionException(node.func.full_name())
        kinds, _result = FUNCTIONS[name]
        if len(node.args) > len(kinds) or (name != "substring" and len(node.args) != len(kinds)):
            raise invalid(f"Wrong number of arguments for '{name}'.")
        for arg, want in zip(node.args, kinds, strict=False):
            got = self.kind(arg)
            if got not in want.split("|"):
                raise invalid(
                    f"The function '{name}' needs {' or '.join(EDM_NAME[w] for w in want.split('|'))}"
                    f" here, not {EDM_NAME.get(got, got)}."
                )
        return getattr(self, "_fn_" + name)(*node.args)

    # functions --------------------------------------------------------------------------
    def _like(self, field: ast._Node, sub: ast._Node, method: str) -> Any:
        column = self.visit(field)
        if isinstance(sub, ast.String):
            # autoescape: '%' and '_' in the value match themselves, not any character.
            return getattr(column, method)(sub.py_val, autoescape=True)
        needle = self.visit(sub)
        pos = odata_position(column, needle)
        if method == "contains":
            return pos > 0
        if method == "startswith":
            return pos == 1
        length = func.length(needle)
        return func.substr(column, func.length(column) - length + 1) == needle

    def _fn_contains(self, field: ast._Node, sub: ast._Node) -> Any:
        return self._like(field, sub, "contains")

    def _fn_startswith(self, field: ast._Node, sub: ast._Node) -> Any:
        return self._like(field, sub, "startswith")

    def _fn_endswith(self, field: ast._Node, sub: ast._Node) -> Any:
        return self._like(field, sub, "endswith")

    def _fn_tolower(self, arg: ast._Node) -> Any:
        return odata_lower(self.visit(arg))

    def _fn_toupper(self, arg: ast._Node) -> Any:
        return odata_upper(self.visit(arg))

    def _fn_trim(self, arg: ast._Node) -> Any:
        return func.trim(self.visit(arg))

    def _fn_length(self, arg: ast._Node) -> Any:
        return func.length(self.visit(arg), type_=Integer)  # typed, so that 'div' divides it as an integer

    def _fn_concat(self, a: ast._Node, b: ast._Node) -> Any:
        return cast(self.visit(a), String).concat(cast(self.visit(b), String))

    def _fn_indexof(self, a: ast._Node, b: ast._Node) -> Any:
        return odata_position(self.visit(a), self.visit(b)) - 1

    def _fn_substring(self, s: ast._Node, start: ast._Node, length: ast._Node | None = None) -> Any:
        args = [self.visit(s), self.visit(start)]
        if length is not None:
            args.append(self.visit(length))
        return odata_substring(*args)

    def _extract(self, part: str, arg: ast._Node) -> Any:
        return cast(extract(part, self.visit(arg)), Integer)

    def _fn_year(self, arg: ast._Node) -> Any:
        return self._extract("year", arg)

    def _fn_month(self, arg: ast._Node) -> Any:
        return self._extract("month", arg)

    def _fn_day(self, arg: ast._Node) -> Any:
        return self._extract("day", arg)

    def _fn_hour(self, arg: ast._Node) -> Any:
        return self._extract("hour", arg)

    def _fn_minute(self, arg: ast._Node) -> Any:
        return self._extract("minute", arg)

    def _fn_second(self, arg: ast._Node) -> Any:
        return self._extract("second", arg)

    def _fn_date(self, arg: ast._Node) -> Any:
        return cast(self.visit(arg), Date)

    def _fn_round(self, arg: ast._Node) -> Any:
        return func.round(self.visit(arg))

    def _fn_floor(self, arg: ast._Node) -> Any:
        return odata_floor(self.visit(arg))

    def _fn_ceiling(self, arg: ast._Node) -> Any:
        return odata_ceiling(self.visit(arg))


def compile_filter(
    text: str,
    entity_set: edm.EntitySet,
    columns: Mapping[str, ColumnElement[Any]],
    aliases: Mapping[str, str] | None = None,
) -> tuple[ColumnElement[bool], ast._Node]:
    tree = parse(text, aliases)
    return FilterCompiler(entity_set, columns, text).compile(tree), tree
