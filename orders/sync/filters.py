"""Table filters of a mapping (BC's stored table views, in a small form of our own). Pure.

A filter is comma-separated conditions on our column names: ``blocked=false``, ``type=Person``,
``company_no<>`` (not blank), ``currency_code=`` (blank). The integration-table filter is OData
``$filter`` text and goes to Sales as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Condition:
    column: str
    value: str
    negate: bool


class BadFilter(ValueError):
    """A mapping's table filter we cannot read."""


def parse(text: str) -> tuple[Condition, ...]:
    conditions = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "<>" in part:
            column, value = part.split("<>", 1)
            negate = True
        elif "=" in part:
            column, value = part.split("=", 1)
            negate = False
        else:
            raise BadFilter(f"The filter '{part}' is not valid: use column=value or column<>value.")
        conditions.append(Condition(column.strip(), value.strip(), negate))
    return tuple(conditions)


def _matches(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return actual == (wanted.lower() in ("true", "yes", "1"))
    text = "" if actual is None else str(actual)
    return text.lower() == wanted.lower()


def accepts(text: str, record: Mapping[str, Any]) -> bool:
    """Whether a BC record is inside the mapping's table filter."""
    return all(_matches(record.get(c.column), c.value) != c.negate for c in parse(text))
