"""$filter text: the rewriting odata-query's grammar needs, then odata-query's parser.

Before the parser: OData V3 literals (`guid'...'`, `12M`, `datetime'...'`) and `substringof`
become V4, `in ('x')` with one value becomes a list, parameter aliases (`@p`) get their values.
The parser's exceptions (and RecursionError on absurd nesting) become 400, unsupported functions 501,
with a message in OData's terms: what was unexpected, where (the 1-based position in the text as
sent), and a hint when a text value lacks its quotes.

A parameter alias's value is one literal (a string, number, date, GUID, true, false, null), never
an expression (or a parenthesised list of literals, for `in`): `No eq @p&@p='x' or 1 eq 1` is a 400,
not `No eq 'x' or 1 eq 1`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cachetools import LRUCache
from odata_query import ast
from odata_query import exceptions as odata_ex
from odata_query.grammar import ODataLexer, ODataParser

from gateway.odata.errors import ODataError, bad_request, not_implemented

# Below the request-line limit the app sets (gateway.app.MAX_REQUEST_LINE), so that this limit,
# with an OData error body, answers an overlong $filter rather than the server's plain-text 400.
# Room for `CRM_ID in (...)` with several hundred products.
MAX_FILTER_LENGTH = 32768
# Functions OData defines that odata-query's grammar does not know: unsupported (501), not unknown (400).
_ODATA_FUNCTIONS_NOT_PARSED = {"cast", "isof", "case"}

_TOKEN = re.compile(
    # A GUID is one token: read as words, signs and a number, its last group could pass for a V3
    # number with a type suffix (`0e375815925f`: a Single) and lose its last character.
    r"(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Za-z_.:+\-])"
    r"|(?P<str>[A-Za-z]*'(?:[^']|'')*')"
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
            out.append(_alias_literal(value, aliases[value[1:]]))
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


def _alias_literal(name: str, value: str) -> str:
    """The alias's value as filter text: exactly one literal, or a 400 (never an expression)."""
    _no_nul(value)
    text = _rewrite(_tokens(value), {}, 1).strip()
    try:
        node = ODataParser().parse(ODataLexer().tokenize(text)) if text else None
    except Exception:  # the parser's errors, and sly's assorted ones on odd input
        node = None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand if isinstance(node.operand, ast.Integer | ast.Float) else None
    # A list of literals, `('B1','B2')`, stands for the values of an `in`.
    is_list = isinstance(node, ast.List) and all(isinstance(item, ast._Literal) for item in node.val)
    if not (isinstance(node, ast._Literal) or is_list):
        raise bad_request(
            f"The parameter alias '{name}' must have a single value (a string in quotes, a number, a date, "
            f"a GUID, true, false or null, or a list of them in parentheses), not '{value}'.",
            "BadRequest_InvalidFilter",
        )
    return f"({text})" if text.startswith("-") else text


def _unexpected(prepared: str, index: int) -> tuple[int, str]:
    """Where the parser stopped (skipping blanks) and the word or sign found there."""
    while index < len(prepared) and prepared[index].isspace():
        index += 1
    m = re.match(r"[A-Za-z0-9_.@$]+|'(?:[^']|'')*'?|.", prepared[index:], re.S)
    return index, (m.group() if m else "")


_UNQUOTED = re.compile(
    r"((?:[A-Za-z_][A-Za-z0-9_]*\s+)?(?:eq|ne|gt|ge|lt|le))\s+([A-Za-z0-9][A-Za-z0-9_.]*(?:-[A-Za-z0-9_.]+)+)(?=[\s)]|$)"
)
_LITERAL_LIKE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}.*|[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def _quote_hint(text: str) -> str:
    """'No eq 1896-S': a text value without quotes reads as arithmetic; say so."""
    for m in _UNQUOTED.finditer(text):
        if not _LITERAL_LIKE.fullmatch(m.group(2)):
            return f" Text values are written in single quotes: {m.group(1)} '{m.group(2)}'."
    return ""


_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "add", "sub", "mul", "div", "mod", "in", "has"}


