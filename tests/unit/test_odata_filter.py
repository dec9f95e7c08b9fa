"""$filter: parsing, V3 rewriting, type checks, error codes, and what the SQL it compiles to selects.

The entity set here is made up (books), so that these tests hold the OData layer to being generic.
Filters are run against an in-memory SQLite table and checked against the same predicate in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from gateway.odata import edm
from gateway.odata.errors import ODataError
from gateway.odata.filter import compile_filter
from gateway.odata.filter_tags import identity_tags
from gateway.odata.filter_text import MAX_FILTER_LENGTH, parse, prepare

metadata = MetaData()
books = Table(
    "books",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("title", String(100), nullable=False),
    Column("isbn_id", String(36), nullable=True),
    Column("pages", Integer, nullable=False),
    Column("price", Numeric(20, 5, asdecimal=True), nullable=False),
    Column("in_print", Boolean, nullable=False),
    Column("published", Date, nullable=True),
)


def _source(_company: str) -> Any:
    b = books.c
    return select(
        b.code.label("Code"),
        b.title.label("Title"),
        b.isbn_id.label("Id"),
        b.pages.label("Pages"),
        b.price.label("Price"),
        b.in_print.label("In_Print"),
        b.published.label("Published"),
    )


BOOKS = edm.EntitySet(
    name="Books",
    properties=(
        edm.Property("Code", edm.STRING, nullable=False, max_length=20),
        edm.Property("Title", edm.STRING, nullable=False, max_length=100),
        edm.Property("Id", edm.GUID),
        edm.Property("Pages", edm.INT32, nullable=False),
        edm.Property("Price", edm.DECIMAL, nullable=False),
        edm.Property("In_Print", edm.BOOLEAN, nullable=False),
        edm.Property("Published", edm.DATE),
    ),
    key=("Code",),
    source=_source,
    cache_identity={"Code": "code", "Id": "id"},
)

GUID_A = "0a000000-0000-4000-8000-00000000000a"
ROWS: list[dict[str, Any]] = [
    {
        "code": "B1",
        "title": "O'Brien's Guide",
        "isbn_id": GUID_A,
        "pages": 120,
        "price": Decimal("19.5"),
        "in_print": True,
        "published": dt.date(2020, 5, 1),
    },
    {
        "code": "B2",
        "title": "50% off_sale",
        "isbn_id": None,
        "pages": 7,
        "price": Decimal("3"),
        "in_print": False,
        "published": None,
    },
    {
        "code": "B3",
        "title": "50X offXsale",
        "isbn_id": "0b000000-0000-4000-8000-00000000000b",
        "pages": 300,
        "price": Decimal("42.125"),
        "in_print": True,
        "published": dt.date(1999, 12, 31),
    },
    {
        "code": "B_4",
        "title": "Äpfel – Größe XL 日本",
        "isbn_id": None,
        "pages": 64,
        "price": Decimal("0.5"),
        "in_print": False,
        "published": dt.date(2024, 2, 29),
    },
]


def _columns() -> dict[str, Any]:
    sq = BOOKS.source("").subquery("s")
    return {p.name: sq.c[p.name] for p in BOOKS.properties}


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _functions(dbapi_conn: Any, _record: Any) -> None:
        # The gateway registers these on every SQLite connection (schemas/db.py); tolower needs them.
        dbapi_conn.create_function("bcgw_lower", 1, lambda v: v.lower() if isinstance(v, str) else v)
        dbapi_conn.create_function("bcgw_upper", 1, lambda v: v.upper() if isinstance(v, str) else v)
        dbapi_conn.execute("PRAGMA case_sensitive_like=ON")

    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(books.insert(), ROWS)
    yield engine
    engine.dispose()


def run(db: Engine, text: str, aliases: dict[str, str] | None = None) -> set[str]:
    cols = _columns()
    clause, _tree = compile_filter(text, BOOKS, cols, aliases)
    with db.connect() as conn:
        return set(conn.execute(select(cols["Code"]).where(clause)).scalars())


def expect(pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["code"] for r in ROWS if pred(r)}


def error_of(text: str, aliases: dict[str, str] | None = None) -> ODataError:
    with pytest.raises(ODataError) as info:
        compile_filter(text, BOOKS, _columns(), aliases)
    return info.value


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
    assert run(db, "Pages gt @n and @flag", {"n": "100", "flag": "In_Print"}) == {"B1", "B3"}


def test_percent_and_underscore_are_escaped_in_like() -> None:
    cols = _columns()
    clause, _ = compile_filter("contains(Title,'5_%')", BOOKS, cols)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        assert "ESCAPE '/'" in sql
        assert "5/_/%" in sql


def test_guid_literals_are_bound_in_canonical_form() -> None:
    clause, _ = compile_filter(f"Id eq {GUID_A.upper()}", BOOKS, _columns())
    params = clause.compile(dialect=postgresql.dialect()).params
    assert GUID_A in params.values()


# --- V3 rewriting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v3", "v4"),
    [
        (f"Id eq guid'{GUID_A}'", f"Id eq {GUID_A}"),
        ("Price gt 12M", "Price gt 12"),
        ("Price gt 1.5m and Pages lt 3L", "Price gt 1.5 and Pages lt 3"),
        ("Published eq datetime'2020-05-01T00:00:00'", "Published eq 2020-05-01T00:00:00"),
        ("substringof('x', Title)", "contains(Title,'x')"),
        ("Code in ('a')", "Code in ('a',)"),
        ("Title eq 'guid''s 12M'", "Title eq 'guid''s 12M'"),
    ],
)
def test_prepare_rewrites_v3_forms(v3: str, v4: str) -> None:
    assert prepare(v3, {}).replace(" ", "") == v4.replace(" ", "")


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "code", "words"),
    [
        ("Code eq", 400, "BadRequest_InvalidFilter", "Syntax error"),
        ("Code eq 'abc", 400, "BadRequest_InvalidFilter", "Unterminated"),
        ("(((Code eq 'a')", 400, "BadRequest_InvalidFilter", "ends too early"),
        ("Code eq 'a')", 400, "BadRequest_InvalidFilter", "near ')'"),
        ("Nope eq 1", 400, "BadRequest_InvalidProperty", "'Nope'"),
        ("Pages eq 'x'", 400, "BadRequest_InvalidFilter", "not defined for the types"),
        ("Title add 1 eq 2", 400, "BadRequest_InvalidFilter", "needs numbers"),
        ("In_Print lt true", 400, "BadRequest_InvalidFilter", "not defined for Edm.Boolean"),
        ("Id gt " + GUID_A, 400, "BadRequest_InvalidFilter", "Edm.Guid"),
        ("Id eq 'not-a-guid'", 400, "BadRequest_InvalidFilter", "not a valid Edm.Guid"),
        ("Code", 400, "BadRequest_InvalidFilter", "must be a condition"),
        ("null", 400, "BadRequest_InvalidFilter", "must be a condition"),
        ("Pages gt null", 400, "BadRequest_InvalidFilter", "null"),
        ("not Code", 400, "BadRequest_InvalidFilter", "'not' needs a condition"),
        ("frob(Code) eq 1", 400, "BadRequest_InvalidFilter", "'frob' is not a known OData function"),
        ("contains(Code)", 400, "BadRequest_InvalidFilter", "takes 2 arguments"),
        ("contains(Code,1)", 400, "BadRequest_InvalidFilter", "needs Edm.String"),
        ("year(Code) eq 1", 400, "BadRequest_InvalidFilter", "needs Edm.Date"),
        ("NAV.Code eq 'x'", 400, "BadRequest_InvalidFilter", "Qualified names"),
        ("Author/Name eq 'x'", 400, "BadRequest_InvalidFilter", "Navigation ('Author/Name')"),
        ("Code in ()", 400, "BadRequest_InvalidFilter", "empty value"),
        ("Code eq @p", 400, "BadRequest_InvalidFilter", "'@p' has no value"),
        ("Pages gt 9223372036854775808", 400, "BadRequest_InvalidFilter", "too large"),
        ("Pages div 0 eq 1", 400, "BadRequest_InvalidFilter", "Division by zero"),
        ("Price mod 0.0 eq 1", 400, "BadRequest_InvalidFilter", "Division by zero"),
        ("Code eq 12:00:00", 400, "BadRequest_InvalidFilter", "Edm.TimeOfDay"),
        ("Published eq datetime'2020-05-01T10:00:00'", 400, "BadRequest_InvalidFilter", "time of day"),
        ("Code eq duration'P1D'", 400, "BadRequest_InvalidFilter", "Edm.Duration"),
        ("matchesPattern(Code,'^B')", 501, "Internal_NotImplemented", "matchesPattern"),
        ("now() gt 2020-01-01T00:00:00Z", 501, "Internal_NotImplemented", "'now'"),
        ("geo.distance(Code,Code) lt 1", 501, "Internal_NotImplemented", "geo.distance"),
        ("geo.intersects(Code,Code)", 501, "Internal_NotImplemented", "geo.intersects"),
        ("Tags/any(t:t eq 'x')", 501, "Internal_NotImplemented", "any, all"),
        ("Tags/all(t:t eq 'x')", 501, "Internal_NotImplemented", "any, all"),
        ("cast(Code,Edm.Int32) eq 1", 501, "Internal_NotImplemented", "'cast'"),
        ("isof(Code,Edm.String)", 501, "Internal_NotImplemented", "'isof'"),
        ("NAV.discount(Price) gt 1", 501, "Internal_NotImplemented", "NAV.discount"),
    ],
)
def test_errors_have_status_code_and_message(text: str, status: int, code: str, words: str) -> None:
    err = error_of(text)
    assert (err.status, err.code) == (status, code), err.message
    assert words in err.message
    assert err.body() == {"error": {"code": code, "message": err.message}}


def test_absurd_nesting_and_length_are_400() -> None:
    deep = error_of("not " * 1000 + "In_Print")
    assert deep.status == 400 and "nested too deeply" in deep.message
    assert error_of("-" * 1000 + "Pages eq 1").status == 400
    # Parentheses alone add no depth to the tree: valid, however many.
    assert run_parens(300)
    chained = " and ".join(["Pages gt 1"] * 600)
    err = None
    try:
        compile_filter(chained, BOOKS, _columns())
    except ODataError as exc:  # too deep for the parser is allowed; a 500 is not
        err = exc
    assert err is None or err.status == 400
    long = "Code eq '" + "x" * MAX_FILTER_LENGTH + "'"
    err = error_of(long)
    assert err.status == 400 and str(MAX_FILTER_LENGTH) in err.message
    loop = error_of("Code eq @a", {"a": "@b", "b": "@a"})
    assert loop.status == 400


def run_parens(n: int) -> bool:
    clause, _ = compile_filter("(" * n + "Code eq 'B1'" + ")" * n, BOOKS, _columns())
    return clause is not None


def test_empty_filter_is_400() -> None:
    with pytest.raises(ODataError) as info:
        parse("   ")
    assert info.value.status == 400 and "empty" in info.value.message


# Junk made of filter words gets deep into the parser; raw text covers the lexer.
_WORDS = st.sampled_from(
    [
        "(", ")", ",", "eq", "ne", "gt", "and", "or", "not", "in", "add", "div", "mod", "-",
        "Code", "Pages", "Price", "Id", "In_Print", "Published", "Nope", "'x'", "'O''B'", "'",
        "1", "2.5", "12M", "null", "true", GUID_A, "2020-01-01", "contains", "substringof",
        "tolower", "round", "year", "any", "/", ":", "@p", "$it", "guid'", "geo.distance", "0",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(_WORDS, max_size=14).map(" ".join)))
def test_junk_never_raises_anything_but_odata_errors(text: str) -> None:
    try:
        compile_filter(text, BOOKS, _columns(), {"p": "1"})
    except ODataError as exc:
        assert exc.status in (400, 501)
        assert exc.message


# --- which identities an answer depends on (cache tags) ---------------------------------------


def _tags(text: str) -> frozenset[tuple[str, str]] | None:
    return identity_tags(parse(text), BOOKS, edm.tag_value)


def test_identity_tags() -> None:
    assert _tags("Code eq 'B1'") == {("code", "B1")}
    assert _tags("'B1' eq Code") == {("code", "B1")}
    assert _tags("Code in ('B1','B2')") == {("code", "B1"), ("code", "B2")}
    assert _tags("Code eq 'B1' and Pages gt 3") == {("code", "B1")}
    assert _tags("Code eq 'B1' and Code in ('B1','B2')") == {("code", "B1")}
    assert _tags("Code eq 'B1' or Id eq " + GUID_A) == {("code", "B1"), ("id", GUID_A)}
    # Any spelling of a GUID that selects the row gives the row's tag.
    assert _tags(f"Id eq {GUID_A.upper()}") == {("id", GUID_A)}
    assert _tags(f"Id eq '{{{GUID_A.upper()}}}'") == {("id", GUID_A)}
    assert _tags(f"Id eq '{GUID_A.replace('-', '')}'") == {("id", GUID_A)}
    # Broad: may depend on any row.
    for broad in (
        "Code eq 'B1' or Pages gt 3",
        "not (Code eq 'B1')",
        "Code ne 'B1'",
        "Pages eq 7",
        "tolower(Code) eq 'b1'",
        "Id eq null",
        "Code eq Title",
    ):
        assert _tags(broad) is None, broad
    assert identity_tags(None, BOOKS, edm.tag_value) is None
