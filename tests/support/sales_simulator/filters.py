"""``$filter`` as the simulator understands it: comparisons ``<property> eq|ne|gt|ge|lt|le
<literal>`` combined with ``and``, ``or``, ``not`` and parentheses — what the clients send (the
synchronisation jobs' ``modifiedon gt <mark> and _modifiedby_value ne <user>``, BC's ``(a eq x or
a eq null)``). Literals: 'text' (quotes doubled inside), numbers, GUIDs, true/false/null, dates
(2024-05-30) and DateTimeOffsets (2024-05-30T12:00:00Z, fractions and offsets allowed). Functions
(``contains``...) and lambda operators are refused with Dataverse's syntax error code.

Text compares case-insensitively, as Dataverse's default collation does; a comparison with null
is true only for ``eq null`` / ``ne <value>``, as in OData.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tests.support.sales_simulator.errors import Refused
from tests.support.sales_simulator.tables import Table

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![\w-])"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})(?![\w:-])"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<open>\()|(?P<close>\))"
    r"|(?P<other>\S))"
)
_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")


_GUID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def key_candidates(text: str, key: str) -> set[str] | None:
    """The ids a filter made only of ``<key> eq <id>`` terms joined by ``or`` can match (a read of
    rows by id, 50 at a time); None for any other filter. A narrowing only, so that such a read does
    not look at every row: the filter is still applied to those rows."""
    term = rf"\s*{re.escape(key)}\s+eq\s+({_GUID_TEXT})\s*"
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    if re.fullmatch(rf"{term}(?:or{term})*", inner) is None:
        return None
    return {guid.lower() for guid in re.findall(_GUID_TEXT, inner)}


def parse_filter(text: str, table: Table) -> Predicate:
    """A predicate on a row's Web API view; Refused (400, 0x80060888) for anything else."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # only trailing blanks are left
            break
        pos = match.end()
        kind = match.lastgroup or "other"
        tokens.append((kind, match.group(kind)))
    parser = _Parser(text, tokens, table)
    predicate = parser.expression()
    if parser.i != len(tokens):
        raise parser.syntax()
    return predicate


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]], table: Table) -> None:
        self.text, self.tokens, self.table, self.i = text, tokens, table, 0

    def syntax(self) -> Refused:
        return Refused(
            400,
            "0x80060888",
            f"Syntax error at position {self.i} in '{self.text}': this simulator supports "
            "'<property> eq|ne|gt|ge|lt|le <literal>' comparisons with and, or, not and parentheses.",
        )

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.syntax()
        self.i += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.peek() == ("word", "or"):
            self.i += 1
            terms.append(self.conjunction())
        if len(terms) == 1:
            return terms[0]
        return lambda view: any(term(view) for term in terms)

    def conjunction(self) -> Predicate:
        factors = [self.unary()]
        while self.peek() == ("word", "and"):
            self.i += 1
            factors.append(self.unary())
        if len(factors) == 1:
            return factors[0]
        return lambda view: all(factor(view) for factor in factors)

    def unary(self) -> Predicate:
        if self.peek() == ("word", "not"):
            self.i += 1
            inner = self.unary()
            return lambda view: not inner(view)
        if self.peek() is not None and self.peek()[0] == "open":  # type: ignore[index]
            self.i += 1
            inner = self.expression()
            if self.take()[0] != "close":
                raise self.syntax()
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "word" or name in ("and", "or", "not"):
            raise self.syntax()
        op_kind, op = self.take()
        if op_kind != "word" or op not in _COMPARISONS:
            raise self.syntax()
        literal_kind, literal_text = self.take()
        self.table.check_properties([name])
        literal = _literal(literal_kind, literal_text, self.syntax())
        return lambda view: _compare(view.get(name), op, literal)


def _literal(kind: str, text: str, error: Exception) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "guid":
        return text.lower()
    if kind == "num":
        return Decimal(text)
    if kind == "datetime":
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "word" and text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    raise error


def _as_literal_type(value: Any, literal: Any) -> Any:
    """The row's JSON value in the literal's type (None when it cannot be compared with it)."""
    if isinstance(literal, bool) or isinstance(value, bool):
        return value if isinstance(value, bool) and isinstance(literal, bool) else None
    if isinstance(literal, Decimal):
        return Decimal(str(value)) if isinstance(value, int | float | Decimal) else None
    if isinstance(literal, datetime):
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(literal, date):
        try:
            return date.fromisoformat(value[:10]) if isinstance(value, str) else None
        except ValueError:
            return None
    if isinstance(literal, str):
        return value.casefold() if isinstance(value, str) else None
    return None


def _compare(value: Any, op: str, literal: Any) -> bool:
    if literal is None or value is None:
        same = value is None and literal is None
        return same if op == "eq" else (not same) if op == "ne" else False
    left = _as_literal_type(value, literal)
    right = literal.casefold() if isinstance(literal, str) else literal
    if left is None:
        return op == "ne"
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if isinstance(left, bool):
        return False
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)
