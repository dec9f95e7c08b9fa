"""$filter on a real database: what the SQL it compiles to selects, checked against the same
predicate in Python, on an in-memory SQLite table of made-up books (tests/support/odata_tables.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select

from gateway.odata.filter import compile_filter
from tests.support.odata_tables import BOOK_ROWS, BOOKS, GUID_A, book_columns, books, books_metadata


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _functions(dbapi_conn: Any, _record: Any) -> None:
        # The gateway registers these on every SQLite connection (schemas/db.py); tolower needs them.
        dbapi_conn.create_function("bcgw_lower", 1, lambda v: v.lower() if isinstance(v, str) else v)
        dbapi_conn.create_function("bcgw_upper", 1, lambda v: v.upper() if isinstance(v, str) else v)
        dbapi_conn.execute("PRAGMA case_sensitive_like=ON")

    books_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(books.insert(), BOOK_ROWS)
    yield engine
    engine.dispose()


def run(db: Engine, text: str, aliases: dict[str, str] | None = None) -> set[str]:
    cols = book_columns()
    clause, _tree = compile_filter(text, BOOKS, cols, aliases)
    with db.connect() as conn:
        return set(conn.execute(select(cols["Code"]).where(clause)).scalars())


def expect(pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["code"] for r in BOOK_ROWS if pred(r)}


# --- what filters select --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pred"),
    [
        ("Title eq 'O''Brien''s Guide'", lambda r: r["title"] == "O'Brien's Guide"),
        ("contains(Title,'50%')", lambda r: "50%" in r["title"]),
        ("contains(Title,'off_sale')", lambda r: "off_sale" in r["title"]),
        ("startswith(Code,'B_')", lambda r: r["code"].startswith("B_")),
        ("endswith(Title,'%')", lambda r: r["title"].endswith("%")),
        ("startswith(Title,'50')", lambda r: r["title"].startswith("50")),
        ("contains(Title,'Größe')", lambda r: "Größe" in r["title"]),
        ("tolower(Title) eq 'äpfel – größe xl 日本'", lambda r: r["title"].lower() == "äpfel – größe xl 日本"),
        ("toupper(Code) eq 'B1'", lambda r: r["code"].upper() == "B1"),
        ("Pages gt 100 and In_Print", lambda r: r["pages"] > 100 and r["in_print"]),
        ("not In_Print", lambda r: not r["in_print"]),
        ("In_Print eq false or Pages lt 10", lambda r: not r["in_print"] or r["pages"] < 10),
        ("Price ge 19.5", lambda r: r["price"] >= Decimal("19.5")),
        ("Price div 2 eq 1.5", lambda r: r["price"] / 2 == Decimal("1.5")),
        ("Pages mod 2 eq 0", lambda r: r["pages"] % 2 == 0),
        ("Pages div 2 eq 3", lambda r: r["pages"] // 2 == 3),
        ("length(Code) div 2 eq 1", lambda r: len(r["code"]) // 2 == 1),
        ("indexof(Title,'f') div 2 eq 2", lambda r: r["title"].find("f") // 2 == 2),
        ("-Pages lt -100", lambda r: -r["pages"] < -100),
        ("Id eq null", lambda r: r["isbn_id"] is None),
        ("Id ne null", lambda r: r["isbn_id"] is not None),
        (f"Id eq {GUID_A.upper()}", lambda r: r["isbn_id"] == GUID_A),
        (f"Id eq '{{{GUID_A}}}'", lambda r: r["isbn_id"] == GUID_A),
        ("Published lt 2001-01-01", lambda r: r["published"] is not None and r["published"] < dt.date(2001, 1, 1)),
        ("year(Published) eq 2024 and month(Published) eq 2", lambda r: r["published"] == dt.date(2024, 2, 29)),
        ("Code in ('B1')", lambda r: r["code"] == "B1"),
        ("Code in ('B1','B3','nope')", lambda r: r["code"] in ("B1", "B3")),
        ("length(Code) eq 3", lambda r: len(r["code"]) == 3),
        ("indexof(Title,'off') eq 4", lambda r: r["title"].find("off") == 4),
        ("substring(Code,1) eq '1'", lambda r: r["code"][1:] == "1"),
        ("substring(Title,0,2) eq '50'", lambda r: r["title"][0:2] == "50"),
        ("concat(Code,'x') eq 'B1x'", lambda r: r["code"] + "x" == "B1x"),
        ("trim(concat(' ',Code)) eq 'B2'", lambda r: r["code"] == "B2"),
        ("round(Price) eq 42", lambda r: r["price"] == Decimal("42.125")),
        ("floor(Price) eq 19 and ceiling(Price) eq 20", lambda r: r["price"] == Decimal("19.5")),
        ("true", lambda r: True),
        ("1 eq 2", lambda r: False),
    ],
)
def test_filter_selects_what_the_predicate_selects(db: Engine, text: str, pred: Callable[..., bool]) -> None:
    assert run(db, text) == expect(pred)


def test_v3_literals_and_substringof(db: Engine) -> None:
    assert run(db, f"Id eq guid'{GUID_A}'") == {"B1"}
    assert run(db, "Price gt 19M") == expect(lambda r: r["price"] > 19)
    assert run(db, "Pages eq 7L") == {"B2"}
    assert run(db, "Price eq 42.125m") == {"B3"}
    assert run(db, "substringof('Guide', Title)") == {"B1"}
    assert run(db, "Published eq datetime'2020-05-01T00:00:00'") == {"B1"}


def test_parameter_aliases(db: Engine) -> None:
    assert run(db, "Code eq @c", {"c": "'B3'"}) == {"B3"}
    assert run(db, "Code in @list", {"list": "('B1','B2')"}) == {"B1", "B2"}
    assert run(db, "Pages gt @n and In_Print eq @flag", {"n": "100", "flag": "true"}) == {"B1", "B3"}
    assert run(db, "Pages gt @n", {"n": "-5"}) == {r["code"] for r in BOOK_ROWS}
    assert run(db, "Code eq @c", {"c": "' or 1 eq 1 or Code eq '"}) == set()  # a string, quotes and all
