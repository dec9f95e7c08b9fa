"""$filter: odata-query parses; this module wraps it into what a service needs.

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
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from odata_query import ast
from odata_query import exceptions as odata_ex
from odata_query.grammar import ODataLexer, ODataParser
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
from sqlalchemy.types import Date, Integer, Numeric, String

from gateway.odata import edm
from gateway.odata.errors import ODataError, bad_request, not_implemented
from gateway.odata.sqlfuncs import (
    odata_ceiling,
    odata_decimal,
    odata_floor,
    odata_lower,
    odata_position,
    odata_upper,
)

# Below the request-line limit the app sets (gateway.app.MAX_REQUEST_LINE), so that this limit,
# with an OData error body, answers an overlong $filter rather than the server's plain-text 400.
# Room for `CRM_ID in (...)` with several hundred products.
MAX_FILTER_LENGTH = 32768
# Functions OData defines that odata-query's grammar does not know: unsupported (501), not unknown (400).
_ODATA_FUNCTIONS_NOT_PARSED = {"cast", "isof", "case"}

# --- text rewriting before the parser ---------------------------------------------------

_TOKEN = re.compile(
    r"(?P<str>[A-Za-z]*'(?:[^']|'')*')"
    r"|(?P<word>[@$A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<num>[0-9][0-9A-Za-z.:+\-]*)"
    r"|(?P<ws>\s+)"
    r"|(?P<other>.)",
    re.S,
)
_V3_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?([MmLlDdFf])")


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        value = m.group()
        if kind == "other" and value == "'":
            raise bad_request("Unterminated string literal in $filter.", "BadRequest_InvalidFilter")
        out.append((kind, value))
    return out


def _matching_paren(tokens: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i][1] == "(":
            depth += 1
        elif tokens[i][1] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise bad_request("Unbalanced parentheses in $filter.", "BadRequest_InvalidFilter")


def _split_args(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The top-level comma-separated parts of a token list (without outer parens)."""
    parts: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in tokens:
        if tok[1] == "(":
            depth += 1
        elif tok[1] == ")":
            depth -= 1
        if tok[1] == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _next_significant(tokens: list[tuple[str, str]], i: int) -> int:
    while i < len(tokens) and tokens[i][0] == "ws":
        i += 1
    return i


