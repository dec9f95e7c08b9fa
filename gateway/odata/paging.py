"""Server-driven paging: an opaque $skiptoken that continues after the last row (keyset).

The token holds the sort values of the last row sent and a fingerprint of the query, so a token
cannot be replayed against another query. Rows are ordered by the requested $orderby and then by
the key, with nulls first ascending and last descending on both databases.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, false, or_

from gateway.odata import edm
from gateway.odata.errors import bad_request


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _encode_value(value: Any, prop: edm.Property) -> Any:
    if value is None:
        return None
    if prop.type == edm.DECIMAL:
        return str(Decimal(str(value)))
    if prop.type in (edm.DATE, edm.DATETIMEOFFSET):
        return value.isoformat()
    return value


def _decode_value(value: Any, prop: edm.Property) -> Any:
    if value is None:
        return None
    t = prop.type
    if t in (edm.STRING, edm.GUID):
        if not isinstance(value, str):
            raise ValueError
        return value
    if t in (edm.INT32, edm.INT64):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError
        return value
    if t == edm.DECIMAL:
        return Decimal(value)
    if t == edm.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError
        return value
    if t == edm.DATE:
        return dt.date.fromisoformat(value)
    if t == edm.DATETIMEOFFSET:
        return dt.datetime.fromisoformat(value)
    raise ValueError


def encode_token(query_fp: str, values: Sequence[Any], props: Sequence[edm.Property]) -> str:
    payload = [query_fp, [_encode_value(v, p) for v, p in zip(values, props, strict=True)]]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: str, query_fp: str, props: Sequence[edm.Property]) -> list[Any]:
    invalid = bad_request(
        "The $skiptoken is not valid for this request; follow the @odata.nextLink as given.",
        "BadRequest_InvalidToken",
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fp, values = orjson.loads(raw)
        if fp != query_fp or not isinstance(values, list) or len(values) != len(props):
            raise invalid
        return [_decode_value(v, p) for v, p in zip(values, props, strict=True)]
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError):
        raise invalid from None


def order_clauses(columns: Sequence[tuple[ColumnElement[Any], bool, bool]]) -> list[Any]:
    """ORDER BY items for (column, descending, nullable)."""
    out = []
    for col, desc, nullable in columns:
        if desc:
            out.append(col.desc().nulls_last() if nullable else col.desc())
        else:
            out.append(col.asc().nulls_first() if nullable else col.asc())
    return out


def after(columns: Sequence[tuple[ColumnElement[Any], bool, bool]], values: Sequence[Any]) -> Any:
    """WHERE clause: rows that come after `values` in the order of `columns`."""
    alternatives = []
    for i, (col, desc, nullable) in enumerate(columns):
        prefix = []
        for (c, _d, _n), v in zip(columns[:i], values[:i], strict=True):
            prefix.append(c.is_(None) if v is None else c == v)
        v = values[i]
        step: ColumnElement[bool]
        if v is None:
            step = false() if desc else col.is_not(None)
        elif desc:
            step = or_(col < v, col.is_(None)) if nullable else col < v
        else:
            step = col > v
        alternatives.append(and_(*prefix, step))
    return or_(*alternatives)
