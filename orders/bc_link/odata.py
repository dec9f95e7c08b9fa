"""OData text for BC's API: literals, ``$filter`` expressions, query strings, entity paths, JSON.

Literals follow ``docs/reference/bc-api.md §1.3``: strings in single quotes with ``''`` for a
quote; GUIDs, numbers, booleans, dates and date-times unquoted
(``lastModifiedDateTime gt 2024-05-01T00:00:00Z``). A GUID is a :class:`uuid.UUID` (a ``str`` is
always a string literal, even when it looks like a GUID: ``externalDocumentNumber`` may hold
anything). Field names are checked to be plain identifiers, so no value can smuggle in syntax.

BC refuses ``or`` between *different* fields ("The 'OR' operator is not supported on distinct
fields..."): :func:`any_of` gives the allowed form, one field against several values. ``in (...)``
needs ``$schemaversion=2.1`` and is not offered.

JSON: numbers with a fraction are read as :class:`~decimal.Decimal` and Decimals are written
exactly, so quantities and amounts never pass through a float.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

__all__ = [
    "and_",
    "any_of",
    "contains",
    "dumps",
    "endswith",
    "entity_path",
    "eq",
    "etag_of",
    "ge",
    "gt",
    "le",
    "literal",
    "loads",
    "lt",
    "ne",
    "not_",
    "or_",
    "query",
    "query_string",
    "startswith",
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_SET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Kept readable in URLs and logs; everything else is percent-encoded (a '+' too: it is no space).
_QUERY_SAFE = "'(),:$/@"


def literal(value: object) -> str:
    """``value`` as an OData literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time for BC must be timezone-aware (BC keeps UTC)")
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no OData literal for {type(value).__name__}")


def _utc_text(value: datetime) -> str:
    moment = value.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"  # BC keeps milliseconds
    return text + "Z"


def _field(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a field name: {name!r}")
    return name


def _compare(op: str) -> Any:
    def build(field: str, value: object) -> str:
        return f"{_field(field)} {op} {literal(value)}"

    build.__name__ = op
    build.__doc__ = f"``field {op} value``"
    return build


eq = _compare("eq")
ne = _compare("ne")
gt = _compare("gt")
ge = _compare("ge")
lt = _compare("lt")
le = _compare("le")


def _function(name: str) -> Any:
    def build(field: str, text: str) -> str:
        return f"{name}({_field(field)},{literal(text)})"

    build.__name__ = name
    build.__doc__ = f"``{name}(field,'text')``"
    return build


startswith = _function("startswith")
endswith = _function("endswith")
contains = _function("contains")


def and_(*parts: str | None) -> str:
    """The parts joined with ``and`` (None and empty parts are left out; a part with an ``or``
    outside parentheses gets its own, so ``and`` cannot bind into it)."""
    kept = [p if _wrapped(p) or " or " not in p else f"({p})" for p in parts if p]
    return " and ".join(kept)


def _wrapped(part: str) -> bool:
    """True when ``part`` is one parenthesised expression (quotes respected)."""
    if not (part.startswith("(") and part.endswith(")")):
        return False
    depth, quoted = 0, False
    for index, char in enumerate(part):
        if char == "'":
            quoted = not quoted  # '' inside a string toggles twice: still quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0 and index != len(part) - 1:
                return False
    return depth == 0


def or_(*parts: str) -> str:
    """The parts joined with ``or``, in parentheses. BC accepts it only when every part is on the
    same field: prefer :func:`any_of`."""
    kept = [p for p in parts if p]
    if not kept:
        raise ValueError("or_ needs at least one part")
    return "(" + " or ".join(kept) + ")" if len(kept) > 1 else kept[0]


def not_(part: str) -> str:
    return f"not ({part})"


def any_of(field: str, values: Iterable[object]) -> str:
    """``(field eq a or field eq b ...)``: the one ``or`` BC takes (one field)."""
    items = list(values)
    if not items:
        raise ValueError("any_of needs at least one value")
    return or_(*(eq(field, v) for v in items))


def query(
    *,
    filter: str | None = None,
    select: Iterable[str] | None = None,
    expand: str | None = None,
    orderby: str | Iterable[str] | None = None,
    top: int | None = None,
) -> dict[str, str]:
    """Query options as params for the client's reads: ``query(filter=eq("number", "10000"), top=1)``."""
    params: dict[str, str] = {}
    if filter:
        params["$filter"] = filter
    if select is not None:
        params["$select"] = ",".join(_field(s) for s in select)
    if expand:
        params["$expand"] = expand
    if orderby:
        params["$orderby"] = orderby if isinstance(orderby, str) else ",".join(orderby)
    if top is not None:
        if top < 0:
            raise ValueError("top cannot be negative")
        params["$top"] = str(top)
    return params


def query_string(params: Mapping[str, object] | None) -> str:
    """``?a=b&...`` percent-encoded for OData (spaces as %20), or ``""``."""
    if not params:
        return ""
    pairs = [f"{quote(str(k), safe='$')}={quote(str(v), safe=_QUERY_SAFE)}" for k, v in params.items()]
    return "?" + "&".join(pairs)


def entity_path(entity_set: str, entity_id: uuid.UUID | str | None = None, *more: str) -> str:
    """``set``, ``set({id})`` or ``set({id})/nav/...``; an id must be a GUID (BC's SystemId)."""
    if not _SET.fullmatch(entity_set):
        raise ValueError(f"not an entity set name: {entity_set!r}")
    path = entity_set
    if entity_id is not None:
        path += f"({_guid(entity_id)})"
    for segment in more:
        if not re.fullmatch(r"[A-Za-z_][\w.]*(?:\([0-9a-fA-F-]{36}\))?", segment):
            raise ValueError(f"not a path segment: {segment!r}")
        path += "/" + segment
    return path


def _guid(value: uuid.UUID | str) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip("{}")))
    except ValueError:
        raise ValueError(f"not a GUID: {value!r}") from None


def etag_of(entity: Mapping[str, Any]) -> str:
    """The entity's ``@odata.etag``, for ``If-Match`` (bc-api §1.5)."""
    etag = entity.get("@odata.etag")
    if not isinstance(etag, str) or not etag:
        raise ValueError("the entity has no @odata.etag")
    return etag


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def dumps(value: Any) -> bytes:
    """JSON for BC: Decimals exact, dates ISO, aware date-times in UTC with ``Z``, UUIDs as text."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to BC")
        return format(value, "f")
    if isinstance(value, uuid.UUID):
        return json.dumps(str(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time for BC must be timezone-aware")
        return json.dumps(_utc_text(value))
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if value is None or isinstance(value, str | int | float | bool):
        return json.dumps(value, allow_nan=False)
    raise TypeError(f"cannot send {type(value).__name__} to BC")
