"""RemoteExecutionContext parsing, against Microsoft's documented payload and hand-written Sales
payloads (tests/fixtures/dataverse); property tests that nothing but ContextError escapes.
Classification: test_webhook_context_classify; building: test_webhook_context_build."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.dataverse.webhook_context import (
    ContextError,
    Entity,
    EntityReference,
    ExecutionContext,
    Money,
    OptionSetValue,
    classify,
    parse_context,
)
from tests.support.builders import ORDER_ID, webhook_body
from tests.support.dataverse_payloads import build_context

MS_EXAMPLE = webhook_body("contact-update-async.json")
ORDER_SUBMIT = webhook_body("salesorder-submit-update.json")
ORDER_SETSTATE = webhook_body("salesorder-setstate.json")


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# ---------------------------------------------------------------------------------------------
# Microsoft's documented example


def test_microsoft_example_top_level() -> None:
    ctx = parse_context(MS_EXAMPLE)
    assert ctx.message_name == "Update"
    assert ctx.primary_entity_name == "contact"
    assert ctx.primary_entity_id == "6d81597f-0f9f-e711-8122-000d3aa2331c"
    assert (ctx.mode, ctx.depth, ctx.stage) == (1, 1, 40)
    assert ctx.correlation_id == "b374239d-4233-41a9-8b17-a86cb4f737b5"
    assert ctx.operation_id == "4af10637-4ea2-e711-8122-000d3aa2331c"
    assert ctx.organization_id == "4ef5b371-e89e-e711-8122-000d3aa2331c"
    assert ctx.organization_name == "OrgName"
    assert ctx.user_id == ctx.initiating_user_id == "75c2dd85-e89e-e711-8122-000d3aa2331c"
    # "/Date(1506409448000-0700)/": the milliseconds are UTC, the suffix only names the zone.
    assert ctx.operation_created_on == datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)
    assert ctx.output_parameters == {} and ctx.shared_variables == {} and ctx.pre_images == {}


def test_microsoft_example_target_and_images() -> None:
    ctx = parse_context(MS_EXAMPLE)
    target = ctx.target
    assert isinstance(target, Entity)
    assert (target.logical_name, target.id) == ("contact", "6d81597f-0f9f-e711-8122-000d3aa2331c")
    assert target.attributes["firstname"] == "James"
    assert target.attributes["fullname"] == "James Glynn (sample)"
    assert target.attributes["modifiedon"] == ms(1506384247000)
    assert target.attributes["modifiedby"] == EntityReference("systemuser", "75c2dd85-e89e-e711-8122-000d3aa2331c")
    assert target.attributes["modifiedonbehalfby"] is None
    # The post image has no __type, as in Microsoft's example.
    image = ctx.post_images["AsynchronousStepPrimaryName"]
    assert image == Entity(
        "contact",
        "6d81597f-0f9f-e711-8122-000d3aa2331c",
        {"fullname": "James Glynn (sample)", "contactid": "6d81597f-0f9f-e711-8122-000d3aa2331c"},
        {},
    )


def test_microsoft_example_parent_context() -> None:
    parent = parse_context(MS_EXAMPLE).parent
    assert isinstance(parent, ExecutionContext)
    assert parent.stage == 30 and parent.organization_name == "OneFarm" and parent.parent is None
    assert parent.input_parameters["SuppressDuplicateDetection"] is False
    assert isinstance(parent.target, Entity) and parent.target.attributes == {
        "firstname": "James",
        "contactid": "6d81597f-0f9f-e711-8122-000d3aa2331c",
    }
    changed = parent.shared_variables["ChangedEntityTypes"]
    assert len(changed) == 14
    assert changed[2] == {"key": "salesorder", "value": "Update"}


def test_microsoft_example_is_not_handled() -> None:
    found = classify(parse_context(MS_EXAMPLE), size_exceeded=False)
    assert found.event is None
    assert found.reason == "table contact is not handled"
    assert (found.table, found.row_id) == ("contact", "6d81597f-0f9f-e711-8122-000d3aa2331c")


def test_text_and_bytes_and_bom_parse_alike() -> None:
    assert parse_context(MS_EXAMPLE) == parse_context(MS_EXAMPLE.decode())
    assert parse_context(b"\xef\xbb\xbf" + MS_EXAMPLE) == parse_context(MS_EXAMPLE)


# ---------------------------------------------------------------------------------------------
# Sales order payloads


def test_submitted_order_payload_types() -> None:
    ctx = parse_context(ORDER_SUBMIT)
    # GUIDs are lower-cased wherever they appear.
    assert ctx.primary_entity_id == ORDER_ID
    assert ctx.correlation_id == "0f4a8c3b-72d1-4e5a-9b3c-1d2e3f4a5b6c"
    target = ctx.target
    assert isinstance(target, Entity) and target.id == ORDER_ID
    assert target.attributes["salesorderid"] == ORDER_ID
    assert target.attributes["statecode"] == OptionSetValue(1)
    assert target.option("statecode") == 1 and target.option("statuscode") == 3
    assert target.attributes["submitdate"] == datetime(2024, 5, 30, tzinfo=UTC)
    assert target.attributes["modifiedby"].id == "75c2dd85-e89e-e711-8122-000d3aa2331c"
    image = ctx.post_images["PostImage"]
    assert image.attributes["customerid"] == EntityReference(
        "account", "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d", "Fabrikam, Inc."
    )
    # Money and bare decimals stay exact (never a float).
    assert image.attributes["totalamount"] == Money(Decimal("4380.2500"))
    assert isinstance(image.attributes["discountpercentage"], Decimal)
    assert image.attributes["new_deliverywindows"] == [OptionSetValue(100000000), OptionSetValue(100000002)]
    assert image.attributes["willcall"] is False
    assert image.attributes["requestdeliveryby"] == datetime(2024, 6, 14, tzinfo=UTC)
    assert image.formatted_values == {"statecode": "Submitted", "totalamount": "$4,380.25"}
    assert ctx.operation_created_on == ms(1717063521000)


def test_submitted_order_classifies_as_submit() -> None:
    found = classify(parse_context(ORDER_SUBMIT), size_exceeded=False)
    assert (found.table, found.row_id, found.event, found.revision) == ("salesorder", ORDER_ID, "submit", None)


def test_setstate_payload_classifies_by_state_parameter() -> None:
    ctx = parse_context(ORDER_SETSTATE)
    assert ctx.target is None
    assert ctx.input_parameters["EntityMoniker"] == EntityReference("salesorder", ORDER_ID)
    assert ctx.input_parameters["State"] == OptionSetValue(1)
    assert classify(ctx, size_exceeded=False).event == "submit"


def test_unknown_keys_are_ignored_at_every_level() -> None:
    data = json.loads(ORDER_SUBMIT)
    data["SomethingNew"] = {"nested": [1, 2, 3]}
    target = data["InputParameters"][0]["value"]
    target["BrandNewProperty"] = "x"
    target["Attributes"][5]["value"]["AnotherOne"] = 42  # inside an EntityReference
    data["InputParameters"][0]["Extra"] = True  # inside a key/value pair
    assert parse_context(json.dumps(data)) == parse_context(ORDER_SUBMIT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(0)/", datetime(1970, 1, 1, tzinfo=UTC)),
        ("/Date(1506409448000)/", datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)),
        ("/Date(1506409448000-0700)/", datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)),
        ("/Date(1506409448000+0530)/", datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)),
        ("/Date(-86400000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("/Date(1506409448123)/", datetime(2017, 9, 26, 7, 4, 8, 123000, tzinfo=UTC)),
        ("/Date(-62135596800000)/", datetime(1, 1, 1, tzinfo=UTC)),  # DateTime.MinValue
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    body = build_context("Update", "salesorder", ORDER_ID, target={"submitdate": text})
    value = parse_context(json.dumps(body)).target.attributes["submitdate"]  # type: ignore[union-attr]
    assert value == expected and value.tzinfo is UTC


def test_text_that_only_looks_like_a_date_stays_text() -> None:
    body = build_context("Update", "salesorder", ORDER_ID, target={"description": "/Date(abc)/"})
    assert parse_context(json.dumps(body)).target.attributes["description"] == "/Date(abc)/"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Errors: always ContextError, with a reason a caller can act on


def _with(path: list[Any], value: Any) -> bytes:
    data = json.loads(ORDER_SUBMIT)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(data).encode()


TARGET_ATTRS = ["InputParameters", 0, "value", "Attributes"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is not JSON"),
        (b"{", "body is not JSON"),
        (b"\xff\xfe\x00", "body is not UTF-8"),
        (b"[]", "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"MessageName": NaN}', "NaN is not a JSON value"),
        (_with(["MessageName"], KeyError), "MessageName is missing"),
        (_with(["PrimaryEntityName"], None), "PrimaryEntityName is missing"),
        (_with(["PrimaryEntityId"], KeyError), "PrimaryEntityId is missing"),
        (_with(["PrimaryEntityId"], "not-a-guid"), "PrimaryEntityId must be a GUID, not 'not-a-guid'"),
        (_with(["PrimaryEntityId"], 7), "PrimaryEntityId must be a GUID, not a number"),
        (_with(["MessageName"], 5), "MessageName must be a string"),
        (_with(["Depth"], "1"), "Depth must be an integer"),
        (_with(["Mode"], True), "Mode must be an integer"),
        (_with(["OperationCreatedOn"], "2024-05-30"), "OperationCreatedOn must be a /Date(...)/ string"),
        (_with(["InputParameters"], {"Target": {}}), "InputParameters must be an array of key/value pairs"),
        (_with(["InputParameters", 0], {"value": 1}), "InputParameters[0] must be an object with a string 'key'"),
        (_with(["PostEntityImages", 0, "value"], "x"), "PostEntityImages.PostImage must be an Entity"),
        (_with(["InputParameters", 0, "value", "LogicalName"], KeyError), "LogicalName must be a non-empty string"),
        (_with([*TARGET_ATTRS, 0, "value", "Value"], "1"), "Value of an OptionSetValue must be an integer"),
        (_with([*TARGET_ATTRS, 5, "value", "Id"], "nope"), "modifiedby.Id must be a GUID"),
        (_with([*TARGET_ATTRS, 3, "value"], "/Date(9999999999999999)/"), "out of range"),
        (_with(["PostEntityImages", 0, "value", "Attributes", 2, "value", "Value"], "4380.25"), "must be a number"),
        (_with(["PostEntityImages", 0, "value", "FormattedValues", 0, "value"], 1), "FormattedValues.statecode"),
        (_with(["ParentContext"], {"MessageName": "Update"}), "ParentContext.PrimaryEntityName is missing"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    ],
)
def test_errors_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(ContextError) as caught:
        parse_context(body)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError) and str(caught.value) == caught.value.reason


def test_non_bytes_input_is_a_context_error() -> None:
    with pytest.raises(ContextError, match="bytes or text"):
        parse_context(123)  # type: ignore[arg-type]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
KEYS = ["MessageName", "PrimaryEntityName", "PrimaryEntityId", "InputParameters", "PostEntityImages", "Depth"]


def _never_anything_but_context_error(body: bytes | str) -> None:
    try:
        ctx = parse_context(body)
    except ContextError as exc:
        assert exc.reason
        return
    classify(ctx, size_exceeded=False)  # whatever parses can be classified
    classify(ctx, size_exceeded=True)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_random_json_raises_only_context_error(value: Any) -> None:
    _never_anything_but_context_error(json.dumps(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={k: JSON for k in KEYS}))
def test_random_contexts_raise_only_context_error(value: dict[str, Any]) -> None:
    _never_anything_but_context_error(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_context_error(value: bytes) -> None:
    _never_anything_but_context_error(value)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(ORDER_SUBMIT)))
def test_truncated_payload_raises_only_context_error(cut: int) -> None:
    _never_anything_but_context_error(ORDER_SUBMIT[:cut])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


ORDER_PATHS = _paths(json.loads(ORDER_SUBMIT))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(ORDER_PATHS), JSON)
def test_any_part_of_a_real_payload_replaced_raises_only_context_error(path: tuple[Any, ...], value: Any) -> None:
    """Each subtree of a real payload swapped for random JSON: wrong shapes anywhere."""
    _never_anything_but_context_error(_with(list(path), value))


def test_truncations_of_microsoft_example_all_fail_cleanly() -> None:
    for cut in range(0, len(MS_EXAMPLE) - 2, 7):
        with pytest.raises(ContextError):
            parse_context(MS_EXAMPLE[:cut])
