"""Field transfer (bc-sync.md §1.4): the values a write would carry, and which of them differ. Pure.

BC records are dicts of our column names; Sales rows are dicts as the Web API returns them (a
lookup as ``_<column>_value``). A lookup is translated through the couplings of the mapping the
field names (``lookup_mapping``); outgoing lookups are ``Bind`` values, which the Sales adapter
writes as ``<navigation>@odata.bind``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from orders.sync.model import Direction, FieldMapping
from orders.sync.transform import apply_rule, reverse_rule

SALES = "Dataverse"


@dataclass(frozen=True, slots=True)
class Bind:
    """A Sales lookup to write: the row ``id`` of ``entity_set`` (None clears it)."""

    entity_set: str
    id: str | None


@dataclass(frozen=True, slots=True)
class LookupTable:
    """The couplings of one mapping: BC code -> Sales id, and the Sales entity set they point into."""

    entity_set: str
    code_to_id: Mapping[str, str]

    def id_to_code(self) -> dict[str, str]:
        return {v.lower(): k for k, v in self.code_to_id.items()}


@dataclass(frozen=True, slots=True)
class BcField:
    """What comparing a BC field needs: its length, and whether it is a Code (upper-cased, trimmed)."""

    length: int | None = None
    code: bool = False


@dataclass(slots=True)
class Transfer:
    values: dict[str, Any] = field(default_factory=dict)  # destination column -> value to write
    changed: list[FieldMapping] = field(default_factory=list)  # the field rows whose values differ
    error: str = ""


def lookup_column(name: str) -> str:
    return f"_{name}_value"


def _constant(text: str) -> Any:
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    return None


def same_value(a: Any, b: Any) -> bool:
    """Equal as BC compares them: numbers by value, GUIDs case-insensitively, "" like None."""
    if isinstance(a, Bind):
        a = a.id
    if isinstance(b, Bind):
        b = b.id
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    sa = "" if a is None else str(a)
    sb = "" if b is None else str(b)
    if sa.lower() == sb.lower() and _is_guid(sa):
        return True
    if isinstance(a, (Decimal, int)) or isinstance(b, (Decimal, int)):
        try:
            return Decimal(sa or "0") == Decimal(sb or "0")
        except InvalidOperation:
            return False
    return sa == sb


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def fit_bc_value(value: Any, spec: BcField | None) -> Any:
    """A value as a BC field would hold it: Code upper-cased and trimmed, text cut to length."""
    if not isinstance(value, str) or spec is None:
        return value
    if spec.code:
        value = value.strip().upper()
    if spec.length is not None:
        value = value[: spec.length]
    return value


def not_coupled_message(caption: str, value: Any) -> str:
    return f"{caption} {value} must be coupled to a record in {SALES}."


def to_sales(
    rows: tuple[FieldMapping, ...],
    record: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    lookups: Mapping[str, LookupTable],
) -> Transfer:
    """BC record -> Sales row values. ``current`` is the Sales row now (None: an insert: every
    value is carried)."""
    out = Transfer()
    for row in rows:
        if row.field_name:
            value = apply_rule(row.transformation_rule, record.get(row.field_name))
        else:
            value = _constant(row.constant_value)
        if row.lookup_mapping:
            table = lookups.get(row.lookup_mapping)
            if table is None:
                out.error = f"Table {row.field_name} must be mapped to table {row.lookup_mapping} to transfer value."
                return out
            code = value or ""
            target = table.code_to_id.get(code) if code else None
            if code and target is None and not row.clear_value_on_failed_sync:
                out.error = not_coupled_message(row.bc_caption, code)
                return out
            if target is None and row.not_null:
                continue  # never write an empty GUID
            value = Bind(table.entity_set, target)
            now = None if current is None else current.get(lookup_column(row.integration_field))
        else:
            now = None if current is None else current.get(row.integration_field)
        if current is None or not same_value(value, now):
            out.values[row.integration_field] = value
            if current is not None:
                out.changed.append(row)
    return out


def to_bc(
    rows: tuple[FieldMapping, ...],
    sales_row: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    lookups: Mapping[str, LookupTable],
    bc_fields: Mapping[str, BcField],
) -> Transfer:
    """Sales row -> BC record values (our column names); ``current`` the BC record now."""
    out = Transfer()
    for row in rows:
        if not row.field_name:
            continue  # a constant for Sales' side only
        if row.integration_field:
            if row.lookup_mapping:
                table = lookups.get(row.lookup_mapping)
                if table is None:
                    out.error = (
                        f"Table {row.integration_field} must be mapped to table {row.lookup_mapping} to transfer value."
                    )
                    return out
                target = sales_row.get(lookup_column(row.integration_field))
                code = table.id_to_code().get(str(target).lower()) if target else ""
                if target and code is None:
                    if not row.clear_value_on_failed_sync:
                        out.error = f"{row.integration_field} {target} must be coupled to a record in Business Central."
                        return out
                    code = ""
                value: Any = code
            else:
                value = reverse_rule(row.transformation_rule, sales_row.get(row.integration_field))
        else:
            value = _constant(row.constant_value)
        value = fit_bc_value(value, bc_fields.get(row.field_name))
        if value is None and isinstance(current, Mapping) and isinstance(current.get(row.field_name), str):
            value = ""
        now = None if current is None else current.get(row.field_name)
        if current is None or not same_value(value, now):
            out.values[row.field_name] = value
            if current is not None:
                out.changed.append(row)
    return out


def differing_bidirectional(transfer: Transfer, direction: Direction) -> list[tuple[str, str]]:
    """(source field, destination field) captions of the bidirectional rows that differ."""
    pairs = []
    for row in transfer.changed:
        if row.direction != Direction.BIDIRECTIONAL:
            continue
        bc_side, sales_side = row.bc_caption, row.integration_field
        pairs.append((bc_side, sales_side) if direction == Direction.TO else (sales_side, bc_side))
    return pairs
