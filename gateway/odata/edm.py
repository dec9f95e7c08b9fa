"""Entity Data Model: what an entity set is, as data. The protocol code reads only this.

Adding an entity set is a definition (name, properties with EDM types, key, the select it maps
to); no protocol code changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select

from gateway.odata.errors import bad_request

STRING = "Edm.String"
GUID = "Edm.Guid"
INT32 = "Edm.Int32"
INT64 = "Edm.Int64"
DECIMAL = "Edm.Decimal"
BOOLEAN = "Edm.Boolean"
DATE = "Edm.Date"
DATETIMEOFFSET = "Edm.DateTimeOffset"

EDM_TYPES = (STRING, GUID, INT32, INT64, DECIMAL, BOOLEAN, DATE, DATETIMEOFFSET)
NUMERIC_TYPES = (INT32, INT64, DECIMAL)


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    type: str
    nullable: bool = True
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.type not in EDM_TYPES:
            raise ValueError(f"{self.name}: unsupported EDM type {self.type}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", self.name):
            raise ValueError(f"{self.name}: not an OData identifier")


# (company, value of ComputedRows.by) -> the rows, each a mapping of property name -> value.
RowsReader = Callable[[str, Any], Awaitable[Sequence[Mapping[str, Any]]]]

# The property types a ComputedRows.by may have: values an equality in $filter names exactly.
COMPUTED_BY_TYPES = (STRING, GUID, INT32, INT64)


@dataclass(frozen=True, slots=True)
class ComputedRows:
    """Rows the host computes per request (an async read: another service, a calculation)
    instead of a SQL source, for one value of the property `by` at a time.

    The value comes from the request: an equality on `by` in $filter (alone or ANDed with other
    conditions: `by eq v and ...`; `by in (v)` too), or the key predicate when `by` is a key
    property. Without one the request is a 400 that names what to add. `read(company, value)`
    returns the rows; the protocol layer puts them in the query as a VALUES list and then
    filters, orders, counts, selects and pages them on the same path as a SQL source, so every
    query option works alike. `read` may raise ODataError (a 404, a 503) to answer instead.
    `example`: a value to show in the 400 (a URL literal), e.g. a GUID.
    """

    by: str
    read: RowsReader
    example: str = ""


@dataclass(frozen=True, slots=True)
class EntitySet:
    """One published entity set.

    Either `source(company)` returns a SELECT whose columns are labelled with the property names
    (the protocol layer wraps it as a subquery and filters, orders and pages on that), or
    `computed` says how the host computes the rows per request (see ComputedRows).
    """

    name: str
    properties: tuple[Property, ...]
    key: tuple[str, ...]
    source: Callable[[str], Select[Any]] | None = None
    type_name: str = ""
    # Roles (any of) that may read the set; empty: any authenticated user.
    read_roles: frozenset[str] = frozenset()
    # A label the host can use to publish or unpublish several sets together.
    group: str = ""
    # Property -> tag kind, for answer caching; None: answers are never cached.
    cache_identity: Mapping[str, str] | None = None
    # Does the set belong in the company scope (Company('X')/Set)? False for Company itself.
    per_company: bool = True
    computed: ComputedRows | None = None
    by_name: dict[str, Property] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.properties})
        if not self.type_name:
            object.__setattr__(self, "type_name", self.name)
        for k in self.key:
            if k not in self.by_name:
                raise ValueError(f"{self.name}: key {k} is not a property")
        if self.cache_identity:
            for k in self.cache_identity:
                if k not in self.by_name:
                    raise ValueError(f"{self.name}: cache identity {k} is not a property")
        if (self.source is None) == (self.computed is None):
            raise ValueError(f"{self.name}: give either a SQL source or computed rows")
        if self.computed is not None:
            by = self.by_name.get(self.computed.by)
            if by is None or by.type not in COMPUTED_BY_TYPES:
                raise ValueError(
                    f"{self.name}: computed rows need a property of type {', '.join(COMPUTED_BY_TYPES)} to be given"
                )
            if self.cache_identity is not None:
                # The answer cache is invalidated by database changes; computed rows change elsewhere.
                raise ValueError(f"{self.name}: computed rows are never cached")

    def prop(self, name: str) -> Property:
        try:
            return self.by_name[name]
        except KeyError:
            raise bad_request(
                f"Could not find a property named '{name}' on type 'NAV.{self.type_name}'.",
                "BadRequest_InvalidProperty",
            ) from None


class Registry:
    """The entity sets a service publishes, by name."""

    def __init__(self, sets: list[EntitySet], namespace: str = "NAV") -> None:
        self.namespace = namespace
        self.sets: dict[str, EntitySet] = {}
        for s in sets:
            if s.name in self.sets:
                raise ValueError(f"entity set {s.name} defined twice")
            self.sets[s.name] = s

    def get(self, name: str) -> EntitySet | None:
        return self.sets.get(name)

    def __iter__(self) -> Iterator[EntitySet]:
        return iter(self.sets.values())


# --- literals ---------------------------------------------------------------------------

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def normalise_guid(text: str) -> str:
    """A GUID's canonical text (lower case), or ValueError."""
    return str(uuid.UUID(text.strip("{}")))


