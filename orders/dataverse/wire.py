"""Values on the Web API's wire: JSON in and out (dates, decimals, GUIDs) and OData literals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from schemas.types import GUID_PATTERN


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # shortest repr: exact for the 4-5 decimal places Dataverse keeps
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to Dataverse")


def checked_guid(value: str) -> str:
    # Ids go into URLs and $filter text: accept nothing but a GUID.
    if not isinstance(value, str) or not GUID_PATTERN.fullmatch(value):
        raise ValueError(f"not a GUID: {value!r}")
    return value.lower()


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
