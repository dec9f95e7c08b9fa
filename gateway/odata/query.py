"""System query options: read, check and normalise them (not apply them)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.odata import edm
from gateway.odata.errors import bad_request, not_implemented

# Options we understand, per protocol version.
_V4_SUPPORTED = {
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$format",
    "$skiptoken",
}
_V3_SUPPORTED = {
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$inlinecount",
    "$format",
    "$skiptoken",
}
# Options OData defines that we do not implement: 501, not 400.
_V4_UNSUPPORTED = {
    "$expand",
    "$search",
    "$apply",
    "$compute",
    "$levels",
    "$index",
    "$schemaversion",
    "$deltatoken",
    "$id",
}
_V3_UNSUPPORTED = {"$expand", "$links", "$callback"}

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_ORDER_ITEM = re.compile(rf"\s*({_IDENT})(?:\s+(asc|desc))?\s*", re.I)


@dataclass(frozen=True, slots=True)
class QueryOptions:
    filter: str | None = None
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    top: int | None = None
    skip: int | None = None
    count: bool = False
    skiptoken: str | None = None
    format: str | None = None
    company: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    # Custom options that are not ours (tenant=..., and anything else): kept for next links.
    passthrough: tuple[tuple[str, str], ...] = ()

    def has_collection_options(self) -> bool:
        return bool(
            self.filter is not None
            or self.orderby
            or self.top is not None
            or self.skip is not None
            or self.count
            or self.skiptoken
        )


def _non_negative(name: str, value: str) -> int:
    if not re.fullmatch(r"\d{1,18}", value.strip()):
        raise bad_request(
            f"The value '{value}' of {name} is not valid: it must be a whole number, 0 or more.",
            "BadRequest_InvalidQueryOption",
        )
    return int(value)


def parse_options(items: Iterable[tuple[str, str]], v3: bool = False) -> QueryOptions:
    """Parse (name, value) pairs of the query string into QueryOptions.

    Unknown `$` options are a 400; OData options we do not implement are a 501; a repeated
    option is a 400; names are case-insensitive, as OData 4.01 allows.
    """
    supported = _V3_SUPPORTED if v3 else _V4_SUPPORTED
    unsupported = _V3_UNSUPPORTED if v3 else _V4_UNSUPPORTED
    seen: dict[str, str] = {}
    aliases: dict[str, str] = {}
    company: str | None = None
    passthrough: list[tuple[str, str]] = []
    for raw_name, value in items:
        name = raw_name.strip()
        low = name.lower()
        if low.startswith("$"):
            if low in unsupported:
                raise not_implemented(f"The query option '{name}' is not supported by this service.")
            if low not in supported:
                raise bad_request(
                    f"The query parameter '{name}' is not supported.",
                    "BadRequest_InvalidQueryOption",
                )
            if low in seen:
                raise bad_request(
                    f"The query option '{name}' was specified more than once.",
                    "BadRequest_InvalidQueryOption",
                )
            seen[low] = value
        elif low.startswith("@"):
            if not re.fullmatch(rf"@{_IDENT}", name):
                raise bad_request(f"'{name}' is not a valid parameter alias.", "BadRequest_InvalidQueryOption")
            if name[1:] in aliases:
                raise bad_request(
                    f"The parameter alias '{name}' was specified more than once.",
                    "BadRequest_InvalidQueryOption",
                )
            aliases[name[1:]] = value
        elif low == "company":
            company = value
        else:
            passthrough.append((name, value))

    top = _non_negative("$top", seen["$top"]) if "$top" in seen else None
    skip = _non_negative("$skip", seen["$skip"]) if "$skip" in seen else None

    count = False
    if v3 and "$inlinecount" in seen:
        if seen["$inlinecount"] not in ("allpages", "none"):
            raise bad_request(
                "The value of $inlinecount must be 'allpages' or 'none'.",
                "BadRequest_InvalidQueryOption",
            )
        count = seen["$inlinecount"] == "allpages"
    elif "$count" in seen:
        if seen["$count"].lower() not in ("true", "false"):
            raise bad_request("The value of $count must be true or false.", "BadRequest_InvalidQueryOption")
        count = seen["$count"].lower() == "true"

    select = None
    if "$select" in seen:
        parts = [p.strip() for p in seen["$select"].split(",")]
        if not all(parts):
            raise bad_request("$select has an empty item.", "BadRequest_InvalidQueryOption")
        for p in parts:
            if p != "*" and not re.fullmatch(_IDENT, p):
                raise bad_request(
                    f"'{p}' in $select is not a property name; paths and expressions are not supported.",
                    "BadRequest_InvalidQueryOption",
                )
        select = tuple(dict.fromkeys(parts))

    orderby: list[tuple[str, bool]] = []
    if "$orderby" in seen:
        for part in seen["$orderby"].split(","):
            m = _ORDER_ITEM.fullmatch(part)
            if not m:
                if "(" in part or "/" in part:
                    raise not_implemented(
                        f"Ordering by an expression ('{part.strip()}') is not supported; order by property names."
                    )
                raise bad_request(
                    f"'{part.strip()}' in $orderby is not valid: use 'Property [asc|desc]'.",
                    "BadRequest_InvalidQueryOption",
                )
            orderby.append((m.group(1), (m.group(2) or "asc").lower() == "desc"))

    flt = seen.get("$filter")
    if flt is not None and not flt.strip():
        raise bad_request("The $filter expression is empty.", "BadRequest_InvalidFilter")

    return QueryOptions(
        filter=flt,
        select=select,
        orderby=tuple(orderby),
        top=top,
        skip=skip,
        count=count,
        skiptoken=seen.get("$skiptoken"),
        format=seen.get("$format"),
        company=company,
        aliases=aliases,
        passthrough=tuple(passthrough),
    )


def check_against(options: QueryOptions, entity_set: edm.EntitySet) -> None:
    """Names in $select and $orderby must be properties of the set."""
    for name in options.select or ():
        if name != "*":
            entity_set.prop(name)
    seen = set()
    for name, _desc in options.orderby:
        entity_set.prop(name)
        if name in seen:
            raise bad_request(f"'{name}' appears twice in $orderby.", "BadRequest_InvalidQueryOption")
        seen.add(name)


def selected(options: QueryOptions, entity_set: edm.EntitySet) -> tuple[edm.Property, ...]:
    if not options.select or "*" in options.select:
        return entity_set.properties
    return tuple(entity_set.by_name[n] for n in options.select)