def parse_literal(text: str, prop: Property, v3: bool = False) -> Any:
    """A URL literal (key predicate value) as the Python value of the property's type."""
    t = prop.type
    raw = text.strip()
    try:
        if raw == "null":
            raise ValueError("a key value cannot be null")
        if t == STRING:
            if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'":
                raise ValueError("a string must be in single quotes")
            body = raw[1:-1]
            if re.search(r"(?<!')'(?!')", body.replace("''", "")):
                raise ValueError("a quote inside a string must be doubled")
            return body.replace("''", "'")
        if t == GUID:
            m = re.fullmatch(r"(?:guid)?'(.*)'", raw, re.I)
            value = m.group(1) if m else raw
            if not _GUID_RE.fullmatch(value):
                raise ValueError("not a GUID")
            return normalise_guid(value)
        if t in (INT32, INT64):
            value = raw[:-1] if (v3 and raw[-1:] in ("L", "l")) else raw
            if not re.fullmatch(r"[+-]?\d+", value):
                raise ValueError("not an integer")
            number = int(value)
            if t == INT32 and not -(2**31) <= number < 2**31:
                raise ValueError("out of range for Edm.Int32")
            if not -(2**63) <= number < 2**63:
                raise ValueError("out of range for Edm.Int64")
            return number
        if t == DECIMAL:
            value = raw[:-1] if (v3 and raw[-1:] in ("M", "m")) else raw
            if not re.fullmatch(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?", value):
                raise ValueError("not a number")
            return Decimal(value)
        if t == BOOLEAN:
            if raw not in ("true", "false"):
                raise ValueError("must be true or false")
            return raw == "true"
        if t == DATE:
            m = re.fullmatch(r"datetime'(\d{4}-\d{2}-\d{2})(T00:00(:00)?)?'", raw)
            return dt.date.fromisoformat(m.group(1) if m else raw)
        if t == DATETIMEOFFSET:
            m = re.fullmatch(r"datetime(?:offset)?'(.*)'", raw)
            value = dt.datetime.fromisoformat((m.group(1) if m else raw).replace("Z", "+00:00"))
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value
    except (ValueError, InvalidOperation) as exc:
        raise bad_request(
            f"The key value {text!r} is not a valid {t} literal for '{prop.name}': {exc}.",
            "BadRequest_InvalidKey",
        ) from None
    raise AssertionError(t)  # pragma: no cover - EDM_TYPES is closed


def format_literal(value: Any, prop: Property) -> str:
    """The V4 URL literal for a value: the inverse of parse_literal."""
    if prop.type == STRING:
        return "'" + str(value).replace("'", "''") + "'"
    if prop.type == BOOLEAN:
        return "true" if value else "false"
    if prop.type == DATETIMEOFFSET:
        return str(value.astimezone(dt.UTC).isoformat()).replace("+00:00", "Z")
    return str(value)


# --- values in JSON ---------------------------------------------------------------------

_Q5 = Decimal("0.00001")


def _decimal_number(value: Decimal) -> int | float:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -5:
        value = value.quantize(_Q5, rounding=ROUND_HALF_UP)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _decimal_text(value: Decimal) -> str:
    # Exact: the text form (IEEE754Compatible, V3) exists so that no digit is lost to a float.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -5:
        value = value.quantize(_Q5, rounding=ROUND_HALF_UP)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def keep(v: Any) -> Any:
    """The converter of values that go into JSON as they are (json_converter)."""
    return v


@functools.lru_cache(maxsize=1024)  # the same few properties and formats, on every answer
def json_converter(prop: Property, strings_for_big_numbers: bool, v3: bool) -> Callable[[Any], Any]:
    """How one property's Python value is written into JSON (IEEE754Compatible, V3 rules)."""
    t = prop.type

    if t == DECIMAL:
        text = strings_for_big_numbers or v3

        def dec(v: Any) -> Any:
            if v is None:
                return None
            d = v if isinstance(v, Decimal) else Decimal(str(v))
            return _decimal_text(d) if text else _decimal_number(d)

        return dec
    if t == INT64 and (strings_for_big_numbers or v3):
        return lambda v: None if v is None else str(v)
    if t == DATE:
        if v3:
            return lambda v: None if v is None else v.isoformat() + "T00:00:00"
        return lambda v: None if v is None else v.isoformat()
    if t == DATETIMEOFFSET:

        def dto(v: Any) -> Any:
            if v is None:
                return None
            return v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

        return dto
    if t == BOOLEAN:
        return lambda v: None if v is None else bool(v)
    return keep


def tag_value(value: Any, prop: Property) -> str:
    """A canonical text of a value, for cache tags and skip tokens."""
    if value is None:
        return ""
    if prop.type == GUID:
        # The canonical form: '{...}', upper case and unhyphenated spellings select the same row.
        try:
            return normalise_guid(str(value))
        except ValueError:
            return str(value).lower()
    if prop.type == DECIMAL:
        return _decimal_text(Decimal(str(value)))
    return str(value)
