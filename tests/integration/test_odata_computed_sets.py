"""Computed entity sets (EntitySet.computed): rows the host computes per request for one value of a
property, served by the generic OData service over real HTTP on loopback, on SQLite and PostgreSQL.

The set here is made up (chapters of a book, computed from a dict): gateway/odata knows nothing of
BC, and every query option must work on computed rows as on a table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.odata import edm
from gateway.odata.answer_cache import ResponseCache
from gateway.odata.computed import wanted_value
from gateway.odata.errors import ODataError, not_found, service_unavailable
from gateway.odata.service import ODataService
from tests.support.helpers import q

GUID_A = "0a000000-0000-4000-8000-00000000000a"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

CHAPTERS: dict[str, list[dict[str, Any]]] = {
    "B1": [
        {"No": 1, "Title": "O'Brien's start", "Pages": 10, "Price": Decimal("1.25"), "Draft": False,
         "Due": dt.date(2026, 1, 31), "Changed": T0, "Id": GUID_A},
        {"No": 2, "Title": "50% off_sale", "Pages": None, "Price": Decimal("0"), "Draft": True,
         "Due": None, "Changed": T0 + dt.timedelta(hours=1), "Id": None},
        {"No": 3, "Title": "Äpfel – Größe 日本", "Pages": 300, "Price": Decimal("42.125"), "Draft": False,
         "Due": dt.date(2024, 2, 29), "Changed": T0 - dt.timedelta(days=1), "Id": None},
    ],
    "EMPTY": [],
    # Every row null in a column: PostgreSQL must still know the column's type.
    "NULLS": [{"No": 1, "Title": "x", "Pages": None, "Price": Decimal(1), "Draft": False, "Due": None,
               "Changed": T0, "Id": None}],
}  # fmt: skip


class Reads:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(self, company: str, code: Any) -> Sequence[Mapping[str, Any]]:
        self.calls.append((company, code))
        if code == "DOWN":
            raise service_unavailable("The book store is not available; try again.", 7)
        if code not in CHAPTERS:
            raise not_found(f"No book {code}.")
        return [{"Code": code, **row} for row in CHAPTERS[code]]


def chapters_set(read: Reads) -> edm.EntitySet:
    return edm.EntitySet(
        name="Chapters",
        properties=(
            edm.Property("Code", edm.STRING, nullable=False, max_length=20),
            edm.Property("No", edm.INT32, nullable=False),
            edm.Property("Title", edm.STRING, nullable=False),
            edm.Property("Pages", edm.INT32),
            edm.Property("Price", edm.DECIMAL, nullable=False),
            edm.Property("Draft", edm.BOOLEAN, nullable=False),
            edm.Property("Due", edm.DATE),
            edm.Property("Changed", edm.DATETIMEOFFSET, nullable=False),
            edm.Property("Id", edm.GUID),
        ),
        key=("Code", "No"),
        computed=edm.ComputedRows(by="Code", read=read, example="'B1'"),
    )


class Host:
    """The least an application gives the service: an engine, one company, everyone may read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def engine(self) -> AsyncEngine:
        return self._engine

    def default_company(self) -> str:
        return "C1"

    def public_base(self) -> str | None:
        return None

    def max_page_size(self) -> int:
        return 100

    def published(self, entity_set: edm.EntitySet) -> bool:
        return True

    def refusal(self, entity_set: edm.EntitySet) -> ODataError | None:
        return None

    async def company_exists(self, name: str) -> bool:
        return name == "C1"

    def may_read(self, request: web.Request, entity_set: edm.EntitySet) -> bool:
        return True

    def forbidden_message(self, request: web.Request, entity_set: edm.EntitySet) -> str:
        return ""

    def cache(self) -> ResponseCache | None:
        return ResponseCache(30.0)

    def database_unavailable(self, error: BaseException) -> bool:
        return False


@pytest.fixture
def reads() -> Reads:
    return Reads()


