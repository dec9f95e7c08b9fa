"""$filter types: the EDM kind of each AST node and literal, the operators, and their names."""

from __future__ import annotations

from typing import Any

from odata_query import ast
from sqlalchemy.types import Integer, Numeric

from gateway.odata import edm
from gateway.odata.errors import ODataError, bad_request

KIND = {
    edm.STRING: "string",
    edm.GUID: "guid",
    edm.INT32: "number",
    edm.INT64: "number",
    edm.DECIMAL: "number",
    edm.BOOLEAN: "boolean",
    edm.DATE: "date",
    edm.DATETIMEOFFSET: "datetime",
}
LITERAL_KIND = {
    ast.String: "string",
    ast.Integer: "number",
    ast.Float: "number",
    ast.Boolean: "boolean",
    ast.GUID: "guid",
    ast.Date: "date",
    ast.DateTime: "datetime",
    ast.Null: "null",
    ast.Time: "time",
    ast.Duration: "duration",
    ast.Geography: "geography",
}
EDM_NAME = {
    "string": "Edm.String",
    "guid": "Edm.Guid",
    "number": "a number",
    "boolean": "Edm.Boolean",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "null": "null",
    "time": "Edm.TimeOfDay",
    "duration": "Edm.Duration",
    "geography": "Edm.Geography",
    "list": "a list",
}
OP_NAME = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.In: "in",
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Mod: "mod",
}

# function -> (argument kinds, result kind); `None` accepts any kind.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "contains": (("string", "string"), "boolean"),
    "startswith": (("string", "string"), "boolean"),
    "endswith": (("string", "string"), "boolean"),
    "tolower": (("string",), "string"),
    "toupper": (("string",), "string"),
    "trim": (("string",), "string"),
    "length": (("string",), "number"),
    "concat": (("string", "string"), "string"),
    "indexof": (("string", "string"), "number"),
    "substring": (("string", "number", "number"), "string"),
    "year": (("date|datetime",), "number"),
    "month": (("date|datetime",), "number"),
    "day": (("date|datetime",), "number"),
    "hour": (("datetime",), "number"),
    "minute": (("datetime",), "number"),
    "second": (("datetime",), "number"),
    "date": (("datetime",), "date"),
    "round": (("number",), "number"),
    "floor": (("number",), "number"),
    "ceiling": (("number",), "number"),
}


def is_decimal(expr: Any) -> bool:
    return isinstance(getattr(expr, "type", None), Numeric) and not isinstance(expr.type, Integer)


def is_integer(expr: Any) -> bool:
    return isinstance(getattr(expr, "type", None), Integer)


def invalid(message: str) -> ODataError:
    return bad_request(message, "BadRequest_InvalidFilter")


def chain_terms(node: ast.BoolOp) -> list[ast._Node]:
    """The operands of a chain of one operator (`a and b and c`), left to right, without recursion."""
    terms: list[ast._Node] = []
    stack: list[ast._Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BoolOp) and type(current.op) is type(node.op):
            stack += [current.right, current.left]
        else:
            terms.append(current)
    return terms
