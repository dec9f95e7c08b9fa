"""Resource paths and key predicates."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.odata import edm
from gateway.odata.errors import ODataError
from gateway.odata.uri import ResourcePath, key_values, parse_path, split_key, split_segments

GUID_A = "0a000000-0000-4000-8000-00000000000a"
GUID_B = "0b000000-0000-4000-8000-00000000000b"


def _source(_company: str) -> Any:
    return select()


SHELF = edm.EntitySet(
    "Shelves",
    (
        edm.Property("Room", edm.STRING, nullable=False),
        edm.Property("Number", edm.INT32, nullable=False),
        edm.Property("Label", edm.STRING),
    ),
    key=("Room", "Number"),
    source=_source,
)
BOOK = edm.EntitySet(
    "Books",
    (edm.Property("Id", edm.GUID, nullable=False), edm.Property("Title", edm.STRING)),
    key=("Id",),
    source=_source,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ResourcePath("service")),
        ("/", ResourcePath("service")),
        ("$metadata", ResourcePath("metadata")),
        ("$batch", ResourcePath("batch")),
        ("Books", ResourcePath("collection", "Books")),
        ("Books/", ResourcePath("collection", "Books")),
        ("Books/$count", ResourcePath("count", "Books")),
        ("Company('CRONUS')/Books", ResourcePath("collection", "Books", "CRONUS")),
        ("Company(Name='CRONUS')/Books/$count", ResourcePath("count", "Books", "CRONUS")),
        ("Company('O''Brien & Co/Ltd')/Books", ResourcePath("collection", "Books", "O'Brien & Co/Ltd")),
        ("Company('CRONUS')", ResourcePath("entity", "Company", None, ((None, "'CRONUS'"),))),
        ("Books('a/b')", ResourcePath("entity", "Books", None, ((None, "'a/b'"),))),
        (
            "Shelves(Room='A,1',Number=3)",
            ResourcePath("entity", "Shelves", None, (("Room", "'A,1'"), ("Number", "3"))),
        ),
        ("Books(1)/Title", ResourcePath("property", "Books", None, ((None, "1"),), "Title")),
        ("Books(1)/Title/$value", ResourcePath("property", "Books", None, ((None, "1"),), "Title", True)),
    ],
)
def test_parse_path(path: str, expected: ResourcePath) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("$foo", 404, "BadRequest_NotFound"),
        ("Books/$count/x", 404, "BadRequest_NotFound"),
        ("Books/Title", 404, "BadRequest_NotFound"),
        ("Books(1)/Title/$value/x", 404, "BadRequest_NotFound"),
        ("Books(1)/$links", 404, "BadRequest_NotFound"),
        ("Books('1')x", 404, "BadRequest_NotFound"),
        ("Books('unterminated)", 400, "BadRequest"),
        ("Company(CRONUS)/Books", 400, "BadRequest_InvalidKey"),
        ("Books()", 400, "BadRequest_InvalidKey"),
        ("Books(,)", 400, "BadRequest_InvalidKey"),
    ],
)
def test_bad_paths(path: str, status: int, code: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_path(path)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message


def test_split_segments_keeps_slashes_inside_quotes() -> None:
    assert split_segments("Company('a/b')/Books('x''/y')/Title") == ["Company('a/b')", "Books('x''/y')", "Title"]


def test_split_key() -> None:
    assert split_key("'10000'") == [(None, "'10000'")]
    assert split_key(" Room = 'x=y' , Number=2 ") == [("Room", "'x=y'"), ("Number", "2")]
    assert split_key("'a,b','c'") == [(None, "'a,b'"), (None, "'c'")]


def test_key_values_typed_and_named() -> None:
    assert key_values(((None, f"{GUID_A.upper()}"),), BOOK, v3=False) == {"Id": GUID_A}
    assert key_values(((None, f"guid'{GUID_A}'"),), BOOK, v3=True) == {"Id": GUID_A}
    assert key_values((("Id", GUID_B),), BOOK, v3=False) == {"Id": GUID_B}
    assert key_values((("Number", "7"), ("Room", "'O''Hare'")), SHELF, v3=False) == {"Number": 7, "Room": "O'Hare"}


@pytest.mark.parametrize(
    ("raw", "entity_set", "words"),
    [
        (((None, "'A'"),), SHELF, "has 2 part(s): Room, Number; 1 given"),
        (((None, "'A'"), (None, "1")), SHELF, "is (Room=..., Number=...)"),
        ((("Room", "'A'"), ("Floor", "1")), SHELF, "is (Room=..., Number=...)"),
        ((("Room", "'A'"), ("Room", "'B'")), SHELF, "'Room' is given twice"),
        ((("Room", "'A'"), ("Number", "'1'")), SHELF, "not a valid Edm.Int32 literal for 'Number'"),
        ((("Room", "A"), ("Number", "1")), SHELF, "not a valid Edm.String literal for 'Room'"),
        (((None, GUID_A), (None, GUID_B)), BOOK, "has 1 part(s): Id; 2 given"),
        (((None, "'x'"),), BOOK, "not a valid Edm.Guid literal"),
    ],
)
def test_key_errors(raw: tuple[tuple[str | None, str], ...], entity_set: edm.EntitySet, words: str) -> None:
    with pytest.raises(ODataError) as info:
        key_values(raw, entity_set, v3=False)
    assert info.value.status == 400 and info.value.code == "BadRequest_InvalidKey"
    assert words in info.value.message
