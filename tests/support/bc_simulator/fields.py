"""Field types of BC entities and the conversions between the wire and the store.

The store keeps Python values (str, Decimal, int, bool, date, datetime, option captions); the
wire has camelCase JSON with BC's encodings: option values XML-encoded (``" "`` is ``_x0020_``),
``0001-01-01`` for an empty date, UTC date-times with milliseconds and ``Z``.
"""

from __future__ import annotations

import base64
import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ApiError, bad_value, not_an_option, too_long

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = date(1, 1, 1)
EMPTY_DATETIME = datetime(1, 1, 1, tzinfo=UTC)
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENCODED = re.compile(r"_x([0-9A-Fa-f]{4})_")


class Kind(enum.Enum):
    GUID = "guid"
    CODE = "code"
    TEXT = "text"
    DECIMAL = "decimal"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"

    @property
    def is_string(self) -> bool:
        return self in (Kind.CODE, Kind.TEXT)

    @property
    def edm(self) -> str:
        """The EDM type name OData messages use."""
        return _EDM_NAMES[self]


_EDM_NAMES = {
    Kind.GUID: "Edm.Guid",
    Kind.CODE: "Edm.String",
    Kind.TEXT: "Edm.String",
    Kind.DECIMAL: "Edm.Decimal",
    Kind.INT: "Edm.Int32",
    Kind.BOOL: "Edm.Boolean",
    Kind.DATE: "Edm.Date",
    Kind.DATETIME: "Edm.DateTimeOffset",
    Kind.ENUM: "Edm.String",
}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    length: int = 0
    options: tuple[str, ...] = ()
    ro: bool = False
    # The BC field caption, for messages ("No." for number).
    caption: str = ""

    def default(self) -> Any:
        return _DEFAULTS[self.kind] if self.kind is not Kind.ENUM else self.options[0]


_DEFAULTS: dict[Kind, Any] = {
    Kind.GUID: EMPTY_GUID,
    Kind.CODE: "",
    Kind.TEXT: "",
    Kind.DECIMAL: Decimal(0),
    Kind.INT: 0,
    Kind.BOOL: False,
    Kind.DATE: EMPTY_DATE,
    Kind.DATETIME: EMPTY_DATETIME,
}


def guid(name: str, ro: bool = False, caption: str = "") -> Field:
    return Field(name, Kind.GUID, ro=ro, caption=caption)


def code(name: str, length: int, ro: bool = False, caption: str = "") -> Field:
    return Field(name, Kind.CODE, length, ro=ro, caption=caption)


def text(name: str, length: int = 100, ro: bool = False, caption: str = "") -> Field:
    return Field(name, Kind.TEXT, length, ro=ro, caption=caption)


def dec(name: str, ro: bool = False) -> Field:
    return Field(name, Kind.DECIMAL, ro=ro)


def integer(name: str, ro: bool = False) -> Field:
    return Field(name, Kind.INT, ro=ro)


def boolean(name: str, ro: bool = False) -> Field:
    return Field(name, Kind.BOOL, ro=ro)


def day(name: str, ro: bool = False) -> Field:
    return Field(name, Kind.DATE, ro=ro)


def moment(name: str, ro: bool = False) -> Field:
    return Field(name, Kind.DATETIME, ro=ro)


def option(name: str, options: tuple[str, ...], ro: bool = False) -> Field:
    return Field(name, Kind.ENUM, options=options, ro=ro)


# -- wire encodings ------------------------------------------------------------------------------


def encode_option(value: str) -> str:
    """BC's XML encoding of option names: every character but letters, digits and '_' becomes _xHHHH_."""
    return "".join(c if c.isalnum() or c == "_" else f"_x{ord(c):04X}_" for c in value)


def decode_option(value: str) -> str:
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), value)


def match_option(raw: str, options: tuple[str, ...]) -> str | None:
    """The option a client meant: its caption, its encoded form, or either in another case."""
    plain = decode_option(raw)
    for candidate in options:
        if plain == candidate:
            return candidate
    lowered = plain.lower()
    for candidate in options:
        if candidate.lower() == lowered:
            return candidate
    if plain == "" and " " in options:
        return " "
    return None


def format_date(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def format_datetime(value: datetime) -> str:
    if value == EMPTY_DATETIME:
        return "0001-01-01T00:00:00Z"
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def number_out(value: Decimal | int | float) -> int | float:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return int(value) if value == value.to_integral_value() else float(value)


def to_wire(f: Field, value: Any) -> Any:
    kind = f.kind
    if kind is Kind.DECIMAL:
        return number_out(value)
    if kind is Kind.DATE:
        return format_date(value)
    if kind is Kind.DATETIME:
        return format_datetime(value)
    if kind is Kind.ENUM:
        return encode_option(value)
    return value


def parse_date(raw: str) -> date:
    return date.fromisoformat(raw)


def parse_datetime(raw: str) -> datetime:
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def from_wire(f: Field, raw: Any) -> Any:
    """A JSON body value for field f, as the store keeps it; BC's errors for what does not fit."""
    kind = f.kind
    if kind.is_string:
        if not isinstance(raw, str):
            raise bad_value(raw, "Edm.String")
        value = raw.upper() if kind is Kind.CODE else raw
        if f.length and len(value) > f.length:
            raise too_long(value, f.length)
        return value
    if kind is Kind.GUID:
        if not isinstance(raw, str) or not GUID_RE.match(raw):
            raise ApiError(400, "Application_InvalidGUID", f"Invalid GUID format: '{raw}'.")
        return raw.lower()
    if kind is Kind.DECIMAL:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise bad_value(raw, kind.edm)
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise bad_value(raw, kind.edm) from None
        if not number.is_finite():
            raise bad_value(raw, kind.edm)
        return number
    if kind is Kind.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise bad_value(raw, kind.edm)
        return raw
    if kind is Kind.BOOL:
        if not isinstance(raw, bool):
            raise bad_value(raw, kind.edm)
        return raw
    if kind is Kind.DATE:
        try:
            return parse_date(raw)
        except (TypeError, ValueError):
            raise bad_value(raw, kind.edm) from None
    if kind is Kind.DATETIME:
        try:
            return parse_datetime(raw)
        except (TypeError, ValueError, AttributeError):
            raise bad_value(raw, kind.edm) from None
    if not isinstance(raw, str):
        raise not_an_option(str(raw), f.options)
    matched = match_option(raw, f.options)
    if matched is None:
        raise not_an_option(raw, f.options)
    return matched


def etag_for(version: int) -> str:
    """A weak ETag shaped like BC's: base64 of a quoted row-version string, opaque to clients."""
    digits = f"{version:020d}"
    inner = f"'{len(digits)};{digits}1;00;'".encode()
    return 'W/"' + base64.b64encode(inner).decode() + '"'
