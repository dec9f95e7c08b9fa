"""EDM: definitions, URL literals (V4 and V3), JSON values and the canonical text of values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.odata import edm
from gateway.odata.errors import ODataError

P = edm.Property
S = P("S", edm.STRING)
G = P("G", edm.GUID)
I32 = P("I", edm.INT32)
I64 = P("L", edm.INT64)
D = P("D", edm.DECIMAL)
B = P("B", edm.BOOLEAN)
DATE = P("Day", edm.DATE)
DTO = P("At", edm.DATETIMEOFFSET)
GUID = "5a1e5000-0000-4000-8000-000000001896"


def _source(_company: str) -> Any:
    return select()


# --- definitions ------------------------------------------------------------------------------


def test_property_checks_type_and_identifier() -> None:
    with pytest.raises(ValueError, match="unsupported EDM type"):
        P("X", "Edm.Geography")
    for bad in ("1X", "a-b", "a b", "", "x" * 129):
        with pytest.raises(ValueError, match="not an OData identifier"):
            P(bad, edm.STRING)


def test_entity_set_checks_key_and_cache_identity() -> None:
    with pytest.raises(ValueError, match="key Nope"):
        edm.EntitySet("Things", (S,), ("Nope",), _source)
    with pytest.raises(ValueError, match="cache identity Nope"):
        edm.EntitySet("Things", (S,), ("S",), _source, cache_identity={"Nope": "x"})
    things = edm.EntitySet("Things", (S, I32), ("S",), _source)
    assert things.type_name == "Things" and things.prop("I") is I32
    with pytest.raises(ODataError) as info:
        things.prop("Nope")
    assert info.value.status == 400 and info.value.code == "BadRequest_InvalidProperty"
    assert info.value.message == "Could not find a property named 'Nope' on type 'NAV.Things'."


def test_registry_refuses_a_set_twice() -> None:
    a = edm.EntitySet("A", (S,), ("S",), _source)
    with pytest.raises(ValueError, match="defined twice"):
        edm.Registry([a, a])
    registry = edm.Registry([a])
    assert registry.get("A") is a and registry.get("B") is None and list(registry) == [a]


# --- literals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prop", "v3", "value"),
    [
        ("'O''Brien'", S, False, "O'Brien"),
        ("''''", S, False, "'"),
        ("''", S, False, ""),
        ("'a/b,c=d'", S, False, "a/b,c=d"),
        ("'Größe 日本'", S, False, "Größe 日本"),
        (GUID, G, False, GUID),
        (GUID.upper(), G, False, GUID),
        (f"guid'{GUID}'", G, True, GUID),
        (f"'{GUID}'", G, False, GUID),
        ("42", I32, False, 42),
        ("-2147483648", I32, False, -(2**31)),
        ("12L", I64, True, 12),
        ("9223372036854775807", I64, False, 2**63 - 1),
        ("12.5", D, False, Decimal("12.5")),
        ("12M", D, True, Decimal(12)),
        ("1.5m", D, True, Decimal("1.5")),
        ("1e3", D, False, Decimal(1000)),
        ("true", B, False, True),
        ("false", B, False, False),
        ("2024-02-29", DATE, False, dt.date(2024, 2, 29)),
        ("datetime'2024-02-29T00:00:00'", DATE, True, dt.date(2024, 2, 29)),
        ("2024-02-29T10:00:00Z", DTO, False, dt.datetime(2024, 2, 29, 10, tzinfo=dt.UTC)),
        ("datetime'2024-02-29T10:00:00'", DTO, True, dt.datetime(2024, 2, 29, 10, tzinfo=dt.UTC)),
        (
            "datetimeoffset'2024-02-29T10:00:00+02:00'",
            DTO,
            True,
            dt.datetime(2024, 2, 29, 8, tzinfo=dt.UTC),
        ),
    ],
)
def test_parse_literal(text: str, prop: edm.Property, v3: bool, value: Any) -> None:
    assert edm.parse_literal(text, prop, v3) == value


@pytest.mark.parametrize(
    ("text", "prop", "v3", "why"),
    [
        ("null", S, False, "cannot be null"),
        ("abc", S, False, "single quotes"),
        ("'O'Brien'", S, False, "doubled"),
        ("'abc", S, False, "single quotes"),
        ("not-a-guid", G, False, "not a GUID"),
        (f"guid'{GUID}", G, True, "not a GUID"),
        ("12.5", I32, False, "not an integer"),
        ("2147483648", I32, False, "out of range for Edm.Int32"),
        ("9223372036854775808", I64, False, "out of range for Edm.Int64"),
        ("12L", I64, False, "not an integer"),  # the suffix is V3 only
        ("12M", D, False, "not a number"),
        ("NaN", D, False, "not a number"),
        ("TRUE", B, False, "true or false"),
        ("2024-02-30", DATE, False, ""),
        ("yesterday", DTO, False, ""),
    ],
)
def test_parse_literal_errors(text: str, prop: edm.Property, v3: bool, why: str) -> None:
    with pytest.raises(ODataError) as info:
        edm.parse_literal(text, prop, v3)
    err = info.value
    assert err.status == 400 and err.code == "BadRequest_InvalidKey"
    assert prop.type in err.message and f"'{prop.name}'" in err.message and why in err.message


@given(st.text())
def test_any_string_round_trips_through_literals(value: str) -> None:
    assert edm.parse_literal(edm.format_literal(value, S), S) == value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int64_round_trips(value: int) -> None:
    assert edm.parse_literal(edm.format_literal(value, I64), I64) == value


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_round_trips(value: Decimal) -> None:
    assert edm.parse_literal(edm.format_literal(value, D), D) == value


@given(st.uuids())
def test_guid_round_trips(value: uuid.UUID) -> None:
    assert edm.parse_literal(edm.format_literal(str(value), G), G) == str(value)


@given(st.dates(), st.datetimes(timezones=st.just(dt.UTC)), st.booleans())
def test_dates_and_booleans_round_trip(day: dt.date, at: dt.datetime, flag: bool) -> None:
    assert edm.parse_literal(edm.format_literal(day, DATE), DATE) == day
    assert edm.parse_literal(edm.format_literal(at, DTO), DTO) == at
    assert edm.parse_literal(edm.format_literal(flag, B), B) is flag


def test_normalise_guid() -> None:
    assert edm.normalise_guid("{" + GUID.upper() + "}") == GUID
    assert edm.normalise_guid(GUID.replace("-", "")) == GUID
    with pytest.raises(ValueError):
        edm.normalise_guid("nope")


# --- JSON values --------------------------------------------------------------------------------


def test_decimals_in_json() -> None:
    as_number = edm.json_converter(D, strings_for_big_numbers=False, v3=False)
    assert as_number(Decimal("51.00000")) == 51 and isinstance(as_number(Decimal("51.00000")), int)
    assert as_number(Decimal("2.5")) == 2.5
    assert as_number(Decimal("0.1234567")) == 0.12346  # BC keeps 5 decimals
    assert as_number(None) is None
    as_text = edm.json_converter(D, strings_for_big_numbers=True, v3=False)
    # IEEE754Compatible: the exact digits, which a float would lose.
    assert as_text(Decimal("12345678901234.56789")) == "12345678901234.56789"
    assert as_text(Decimal("51.00000")) == "51"
    assert as_text(Decimal("1.50000")) == "1.5"
    assert as_text(Decimal("-0.000004")) == "0"
    assert as_text(Decimal("1E+3")) == "1000"
    assert edm.json_converter(D, False, v3=True)(Decimal("7.25")) == "7.25"


@given(st.decimals(min_value=-(10**14), max_value=10**14, places=5))
def test_decimal_text_is_exact(value: Decimal) -> None:
    text = edm.json_converter(D, True, False)(value)
    assert Decimal(text) == value
    assert "E" not in text and "e" not in text


def test_other_types_in_json() -> None:
    assert edm.json_converter(I64, True, False)(2**62) == str(2**62)
    assert edm.json_converter(I64, False, False)(2**62) == 2**62
    assert edm.json_converter(I64, False, True)(5) == "5"
    assert edm.json_converter(DATE, False, False)(dt.date(2024, 2, 29)) == "2024-02-29"
    assert edm.json_converter(DATE, False, True)(dt.date(2024, 2, 29)) == "2024-02-29T00:00:00"
    at = dt.datetime(2024, 2, 29, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert edm.json_converter(DTO, False, False)(at) == "2024-02-29T10:00:00Z"
    assert edm.json_converter(B, False, False)(1) is True
    assert edm.json_converter(S, False, False)("x") == "x"
    for prop in (D, I64, DATE, DTO, B, S):
        assert edm.json_converter(prop, True, True)(None) is None


def test_tag_value_is_canonical() -> None:
    for spelling in (GUID, GUID.upper(), "{" + GUID + "}", GUID.replace("-", "")):
        assert edm.tag_value(spelling, G) == GUID
    assert edm.tag_value(Decimal("5.50"), D) == edm.tag_value(Decimal("5.5"), D) == "5.5"
    assert edm.tag_value(None, S) == ""
    assert edm.tag_value("1896-S", S) == "1896-S"
