"""Typed access to one Dataverse Web API row: each column read as the type it must have.

Every failure is a :class:`RecordError` (a ``ValueError``) naming the table, the row and the
column, so a malformed row never surfaces as a KeyError or TypeError deep in the conversion.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

LOOKUP_LOGICAL_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"


class RecordError(ValueError):
    """A Web API row that cannot be read as the record it should be."""


class LookupRef(NamedTuple):
    """A polymorphic lookup's target: (table logical name, row id)."""

    logical_name: str
    id: str


class Row:
    """Typed access to one Web API row; every failure is a RecordError naming table and column."""

    def __init__(self, table: str, row: object, key: str) -> None:
        if not isinstance(row, Mapping):
            raise RecordError(f"{table}: expected a JSON object, got {type(row).__name__}")
        self.table = table
        self.row: Mapping[str, Any] = row
        self.key_value = "?"
        self.key_value = self.guid(key, required=True) or "?"

    def _fail(self, column: str, expected: str, value: object) -> RecordError:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return RecordError(
            f"{self.table} {self.key_value}: column {column!r} must be {expected}, got {type(value).__name__} {shown}"
        )

    def get(self, column: str) -> Any:
        return self.row.get(column)

    def text(self, column: str) -> str | None:
        value = self.get(column)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(column, "a string", value)
        return value

    def guid(self, column: str, *, required: bool = False) -> str | None:
        value = self.get(column)
        if value is None:
            if required:
                raise RecordError(f"{self.table}: the key column {column!r} is missing or null")
            return None
        if not isinstance(value, str):
            raise self._fail(column, "a GUID string", value)
        try:
            return str(uuid.UUID(value.strip().strip("{}")))
        except ValueError:
            raise self._fail(column, "a GUID string", value) from None

    def lookup(self, name: str) -> str | None:
        """The id a lookup column points to (``_<name>_value``)."""
        return self.guid(f"_{name}_value")

    def lookup_ref(self, name: str) -> LookupRef | None:
        """A polymorphic lookup: its id and the logical name from the annotation (which is needed)."""
        target = self.lookup(name)
        if target is None:
            return None
        column = f"_{name}_value{LOOKUP_LOGICAL_NAME}"
        logical = self.get(column)
        if logical is None:
            raise RecordError(
                f"{self.table} {self.key_value}: {column!r} is missing; read the row with "
                'Prefer: odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname" (or "*")'
            )
        if not isinstance(logical, str) or not logical:
            raise self._fail(column, "a table logical name", logical)
        return LookupRef(logical.lower(), target)

    def decimal(self, column: str) -> Decimal | None:
        value = self.get(column)
        if value is None:
            return None
        # bool is an int subclass: True must not become 1.
        if isinstance(value, bool):
            raise self._fail(column, "a number", value)
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self._fail(column, "a finite number", value)
            # The shortest text that round-trips, never the float's binary expansion.
            result = Decimal(repr(value))
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                raise self._fail(column, "a number", value) from None
        else:
            raise self._fail(column, "a number", value)
        if not result.is_finite():
            raise self._fail(column, "a finite number", value)
        return result

    def integer(self, column: str) -> int | None:
        value = self.get(column)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self._fail(column, "an integer", value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            return int(value)
        raise self._fail(column, "an integer", value)

    def boolean(self, column: str) -> bool | None:
        value = self.get(column)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._fail(column, "true or false", value)
        return value

    def date(self, column: str) -> dt.date | None:
        value = self.get(column)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(column, "a date string", value)
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self._fail(column, "a date (YYYY-MM-DD or an ISO datetime)", value) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
        return moment.date()

    def datetime(self, column: str) -> dt.datetime | None:
        value = self.get(column)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(column, "an ISO datetime string", value)
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self._fail(column, "an ISO datetime string", value) from None
        # The Web API always answers in UTC; a value without a zone is taken as UTC too.
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
