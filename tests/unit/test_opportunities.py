"""Opportunities, the pure parts: BC's rules for an opportunity's fields and closing
(schemas/opportunities.py), what OPPORTUNITY sends and takes back (its field rows through
orders/sync/transfer.py), BC's filter on it, and the version check that keeps a Sales change
already read from looking like a new one (orders/sync/decide.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from orders.sync import decide, filters
from orders.sync.defaults import OPPORTUNITY, SALESPEOPLE, default_mapping
from orders.sync.model import Direction
from orders.sync.table_hooks import hooks_for
from orders.sync.transfer import Bind, LookupTable, to_bc, to_sales
from schemas.master_data import MasterDataError
from schemas.opportunities import OpportunityChange, checked_change, closing

TODAY = dt.date(2026, 12, 1)
T0 = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)
USER = "aaaaaaaa-0000-4000-8000-000000000001"
ACCOUNT = "bbbbbbbb-0000-4000-8000-000000000001"
CONTACT = "cccccccc-0000-4000-8000-000000000001"
LOOKUPS = {
    "SALESPEOPLE": LookupTable("systemusers", {"AO": USER}),
    "CUSTOMER": LookupTable("accounts", {"10000": ACCOUNT}),
    "CONTACT": LookupTable("contacts", {"KT101": CONTACT}),
}


def _record(**kw: object) -> dict[str, object]:
    values: dict[str, object] = {
        "no": "OP000001",
        "description": "Furniture",
        "person_contact_no": "KT101",
        "company_customer_no": "10000",
        "salesperson_code": "AO",
        "estimated_value_lcy": Decimal("12500"),
        "estimated_closing_date": dt.date(2027, 2, 15),
        "closed": False,
    }
    values.update(kw)
    return values


def test_a_change_is_stored_as_bc_keeps_it() -> None:
    values = checked_change(
        "OP1", OpportunityChange(description="  Chairs ", contact_no="kt101", salesperson_code="ao")
    )
    assert values == {"description": "Chairs", "contact_no": "KT101", "salesperson_code": "AO"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            OpportunityChange(description=" "),
            "Description must have a value in Opportunity: No.=OP1. It cannot be zero or empty.",
        ),
        (
            OpportunityChange(contact_no=""),
            "Contact No. must have a value in Opportunity: No.=OP1. It cannot be zero or empty.",
        ),
        (
            OpportunityChange(probability_pct=Decimal(101)),
            "The value in the Probability % field must be between 0 and 100.",
        ),
        (
            OpportunityChange(chances_of_success_pct=Decimal(-1)),
            "The value in the Chances of Success % field must be between 0 and 100.",
        ),
        (OpportunityChange(estimated_value_lcy=Decimal(-5)), "Estimated Value (LCY) must not be negative."),
        (OpportunityChange(status="Open"), "'Open' is not a valid Status: use Not Started, In Progress, Won, Lost."),
        (
            OpportunityChange(description="x" * 101),
            "The length of the string is 101, but it must be less than or equal to 100",
        ),
    ],
)
def test_bad_values_are_refused_in_bcs_words(change: OpportunityChange, message: str) -> None:
    with pytest.raises(MasterDataError) as refused:
        checked_change("OP1", change)
    assert str(refused.value).startswith(message)


def test_won_or_lost_closes_the_opportunity_and_a_closed_one_is_not_changed() -> None:
    assert closing("OP1", False, {"status": "Won"}, TODAY) == {"status": "Won", "closed": True, "date_closed": TODAY}
    assert closing("OP1", False, {"status": "In Progress"}, TODAY) == {"status": "In Progress"}
    with pytest.raises(MasterDataError) as refused:
        closing("OP1", True, {"description": "again"}, TODAY)
    assert str(refused.value) == "Closed must be equal to 'No'  in Opportunity: No.=OP1. Current value is 'Yes'."


def test_opportunity_sends_its_fields_with_the_salesperson_as_owner() -> None:
    mapping = default_mapping(OPPORTUNITY)
    assert mapping is not None
    assert (mapping.direction, mapping.synch_only_coupled_records, mapping.dependency_filter) == (
        Direction.BIDIRECTIONAL,
        False,
        "CONTACT",
    )
    out = to_sales(mapping.field_rows(Direction.TO), _record(), None, LOOKUPS)
    assert out.error == ""
    assert out.values == {
        "name": "Furniture",
        "parentcontactid": Bind("contacts", CONTACT),
        "parentaccountid": Bind("accounts", ACCOUNT),
        "ownerid": Bind("systemusers", USER),
        "estimatedvalue": Decimal("12500"),
        "estimatedclosedate": dt.date(2027, 2, 15),
    }


def test_no_salesperson_leaves_the_owner_and_an_uncoupled_one_fails() -> None:
    mapping = default_mapping(OPPORTUNITY)
    assert mapping is not None
    rows = mapping.field_rows(Direction.TO)
    assert "ownerid" not in to_sales(rows, _record(salesperson_code=""), None, LOOKUPS).values  # never an empty owner
    assert to_sales(rows, _record(salesperson_code="PS"), None, LOOKUPS).error == (
        "Salesperson Code PS must be coupled to a record in Dataverse."
    )
    company_only = to_sales(rows, _record(person_contact_no=""), None, LOOKUPS)  # a company contact
    assert company_only.values["parentcontactid"] == Bind("contacts", None)


def test_only_the_description_comes_back_from_sales() -> None:
    mapping = default_mapping(OPPORTUNITY)
    assert mapping is not None
    sales_row = {"name": "Furniture (Sales)", "estimatedvalue": 1, "_ownerid_value": USER}
    out = to_bc(mapping.field_rows(Direction.FROM), sales_row, _record(), LOOKUPS, {})
    assert out.values == {"description": "Furniture (Sales)"}


def test_a_closed_opportunity_is_outside_bcs_filter_even_when_coupled() -> None:
    mapping = default_mapping(OPPORTUNITY)
    assert mapping is not None
    assert filters.accepts(mapping.table_filter, _record())
    assert not filters.accepts(mapping.table_filter, _record(closed=True))
    assert hooks_for(OPPORTUNITY).keeps_table_filter
    assert not hooks_for("ITEM-PRODUCT").keeps_table_filter  # a blocked item still retires its product


def test_salespeople_take_their_fields_from_their_sales_user() -> None:
    mapping = default_mapping(SALESPEOPLE)
    assert mapping is not None
    assert mapping.direction == Direction.FROM
    user = {"internalemailaddress": "alicia@contoso.example", "fullname": "Alicia Ortiz", "mobilephone": "+1 555"}
    current = {"code": "AO", "e_mail": "", "name": "Alicia", "phone_no": ""}
    out = to_bc(mapping.field_rows(Direction.FROM), user, current, {}, {})
    assert out.values == {"e_mail": "alicia@contoso.example", "name": "Alicia Ortiz", "phone_no": "+1 555"}


def test_the_sales_version_synchronised_last_is_no_change_by_others() -> None:
    person, me = "person", "integration"
    # Sales' times have whole seconds: a row of the stored second changed by someone else counts...
    assert decide.touched_by_others(T0, person, T0, me, 'W/"7"', 'W/"6"')
    assert decide.touched_by_others(T0, person, T0, me)  # (no version known: as before)
    # ... unless it is the version the last synchronisation read or wrote.
    assert not decide.touched_by_others(T0, person, T0, me, 'W/"7"', 'W/"7"')
    assert decide.touched_by_others(T0 + dt.timedelta(seconds=1), person, T0, me, 'W/"8"', 'W/"7"')
