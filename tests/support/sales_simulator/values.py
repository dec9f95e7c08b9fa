"""Column values in their three forms: what a test passes to a helper (Python values), what the
Web API receives and answers (JSON), and what the simulator stores (Decimal, date, datetime,
EntityReference for lookups). Dataverse's type checks on writes live here (docs/reference/dataverse.md §3.4)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.support.dataverse_payloads import EntityReference, OptionSetValue
from tests.support.sales_simulator.errors import Refused
from tests.support.sales_simulator.tables import OTHER_SETS, TABLES, Table


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("boolean")
    result = Decimal(str(value)) if isinstance(value, int | float | str | Decimal) else None
    if result is None or not result.is_finite():
        raise TypeError("not a number")
    return result


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def json_value(value: Any) -> Any:
    """A stored value as the Web API writes it."""
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, EntityReference):
        return value.id
    return value


def reference(value: Any, targets: tuple[str, ...]) -> EntityReference:
    """A lookup value from a helper: an EntityReference, (logical name, id), or a bare id when the
    lookup can point into one table only."""
    if isinstance(value, EntityReference):
        return EntityReference(value.logical_name, value.id.lower())
    if isinstance(value, tuple):
        return EntityReference(value[0], str(value[1]).lower())
    if isinstance(value, str) and len(targets) == 1:
        return EntityReference(targets[0], value.lower())
    raise TypeError(f"a lookup to {'/'.join(targets)} needs (logical name, id) or an EntityReference")


def coerce_python(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Helper input (Python values) into the stored form; unknown columns are a test bug."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if name in table.lookups:
            result[name] = None if value is None else reference(value, table.lookups[name])
        elif name in table.columns:
            if value is not None and (name in table.money or name in table.decimals):
                value = to_decimal(value)
            elif isinstance(value, OptionSetValue):
                value = value.value
            result[name] = value
        else:
            raise KeyError(f"{table.logical_name} has no column {name!r}")
    return result


def coerce_wire(table: Table, body: Mapping[str, Any]) -> dict[str, Any]:
    """Web API JSON into the stored form, refusing what Dataverse refuses."""
    result: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@"):
            continue
        if name.endswith("@odata.bind"):
            nav = name[: -len("@odata.bind")]
            column = _bound_column(table, nav)
            if column is None:
                raise Refused(
                    400,
                    "0x80060888",
                    f"An undeclared property '{nav}' which only has property annotations in the payload but no "
                    "property value was found in the payload.",
                )
            if column in table.read_only:
                continue  # Dataverse keeps createdby/modifiedby itself
            if value is None:
                result[column] = None  # a bind to null empties the lookup
                continue
            bind = re.fullmatch(r"/?([a-z_]+)\(([0-9a-fA-F-]{36})\)", str(value))
            target = None
            if bind is not None:
                set_name = bind.group(1)
                target = OTHER_SETS.get(set_name) or (TABLES[set_name].logical_name if set_name in TABLES else None)
            if bind is None or target is None or target not in table.lookups[column]:
                raise Refused(400, "0x80060888", f"Invalid value {value!r} for {name}.")
            # A polymorphic lookup is bound as <lookup>_<table>, unless the table declares its
            # navigation property (an owner: ownerid@odata.bind = "/systemusers(<id>)").
            if len(table.lookups[column]) > 1 and nav not in table.navigation and nav != f"{column}_{target}":
                raise Refused(400, "0x80060888", f"Invalid value {value!r} for {name}: it binds a {target}.")
            result[column] = EntityReference(target, bind.group(2).lower())
            continue
        if name == table.key:
            result[name] = value  # a create may choose the row's id
            continue
        if name not in table.columns:
            raise Refused(
                400,
                "0x80060888",
                f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical_name}'. "
                "Make sure to only use property names that are defined by the type.",
            )
        result[name] = wire_value(table, name, value)
    return result


def _bound_column(table: Table, nav: str) -> str | None:
    """The lookup column a navigation property sets: a name the table declares
    (``Table.navigation``), the lookup's name for a single-table lookup, or ``<lookup>_<table>``
    for a polymorphic one. Names are case-sensitive, as in Dataverse."""
    if nav in table.navigation:
        return table.navigation[nav]
    renamed = set(table.navigation.values())
    if nav in table.lookups and nav not in renamed and len(table.lookups[nav]) == 1:
        return nav
    column, _, logical = nav.rpartition("_")
    if column in table.lookups and column not in renamed and logical in table.lookups[column]:
        return column
    return None


def wire_value(table: Table, name: str, value: Any) -> Any:
    """One JSON value of a write into the stored form, by the column's type."""
    if value is None:
        return None

    def bad(kind: str) -> Refused:
        return Refused(400, "0x80060888", f"Cannot convert the literal '{value}' to the expected type '{kind}'.")

    try:
        if name in table.money or name in table.decimals:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad("Edm.Decimal")
            return to_decimal(value)
        if name in table.options or name in table.integers:
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("Edm.Int32")
            return value
        if name in table.booleans:
            if not isinstance(value, bool):
                raise bad("Edm.Boolean")
            return value
        if name in table.dates:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise bad("Edm.Date")
            return date.fromisoformat(value)
        if name in table.datetimes:
            if not isinstance(value, str):
                raise bad("Edm.DateTimeOffset")
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, TypeError, InvalidOperation):
        raise bad("Edm." + ("Decimal" if name in table.money else "Date")) from None
    if not isinstance(value, str):
        raise bad("Edm.String")
    return value
