"""Building RemoteExecutionContext bodies (tests/support/dataverse_payloads.py) in Sales' JSON
shape, and their round trip through the parser (docs/reference/dataverse.md §1.2–§1.3)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.dataverse.webhook_context import (
    CONTRACTS,
    Entity,
    EntityReference,
    Money,
    OptionSetValue,
    parse_context,
)
from tests.support.builders import ORDER_ID
from tests.support.dataverse_payloads import build_context

# ---------------------------------------------------------------------------------------------
# Building


def test_build_context_writes_the_documented_shape() -> None:
    body = build_context(
        "Update",
        "salesorder",
        ORDER_ID.upper(),
        target={
            "statecode": OptionSetValue(1),
            "customerid": EntityReference("account", "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d"),
            "totalamount": Money(Decimal("12.50")),
            "submitdate": datetime(2024, 5, 30, tzinfo=UTC),
        },
        post_image={"statecode": OptionSetValue(1)},
        operation_created_on=datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC),
    )
    assert list(body) == sorted(body)  # Sales writes the keys alphabetically
    assert body["PrimaryEntityId"] == ORDER_ID
    assert body["OperationCreatedOn"] == "/Date(1506409448000)/"
    (target,) = body["InputParameters"]
    assert target["key"] == "Target"
    entity = target["value"]
    assert entity["__type"] == f"Entity:{CONTRACTS}"
    assert entity["LogicalName"] == "salesorder" and entity["Id"] == ORDER_ID
    attrs = {pair["key"]: pair["value"] for pair in entity["Attributes"]}
    assert attrs["salesorderid"] == ORDER_ID
    assert attrs["statecode"] == {"__type": f"OptionSetValue:{CONTRACTS}", "Value": 1}
    assert attrs["totalamount"] == {"__type": f"Money:{CONTRACTS}", "Value": 12.5}
    assert attrs["customerid"]["__type"] == f"EntityReference:{CONTRACTS}"
    assert attrs["submitdate"] == "/Date(1717027200000)/"
    (image,) = body["PostEntityImages"]
    assert "__type" not in image["value"]  # images are untyped, as in Microsoft's example
    assert body["PreEntityImages"] == [] and body["ParentContext"] is None


def test_round_trip() -> None:
    moniker = EntityReference("salesorder", ORDER_ID, "ORD-01001")
    values: dict[str, Any] = {
        "name": "Chairs",
        "quantity": Decimal("2.50000"),
        "count": 3,
        "willcall": True,
        "nothing": None,
        "customerid": EntityReference("contact", "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d"),
        "statecode": OptionSetValue(1),
        "totalamount": Money(Decimal("4380.25")),
        "submitdate": datetime(2024, 5, 30, 12, 30, 5, 250000, tzinfo=UTC),
        "tags": [OptionSetValue(1), OptionSetValue(3)],
    }
    body = build_context(
        "Update",
        "salesorder",
        ORDER_ID,
        target=values,
        post_image=values,
        pre_image={"statecode": OptionSetValue(0)},
        formatted_values={"statecode": "Submitted"},
        input_parameters={"ConcurrencyBehavior": 0, "Moniker": moniker},
        mode=0,
        depth=2,
        organization_name="contoso",
        correlation_id="0f4a8c3b-72d1-4e5a-9b3c-1d2e3f4a5b6c",
        operation_created_on=datetime(2024, 5, 30, tzinfo=UTC),
        parent=build_context("Update", "salesorder", ORDER_ID, stage=30),
    )
    ctx = parse_context(json.dumps(body))
    assert (ctx.mode, ctx.depth, ctx.stage, ctx.organization_name) == (0, 2, 40, "contoso")
    assert ctx.correlation_id == "0f4a8c3b-72d1-4e5a-9b3c-1d2e3f4a5b6c"
    assert ctx.operation_created_on == datetime(2024, 5, 30, tzinfo=UTC)
    assert ctx.target == Entity("salesorder", ORDER_ID, {"salesorderid": ORDER_ID, **values})
    assert ctx.post_images["PostImage"] == Entity("salesorder", ORDER_ID, values, {"statecode": "Submitted"})
    assert ctx.pre_images["PreImage"].attributes == {"statecode": OptionSetValue(0)}
    assert ctx.input_parameters["Moniker"] == moniker and ctx.input_parameters["ConcurrencyBehavior"] == 0
    assert ctx.parent is not None and ctx.parent.stage == 30


def test_build_context_date_and_naive_datetime() -> None:
    body = build_context(
        "Update", "salesorder", ORDER_ID, target={"d": date(2024, 6, 14), "naive": datetime(2024, 6, 14, 8)}
    )
    attrs = parse_context(json.dumps(body)).target.attributes  # type: ignore[union-attr]
    assert attrs["d"] == datetime(2024, 6, 14, tzinfo=UTC)
    assert attrs["naive"] == datetime(2024, 6, 14, 8, tzinfo=UTC)


def test_build_context_refuses_unknown_python_types() -> None:
    with pytest.raises(TypeError):
        build_context("Update", "salesorder", ORDER_ID, target={"x": object()})


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=30)
    | st.decimals(min_value=-(10**9), max_value=10**9, places=4).map(lambda d: Decimal(d).normalize())
    | st.builds(OptionSetValue, st.integers(min_value=0, max_value=2**31 - 1))
    | st.builds(Money, st.decimals(min_value=0, max_value=10**9, places=2).map(lambda d: Decimal(d).normalize()))
    | st.builds(EntityReference, st.sampled_from(["account", "contact"]), st.uuids().map(str))
    | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    )
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), SCALARS | st.lists(SCALARS, max_size=3)))
def test_round_trip_property(values: dict[str, Any]) -> None:
    ctx = parse_context(json.dumps(build_context("Update", "salesorder", ORDER_ID, post_image=values)))
    parsed = ctx.post_images["PostImage"].attributes

    def normal(value: Any) -> Any:
        # A bare string that is a GUID comes back lower-cased, by design.
        return value.lower() if isinstance(value, str) and len(value) == 36 and value.count("-") == 4 else value

    expected = {
        k: [normal(v) for v in value] if isinstance(value, list) else normal(value) for k, value in values.items()
    }
    # A text value shaped like "/Date(n)/" is read back as the date it denotes: skip those.
    if not any(isinstance(v, str) and v.startswith("/Date(") for v in values.values()):
        assert parsed == expected
