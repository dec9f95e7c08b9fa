"""Resource paths: `Company('X')/Set(key)/Property/$value`, `Set/$count`, `$metadata` ..."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from gateway.odata import edm
from gateway.odata.errors import bad_request, not_found

COMPANY_SET = "Company"
_SEGMENT = re.compile(r"([A-Za-z_$][A-Za-z0-9_]*)(?:\((.*)\))?", re.S)


@dataclass(frozen=True, slots=True)
class ResourcePath:
    kind: str  # service | metadata | collection | entity | property | count | batch
    set_name: str | None = None
    company: str | None = None  # from a Company('X') segment
    key: tuple[tuple[str | None, str], ...] = ()  # raw (name, literal) pairs
    property: str | None = None
    raw_value: bool = False  # Property/$value


def split_segments(path: str) -> list[str]:
    """Split on '/' outside single-quoted literals."""
    segments: list[str] = []
    current: list[str] = []
    in_quote = False
    for ch in path:
        if ch == "'":
            in_quote = not in_quote
        if ch == "/" and not in_quote:
            segments.append("".join(current))
            current = []
        else:
            current.append(ch)
    if in_quote:
        raise bad_request("Unterminated quoted value in the resource path.")
    segments.append("".join(current))
    return [s for s in segments if s != ""]


def split_key(text: str) -> list[tuple[str | None, str]]:
    """`'10000'` -> [(None, "'10000'")]; `A=1,B='x'` -> [("A","1"), ("B","'x'")]."""
    parts: list[str] = []
    current: list[str] = []
    in_quote = False
    for ch in text:
        if ch == "'":
            in_quote = not in_quote
        if ch == "," and not in_quote:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    out: list[tuple[str | None, str]] = []
    for part in parts:
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*", part, re.S)
        if m and not part.strip().startswith("'"):
            out.append((m.group(1), m.group(2)))
        else:
            out.append((None, part.strip()))
    if any(not v for _n, v in out):
        raise bad_request("The key predicate has an empty value.", "BadRequest_InvalidKey")
    return out


def _company_name(literal: str) -> str:
    text = literal.strip()
    m = re.fullmatch(r"(?:Name\s*=\s*)?'((?:[^']|'')*)'", text)
    if not m:
        raise bad_request(
            f"Company({literal}) is not valid: write the company name in quotes, Company('CRONUS').",
            "BadRequest_InvalidKey",
        )
    return m.group(1).replace("''", "'")


# Paths by their text: the same few (a set under a company) come on nearly every request, and
# splitting them walks the text character by character. Only successes are kept.
_PARSED: LRUCache[str, ResourcePath] = LRUCache(maxsize=4096)


def parse_path(path: str) -> ResourcePath:
    found = _PARSED.get(path)
    if found is None:
        found = _PARSED[path] = _parse_path(path)
    return found


def _parse_path(path: str) -> ResourcePath:
    segments = split_segments(path)
    if not segments:
        return ResourcePath("service")
    if segments == ["$metadata"]:
        return ResourcePath("metadata")
    if segments[0] == "$batch":
        return ResourcePath("batch")

    company = None
    first = _SEGMENT.fullmatch(segments[0])
    if first and first.group(1) == COMPANY_SET and first.group(2) is not None and len(segments) > 1:
        company = _company_name(first.group(2))
        segments = segments[1:]

    m = _SEGMENT.fullmatch(segments[0])
    if not m or m.group(1).startswith("$"):
        raise not_found(f"No resource was found at '{segments[0]}'.")
    set_name, key_text = m.group(1), m.group(2)
    key = tuple(split_key(key_text)) if key_text is not None else ()
    rest = segments[1:]

    if not key:
        if not rest:
            return ResourcePath("collection", set_name, company)
        if rest == ["$count"]:
            return ResourcePath("count", set_name, company)
        raise not_found(f"No resource was found at '{'/'.join(rest)}' under '{set_name}'.")
    if not rest:
        return ResourcePath("entity", set_name, company, key)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rest[0]):
        raise not_found(f"No resource was found at '{rest[0]}'.")
    if len(rest) == 1:
        return ResourcePath("property", set_name, company, key, rest[0])
    if rest[1:] == ["$value"]:
        return ResourcePath("property", set_name, company, key, rest[0], raw_value=True)
    raise not_found(f"No resource was found at '{'/'.join(rest)}'.")


def key_values(raw: tuple[tuple[str | None, str], ...], entity_set: edm.EntitySet, v3: bool) -> dict[str, Any]:
    """Typed key values, checked against the set's key."""
    names = entity_set.key
    if len(raw) != len(names):
        raise bad_request(
            f"The key of '{entity_set.name}' has {len(names)} part(s): " + ", ".join(names) + f"; {len(raw)} given.",
            "BadRequest_InvalidKey",
        )
    values: dict[str, Any] = {}
    if len(raw) == 1 and raw[0][0] is None:
        prop = entity_set.by_name[names[0]]
        values[prop.name] = edm.parse_literal(raw[0][1], prop, v3)
        return values
    for name, text in raw:
        if name is None or name not in names:
            raise bad_request(
                f"The key of '{entity_set.name}' is ({', '.join(n + '=...' for n in names)}).",
                "BadRequest_InvalidKey",
            )
        if name in values:
            raise bad_request(f"The key part '{name}' is given twice.", "BadRequest_InvalidKey")
        values[name] = edm.parse_literal(text, entity_set.by_name[name], v3)
    return values
