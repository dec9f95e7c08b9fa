"""Match-based coupling: which uncoupled BC record goes with which Sales row (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.sync.matching import (
    CRITERIA,
    BcRecord,
    MatchCriteria,
    MatchField,
    SalesRow,
    Unmatched,
    describe,
    failure_message,
    plan_matches,
)

ITEM = CRITERIA["item"]


def item(no: str, description: str = "") -> BcRecord:
    return BcRecord(no, f"sys-{no}", {"No.": no, "Description": description})


def product(row_id: str, number: str | None, name: str | None = None) -> SalesRow:
    return SalesRow(row_id, {"productnumber": number, "name": name})


def test_number_matches_case_insensitively_and_trimmed() -> None:
    plan = plan_matches(ITEM, [item("1000", "Bicycle")], [product("P1", " 1000 "), product("P2", "2000")], [])
    assert [(m.record.key, m.row_id, m.priority, m.on) for m in plan.matches] == [("1000", "p1", 1, ("No.",))]
    assert plan.unmatched == () and plan.to_create == ()

    plan = plan_matches(ITEM, [item("ATHENS-DESK")], [product("P1", "athens-desk")], [])
    assert [m.row_id for m in plan.matches] == ["p1"]


def test_case_sensitive_field_needs_the_same_case() -> None:
    criteria = MatchCriteria(
        "item",
        "ITEM-PRODUCT",
        "Item",
        "products",
        "productid",
        "",
        (MatchField("No.", "productnumber", 1, case_sensitive=True),),
    )
    plan = plan_matches(criteria, [item("AB")], [product("P1", "ab")], [])
    assert plan.matches == () and [u.reason for u in plan.unmatched] == [Unmatched.NO_MATCH]
    plan = plan_matches(criteria, [item("AB")], [product("P1", "AB")], [])
    assert [m.row_id for m in plan.matches] == ["p1"]


def test_next_priority_is_tried_when_the_first_finds_nothing() -> None:
    plan = plan_matches(ITEM, [item("1000", "Bicycle")], [product("P1", "X-1", "BICYCLE")], [])
    assert [(m.row_id, m.priority, m.on) for m in plan.matches] == [("p1", 2, ("Description",))]


def test_next_priority_is_tried_when_the_first_finds_several() -> None:
    rows = [product("P1", "1000", "Bicycle"), product("P2", "1000", "Tandem")]
    plan = plan_matches(ITEM, [item("1000", "tandem")], rows, [])
    assert [(m.row_id, m.priority) for m in plan.matches] == [("p2", 2)]


def test_several_matches_are_reported_never_created() -> None:
    rows = [product("P1", "1000", "Bicycle"), product("P2", "1000", "Bicycle")]
    plan = plan_matches(ITEM, [item("1000", "Bicycle")], rows, [], create_new=True)
    assert plan.matches == () and plan.to_create == ()
    (only,) = plan.unmatched
    assert only.reason is Unmatched.SEVERAL and only.candidates == ("p1", "p2")
    assert describe(only) == "several matches: p1, p2"


def test_a_coupled_row_is_not_taken_again() -> None:
    plan = plan_matches(ITEM, [item("1000")], [product("P1", "1000")], ["p1"])
    (only,) = plan.unmatched
    assert only.reason is Unmatched.TAKEN and describe(only) == "the only match p1 is coupled to another record"
    # With "create new in case of no match" an uncoupled counterpart is made instead.
    plan = plan_matches(ITEM, [item("1000")], [product("P1", "1000")], ["P1"], create_new=True)
    assert [r.key for r in plan.to_create] == ["1000"] and plan.unmatched == ()


def test_two_records_on_one_row_the_first_by_key_wins() -> None:
    records = [item("2000", "Bicycle"), item("1000", "Bicycle")]
    plan = plan_matches(ITEM, records, [product("P1", "X", "Bicycle")], [])
    assert [(m.record.key, m.row_id) for m in plan.matches] == [("1000", "p1")]
    assert [(u.record.key, u.reason) for u in plan.unmatched] == [("2000", Unmatched.TAKEN)]


def test_empty_bc_values_are_left_out() -> None:
    # No description: priority 2 is not tried at all, even though a product has an empty name.
    plan = plan_matches(ITEM, [item("1000", "")], [product("P1", "9999", "")], [])
    assert plan.matches == () and [u.reason for u in plan.unmatched] == [Unmatched.NO_MATCH]


def test_no_match_is_created_when_asked() -> None:
    plan = plan_matches(ITEM, [item("1000"), item("1001")], [product("P1", "1000")], [], create_new=True)
    assert [m.record.key for m in plan.matches] == ["1000"]
    assert [r.key for r in plan.to_create] == ["1001"] and plan.unmatched == ()


def test_unit_groups_are_matched_by_bc_naming() -> None:
    unit = CRITERIA["unit"]
    records = [BcRecord("PCS", "s1", {"Code": "PCS"}), BcRecord("BOX", "s2", {"Code": "BOX"})]
    rows = [SalesRow("G1", {"name": "nav pcs"}), SalesRow("G2", {"name": "BOX"})]
    plan = plan_matches(unit, records, rows, [])
    assert [(m.record.key, m.row_id) for m in plan.matches] == [("PCS", "g1")]
    assert [u.record.key for u in plan.unmatched] == ["BOX"]


def test_customers_by_number_then_name() -> None:
    customer = CRITERIA["customer"]
    records = [
        BcRecord("10000", "s1", {"No.": "10000", "Name": "Adatum Corporation"}),
        BcRecord("20000", "s2", {"No.": "20000", "Name": "Trey Research"}),
    ]
    rows = [
        SalesRow("A1", {"accountnumber": None, "name": "ADATUM CORPORATION"}),
        SalesRow("A2", {"accountnumber": "20000", "name": "Trey"}),
    ]
    plan = plan_matches(customer, records, rows, [])
    assert [(m.record.key, m.row_id, m.priority) for m in plan.matches] == [("10000", "a1", 2), ("20000", "a2", 1)]


def test_criteria_select_their_columns() -> None:
    assert ITEM.columns == ["productid", "productnumber", "name"]
    assert CRITERIA["unit"].columns == ["uomscheduleid", "name"]
    assert [p for p, _f in ITEM.groups()] == [1, 2]


def test_bc_message_for_what_stayed_unmatched() -> None:
    assert failure_message("https://org.crm4.dynamics.com", 3) == (
        "Failed to couple 3 record(s), because no unique uncoupled matching entity was found in "
        "https://org.crm4.dynamics.com with the specified matching criteria."
    )


_codes = st.text(alphabet="ABCD12", min_size=1, max_size=3)


@given(st.lists(_codes, unique=True, max_size=8), st.lists(st.tuples(_codes, st.booleans()), max_size=8))
def test_a_row_is_never_coupled_twice_and_every_record_is_accounted_for(
    nos: list[str], products: list[tuple[str, bool]]
) -> None:
    rows = [product(f"P{i}", no) for i, (no, _c) in enumerate(products)]
    coupled = [f"p{i}" for i, (_no, c) in enumerate(products) if c]
    plan = plan_matches(ITEM, [item(no) for no in nos], rows, coupled)
    row_ids = [m.row_id for m in plan.matches]
    assert len(row_ids) == len(set(row_ids)) and not set(row_ids) & set(coupled)
    assert sorted([m.record.key for m in plan.matches] + [u.record.key for u in plan.unmatched]) == sorted(nos)
    for m in plan.matches:
        assert (
            next(r for r in rows if r.id.lower() == m.row_id).values["productnumber"].casefold()
            == m.record.key.casefold()
        )


@pytest.mark.parametrize("kind", sorted(CRITERIA))
def test_every_kind_has_criteria(kind: str) -> None:
    assert CRITERIA[kind].kind == kind and CRITERIA[kind].fields