@pytest.fixture
async def get(engine: AsyncEngine, reads: Reads, aiohttp_server: Any) -> AsyncIterator[Any]:
    app = web.Application()
    ODataService(edm.Registry([chapters_set(reads)]), Host(engine)).add_routes(app)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:

        async def fetch(path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
            url = path if path.startswith("http") else str(server.make_url(path))
            async with session.get(url, headers=headers) as resp:
                body = await resp.read()
                data: Any = body.decode() if body else None
                if "json" in resp.headers.get("Content-Type", ""):
                    data = await resp.json(content_type=None)
                return resp.status, dict(resp.headers), data

        yield fetch


def f(text: str) -> str:
    return "$filter=" + q(text)


async def test_rows_for_the_value_in_the_filter_with_every_type(get: Any, reads: Reads) -> None:
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1'"))
    assert status == 200, body
    rows = body["value"]
    assert [r["No"] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert first == {
        "Code": "B1",
        "No": 1,
        "Title": "O'Brien's start",
        "Pages": 10,
        "Price": 1.25,
        "Draft": False,
        "Due": "2026-01-31",
        "Changed": "2026-11-30T09:00:00Z",
        "Id": GUID_A,
    }
    assert rows[1]["Pages"] is None and rows[1]["Draft"] is True and rows[2]["Title"] == "Äpfel – Größe 日本"
    assert reads.calls == [("C1", "B1")]


async def test_filter_orderby_select_count_and_paging_work_on_computed_rows(get: Any) -> None:
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1' and Draft eq false") + "&$count=true")
    assert status == 200 and body["@odata.count"] == 2 and [r["No"] for r in body["value"]] == [1, 3]
    status, _h, body = await get("/ODataV4/Chapters?" + f("Pages gt 5 and Code eq 'B1'") + "&$orderby=Pages desc")
    assert [r["No"] for r in body["value"]] == [3, 1]
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code in ('B1') and contains(Title,'%')") + "&$select=No")
    assert status == 200 and body["value"] == [{"No": 2}]
    _s, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1' and Changed lt 2026-11-30T09:30:00Z"))
    assert [r["No"] for r in body["value"]] == [1, 3]
    _s, _h, body = await get("/ODataV4/Chapters?" + f(f"Code eq 'B1' and Id eq {GUID_A.upper()}"))
    assert [r["No"] for r in body["value"]] == [1]
    _s, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1' and Price lt 1 and Due eq null"))
    assert [r["No"] for r in body["value"]] == [2]
    status, _h, text = await get("/ODataV4/Chapters/$count?" + f("Code eq 'B1' and Pages ne null"))
    assert status == 200 and text.strip() == "2"

    # Server-driven paging: the next link carries on after row 2.
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1'"), Prefer="odata.maxpagesize=2")
    assert [r["No"] for r in body["value"]] == [1, 2]
    next_link = body["@odata.nextLink"]
    status, _h, body = await get(next_link)
    assert status == 200 and [r["No"] for r in body["value"]] == [3]
    _s, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1'") + "&$skip=1&$top=1")
    assert [r["No"] for r in body["value"]] == [2]


async def test_one_row_by_its_key_and_the_v3_form(get: Any) -> None:
    status, _h, body = await get("/ODataV4/Chapters(Code='B1',No=3)")
    assert status == 200 and body["Title"] == "Äpfel – Größe 日本"
    status, _h, body = await get("/ODataV4/Chapters(Code='B1',No=9)")
    assert status == 404 and "does not exist" in body["error"]["message"]
    status, _h, body = await get("/ODataV4/Chapters(Code='B1',No=2)/Title")
    assert status == 200 and body["value"] == "50% off_sale"
    status, _h, body = await get("/OData/Chapters?" + f("Code eq 'B1' and No eq 2"))
    assert status == 200 and body["value"][0]["Price"] == "0"


async def test_without_the_value_a_400_that_names_what_to_add_and_nothing_is_computed(get: Any, reads: Reads) -> None:
    for query in ("", "?" + f("No eq 1"), "?" + f("Code eq 'B1' or No eq 1"), "?" + f("not (Code ne 'B1')")):
        status, _h, body = await get("/ODataV4/Chapters" + query)
        assert status == 400, (query, body)
        assert body["error"]["code"] == "BadRequest_FilterRequired"
        assert "add $filter=Code eq 'B1' to the request" in body["error"]["message"]
    status, _h, body = await get("/ODataV4/Chapters/$count")
    assert status == 400 and "$filter=Code eq" in body["error"]["message"]
    # A filter that is wrong in itself says so, before anything is computed.
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'B1' and Pages eq 'x'"))
    assert status == 400 and body["error"]["code"] == "BadRequest_InvalidFilter"
    assert reads.calls == []


async def test_the_hosts_errors_are_the_answer(get: Any) -> None:
    status, headers, body = await get("/ODataV4/Chapters?" + f("Code eq 'DOWN'"))
    assert status == 503 and headers["Retry-After"] == "7"
    assert body["error"] == {
        "code": "Internal_ServiceUnavailable",
        "message": "The book store is not available; try again.",
    }
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'NOPE'"))
    assert status == 404 and body["error"]["message"] == "No book NOPE."
    status, _h, body = await get("/OData/Chapters?" + f("Code eq 'NOPE'"))
    assert status == 404 and body["odata.error"]["message"]["value"] == "No book NOPE."


async def test_no_rows_and_columns_of_nulls(get: Any) -> None:
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'EMPTY' and Pages gt 1") + "&$count=true")
    assert status == 200 and body["value"] == [] and body["@odata.count"] == 0
    status, _h, body = await get(
        "/ODataV4/Chapters?" + f("Code eq 'NULLS' and Pages gt 1 or Code eq 'NULLS' and Due eq null")
    )
    assert status == 400  # an `or` at the top names no one value
    status, _h, body = await get("/ODataV4/Chapters?" + f("Code eq 'NULLS' and (Pages gt 1 or Due eq null)"))
    assert status == 200 and [r["No"] for r in body["value"]] == [1]


async def test_metadata_lists_the_computed_set(get: Any) -> None:
    status, _h, text = await get("/ODataV4/$metadata")
    assert status == 200 and '<EntitySet Name="Chapters" EntityType="NAV.Chapters"' in text


async def test_the_rows_are_queried_in_the_database(engine: AsyncEngine, reads: Reads) -> None:
    """The VALUES list is SQL: the same rows come back from the database itself."""
    from gateway.odata.computed import columns_of, rows_source

    entity_set = chapters_set(reads)
    rows = [{"Code": "B1", **r} for r in CHAPTERS["B1"]]
    cols = columns_of(rows_source(entity_set, rows), entity_set)
    async with engine.connect() as conn:
        got = (await conn.execute(select(cols["No"], cols["Changed"], cols["Due"]).order_by(cols["No"]))).all()
    assert [tuple(r) for r in got] == [(r["No"], r["Changed"], r["Due"]) for r in CHAPTERS["B1"]]


# --- the definition and the value, without HTTP ----------------------------------------------------


def test_a_set_has_a_source_or_computed_rows_not_both_and_a_usable_by() -> None:
    props = (edm.Property("A", edm.STRING), edm.Property("D", edm.DECIMAL))
    read = Reads()
    with pytest.raises(ValueError, match="either a SQL source or computed rows"):
        edm.EntitySet(name="X", properties=props, key=("A",))
    with pytest.raises(ValueError, match="either a SQL source or computed rows"):
        edm.EntitySet(
            name="X", properties=props, key=("A",), source=lambda _c: select(), computed=edm.ComputedRows("A", read)
        )
    with pytest.raises(ValueError, match="computed rows need a property"):
        edm.EntitySet(name="X", properties=props, key=("A",), computed=edm.ComputedRows("D", read))
    with pytest.raises(ValueError, match="computed rows need a property"):
        edm.EntitySet(name="X", properties=props, key=("A",), computed=edm.ComputedRows("Nope", read))
    with pytest.raises(ValueError, match="never cached"):
        edm.EntitySet(
            name="X", properties=props, key=("A",), computed=edm.ComputedRows("A", read), cache_identity={"A": "a"}
        )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Code eq 'B1'", "B1"),
        ("'B1' eq Code", "B1"),
        ("No gt 1 and Code eq 'O''Brien'", "O'Brien"),
        ("(No gt 1 and Draft eq true) and Code in ('B1')", "B1"),
        ("Code eq @c", "B1"),
    ],
)
def test_the_value_from_the_filter(text: str, value: str) -> None:
    assert wanted_value(chapters_set(Reads()), text, {"c": "'B1'"}) == value


def test_a_guid_value_is_canonical_and_the_key_gives_the_value() -> None:
    read = Reads()
    s = edm.EntitySet(
        name="G",
        properties=(edm.Property("Id", edm.GUID, nullable=False), edm.Property("N", edm.INT32, nullable=False)),
        key=("Id", "N"),
        computed=edm.ComputedRows("Id", read),
    )
    assert wanted_value(s, f"Id eq {GUID_A.upper()}", {}) == GUID_A
    assert wanted_value(s, f"Id eq '{{{GUID_A}}}'", {}) == GUID_A
    assert wanted_value(s, None, {}, keys={"Id": GUID_A, "N": 1}) == GUID_A
    with pytest.raises(ODataError) as err:
        wanted_value(s, "Id eq null", {})
    assert err.value.status == 400 and "G(Id=...,N=...)" in err.value.message
