"""The item availability web service (BC page 5390) and the richer availability and master data sets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Select, and_, literal, select

from gateway.entity_sets.common import AVAILABILITY, READ_AVAILABILITY, READ_INTEGRATION, coupled, zero
from gateway.odata.edm import (
    BOOLEAN,
    DECIMAL,
    GUID,
    INT32,
    STRING,
    EntitySet,
    Property,
)
from schemas import tables as t


def product_item_availability(company: str) -> Select[Any]:
    """BC page 5390: the coupling table filtered to items, with the item's inventory."""
    cir, item, inv = t.crm_integration_record, t.item, t.item_inventory
    return (
        select(
            cir.c.crm_id.label("CRM_ID"),
            cir.c.integration_id.label("Integration_ID"),
            literal(t.TABLE_ITEM, Integer).label("Table_ID"),
            item.c.no.label("ItemNo"),
            item.c.base_unit_of_measure.label("UOM"),
            zero(inv.c.inventory).label("Inventory"),
        )
        .select_from(
            cir.join(
                item,
                and_(item.c.company == cir.c.company, item.c.system_id == cir.c.integration_id),
            ).outerjoin(inv, and_(inv.c.company == item.c.company, inv.c.item_no == item.c.no))
        )
        .where(cir.c.company == company, cir.c.table_id == t.TABLE_ITEM)
    )


def item_availability(company: str) -> Select[Any]:
    cir, item, inv = t.crm_integration_record, t.item, t.item_inventory
    inventory = zero(inv.c.inventory)
    on_order = zero(inv.c.qty_on_sales_order)
    return (
        select(
            item.c.no.label("No"),
            item.c.description.label("Description"),
            item.c.base_unit_of_measure.label("Base_Unit_of_Measure"),
            cir.c.crm_id.label("CRM_ID"),
            inventory.label("Inventory"),
            on_order.label("Qty_on_Sales_Order"),
            (inventory - on_order).label("Projected_Available"),
            item.c.blocked.label("Blocked"),
        )
        .select_from(
            item.outerjoin(cir, coupled(t.TABLE_ITEM, item.c.system_id, item.c.company)).outerjoin(
                inv, and_(inv.c.company == item.c.company, inv.c.item_no == item.c.no)
            )
        )
        .where(item.c.company == company)
    )


def item_availability_by_location(company: str) -> Select[Any]:
    loc = t.item_location_inventory
    return select(
        loc.c.item_no.label("No"),
        loc.c.location_code.label("Location_Code"),
        loc.c.inventory.label("Inventory"),
        loc.c.qty_on_sales_order.label("Qty_on_Sales_Order"),
        (loc.c.inventory - loc.c.qty_on_sales_order).label("Projected_Available"),
    ).where(loc.c.company == company)


def item_units_of_measure(company: str) -> Select[Any]:
    iuom = t.item_unit_of_measure
    return select(
        iuom.c.item_no.label("Item_No"),
        iuom.c.code.label("Code"),
        iuom.c.qty_per_unit_of_measure.label("Qty_per_Unit_of_Measure"),
    ).where(iuom.c.company == company)


def customers(company: str) -> Select[Any]:
    cust, cir = t.customer, t.crm_integration_record
    return (
        select(cust.c.no.label("No"), cust.c.name.label("Name"), cir.c.crm_id.label("CRM_ID"))
        .select_from(cust.outerjoin(cir, coupled(t.TABLE_CUSTOMER, cust.c.system_id, cust.c.company)))
        .where(cust.c.company == company)
    )


def resources(company: str) -> Select[Any]:
    res, cir = t.resource, t.crm_integration_record
    return (
        select(
            res.c.no.label("No"),
            res.c.name.label("Name"),
            res.c.base_unit_of_measure.label("Base_Unit_of_Measure"),
            cir.c.crm_id.label("CRM_ID"),
        )
        .select_from(res.outerjoin(cir, coupled(t.TABLE_RESOURCE, res.c.system_id, res.c.company)))
        .where(res.c.company == company)
    )


