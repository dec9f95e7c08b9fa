"""BC's synchronisation decisions (orders/sync/decide.py, transfer.py, filters.py, jobs.py): pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from orders.sync import decide, filters, sales_rules
from orders.sync.api import full_sync_order
from orders.sync.decide import Action
from orders.sync.defaults import MAPPINGS, default_mapping
from orders.sync.jobs import SLEEPING, JobEntry, next_after_failure, next_after_run, woken
from orders.sync.model import (
    Coupling,
    DeletionConflictResolution,
    Direction,
    SynchResult,
    UpdateConflictResolution,
)
from orders.sync.transfer import Bind, LookupTable, differing_bidirectional, to_bc, to_sales

T0 = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)


def ms(n: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=n)


def coupling(**kw: object) -> Coupling:
    values: dict[str, object] = {
        "id": 1,
        "crm_id": "c",
        "integration_id": "i",
        "table_id": 27,
        "last_synch_modified_on": T0,
        "last_synch_crm_modified_on": T0,
    }
    values.update(kw)
    return Coupling(**values)  # type: ignore[arg-type]


def decide_to(
    c: Coupling | None, source: dt.datetime | None, dest: dt.datetime | None = T0, **kw: object
) -> decide.RecordDecision:
    args: dict[str, object] = {
        "only_coupled": True,
        "bidirectional": True,
        "counterpart_exists": True,
        "source_time": source,
        "destination_time": dest,
        "deletion_resolution": DeletionConflictResolution.NONE,
        "source_caption": "Item",
    }
    args.update(kw)
    return decide.decide_record(Direction.TO, c, **args)  # type: ignore[arg-type]


# -- changed / unchanged ----------------------------------------------------------------------


def test_a_record_not_newer_than_its_coupling_is_unchanged_and_10_ms_count_as_equal() -> None:
    assert decide_to(coupling(), T0).action == Action.UNCHANGED
    assert decide_to(coupling(), T0 + ms(10)).action == Action.UNCHANGED
    assert decide_to(coupling(), T0 + ms(11)).action == Action.UPDATE
    assert decide_to(coupling(), T0 - dt.timedelta(seconds=5)).action == Action.UNCHANGED


def test_a_record_that_failed_last_time_is_written_again_whatever_its_time() -> None:
    failed = coupling(last_synch_crm_result=SynchResult.FAILURE)
    assert decide_to(failed, T0).action == Action.UPDATE
    # The other direction's failure does not count for this one.
    assert decide_to(coupling(last_synch_result=SynchResult.FAILURE), T0).action == Action.UNCHANGED


def test_a_forced_one_off_run_handles_every_coupled_record() -> None:
    assert decide_to(coupling(), T0, force=True).action == Action.UPDATE


def test_uncoupled_records_are_left_alone_while_only_coupled_and_inserted_otherwise() -> None:
    assert decide_to(None, T0).action == Action.IGNORE
    assert decide_to(None, T0, only_coupled=False).action == Action.INSERT


def test_a_skipped_coupling_is_counted_skipped_even_when_changed() -> None:
    assert decide_to(coupling(skipped=True), T0 + dt.timedelta(hours=1)).action == Action.SKIP


def test_both_sides_changed_since_the_last_sync_is_flagged_on_a_bidirectional_mapping_only() -> None:
    both = decide_to(coupling(), T0 + ms(500), T0 + ms(500))
    assert both.action == Action.UPDATE and both.both_modified
    one_way = decide_to(coupling(), T0 + ms(500), T0 + ms(500), bidirectional=False)
    assert not one_way.both_modified
    only_source = decide_to(coupling(), T0 + ms(500), T0)
    assert not only_source.both_modified


# -- conflicts ----------------------------------------------------------------------------------


def test_an_update_conflict_without_resolution_fails_with_bcs_message() -> None:
    outcome = decide.resolve_update_conflict(
        Direction.TO, True, [("Description", "name")], UpdateConflictResolution.NONE, "Item", "Dataverse Product"
    )
    assert not outcome.proceed and not outcome.skip
    assert outcome.message == (
        "Cannot update a record in the Dataverse Product table. The mapping between Description field on the Item "
        "table and the name field on the Dataverse Product table is bi-directional, and one or both values have "
        "changed since the last synchronization."
    )


@pytest.mark.parametrize(
    ("resolution", "to_goes", "from_goes"),
    [(UpdateConflictResolution.GET, False, True), (UpdateConflictResolution.SEND, True, False)],
)
def test_the_two_resolutions_let_one_direction_win_and_skip_the_other(
    resolution: UpdateConflictResolution, to_goes: bool, from_goes: bool
) -> None:
    to = decide.resolve_update_conflict(Direction.TO, True, [("a", "b")], resolution, "Item", "P")
    back = decide.resolve_update_conflict(Direction.FROM, True, [("b", "a")], resolution, "P", "Item")
    assert (to.proceed, to.skip) == (to_goes, not to_goes)
    assert (back.proceed, back.skip) == (from_goes, not from_goes)


def test_changes_in_one_way_fields_only_are_no_conflict_and_wind_back_the_other_side() -> None:
    outcome = decide.resolve_update_conflict(Direction.TO, True, [], UpdateConflictResolution.NONE, "Item", "P")
    assert outcome.proceed and outcome.wind_back_other
    assert decide.wound_back(T0, Direction.TO) == T0 - ms(999)  # Sales' modifiedon
    assert decide.wound_back(T0, Direction.FROM) == T0 - ms(10)  # BC's SystemModifiedAt
    assert decide.resolve_update_conflict(
        Direction.TO, False, [("a", "b")], UpdateConflictResolution.NONE, "I", "P"
    ).proceed


def test_differing_bidirectional_names_source_then_destination_field() -> None:
    item = default_mapping("ITEM-PRODUCT")
    assert item is not None
    rows = item.field_rows(Direction.TO)
    record = {
        "no": "1000",
        "description": "Bicycle (new)",
        "unit_price": Decimal(10),
        "unit_cost": 1,
        "inventory": 5,
        "base_unit_of_measure": "",
    }
    current = {
        "productnumber": "1000",
        "name": "Bicycle",
        "price": Decimal(9),
        "standardcost": 1,
        "currentcost": 1,
        "quantityonhand": 5,
        "producttypecode": 1,
        "_defaultuomscheduleid_value": None,
    }
    transfer = to_sales(rows, record, current, {"UNIT OF MEASURE": LookupTable("uomschedules", {})})
    assert transfer.values == {"name": "Bicycle (new)", "price": Decimal(10)}
    assert differing_bidirectional(transfer, Direction.TO) == [("Description", "name")]


# -- deletion -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "action"),
    [
        (DeletionConflictResolution.RESTORE, Action.RESTORE),
        (DeletionConflictResolution.REMOVE, Action.REMOVE_COUPLING),
    ],
)
def test_a_counterpart_that_is_gone_follows_the_deletion_resolution(
    resolution: DeletionConflictResolution, action: Action
) -> None:
    assert (
        decide_to(coupling(), T0 + ms(500), counterpart_exists=False, deletion_resolution=resolution).action == action
    )


def test_a_counterpart_that_is_gone_without_resolution_fails_with_bcs_message() -> None:
    decision = decide_to(coupling(), T0 + ms(500), counterpart_exists=False)
    assert decision.action == Action.FAIL
    assert decision.message == "The Item record cannot be updated because it is coupled to a deleted record."


# -- skip after two equal failures ------------------------------------------------------------


def test_a_coupling_that_fails_twice_with_the_same_error_is_skipped() -> None:
    message = "Base Unit of Measure PCS must be coupled to a record in Dataverse."
    assert not decide.after_failure(coupling(), Direction.TO, message)  # the first failure
    once = coupling(last_synch_crm_result=SynchResult.FAILURE, last_synch_crm_error=message)
    assert decide.after_failure(once, Direction.TO, message)
    assert not decide.after_failure(once, Direction.TO, "Another message.")
    assert not decide.after_failure(once, Direction.FROM, message)  # per direction
    assert not decide.after_failure(None, Direction.TO, message)  # a failed insert has no coupling


# -- marks and overlap --------------------------------------------------------------------------


def test_the_sales_pass_reads_from_one_second_before_its_mark() -> None:
    assert decide.from_pass_since(T0) == T0 - ms(999)
    assert decide.from_pass_since(None) is None


def test_a_mark_is_the_largest_time_seen_capped_at_the_start_and_never_goes_back() -> None:
    start = T0 + dt.timedelta(minutes=1)
    assert decide.advance_mark(None, T0, start) == T0
    assert decide.advance_mark(T0, start + dt.timedelta(seconds=5), start) == start  # a change during the pass
    assert decide.advance_mark(T0 + ms(500), T0, start) == T0 + ms(500)  # never earlier
    assert decide.advance_mark(T0, None, start) == T0  # nothing seen


# -- transfer -------------------------------------------------------------------------------------


def test_a_lookup_goes_through_the_couplings_and_an_uncoupled_value_fails_with_bcs_message() -> None:
    item = default_mapping("ITEM-PRODUCT")
    assert item is not None
    record = {
        "no": "1000",
        "description": "Bicycle",
        "unit_price": Decimal(-5),
        "unit_cost": 0,
        "inventory": -3,
        "base_unit_of_measure": "PCS",
    }
    units = LookupTable("uomschedules", {"PCS": "0000000a-0000-0000-0000-000000000001"})
    insert = to_sales(item.field_rows(Direction.TO), record, None, {"UNIT OF MEASURE": units})
    assert insert.error == ""
    assert insert.values["defaultuomscheduleid"] == Bind("uomschedules", "0000000a-0000-0000-0000-000000000001")
    assert insert.values["price"] == 0 and insert.values["quantityonhand"] == 0  # negatives sent as zero
    assert insert.values["producttypecode"] == 1
    missing = to_sales(
        item.field_rows(Direction.TO), record, None, {"UNIT OF MEASURE": LookupTable("uomschedules", {})}
    )
    assert missing.error == "Base Unit of Measure PCS must be coupled to a record in Dataverse."


def test_sales_to_bc_writes_only_the_fields_bc_maps_that_way_and_only_what_differs() -> None:
    item = default_mapping("ITEM-PRODUCT")
    assert item is not None
    group = "0000000a-0000-0000-0000-000000000001"
    units = LookupTable("uomschedules", {"PCS": group, "BOX": "0000000a-0000-0000-0000-000000000002"})
    row = {"name": "Bicycle, red", "price": Decimal(1), "productnumber": "X", "_defaultuomscheduleid_value": group}
    current = {"no": "1000", "description": "Bicycle", "unit_price": Decimal(5), "base_unit_of_measure": "PCS"}
    transfer = to_bc(item.field_rows(Direction.FROM), row, current, {"UNIT OF MEASURE": units}, {})
    assert transfer.values == {"description": "Bicycle, red"}  # price and number are BC -> Sales only


def test_the_unit_group_is_named_nav_code() -> None:
    uom = default_mapping("UNITOFMEASURE")
    assert uom is not None and uom.name == "UNIT OF MEASURE"
    values = to_sales(uom.field_rows(Direction.TO), {"code": "PCS"}, None, {}).values
    assert values == {"name": "NAV PCS", "baseuomname": "PCS"}


def test_the_integration_users_changes_are_filtered_on_bidirectional_mappings_without_from_only_fields() -> None:
    item, uom, contact = (default_mapping(n) for n in ("ITEM-PRODUCT", "UNIT OF MEASURE", "CONTACT"))
    assert item is not None and uom is not None and contact is not None
    assert item.filters_integration_user()
    assert not uom.filters_integration_user()  # one way
    assert contact.filters_integration_user()  # its From-only row is a constant, without a Dataverse column


# -- filters, unit groups, order, jobs ------------------------------------------------------------


def test_table_filters() -> None:
    assert filters.accepts("blocked=false", {"blocked": False})
    assert not filters.accepts("blocked=false", {"blocked": True})
    assert filters.accepts("type=Person,company_no<>", {"type": "Person", "company_no": "C1"})
    assert not filters.accepts("type=Person,company_no<>", {"type": "Person", "company_no": ""})
    assert filters.accepts("", {})


def test_the_unit_group_checks_give_bcs_messages() -> None:
    with pytest.raises(sales_rules.UnitGroupError, match=r"^Cannot find the unit group 'NAV PCS' in Dataverse\.$"):
        sales_rules.unit_of_group("NAV PCS", "PCS", 0, [])
    with pytest.raises(sales_rules.UnitGroupError, match="incorrect name: expected name 'PCS', found name 'pcs'"):
        sales_rules.unit_of_group("NAV PCS", "PCS", 1, [{"name": "pcs", "quantity": 1}])
    with pytest.raises(sales_rules.UnitGroupError, match="contains more than one CRM Uom"):
        sales_rules.check_matched_group({"name": "NAV PCS", "statecode": 0}, [{}, {}])
    unit = {"uomid": "u", "name": "PCS", "quantity": Decimal(1), "isschedulebaseuom": True}
    assert sales_rules.unit_of_group("NAV PCS", "PCS", 1, [unit]) is unit
    assert sales_rules.state_change({"statecode": 0, "statuscode": 1}, sales_rules.product_state(True)) == {
        "statecode": 1,
        "statuscode": 2,
    }


def test_a_full_sync_runs_in_dependency_order_with_the_seeds_job_order() -> None:
    names = [m.name for m in full_sync_order(MAPPINGS)]
    assert names == [
        "SALESPEOPLE",
        "CURRENCY",
        "UNIT OF MEASURE",
        "RESOURCE-PRODUCT",
        "ITEM-PRODUCT",
        "CUSTOMER",
        "CONTACT",
        "CUSTPRCGRP-PRICE",
        "SALESPRC-PRODPRICE",
        "OPPORTUNITY",
        "POSTEDSALESINV-INV",
    ]
    for index, name in enumerate(names):
        mapping = next(m for m in MAPPINGS if m.name == name)
        # A dependency on a mapping that does not exist here (POSTEDSALESINV-INV's OPPORTUNITY) is no order.
        assert all(names.index(d) < index for d in mapping.dependencies if d in names)


def _entry(**kw: object) -> JobEntry:
    values: dict[str, object] = dict(
        id="e",
        company="C",
        codeunit=5339,
        mapping_name="ITEM-PRODUCT",
        description="",
        status="In Process",
        minutes=30,
        inactivity=1440,
        next_run=T0,
        attempts=0,
        max_attempts=10,
        rerun_delay=30,
        last_started_at=None,
        last_finished_at=None,
        last_sales_poll_at=None,
        error_message="",
        lease_owner="me",
        lease_until=None,
    )
    values.update(kw)
    return JobEntry(**values)  # type: ignore[arg-type]


def test_a_job_without_activity_sleeps_for_its_inactivity_period() -> None:
    assert next_after_run(_entry(), T0, activity=True) == ("Ready", T0 + dt.timedelta(minutes=30))
    assert next_after_run(_entry(), T0, activity=False) == (SLEEPING, T0 + dt.timedelta(minutes=1440))
    assert next_after_failure(_entry(), T0) == ("Ready", T0 + dt.timedelta(seconds=30), 1)
    assert next_after_failure(_entry(attempts=9), T0) == ("Error", T0 + dt.timedelta(minutes=30), 0)
    assert woken(T0 + dt.timedelta(hours=12), T0, dt.timedelta(seconds=1)) == T0 + dt.timedelta(seconds=1)
    assert woken(T0, T0, dt.timedelta(seconds=1)) is None  # due sooner anyway


def test_a_persons_edit_in_the_same_second_as_our_write_still_counts_as_a_change() -> None:
    me, person = "00000000-0000-0000-0000-0000000000aa", "00000000-0000-0000-0000-0000000000bb"
    assert decide.touched_by_others(T0, person, T0, me)  # same second, someone else
    assert not decide.touched_by_others(T0, me, T0, me)  # our own write
    assert not decide.touched_by_others(T0 - dt.timedelta(seconds=1), person, T0, me)  # before what we saw
    same_second = decide_to(coupling(), T0 + ms(500), T0, destination_touched=True)
    assert same_second.both_modified
    assert (
        decide.decide_record(
            Direction.FROM,
            coupling(),
            only_coupled=True,
            bidirectional=True,
            counterpart_exists=True,
            source_time=T0,
            destination_time=T0,
            deletion_resolution=DeletionConflictResolution.NONE,
            source_caption="Dataverse Product",
            source_touched=True,
        ).action
        == Action.UPDATE
    )


def test_the_sales_adapter_writes_lookups_as_odata_binds() -> None:
    from orders.sync.sales_adapter import body

    group = "0000000a-0000-0000-0000-000000000001"
    account = "0000000b-0000-0000-0000-000000000002"
    assert body("products", {"name": "Desk", "defaultuomscheduleid": Bind("uomschedules", group)}) == {
        "name": "Desk",
        "defaultuomscheduleid@odata.bind": f"/uomschedules({group})",
    }
    # A polymorphic lookup names its table; an empty one is cleared.
    assert body("contacts", {"parentcustomerid": Bind("accounts", account)}) == {
        "parentcustomerid_account@odata.bind": f"/accounts({account})"
    }
    assert body("accounts", {"transactioncurrencyid": Bind("transactioncurrencies", None)}) == {
        "transactioncurrencyid@odata.bind": None
    }
