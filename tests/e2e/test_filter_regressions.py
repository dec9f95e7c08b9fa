"""$filter defects found by the reliability run (issue 9, items 3, 8, 10c and 19), over real HTTP on
SQLite and PostgreSQL: each answered 500, the wrong rows, or an error in Python's words."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.demo_company import ITEMS, product_id
from tests.support.helpers import q

IA = "/ODataV4/ItemAvailability"


def f(text: str, base: str = IA) -> str:
    return f"{base}?$filter={q(text)}"


@pytest.mark.parametrize(
    "text",
    [
        "Line_No eq 1.5",  # a decimal against an integer column: SQLite's driver could not bind it
        "Line_No lt 2.5 and Line_No gt -0.5",
        "Line_No eq 2147483648",  # beyond Edm.Int32: asyncpg could not send it as int4
        "Quantity eq 9223372036854775807",  # beyond NUMERIC(20,5): PostgreSQL overflowed its cast
        "Line_No mul 9223372036854775807 mul 9223372036854775807 gt 0",  # 64-bit overflow
        "Line_No div (Line_No sub Line_No) eq 1",  # division by zero on a row: no match
        "substring(No,0,-1) eq ''",  # a negative length: PostgreSQL refused it
    ],
)
async def test_values_the_databases_handle_differently_answer_200(api: Any, text: str) -> None:
    status, _h, body = await api.get(f(text, "/ODataV4/SalesLines"))
    assert status == 200, body
    assert body["value"] == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Inventory eq 1e400", "outside the range of Edm.Decimal"),
        ("Inventory eq 79228162514264337593543950336.0", "outside the range of Edm.Decimal"),
        ("Inventory eq 9223372036854775808", "outside the range of Edm.Int64"),
        ("No eq 'a\x00b'", "U+0000"),
        ("Order_Date eq 2023-02-29", "'2023-02-29' is not a valid date"),
    ],
)
async def test_values_no_bc_field_can_hold_are_the_same_400(api: Any, text: str, words: str) -> None:
    base = "/ODataV4/SalesOrders" if "Order_Date" in text else IA
    status, _h, body = await api.get(f(text, base))
    assert status == 400, body
    assert body["error"]["code"] == "BadRequest_InvalidFilter" and words in body["error"]["message"]


async def test_tiny_decimals_are_rounded_as_bc_rounds_them(api: Any) -> None:
    _s, _h, positive = await api.get(f("Inventory gt 0"))
    status, _h, body = await api.get(f("Inventory gt 1e-400 or Inventory eq 0.00000000000000000000000000001"))
    assert status == 200, body
    assert body["value"] == positive["value"] and body["value"]


async def test_an_alias_is_one_literal_not_text_pasted_into_the_filter(api: Any) -> None:
    status, _h, body = await api.get(f("No eq @p") + "&@p=" + q("'x' or 1 eq 1"))
    assert status == 400, body
    assert "'@p' must have a single value" in body["error"]["message"]
    for value in ("1) or (1 eq 1", "Description", "'x') or true or ('y'"):
        status, _h, body = await api.get(f("No eq @p") + "&@p=" + q(value))
        assert status == 400, (value, body)
    status, _h, body = await api.get(f("No eq @p") + "&@p=" + q("'1896-S'"))
    assert status == 200 and [r["No"] for r in body["value"]] == ["1896-S"]
    status, _h, body = await api.get(f("Inventory gt @n and No in @list") + "&@n=-5&@list=" + q("('1896-S','1900-S')"))
    assert status == 200 and sorted(r["No"] for r in body["value"]) == ["1896-S", "1900-S"]


@pytest.mark.parametrize("terms", [300, 400, 600])
async def test_a_long_or_chain_is_one_level_not_its_length(api: Any, terms: int) -> None:
    ids = [product_id(no) for no, *_ in ITEMS]
    others = [f"00000000-0000-4000-8000-{n:012d}" for n in range(terms - len(ids))]
    text = " or ".join(f"CRM_ID eq {g}" for g in [*others, *ids])
    assert len(text) < 32768
    pia = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
    _s, _h, everything = await api.get(pia)
    status, _h, body = await api.get(f(text, pia))
    assert status == 200, body
    assert body["value"] == everything["value"] and body["value"]
    status, _h, body = await api.get(f(" and ".join(f"No ne 'X{i}'" for i in range(terms))))
    assert status == 200 and len(body["value"]) == len(ITEMS)


async def test_filter_errors_say_what_is_wrong_in_odata_terms_and_where(api: Any) -> None:
    status, _h, body = await api.get(f("No eq 1896-S"))
    message = body["error"]["message"]
    assert status == 400 and "USub" not in message
    assert "position 11" in message and "'-' is not expected there" in message
    assert "Text values are written in single quotes: No eq '1896-S'" in message
    status, _h, body = await api.get(f("Inventory gt 'abc'"))
    message = body["error"]["message"]
    assert status == 400 and "a number" not in message
    assert message.startswith("Cannot compare Inventory (Edm.Decimal) with 'abc' (Edm.String) at position 1")
    status, _h, body = await api.get(f("No eq"))
    assert status == 400 and "ends too early" in body["error"]["message"]


async def test_filter_without_dollar_is_ignored_as_bc_does(api: Any) -> None:
    _s, _h, everything = await api.get(IA)
    status, _h, body = await api.get(IA + "?filter=" + q("No eq 'nothing'"))
    assert status == 200 and body["value"] == everything["value"] and body["value"]