def companies(_company: str) -> Select[Any]:
    c = t.company
    return select(c.c.name.label("Name"), c.c.display_name.label("Display_Name"), c.c.system_id.label("Id"))


PRODUCT_ITEM_AVAILABILITY = EntitySet(
    name="ProductItemAvailability",
    properties=(
        Property("CRM_ID", GUID, nullable=False),
        Property("Integration_ID", GUID, nullable=False),
        Property("Table_ID", INT32, nullable=False),
        Property("ItemNo", STRING, nullable=False, max_length=20),
        Property("UOM", STRING, nullable=False, max_length=10),
        Property("Inventory", DECIMAL, nullable=False),
    ),
    key=("CRM_ID", "Integration_ID"),
    source=product_item_availability,
    read_roles=READ_AVAILABILITY,
    group=AVAILABILITY,
    cache_identity={"CRM_ID": "crm", "Integration_ID": "sysid", "ItemNo": "no"},
)

ITEM_AVAILABILITY = EntitySet(
    name="ItemAvailability",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Description", STRING, nullable=False, max_length=100),
        Property("Base_Unit_of_Measure", STRING, nullable=False, max_length=10),
        Property("CRM_ID", GUID),
        Property("Inventory", DECIMAL, nullable=False),
        Property("Qty_on_Sales_Order", DECIMAL, nullable=False),
        Property("Projected_Available", DECIMAL, nullable=False),
        Property("Blocked", BOOLEAN, nullable=False),
    ),
    key=("No",),
    source=item_availability,
    read_roles=READ_AVAILABILITY,
    group=AVAILABILITY,
    cache_identity={"No": "no", "CRM_ID": "crm"},
)

ITEM_AVAILABILITY_BY_LOCATION = EntitySet(
    name="ItemAvailabilityByLocation",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Location_Code", STRING, nullable=False, max_length=10),
        Property("Inventory", DECIMAL, nullable=False),
        Property("Qty_on_Sales_Order", DECIMAL, nullable=False),
        Property("Projected_Available", DECIMAL, nullable=False),
    ),
    key=("No", "Location_Code"),
    source=item_availability_by_location,
    read_roles=READ_AVAILABILITY,
    group=AVAILABILITY,
    cache_identity={"No": "no"},
)

ITEM_UNITS_OF_MEASURE = EntitySet(
    name="ItemUnitsOfMeasure",
    properties=(
        Property("Item_No", STRING, nullable=False, max_length=20),
        Property("Code", STRING, nullable=False, max_length=10),
        Property("Qty_per_Unit_of_Measure", DECIMAL, nullable=False),
    ),
    key=("Item_No", "Code"),
    source=item_units_of_measure,
    read_roles=READ_AVAILABILITY,
    group=AVAILABILITY,
    cache_identity={"Item_No": "no"},
)

CUSTOMERS = EntitySet(
    name="Customers",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Name", STRING, nullable=False, max_length=100),
        Property("CRM_ID", GUID),
    ),
    key=("No",),
    source=customers,
    read_roles=READ_INTEGRATION,
)

RESOURCES = EntitySet(
    name="Resources",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Name", STRING, nullable=False, max_length=100),
        Property("Base_Unit_of_Measure", STRING, nullable=False, max_length=10),
        Property("CRM_ID", GUID),
    ),
    key=("No",),
    source=resources,
    read_roles=READ_INTEGRATION,
)

COMPANY = EntitySet(
    name="Company",
    properties=(
        Property("Name", STRING, nullable=False, max_length=30),
        Property("Display_Name", STRING, nullable=False, max_length=250),
        Property("Id", GUID, nullable=False),
    ),
    key=("Name",),
    source=companies,
    per_company=False,
)

FOUNDATION_SETS = [
    COMPANY,
    PRODUCT_ITEM_AVAILABILITY,
    ITEM_AVAILABILITY,
    ITEM_AVAILABILITY_BY_LOCATION,
    ITEM_UNITS_OF_MEASURE,
    CUSTOMERS,
    RESOURCES,
]
