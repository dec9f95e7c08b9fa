"""System query options: what is accepted, normalised, refused, and with which status."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.odata import edm
from gateway.odata.errors import ODataError
from gateway.odata.query import QueryOptions, check_against, parse_options, selected


def _source(_company: str) -> Any:
    return select()


THINGS = edm.EntitySet(
    "Things",
    (edm.Property("No", edm.STRING, nullable=False), edm.Property("Qty", edm.DECIMAL), edm.Property("Ok", edm.BOOLEAN)),
    key=("No",),
    source=_source,
)


def test_everything_understood() -> None:
    opts = parse_options(
        [
            ("$filter", "No eq @n"),
            ("$select", "No, Qty,No"),
            ("$orderby", "Qty DESC, No"),
            ("$top", "10"),
            ("$skip", "0"),
            ("$count", "TRUE"),
            ("$format", "json"),
            ("$skiptoken", "abc"),
            ("@n", "'x'"),
            ("company", "CRONUS"),
            ("tenant", "default"),
        ]
    )
    assert opts == QueryOptions(
        filter="No eq @n",
        select=("No", "Qty"),
        orderby=(("Qty", True), ("No", False)),
        top=10,
        skip=0,
        count=True,
        skiptoken="abc",
        format="json",
        company="CRONUS",
        aliases={"n": "'x'"},
        passthrough=(("tenant", "default"),),
    )
    assert opts.has_collection_options()
    assert not parse_options([("$select", "No"), ("$format", "json")]).has_collection_options()


def test_names_are_case_insensitive() -> None:
    assert parse_options([("$TOP", "3"), ("$OrderBy", "No desc")]).top == 3


def test_v3_inline_count() -> None:
    assert parse_options([("$inlinecount", "allpages")], v3=True).count is True
    assert parse_options([("$inlinecount", "none")], v3=True).count is False


@pytest.mark.parametrize(
    ("items", "v3", "status", "code", "words"),
    [
        ([("$expand", "X")], False, 501, "Internal_NotImplemented", "'$expand'"),
        ([("$search", "x")], False, 501, "Internal_NotImplemented", "'$search'"),
        ([("$apply", "groupby((No))")], False, 501, "Internal_NotImplemented", "'$apply'"),
        ([("$compute", "x")], False, 501, "Internal_NotImplemented", "'$compute'"),
        ([("$expand", "X")], True, 501, "Internal_NotImplemented", "'$expand'"),
        ([("$foo", "1")], False, 400, "BadRequest_InvalidQueryOption", "'$foo'"),
        ([("$inlinecount", "allpages")], False, 400, "BadRequest_InvalidQueryOption", "'$inlinecount'"),
        ([("$count", "true")], True, 400, "BadRequest_InvalidQueryOption", "'$count'"),
        ([("$top", "1"), ("$TOP", "2")], False, 400, "BadRequest_InvalidQueryOption", "more than once"),
        ([("$filter", "a"), ("$filter", "b")], False, 400, "BadRequest_InvalidQueryOption", "more than once"),
        ([("$top", "-1")], False, 400, "BadRequest_InvalidQueryOption", "whole number"),
        ([("$top", "abc")], False, 400, "BadRequest_InvalidQueryOption", "whole number"),
        ([("$skip", "1.5")], False, 400, "BadRequest_InvalidQueryOption", "whole number"),
        ([("$top", "9" * 19)], False, 400, "BadRequest_InvalidQueryOption", "whole number"),
        ([("$count", "yes")], False, 400, "BadRequest_InvalidQueryOption", "true or false"),
        ([("$inlinecount", "some")], True, 400, "BadRequest_InvalidQueryOption", "allpages"),
        ([("$select", "No,")], False, 400, "BadRequest_InvalidQueryOption", "empty item"),
        ([("$select", "No/Sub")], False, 400, "BadRequest_InvalidQueryOption", "not a property name"),
        ([("$orderby", "No sideways")], False, 400, "BadRequest_InvalidQueryOption", "'No sideways'"),
        ([("$orderby", "No,")], False, 400, "BadRequest_InvalidQueryOption", "in $orderby"),
        ([("$orderby", "length(No)")], False, 501, "Internal_NotImplemented", "expression"),
        ([("$filter", "  ")], False, 400, "BadRequest_InvalidFilter", "empty"),
        ([("@1", "x")], False, 400, "BadRequest_InvalidQueryOption", "not a valid parameter alias"),
        ([("@p", "1"), ("@p", "2")], False, 400, "BadRequest_InvalidQueryOption", "'@p' was specified more"),
    ],
)
def test_refused(items: list[tuple[str, str]], v3: bool, status: int, code: str, words: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_options(items, v3)
    assert (info.value.status, info.value.code) == (status, code)
    assert words in info.value.message


def test_check_against_the_set() -> None:
    check_against(parse_options([("$select", "*,No"), ("$orderby", "Qty desc,No")]), THINGS)
    for items in ([("$select", "Nope")], [("$orderby", "Nope")]):
        with pytest.raises(ODataError) as info:
            check_against(parse_options(items), THINGS)
        assert info.value.code == "BadRequest_InvalidProperty" and "'Nope'" in info.value.message
    with pytest.raises(ODataError) as info:
        check_against(parse_options([("$orderby", "No asc,No desc")]), THINGS)
    assert "twice" in info.value.message


def test_selected() -> None:
    assert selected(parse_options([]), THINGS) == THINGS.properties
    assert selected(parse_options([("$select", "*")]), THINGS) == THINGS.properties
    assert [p.name for p in selected(parse_options([("$select", "Ok,No")]), THINGS)] == ["Ok", "No"]