def _rewrite(tokens: list[tuple[str, str]], aliases: Mapping[str, str], depth: int = 0) -> str:
    if depth > 50:
        raise bad_request("The $filter expression is nested too deeply.", "BadRequest_InvalidFilter")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        low = value.lower()
        if kind == "word" and value.startswith("@"):
            if value[1:] not in aliases:
                raise bad_request(
                    f"The parameter alias '{value}' has no value; add {value}=... to the query.",
                    "BadRequest_InvalidFilter",
                )
            out.append(_rewrite(_tokens(aliases[value[1:]]), {}, depth + 1))
        elif kind == "str" and value[0] != "'":
            prefix, body = value.split("'", 1)
            if prefix.lower() in ("guid", "datetime", "datetimeoffset"):
                out.append(body[:-1])  # the literal without quotes, as V4 writes it
            else:
                out.append(value)
        elif kind == "num" and _V3_NUMBER.fullmatch(value):
            out.append(value[:-1])
        elif kind == "word" and low == "substringof":
            j = _next_significant(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                end = _matching_paren(tokens, j)
                args = _split_args(tokens[j + 1 : end])
                if len(args) != 2:
                    raise bad_request("substringof takes 2 arguments.", "BadRequest_InvalidFilter")
                needle = _rewrite(args[0], aliases, depth + 1)
                hay = _rewrite(args[1], aliases, depth + 1)
                out.append(f"contains({hay},{needle})")
                i = end + 1
                continue
            out.append(value)
        elif kind == "word" and low == "in" and out and out[-1].isspace():
            # odata-query reads ('x') as a parenthesised value, not a list: make it ('x',).
            j = _next_significant(tokens, i + 1)
            out.append(value)
            if j < len(tokens) and tokens[j][1] == "(":
                end = _matching_paren(tokens, j)
                args = _split_args(tokens[j + 1 : end])
                items = [_rewrite(a, aliases, depth + 1).strip() for a in args]
                if any(not item for item in items):
                    raise bad_request("An empty value in an 'in' list.", "BadRequest_InvalidFilter")
                out.append(" (" + ",".join(items) + ("," if len(items) == 1 else "") + ")")
                i = end + 1
                continue
        else:
            out.append(value)
        i += 1
    return "".join(out)


def prepare(text: str, aliases: Mapping[str, str]) -> str:
    """The filter text as odata-query's grammar wants it."""
    if len(text) > MAX_FILTER_LENGTH:
        raise bad_request(
            f"The $filter expression is longer than {MAX_FILTER_LENGTH} characters.",
            "BadRequest_InvalidFilter",
        )
    return _rewrite(_tokens(text), aliases)


def parse(text: str, aliases: Mapping[str, str] | None = None) -> ast._Node:
    """The AST of a $filter, or an ODataError (400 or 501) saying what is wrong."""
    prepared = prepare(text, aliases or {})
    if not prepared.strip():
        raise bad_request("The $filter expression is empty.", "BadRequest_InvalidFilter")
    try:
        return ODataParser().parse(ODataLexer().tokenize(prepared))
    except odata_ex.UnknownFunctionException as exc:
        if exc.function_name.lower() in _ODATA_FUNCTIONS_NOT_PARSED:
            raise not_implemented(f"The function '{exc.function_name}' is not supported in $filter.") from None
        raise bad_request(f"'{exc.function_name}' is not a known OData function.", "BadRequest_InvalidFilter") from None
    except odata_ex.TokenizingException as exc:
        pos = getattr(exc.token, "index", None)
        where = f" at position {pos + 1}" if isinstance(pos, int) else ""
        raise bad_request(f"Syntax error{where} in $filter '{text}'.", "BadRequest_InvalidFilter") from None
    except odata_ex.ParsingException as exc:
        if exc.eof:
            msg = f"Syntax error in $filter '{text}': the expression ends too early."
        else:
            tok = exc.token
            msg = f"Syntax error in $filter '{text}' near '{getattr(tok, 'value', tok)}'."
        raise bad_request(msg, "BadRequest_InvalidFilter") from None
    except odata_ex.ODataException as exc:
        raise bad_request(f"Invalid $filter: {exc}", "BadRequest_InvalidFilter") from None
    except RecursionError:
        raise bad_request("The $filter expression is nested too deeply.", "BadRequest_InvalidFilter") from None
    except ODataError:
        raise
    except Exception as exc:  # sly raises assorted errors on odd input; none may become a 500
        raise bad_request(f"Invalid $filter: {type(exc).__name__}", "BadRequest_InvalidFilter") from None


# --- types --------------------------------------------------------------------------------

_KIND = {
    edm.STRING: "string",
    edm.GUID: "guid",
    edm.INT32: "number",
    edm.INT64: "number",
    edm.DECIMAL: "number",
    edm.BOOLEAN: "boolean",
    edm.DATE: "date",
    edm.DATETIMEOFFSET: "datetime",
}
_LITERAL_KIND = {
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
_EDM_NAME = {
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
_OP_NAME = {
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
_FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
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


def _is_decimal(expr: Any) -> bool:
    return isinstance(getattr(expr, "type", None), Numeric) and not isinstance(expr.type, Integer)


def _is_integer(expr: Any) -> bool:
    return isinstance(getattr(expr, "type", None), Integer)


def _invalid(message: str) -> ODataError:
    return bad_request(message, "BadRequest_InvalidFilter")


class FilterCompiler(AstToSqlAlchemyCoreVisitor):
    """AST -> SQLAlchemy where clause over the columns of one entity set."""

    def __init__(self, entity_set: edm.EntitySet, columns: Mapping[str, ColumnElement[Any]]) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # we resolve identifiers ourselves
        self.entity_set = entity_set
        self.columns = columns

    # kinds ----------------------------------------------------------------------------
    def kind(self, node: ast._Node) -> str:
        if isinstance(node, ast.Identifier):
            return _KIND[self._prop(node).type]
        for cls, kind in _LITERAL_KIND.items():
            if isinstance(node, cls):
                return kind
        if isinstance(node, ast.List):
            return "list"
        if isinstance(node, ast.Call):
            name = node.func.name.lower()
            if node.func.namespace or name not in _FUNCTIONS:
                raise not_implemented(f"The function '{node.func.full_name()}' is not supported in $filter.")
            return _FUNCTIONS[name][1]
        if isinstance(node, ast.Attribute):
            return self.visit_Attribute(node)
        if isinstance(node, ast.CollectionLambda):
            return self.visit_CollectionLambda(node)
        if isinstance(node, ast.BinOp):
            return "number"
        if isinstance(node, ast.UnaryOp):
            return "boolean" if isinstance(node.op, ast.Not) else "number"
        if isinstance(node, ast.Compare | ast.BoolOp):
            return "boolean"
        return "unknown"

    def _prop(self, node: ast.Identifier) -> edm.Property:
        if node.namespace:
            raise _invalid(f"Qualified names such as '{node.full_name()}' are not supported here.")
        return self.entity_set.prop(node.name)

    # entry point ----------------------------------------------------------------------
    def compile(self, tree: ast._Node) -> ColumnElement[bool]:
        if self.kind(tree) != "boolean":
            raise _invalid("The $filter expression must be a condition (true or false).")
        try:
            return self.visit(tree)
        except RecursionError:
            raise _invalid("The $filter expression is nested too deeply.") from None
        except odata_ex.UnsupportedFunctionException as exc:
            raise not_implemented(f"The function '{exc.function_name}' is not supported in $filter.") from None
        except NotImplementedError as exc:
            raise not_implemented(f"Not supported in $filter: {exc}") from None
        except odata_ex.ODataException as exc:
            raise _invalid(f"Invalid $filter: {exc}") from None

    # nodes ----------------------------------------------------------------------------
    def visit_Identifier(self, node: ast.Identifier) -> ColumnElement[Any]:
        return self.columns[self._prop(node).name]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        owner = node.owner.full_name() if isinstance(node.owner, ast.Identifier) else "..."
        raise _invalid(
            f"Navigation ('{owner}/{node.attr}') is not supported: "
            f"'{self.entity_set.name}' has no navigation properties."
        )

    def visit_CollectionLambda(self, node: ast.CollectionLambda) -> Any:
        raise not_implemented("Lambda operators (any, all) are not supported in $filter.")

    def visit_Integer(self, node: ast.Integer) -> Any:
        value = node.py_val
        if not -(2**63) <= value < 2**63:
            raise _invalid(f"The number {node.val} is too large.")
        return literal(value)

    def visit_Float(self, node: ast.Float) -> Any:
        return literal(Decimal(node.val))

    def visit_GUID(self, node: ast.GUID) -> Any:
        return literal(edm.normalise_guid(node.val))

    def visit_DateTime(self, node: ast.DateTime) -> Any:
        value = self._datetime(node)
        return literal(value)

    def visit_Time(self, node: ast.Time) -> Any:
        raise _invalid("Edm.TimeOfDay values cannot be used here.")

    def visit_Duration(self, node: ast.Duration) -> Any:
        raise _invalid("Edm.Duration values cannot be used here.")

    def visit_Geography(self, node: ast.Geography) -> Any:
        raise not_implemented("Geography values are not supported in $filter.")

    @staticmethod
    def _datetime(node: ast.DateTime) -> dt.datetime:
        try:
            value = node.py_val
        except ValueError:
            raise _invalid(f"'{node.val}' is not a valid date and time.") from None
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
                return literal(node.py_val, type_=col.type)
            if isinstance(node, ast.String) and self.kind(other) == "guid":
                return literal(edm.normalise_guid(node.py_val), type_=col.type)
            if isinstance(node, ast.GUID):
                # The canonical text, not a uuid.UUID: the column under a Guid property may be plain text.
                return literal(edm.normalise_guid(node.val), type_=col.type)
            if isinstance(node, ast.Float):
                return literal(Decimal(node.val), type_=col.type)
            if isinstance(node, ast.Integer):
                self.visit(node)  # range check
                return literal(node.py_val, type_=col.type)
            return literal(node.py_val, type_=col.type)
        return self.visit(node)

    def _check_pair(self, op: ast._Node, left: ast._Node, right: ast._Node) -> None:
        lk, rk = self.kind(left), self.kind(right)
        name = _OP_NAME.get(type(op), "?")
        if "null" in (lk, rk):
            if not isinstance(op, ast.Eq | ast.NotEq):
                raise _invalid(f"The operator '{name}' cannot compare with null.")
            return
        if lk == rk and lk in ("string", "number", "date", "datetime", "guid", "boolean"):
            if lk in ("boolean", "guid") and not isinstance(op, ast.Eq | ast.NotEq):
                raise _invalid(f"The operator '{name}' is not defined for {_EDM_NAME[lk]} values.")
            return
        # V3 has no Edm.Date ($metadata V3 says Edm.DateTime): a midnight datetime'...' is that date.
        for a, b in ((left, right), (right, left)):
            if self.kind(a) == "date" and isinstance(b, ast.DateTime):
                if self._datetime(b).timetz() != dt.time(0, tzinfo=dt.UTC):
                    raise _invalid(f"'{b.val}' has a time of day; an Edm.Date is compared with a date.")
                return
        # A quoted GUID is accepted where a GUID property is compared (lenient, as BC is).
        for a, b in ((left, right), (right, left)):
            if self.kind(a) == "guid" and isinstance(b, ast.String):
                try:
                    edm.normalise_guid(b.py_val)
                except ValueError:
                    raise _invalid(f"'{b.py_val}' is not a valid Edm.Guid value.") from None
                return
        raise _invalid(
            f"The operator '{name}' is not defined for the types {_EDM_NAME.get(lk, lk)} and {_EDM_NAME.get(rk, rk)}."
        )

    def visit_Compare(self, node: ast.Compare) -> Any:
        if isinstance(node.comparator, ast.In):
            items = node.right.val if isinstance(node.right, ast.List) else [node.right]
            if not items:
                raise _invalid("An 'in' list needs at least one value.")
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
                raise _invalid(
                    f"The operator '{_OP_NAME.get(type(node.op), '?')}' needs numbers, "
                    f"not {_EDM_NAME.get(self.kind(side), self.kind(side))}."
                )
        if (
            isinstance(node.op, ast.Div | ast.Mod)
            and isinstance(node.right, ast.Integer | ast.Float)
            and Decimal(node.right.val) == 0
        ):
            # PostgreSQL refuses this and SQLite answers NULL: refuse it the same way on both.
            raise _invalid("Division by zero in $filter.")
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Div) and (_is_decimal(left) or _is_decimal(right)):
            # Edm.Decimal division is exact; only integers divide as integers (OData's div).
            left, right = odata_decimal(left), odata_decimal(right)
        elif isinstance(node.op, ast.Div) and _is_integer(left) and _is_integer(right):
            # SQLAlchemy's '/' is true division; '//' on integers is the databases' own integer
            # division, which truncates toward zero on both.
            return operator.floordiv(left, right)
        return self.visit(node.op)(left, right)

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        for side in (node.left, node.right):
            if self.kind(side) != "boolean":
                raise _invalid("'and' and 'or' need conditions on both sides.")
        op = and_ if isinstance(node.op, ast.And) else or_
        return op(self._condition(node.left), self._condition(node.right))

    def _condition(self, node: ast._Node) -> Any:
        value = self.visit(node)
        if isinstance(node, ast.Identifier):  # a Boolean property used as a condition
            return value == true()
        return value

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        if isinstance(node.op, ast.Not):
            if self.kind(node.operand) != "boolean":
                raise _invalid("'not' needs a condition.")
            return not_(self._condition(node.operand))
        if self.kind(node.operand) != "number":
            raise _invalid("'-' needs a number.")
        return operator.neg(self.visit(node.operand))

    def visit_Call(self, node: ast.Call) -> Any:
        name = node.func.name.lower()
        if node.func.namespace or name not in _FUNCTIONS:
            raise odata_ex.UnsupportedFunctionException(node.func.full_name())
        kinds, _result = _FUNCTIONS[name]
        if len(node.args) > len(kinds) or (name != "substring" and len(node.args) != len(kinds)):
            raise _invalid(f"Wrong number of arguments for '{name}'.")
        for arg, want in zip(node.args, kinds, strict=False):
            got = self.kind(arg)
            if got not in want.split("|"):
                raise _invalid(
                    f"The function '{name}' needs {' or '.join(_EDM_NAME[w] for w in want.split('|'))}"
                    f" here, not {_EDM_NAME.get(got, got)}."
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
        args = [self.visit(s), cast(self.visit(start), Integer) + 1]
        if length is not None:
            args.append(cast(self.visit(length), Integer))
        return func.substr(*args)

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
    return FilterCompiler(entity_set, columns).compile(tree), tree


# --- what an answer depends on (for caching) ------------------------------------------------

Tags = frozenset[tuple[str, str]]


def identity_tags(
    tree: ast._Node | None, entity_set: edm.EntitySet, tag_of: Callable[[Any, edm.Property], str]
) -> Tags | None:
    """The identities a filtered answer depends on, or None when it may depend on any row.

    `A and B` depends only on the rows A admits, so one narrowing side suffices; `A or B`
    needs both sides narrowed; `not`, comparisons other than eq/in, and no filter are broad.
    """
    ident = entity_set.cache_identity or {}
    if tree is None:
        return None

    def walk(node: ast._Node) -> Tags | None:
        if isinstance(node, ast.BoolOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.And):
                if left is None:
                    return right
                if right is None:
                    return left
                return left if len(left) <= len(right) else right
            if left is None or right is None:
                return None
            return left | right
        if isinstance(node, ast.Compare) and isinstance(node.comparator, ast.Eq | ast.In):
            ident_side, value_side = node.left, node.right
            if not isinstance(ident_side, ast.Identifier):
                ident_side, value_side = node.right, node.left
            if not isinstance(ident_side, ast.Identifier) or ident_side.name not in ident:
                return None
            values = value_side.val if isinstance(value_side, ast.List) else [value_side]
            prop = entity_set.by_name[ident_side.name]
            tags = set()
            for v in values:
                if not isinstance(v, ast.String | ast.GUID | ast.Integer):
                    return None
                tags.add(
                    (
                        ident[ident_side.name],
                        tag_of(v.py_val if not isinstance(v, ast.GUID) else v.val, prop),
                    )
                )
            return frozenset(tags)
        return None

    return walk(tree)
