"""Query options other than $filter, and server-driven paging.

The ``$skiptoken`` in a nextLink holds the sort key of the last row sent (not an offset), so a page
continues after that row whatever was inserted or deleted meanwhile: rows are neither repeated
nor skipped. Without ``$orderby`` a page is a seek plus a short walk over the table's index.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

import orjson

from .errors import ApiError, query_syntax
from .fields import etag_for, parse_datetime, to_wire
from .query import Col, Compiled, compile_filter

KNOWN_OPTIONS = {
    "$filter",
    "$select",
    "$expand",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$schemaversion",
    "$format",
}


@dataclass
class ExpandItem:
    name: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class Options:
    filter_text: str | None = None
    filter: Compiled | None = None
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: list[ExpandItem] = field(default_factory=list)
    token: dict[str, Any] | None = None
    v21: bool = False


def _split_top(text: str, sep: str) -> list[str]:
    """Split on sep outside parentheses and quotes."""
    parts: list[str] = []
    depth, start, quoted = 0, 0, False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_expand(text: str) -> list[ExpandItem]:
    items: list[ExpandItem] = []
    for part in _split_top(text, ","):
        name, _, rest = part.partition("(")
        item = ExpandItem(name.strip())
        if rest:
            if not rest.endswith(")"):
                raise query_syntax()
            for option in _split_top(rest[:-1], ";"):
                key, sep, value = option.partition("=")
                if not sep:
                    raise query_syntax()
                item.options[key.strip()] = value.strip()
        items.append(item)
    return items


def _int_option(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f"Invalid value '{raw}' for {name} query option found.") from None
    if value < 0:
        raise ApiError(400, "BadRequest", f"Invalid value '{raw}' for {name} query option found.")
    return value


def parse_options(
    query: Mapping[str, str], schema: dict[str, Col], entity: str, lead: str | None, nested: bool = False
) -> Options:
    for key in query:
        if key.startswith("$") and key not in KNOWN_OPTIONS:
            raise ApiError(400, "BadRequest", f"The query parameter '{key}' is not supported.")
    opts = Options(v21=query.get("$schemaversion", "") in ("2.1", "2.1.0"))
    if "$filter" in query:
        opts.filter_text = query["$filter"]
        opts.filter = compile_filter(query["$filter"], schema, entity, opts.v21, lead)
    if "$select" in query:
        opts.select = [s.strip() for s in query["$select"].split(",") if s.strip()]
        for name in opts.select:
            if name not in schema:
                raise ApiError(
                    400,
                    "BadRequest_NotFound",
                    f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'.",
                )
    if "$orderby" in query:
        for part in query["$orderby"].split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise query_syntax()
            if words[0] not in schema:
                raise ApiError(
                    400,
                    "BadRequest_NotFound",
                    f"Could not find a property named '{words[0]}' on type 'Microsoft.NAV.{entity}'.",
                )
            opts.orderby.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    if "$top" in query:
        opts.top = _int_option("$top", query["$top"])
    if "$skip" in query:
        opts.skip = _int_option("$skip", query["$skip"])
    if "$count" in query:
        if query["$count"] not in ("true", "false"):
            raise query_syntax()
        opts.count = query["$count"] == "true"
    if "$expand" in query:
        opts.expand = parse_expand(query["$expand"])
    if "$skiptoken" in query and not nested:
        opts.token = decode_token(query["$skiptoken"])
    return opts


# -- tokens --------------------------------------------------------------------------------------


def _enc(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, Decimal):
        return ["d", str(value)]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["D", value.isoformat()]
    return ["s", str(value)]


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "b": bool,
    "i": int,
    "d": Decimal,
    "t": parse_datetime,
    "D": date.fromisoformat,
    "s": str,
}


def _dec(pair: list[Any]) -> Any:
    tag, raw = pair
    return _DECODERS[tag](raw)


def encode_token(data: dict[str, Any]) -> str:
    payload = dict(data)
    payload["k"] = [_enc(v) for v in data["k"]]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(raw: str) -> dict[str, Any]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        data["k"] = tuple(_dec(pair) for pair in data["k"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise ApiError(400, "BadRequest", "The skip token is not valid.") from None
    return dict(data)


# -- running a query -----------------------------------------------------------------------------


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_token: str | None
    count: int | None = None


def _compare(a: tuple[Any, ...], b: tuple[Any, ...], desc: tuple[bool, ...]) -> int:
    for x, y, d in zip(a, b, desc, strict=False):
        if x == y:
            continue
        smaller = x < y
        return (1 if smaller else -1) if d else (-1 if smaller else 1)
    return 0


def run_query(
    scan: Callable[[tuple[Any, ...] | None, Any], Iterable[dict[str, Any]]],
    key_of: Callable[[dict[str, Any]], tuple[Any, ...]],
    opts: Options,
    schema: dict[str, Col],
    page_size: int,
    key_names: tuple[str, ...] = (),
) -> Page:
    """One page. ``scan(after_key, lower_bound)`` yields rows in key order after after_key.

    ``key_names``: the properties the table's key is made of. An ``$orderby`` of the key (or of
    its leading part), ascending, is the key order: a seek, as in BC, not a sort of every row."""
    pred = opts.filter.pred if opts.filter else None
    token = opts.token or {}
    top = token.get("r", opts.top)
    limit = page_size if top is None else min(page_size, top)
    after: tuple[Any, ...] | None = token.get("k")
    skip = 0 if opts.token else opts.skip
    upper = opts.filter.upper if opts.filter else None
    upper_inclusive = opts.filter.upper_inclusive if opts.filter else True
    lower = opts.filter.lower if opts.filter else None

    def matching(source: Iterable[dict[str, Any]], bounded: bool) -> Iterator[dict[str, Any]]:
        for row in source:
            if bounded and upper is not None:
                lead = key_of(row)[0]
                if lead > upper or (lead == upper and not upper_inclusive):
                    return
            if pred is None or pred(row):
                yield row

    count = None
    if opts.count:
        count = sum(1 for _ in matching(scan(None, lower), True))
    names = [name for name, _ in opts.orderby]
    in_key_order = bool(key_names) and not any(d for _, d in opts.orderby) and tuple(names) == key_names[: len(names)]
    if not opts.orderby or in_key_order:
        rows: list[dict[str, Any]] = []
        more = False
        for row in matching(scan(after, lower), True):
            if skip:
                skip -= 1
                continue
            if len(rows) == limit:
                more = True
                break
            rows.append(row)
        last_key = key_of(rows[-1]) if rows else None
    else:
        desc = tuple(d for _, d in opts.orderby) + (False,) * 8
        getters = [schema[name].get for name in names]

        def order_key(row: dict[str, Any]) -> tuple[Any, ...]:
            return (*(g(row) for g in getters), *key_of(row))

        candidates = [(order_key(r), r) for r in matching(scan(None, lower), True)]

        def by_order(a: tuple[tuple[Any, ...], Any], b: tuple[tuple[Any, ...], Any]) -> int:
            return _compare(a[0], b[0], desc)

        candidates.sort(key=cmp_to_key(by_order))
        if after is not None:
            candidates = [c for c in candidates if _compare(c[0], after, desc) > 0]
        candidates = candidates[skip:]
        more = len(candidates) > limit
        rows = [r for _, r in candidates[:limit]]
        last_key = order_key(rows[-1]) if rows else None
    if top is not None and len(rows) >= top:
        more = False
    next_token = None
    if more and last_key is not None:
        data: dict[str, Any] = {"k": list(last_key), "p": page_size}
        if top is not None:
            data["r"] = top - len(rows)
        next_token = encode_token(data)
    return Page(rows, next_token, count)


def shape(row: dict[str, Any], cols: list[Col]) -> dict[str, Any]:
    """A stored row as BC sends it: its ETag first, then the selected properties in page order."""
    out: dict[str, Any] = {"@odata.etag": etag_for(row["_v"])}
    for col in cols:
        out[col.name] = to_wire(col.field, col.get(row))
    return out


def selected(schema: dict[str, Col], select: list[str] | None) -> list[Col]:
    if select is None:
        return list(schema.values())
    wanted = set(select)
    return [col for name, col in schema.items() if name in wanted]
