"""What BC checks on Sales' side before using a unit group (bc-sync.md §3), and the state BC
gives a product (§5). Pure: rows in, an answer or BC's message out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

UNIT_GROUP_PREFIX = "NAV "

# product statecode / statuscode
PRODUCT_ACTIVE = (0, 1)
PRODUCT_DRAFT = (2, 0)  # a product created through the Web API starts as Draft
PRODUCT_RETIRED = (1, 2)


def unit_group_name(code: str) -> str:
    return f"{UNIT_GROUP_PREFIX}{code}"


class UnitGroupError(Exception):
    """BC's message for a unit group it cannot use."""


def check_matched_group(group: Mapping[str, Any], units: Sequence[Mapping[str, Any]]) -> None:
    """A group found by name for an uncoupled unit, and again on each update (§3)."""
    name = group.get("name", "")
    if group.get("statecode", 0) != 0:
        raise UnitGroupError(
            f"The CRM Uomschedule {name} already exists in Dataverse, but it cannot be synchronized, "
            "because it is inactive."
        )
    if len(units) > 1:
        raise UnitGroupError(
            f"The Dataverse CRM Uomschedule {name} contains more than one CRM Uom. "
            "This setup cannot be used for synchronization."
        )


def unit_of_group(group_name: str, code: str, groups: int, units: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The one unit a product's unit group must hold, as the jobs that use units insist (§3)."""
    if groups == 0:
        raise UnitGroupError(f"Cannot find the unit group '{group_name}' in Dataverse.")
    if groups > 1:
        raise UnitGroupError(f"Multiple units of measure were found in the unit group '{group_name}' in Dataverse.")
    if not units:
        raise UnitGroupError(f"Cannot find any unit of measure inside the unit group '{group_name}' in Dataverse.")
    if len(units) > 1:
        raise UnitGroupError(f"Multiple units of measure were found in the unit group '{group_name}' in Dataverse.")
    unit = units[0]
    if str(unit.get("name", "")) != code:
        raise UnitGroupError(
            f"The unit of measure in the unit group '{group_name}' has an incorrect name: expected name "
            f"'{code}', found name '{unit.get('name', '')}'."
        )
    if unit.get("isschedulebaseuom") is False:
        raise UnitGroupError(
            f"The unit of measure '{code}' is not the base unit of measure of the unit group '{group_name}'."
        )
    quantity = unit.get("quantity")
    if quantity is not None and Decimal(str(quantity)) != 1:
        raise UnitGroupError(f"The quantity on the unit of measure '{code}' should be 1.")
    return unit


def product_state(blocked: bool) -> tuple[int, int]:
    """Blocked -> Retired; otherwise Active (§5, on update)."""
    return PRODUCT_RETIRED if blocked else PRODUCT_ACTIVE


def state_change(row: Mapping[str, Any], wanted: tuple[int, int]) -> dict[str, int]:
    """The statecode/statuscode to write, or nothing when the row is in that state already."""
    if (row.get("statecode"), row.get("statuscode")) == wanted:
        return {}
    return {"statecode": wanted[0], "statuscode": wanted[1]}
