"""The hot $filter shape read without the parser gives the parser's own tree, and nothing else
is taken (gateway/odata/hot_filter.py)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st
from odata_query import ast

from gateway.entity_sets.availability import ITEM_AVAILABILITY, PRODUCT_ITEM_AVAILABILITY
from gateway.odata.edm import GUID, STRING, EntitySet, Property
from gateway.odata.filter_text import parse
from gateway.odata.hot_filter import hot_comparison

SETS = [PRODUCT_ITEM_AVAILABILITY, ITEM_AVAILABILITY]
PROPS = [(s, p.name) for s in SETS for p in s.properties]


def _guid_text(value: uuid.UUID, upper: bool) -> str:
    text = str(value)
    return text.upper() if upper else text


literals = st.one_of(
    st.builds(_guid_text, st.uuids(), st.booleans()),
    st.builds(lambda g: f"guid'{g}'", st.builds(_guid_text, st.uuids(), st.booleans())),
    st.builds(lambda s: "'" + s.replace("'", "''") + "'", st.text(st.characters(blacklist_characters="\x00"))),
)


@given(st.sampled_from(PROPS), literals)
def test_the_hot_shape_is_the_parsers_tree(prop: tuple[EntitySet, str], literal: str) -> None:
    entity_set, name = prop
    text = f"{name} eq {literal}"
    tree = hot_comparison(text, entity_set)
    assert tree is not None
    assert tree == parse(text)


@given(st.text(st.sampled_from("CRM_ID eq'x1a-() \t")))
def test_whatever_it_takes_is_the_parsers_tree(text: str) -> None:
    tree = hot_comparison(text, PRODUCT_ITEM_AVAILABILITY)
    if tree is not None:
        assert tree == parse(text)


def test_other_shapes_go_to_the_parser() -> None:
    pia = PRODUCT_ITEM_AVAILABILITY
    guid = "5a1e5000-0000-4000-8000-000000001896"
    for text in (
        f"CRM_ID  eq {guid}",  # two spaces
        f" CRM_ID eq {guid}",
        f"CRM_ID eq {guid} ",
        f"(CRM_ID eq {guid})",
        f"CRM_ID EQ {guid}",
        f"CRM_ID eq {guid} or CRM_ID eq {guid}",
        f"CRM_ID eq {guid}x",
        "CRM_ID eq 'a\x00b'",
        "Nope eq 'x'",  # not a property: the parser and compiler say so
        "ItemNo eq @p",
        "Inventory eq 5",
        f"CRM_ID eq GUID'{guid}'",
    ):
        assert hot_comparison(text, pia) is None, text


def test_a_property_named_like_a_keyword_is_left_to_the_parser() -> None:
    odd = EntitySet(
        name="Odd",
        properties=(Property("null", STRING), Property("not", STRING), Property("Id", GUID)),
        key=("Id",),
        source=lambda _c: None,  # type: ignore[arg-type,return-value]
    )
    assert hot_comparison("null eq 'x'", odd) is None
    assert hot_comparison("not eq 'x'", odd) is None
    assert hot_comparison("Id eq 'x'", odd) is not None


def test_a_guid_whose_last_group_looks_like_a_v3_number_stays_whole() -> None:
    # Found by the property test above: the rewriting read `0e375815925f` as a V3 Single and cut
    # its suffix, so the parser refused a GUID Sales could send.
    crm_id = ast.Identifier("CRM_ID")
    for guid in ("d1d2ebec-e7ac-c759-eefa-0e375815925f", "abcdefab-abcd-abcd-abcd-00000000001d"):
        equal = ast.Compare(ast.Eq(), crm_id, ast.GUID(guid))
        assert parse(f"CRM_ID eq {guid}") == equal == hot_comparison(f"CRM_ID eq {guid}", PRODUCT_ITEM_AVAILABILITY)
        assert parse(f"(CRM_ID eq {guid})") == equal
        assert parse(f"CRM_ID in ({guid})") == ast.Compare(ast.In(), crm_id, ast.List([ast.GUID(guid)]))
