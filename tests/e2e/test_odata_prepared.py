"""Prepared reads (gateway/odata/plans.py, schemas/sqlite_reader.py) answer exactly what the
general path answers: the same request written so that it cannot take a prepared plan (the filter
in parentheses, or `and true`) is the reference. Real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.demo_company import ITEMS, product_id
from tests.support.helpers import q

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
IA = "/ODataV4/Company('CRONUS')/ItemAvailability"
FORMATS = [
    "",
    "&$format=" + q("application/json;odata.metadata=full"),
    "&$format=" + q("application/json;odata.metadata=none;IEEE754Compatible=true"),
]


async def _both(api: Any, path: str, hot: str, reference: str, extra: str = "") -> tuple[Any, Any]:
    fast = await api.get(f"{path}?$filter={q(hot)}{extra}")
    slow = await api.get(f"{path}?$filter={q(reference)}{extra}")
    return fast, slow


@pytest.mark.parametrize("fmt", FORMATS)
async def test_lookups_by_sales_product_answer_as_the_general_path(api: Any, fmt: str) -> None:
    for no, *_ in ITEMS:
        for literal in (product_id(no), f"guid'{product_id(no).upper()}'", f"'{product_id(no)}'"):
            (fs, _fh, fast), (ss, _sh, slow) = await _both(
                api, PIA, f"CRM_ID eq {literal}", f"(CRM_ID eq {literal})", fmt
            )
            assert fs == ss == 200
            assert fast == slow, literal


async def test_string_keys_and_misses_answer_as_the_general_path(api: Any) -> None:
    for value in ("1896-S", "it''s", "", "NO-SUCH"):
        (fs, _fh, fast), (ss, _sh, slow) = await _both(api, IA, f"No eq '{value}'", f"No eq '{value}' and true")
        assert fs == ss == 200
        assert fast["value"] == slow["value"], value


async def test_errors_are_the_general_paths(api: Any) -> None:
    # Twice each: a refused filter is refused again, not remembered as one without a plan.
    for text in ("CRM_ID eq 'not-a-guid'", "Inventory eq 'x'", "Blocked eq '1'") * 2:
        fast = await api.get(f"{IA}?$filter={q(text)}")
        slow = await api.get(f"{IA}?$filter={q(text + ' and true')}")
        assert fast[0] == slow[0] == 400, text
        assert fast[2]["error"]["code"] == slow[2]["error"]["code"]
        assert fast[2]["error"]["message"] == slow[2]["error"]["message"], text


@pytest.mark.parametrize("fmt", FORMATS)
async def test_pages_answer_as_the_general_path_and_page_through_everything(api: Any, fmt: str) -> None:
    for options in ("", "&$orderby=Description desc", "&$top=5", "&$skip=2&$top=4", "&$select=No,Inventory"):
        fast = await api.get(f"{IA}?{(options + fmt).lstrip('&')}")
        slow = await api.get(f"{IA}?$filter=true{options}{fmt}")
        assert fast[0] == slow[0] == 200, options
        assert fast[2]["value"] == slow[2]["value"], options
    seen: list[str] = []
    headers = {"Prefer": "odata.maxpagesize=3"}
    status, _h, body = await api.get(IA, headers=headers)
    while True:
        assert status == 200
        seen += [row["No"] for row in body["value"]]
        if "@odata.nextLink" not in body:
            break
        status, _h, body = await api.get(body["@odata.nextLink"], headers=headers)
    assert sorted(seen) == sorted(no for no, *_ in ITEMS)
    assert len(seen) == len(set(seen))
