"""Content negotiation: $format and Accept, V4 and V3, and the 406 answers."""

from __future__ import annotations

import pytest

from gateway.odata.errors import ODataError
from gateway.odata.formats import JsonFormat, accepts, negotiate_json, parse_accept


@pytest.mark.parametrize(
    ("accept", "fmt", "v3", "expected"),
    [
        (None, None, False, JsonFormat()),
        ("", None, False, JsonFormat()),
        ("*/*", None, False, JsonFormat()),
        ("application/*", None, False, JsonFormat()),
        ("application/json", None, False, JsonFormat()),
        ("application/json;odata.metadata=none", None, False, JsonFormat("none")),
        ("Application/JSON; odata.metadata=FULL", None, False, JsonFormat("full")),
        ("application/json;metadata=none", None, False, JsonFormat("none")),
        ("application/json;IEEE754Compatible=true", None, False, JsonFormat(ieee754=True)),
        (
            "application/json;odata.metadata=full;q=0.5, application/json;odata.metadata=none;q=0.9",
            None,
            False,
            JsonFormat("none"),
        ),
        ("application/xml, application/json;q=0.1", None, False, JsonFormat()),
        ("application/json;odata.metadata=bogus, application/json;q=0.5", None, False, JsonFormat()),
        ("application/xml", "json", False, JsonFormat()),
        (None, "JSON", False, JsonFormat()),
        (None, "application/json;odata.metadata=none", False, JsonFormat("none")),
        (None, "application/json;odata.metadata=full;IEEE754Compatible=true", False, JsonFormat("full", True)),
        (None, None, True, JsonFormat(v3=True)),
        ("application/json;odata=verbose", None, True, JsonFormat("verbose", v3=True)),
        ("application/json;odata=nometadata", None, True, JsonFormat("none", v3=True)),
        ("application/json;odata=fullmetadata", None, True, JsonFormat("full", v3=True)),
        (None, "json", True, JsonFormat(v3=True)),
    ],
)
def test_negotiate_json(accept: str | None, fmt: str | None, v3: bool, expected: JsonFormat) -> None:
    assert negotiate_json(accept, fmt, v3) == expected


@pytest.mark.parametrize(
    ("accept", "fmt", "v3", "words"),
    [
        ("application/xml", None, False, "'application/xml'"),
        ("text/html", None, False, "'text/html'"),
        ("application/atom+xml", None, True, "'application/atom+xml'"),
        ("application/json;q=0", None, False, "application/json"),
        ("application/json;odata.metadata=bogus", None, False, "odata.metadata=bogus"),
        ("text/csv", None, False, "'text/csv'"),
        (None, "atom", False, "'atom'"),
        (None, "xml", False, "'xml'"),
        (None, "application/json;odata.metadata=bogus", False, "bogus"),
        (None, "atom", True, "'atom'"),
    ],
)
def test_not_acceptable(accept: str | None, fmt: str | None, v3: bool, words: str) -> None:
    with pytest.raises(ODataError) as info:
        negotiate_json(accept, fmt, v3)
    assert (info.value.status, info.value.code) == (406, "BadRequest_NotAcceptable")
    assert words in info.value.message


def test_content_types() -> None:
    assert JsonFormat().content_type() == "application/json; odata.metadata=minimal; charset=utf-8"
    assert (
        JsonFormat("none", True).content_type()
        == "application/json; odata.metadata=none; IEEE754Compatible=true; charset=utf-8"
    )
    assert (
        JsonFormat("verbose", v3=True).content_type() == "application/json;odata=verbose;streaming=true;charset=utf-8"
    )
    assert JsonFormat(v3=True).content_type().startswith("application/json;odata=minimalmetadata;")


def test_accepts_for_xml_and_text() -> None:
    assert accepts(None, None, "application/xml")
    assert accepts("application/xml", None, "application/xml")
    assert accepts("application/*;q=0.5", None, "application/xml")
    assert accepts("text/html, */*;q=0.1", None, "application/xml")
    assert not accepts("application/json", None, "application/xml")
    assert not accepts("application/xml;q=0", None, "application/xml")
    assert accepts(None, "xml", "application/xml")
    assert accepts("application/json", "application/xml", "application/xml")
    assert not accepts(None, "json", "application/xml")
    assert accepts("text/*", None, "text/plain")
    assert accepts(None, "text", "text/plain")
    assert not accepts("application/json", None, "text/plain")


def test_parse_accept() -> None:
    ranges = parse_accept('application/json;odata.metadata="none";q=0.8, ,text/plain;q=x, */*')
    assert [(r.type, r.params, r.q) for r in ranges] == [
        ("application/json", {"odata.metadata": "none"}, 0.8),
        ("text/plain", {}, 0.0),
        ("*/*", {}, 1.0),
    ]
