"""OData ``$filter`` compiled to a predicate over stored rows, with literals typed by the property
they are compared with (GUIDs, numbers, dates and date-times unquoted; Code values upper-cased).
The grammar and BC's restrictions live in filter_syntax.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .errors import ApiError, not_an_option, query_syntax
from .fields import Field, Kind, match_option, parse_datetime
from .filter_syntax import OP_NAMES, Node, Parser, check, props_of, tokenize

Getter = Callable[[dict[str, Any]], Any]
Pred = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Col:
    """An exposed property: its name, type, and how to read it from a stored row."""

    name: str
    field: Field
    get: Getter


@dataclass
class Compiled:
    pred: Pred
    # Bounds on the leading sort field, so a scan can seek instead of reading the whole table.
    lower: Any = None
    upper: Any = None
    upper_inclusive: bool = True
    props: frozenset[str] = frozenset()


class _Compiler:
    def __init__(self, schema: dict[str, Col], entity: str) -> None:
        self.schema = schema
        self.entity = entity

    def col(self, name: str) -> Col:
        col = self.schema.get(name)
        if col is None:
            raise ApiError(
                400,
                "BadRequest_NotFound",
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{self.entity}'.",
            )
        return col

    def literal(self, node: Node, f: Field, op: str = "eq") -> Any:
        kind, lit, raw = f.kind, node.lit_type, node.value
        wanted = kind.edm
        ok = {
            Kind.CODE: ("string",),
            Kind.TEXT: ("string",),
            Kind.ENUM: ("string",),
            Kind.GUID: ("guid",),
            Kind.DECIMAL: ("number",),
            Kind.INT: ("number",),
            Kind.BOOL: ("bool",),
            Kind.DATE: ("date",),
            Kind.DATETIME: ("datetime", "date"),
        }[kind]
        if lit not in ok:
            found = {"string": "Edm.String", "guid": "Edm.Guid", "number": "Edm.Int32", "bool": "Edm.Boolean"}.get(
                lit, f"Edm.{lit.capitalize()}"
            )
            raise ApiError(
                400,
                "BadRequest",
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{wanted}' and '{found}' for operator kind '{OP_NAMES.get(op, 'Equal')}'.",
            )
        if kind is Kind.CODE:
            return str(raw).upper()
        if kind is Kind.ENUM:
            matched = match_option(str(raw), f.options)
            if matched is None:
                raise not_an_option(str(raw), f.options)
            return matched
        if kind is Kind.GUID:
            return str(raw).lower()
        if kind is Kind.DECIMAL:
            return Decimal(raw)
        if kind is Kind.INT:
            number = Decimal(raw)
            return int(number) if number == number.to_integral_value() else number
        if kind is Kind.DATE:
            return date.fromisoformat(raw)
        if kind is Kind.DATETIME:
            return parse_datetime(raw if lit == "datetime" else f"{raw}T00:00:00Z")
        return raw

    def value(self, node: Node) -> tuple[Getter, Field | None]:
        """A getter for a property or string function; literals are handled by comparisons."""
        if node.kind == "prop":
            col = self.col(node.value)
            return col.get, col.field
        if node.kind == "func" and node.value in ("tolower", "toupper", "substring"):
            inner, f = self.value(node.args[0]) if node.args else (None, None)
            if inner is None or f is None or not f.kind.is_string:
                raise query_syntax()
            if node.value == "substring":
                start = int(node.args[1].value) if len(node.args) > 1 and node.args[1].kind == "lit" else 0
                length = int(node.args[2].value) if len(node.args) > 2 and node.args[2].kind == "lit" else None
                end = None if length is None else start + length
                return (lambda r: inner(r)[start:end]), Field(f.name, Kind.TEXT)
            convert = str.lower if node.value == "tolower" else str.upper
            return (lambda r: convert(inner(r))), Field(f.name, Kind.TEXT)
        raise query_syntax()

    def compile(self, node: Node) -> Pred:
        kind = node.kind
        if kind == "true":
            return lambda r: True
        if kind == "and":
            a, b = self.compile(node.args[0]), self.compile(node.args[1])
            return lambda r: a(r) and b(r)
        if kind == "or":
            a, b = self.compile(node.args[0]), self.compile(node.args[1])
            return lambda r: a(r) or b(r)
        if kind == "not":
            a = self.compile(node.args[0])
            return lambda r: not a(r)
        if kind == "in":
            get, f = self.value(node.args[0])
            assert f is not None
            values = frozenset(self.literal(v, f) for v in node.args[1:])
            return lambda r: get(r) in values
        if kind == "func":
            return self.function(node)
        if kind == "cmp":
            return self.comparison(node)
        if kind == "prop" and self.col(node.value).field.kind is Kind.BOOL:
            get = self.col(node.value).get
            return lambda r: bool(get(r))
        raise query_syntax()

    def function(self, node: Node) -> Pred:
        if node.value not in ("startswith", "endswith", "contains") or len(node.args) != 2:
            raise query_syntax()
        get, f = self.value(node.args[0])
        needle_node = node.args[1]
        if needle_node.kind != "lit" or needle_node.lit_type != "string" or f is None or not f.kind.is_string:
            raise query_syntax()
        needle = str(needle_node.value)
        if f.kind is Kind.CODE and node.args[0].kind == "prop":
            needle = needle.upper()
        if node.value == "startswith":
            return lambda r: get(r).startswith(needle)
        if node.value == "endswith":
            return lambda r: get(r).endswith(needle)
        return lambda r: needle in get(r)

    def comparison(self, node: Node) -> Pred:
        op, (left, right) = node.value, node.args
        if left.kind == "lit" and right.kind != "lit":
            left, right = right, left
            op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
        if left.kind == "func" and left.value in ("startswith", "endswith", "contains"):
            pred = self.function(left)
            if right.kind != "lit" or right.lit_type != "bool" or op not in ("eq", "ne"):
                raise query_syntax()
            want = right.value == (op == "eq")
            return lambda r: pred(r) == want
        get, f = self.value(left)
        if right.kind != "lit" or f is None:
            raise query_syntax()
        value = self.literal(right, f, op)
        return _OPS[op](get, value)


def _op_eq(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) == v


def _op_ne(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) != v


def _op_gt(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) > v


def _op_ge(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) >= v


def _op_lt(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) < v


def _op_le(g: Getter, v: Any) -> Pred:
    return lambda r: g(r) <= v


_OPS: dict[str, Callable[[Getter, Any], Pred]] = {
    "eq": _op_eq,
    "ne": _op_ne,
    "gt": _op_gt,
    "ge": _op_ge,
    "lt": _op_lt,
    "le": _op_le,
}


def _bounds(node: Node, lead: str, compiler: _Compiler, out: Compiled) -> None:
    """Range conditions on the leading sort field among the top-level `and`s."""
    if node.kind == "and":
        for arg in node.args:
            _bounds(arg, lead, compiler, out)
        return
    if node.kind != "cmp":
        return
    left, right = node.args
    if not (left.kind == "prop" and left.value == lead and right.kind == "lit"):
        return
    value = compiler.literal(right, compiler.col(lead).field, node.value)
    if node.value in ("gt", "ge", "eq") and (out.lower is None or value > out.lower):
        out.lower = value
    if node.value in ("lt", "le", "eq") and (out.upper is None or value < out.upper):
        out.upper, out.upper_inclusive = value, node.value != "lt"


def compile_filter(text: str, schema: dict[str, Col], entity: str, v21: bool, lead: str | None = None) -> Compiled:
    tree = Parser(text).parse()
    check(tree, v21)
    compiler = _Compiler(schema, entity)
    out = Compiled(compiler.compile(tree), props=frozenset(props_of(tree)))
    if lead is not None:
        _bounds(tree, lead, compiler, out)
    return out


def parse_literal_for(f: Field, raw: str) -> Any:
    """A key or token value written as in a filter (used by the web-service key syntax)."""
    tokens = tokenize(raw)
    if len(tokens) != 1:
        raise query_syntax()
    node = Parser(raw).primary()
    return _Compiler({}, "").literal(node, f)
