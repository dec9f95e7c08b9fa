"""The grammar of BC's ``$filter``: tokens, a recursive-descent parser, and BC's own restrictions.

BC translates a filter into AL record filters, so ``or`` may only join conditions on one field;
``in (...)`` and nested function calls need ``$schemaversion=2.1``; lambda operators are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, query_syntax

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
    |(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\w-]))
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w.]))
    |(?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    |(?P<punct>[(),/:])
    )""",
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_STRING_FUNCS = {"startswith", "endswith", "contains", "tolower", "toupper", "substring"}


@dataclass
class Node:
    kind: str  # prop | lit | func | cmp | in | and | or | not | true
    value: Any = None
    args: tuple[Node, ...] = ()
    lit_type: str = ""


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise query_syntax()
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise query_syntax()
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise query_syntax()

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] in words:
            self.pos += 1
            return token[1]
        return None

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise query_syntax()
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.keyword("or"):
            node = Node("or", args=(node, self.and_expr()))
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.keyword("and"):
            node = Node("and", args=(node, self.not_expr()))
        return node

    def not_expr(self) -> Node:
        if self.keyword("not"):
            return Node("not", args=(self.not_expr(),))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.primary()
        op = self.keyword(*_COMPARE, "in")
        if op is None:
            return left
        if op == "in":
            self.expect("(")
            values = [self.primary()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.primary())
            self.expect(")")
            return Node("in", args=(left, *values))
        return Node("cmp", op, (left, self.primary()))

    def primary(self) -> Node:
        kind, value = self.take()
        if value == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if kind == "str":
            return Node("lit", value[1:-1].replace("''", "'"), lit_type="string")
        if kind in ("guid", "date", "datetime"):
            return Node("lit", value, lit_type=kind)
        if kind == "num":
            return Node("lit", value.rstrip("mMdDfFlL"), lit_type="number")
        if kind != "name":
            raise query_syntax()
        if value in ("true", "false"):
            return Node("lit", value == "true", lit_type="bool")
        if value == "null":
            return Node("lit", None, lit_type="null")
        nxt = self.peek()
        if nxt == ("punct", "("):
            self.take()
            args: list[Node] = []
            if self.peek() != ("punct", ")"):
                args.append(self.or_expr())
                while self.peek() == ("punct", ","):
                    self.take()
                    args.append(self.or_expr())
            self.expect(")")
            return Node("func", value.lower(), tuple(args))
        if nxt == ("punct", "/"):
            return self.lambda_expr()
        return Node("prop", value)

    def lambda_expr(self) -> Node:
        """`lines/any(l: l/quantity gt 1)`: BC ignores lambda operators, so the condition is dropped."""
        self.take()
        if self.keyword("any", "all") is None:
            raise query_syntax()
        self.expect("(")
        depth = 1
        while depth:
            value = self.take()[1]
            depth += {"(": 1, ")": -1}.get(value, 0)
        return Node("true")


def props_of(node: Node) -> set[str]:
    if node.kind == "prop":
        return {node.value}
    found: set[str] = set()
    for arg in node.args:
        found |= props_of(arg)
    return found


def check(node: Node, v21: bool, inside_func: bool = False) -> None:
    if node.kind == "or" and len(props_of(node)) > 1:
        raise ApiError(400, "BadRequest", "The 'OR' operator is not supported on distinct fields on an OData filter.")
    if node.kind == "in" and not v21:
        raise query_syntax("The 'in' operator requires $schemaversion=2.1.")
    if node.kind == "func":
        if node.value not in _STRING_FUNCS:
            raise ApiError(400, "BadRequest_NotSupported", f"The function '{node.value}' is not supported.")
        if inside_func and not v21:
            raise query_syntax("Nested function calls require $schemaversion=2.1.")
    for arg in node.args:
        check(arg, v21, inside_func or node.kind == "func")
