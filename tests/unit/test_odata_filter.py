"""$filter: parsing, V3 rewriting, type checks, error codes, the SQL it compiles to, and the
identities an answer depends on. What that SQL selects on a real database: tests/integration/
test_odata_filter_sql.py.

The entity set here is made up (books, tests/support/odata_tables.py), so that these tests hold the
OData layer to being generic.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from gateway.odata import edm
from gateway.odata.errors import ODataError
from gateway.odata.filter import compile_filter
from gateway.odata.filter_tags import identity_tags
from gateway.odata.filter_text import MAX_FILTER_LENGTH, parse, prepare
from tests.support.odata_tables import BOOKS, GUID_A, book_columns


def error_of(text: str, aliases: dict[str, str] | None = None) -> ODataError:
    with pytest.raises(ODataError) as info:
        compile_filter(text, BOOKS, book_columns(), aliases)
    return info.value


def test_percent_and_underscore_are_escaped_in_like() -> None:
    cols = book_columns()
    clause, _ = compile_filter("contains(Title,'5_%')", BOOKS, cols)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        assert "ESCAPE '/'" in sql
        assert "5/_/%" in sql


def test_guid_literals_are_bound_in_canonical_form() -> None:
    clause, _ = compile_filter(f"Id eq {GUID_A.upper()}", BOOKS, book_columns())
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
        ("Code eq 'a')", 400, "BadRequest_InvalidFilter", "position 12 in $filter 'Code eq 'a')': ')' is not expected"),
        ("Nope eq 1", 400, "BadRequest_InvalidProperty", "'Nope'"),
        (
            "Pages eq 'x'",
            400,
            "BadRequest_InvalidFilter",
            "Cannot compare Pages (Edm.Int32) with 'x' (Edm.String) at position 1",
        ),
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
        ("Pages gt 9223372036854775808", 400, "BadRequest_InvalidFilter", "outside the range of Edm.Int64"),
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
        compile_filter(chained, BOOKS, book_columns())
    except ODataError as exc:  # too deep for the parser is allowed; a 500 is not
        err = exc
    assert err is None or err.status == 400
    long = "Code eq '" + "x" * MAX_FILTER_LENGTH + "'"
    err = error_of(long)
    assert err.status == 400 and str(MAX_FILTER_LENGTH) in err.message
    loop = error_of("Code eq @a", {"a": "@b", "b": "@a"})
    assert loop.status == 400


def run_parens(n: int) -> bool:
    clause, _ = compile_filter("(" * n + "Code eq 'B1'" + ")" * n, BOOKS, book_columns())
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
        compile_filter(text, BOOKS, book_columns(), {"p": "1"})
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