def _syntax_error(text: str, prepared: str, index: int | None) -> ODataError:
    if index is None or index >= len(prepared.rstrip()):
        return bad_request(
            f"Syntax error in $filter '{text}': the expression ends too early (an operand or ')' is missing).",
            "BadRequest_InvalidFilter",
        )
    index, found = _unexpected(prepared, index)
    if found.lower() in _OPERATORS and not prepared[index + len(found) :].strip():
        return _syntax_error(text, prepared, None)  # 'No eq': the operand after the operator is missing
    # Positions count in the text as sent; after a V3 rewrite (guid'...' and so on) they would not.
    where = f" at position {index + 1}" if prepared == text else ""
    return bad_request(
        f"Syntax error{where} in $filter '{text}': '{found}' is not expected there.{_quote_hint(text)}",
        "BadRequest_InvalidFilter",
    )


def prepare(text: str, aliases: Mapping[str, str]) -> str:
    """The filter text as odata-query's grammar wants it."""
    if len(text) > MAX_FILTER_LENGTH:
        raise bad_request(
            f"The $filter expression is longer than {MAX_FILTER_LENGTH} characters.",
            "BadRequest_InvalidFilter",
        )
    _no_nul(text)
    return _rewrite(_tokens(text), aliases)


def _no_nul(text: str) -> None:
    # PostgreSQL refuses NUL in text (SQLite would compare it): refused alike on both, as no BC field holds one.
    if "\x00" in text:
        raise bad_request(
            f"The character U+0000 (NUL) at position {text.index(chr(0)) + 1} cannot be used in $filter.",
            "BadRequest_InvalidFilter",
        )


# Parsed filters by their text and aliases: the same $filter comes again and again (Sales asks for
# the same products), and odata-query's parser (sly) costs ~40 µs a time. The trees are frozen
# dataclasses, safe to share. Only successes are kept; a bad filter is parsed (and refused) anew.
_PARSED: LRUCache[tuple[str, tuple[tuple[str, str], ...]], ast._Node] = LRUCache(maxsize=4096)


def parse(text: str, aliases: Mapping[str, str] | None = None) -> ast._Node:
    """The AST of a $filter, or an ODataError (400 or 501) saying what is wrong."""
    key = (text, tuple(sorted(aliases.items())) if aliases else ())
    tree = _PARSED.get(key)
    if tree is None:
        tree = _PARSED[key] = _parse(text, aliases)
    return tree


def _parse(text: str, aliases: Mapping[str, str] | None = None) -> ast._Node:
    prepared = prepare(text, aliases or {})
    if not prepared.strip():
        raise bad_request("The $filter expression is empty.", "BadRequest_InvalidFilter")
    try:
        tree: ast._Node = ODataParser().parse(ODataLexer().tokenize(prepared))
        return tree
    except odata_ex.UnknownFunctionException as exc:
        if exc.function_name.lower() in _ODATA_FUNCTIONS_NOT_PARSED:
            raise not_implemented(f"The function '{exc.function_name}' is not supported in $filter.") from None
        raise bad_request(f"'{exc.function_name}' is not a known OData function.", "BadRequest_InvalidFilter") from None
    except odata_ex.TokenizingException as exc:
        pos = getattr(exc.token, "index", None)
        raise _syntax_error(text, prepared, pos if isinstance(pos, int) else 0) from None
    except odata_ex.ParsingException as exc:
        pos = None if exc.eof else getattr(exc.token, "index", None)
        raise _syntax_error(text, prepared, pos if isinstance(pos, int) else None) from None
    except odata_ex.ODataException as exc:
        raise bad_request(f"Invalid $filter: {exc}", "BadRequest_InvalidFilter") from None
    except RecursionError:
        raise bad_request("The $filter expression is nested too deeply.", "BadRequest_InvalidFilter") from None
    except ODataError:
        raise
    except Exception as exc:  # sly raises assorted errors on odd input; none may become a 500
        raise bad_request(f"Invalid $filter: {type(exc).__name__}", "BadRequest_InvalidFilter") from None
