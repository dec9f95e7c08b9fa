"""What the mirror reads from BC and how a BC row becomes a row of our tables (pure).

The standard API gives items, units of measure, customers, currencies, locations, item variants
and the item ledger (bc-api.md §3.3, §3.5); what it lacks comes from pages the administrator
publishes as OData web services (bc-api.md §9): page 38 "Item Ledger Entries" (with
``Location_Code`` and ``Variant_Code``), page 5404 "Item Units of Measure", page 77 "Resources".
Option values come XML-encoded (``Positive_x0020_Adjmt_x002E_``, bc-api.md §1.2) and are decoded;
GUIDs are stored lower-case; ``lastModifiedDateTime`` becomes ``system_modified_at``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas import tables as t

Row = dict[str, Any]
_ENCODED = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Resources come from a page without a SystemId: their id is derived from the company and number,
# the same on every load, so couplings to them survive reloads.
RESOURCE_NAMESPACE = uuid.UUID("0b6c2a9e-5d1f-4c3b-8e7a-2f9d4c6b1a30")


def decode_option(value: Any) -> str:
    """BC's XML-encoded option name in plain text (``_x0020_`` is a blank)."""
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), str(value or "")).strip()


def parse_moment(value: Any) -> dt.datetime | None:
    """A BC date-time (UTC, ``Z``); None for BC's empty ``0001-01-01T00:00:00Z``."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_day(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def guid(value: Any) -> str:
    return str(uuid.UUID(str(value))).lower()


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def item_row(r: Mapping[str, Any]) -> Row:
    kind = decode_option(r.get("type")) or "Inventory"
    return {
        "no": _text(r, "number"),
        "system_id": guid(r["id"]),
        "description": _text(r, "displayName"),
        "type": kind if kind in t.ITEM_TYPES else "Inventory",
        "base_unit_of_measure": _text(r, "baseUnitOfMeasureCode"),
        "unit_price": decimal(r.get("unitPrice")),
        "blocked": bool(r.get("blocked")),
        "system_modified_at": parse_moment(r.get("lastModifiedDateTime")),
    }


def unit_row(r: Mapping[str, Any]) -> Row:
    return {
        "code": _text(r, "code"),
        "description": _text(r, "displayName") or _text(r, "code"),
        "system_id": guid(r["id"]),
        "system_modified_at": parse_moment(r.get("lastModifiedDateTime")),
    }


def customer_row(r: Mapping[str, Any]) -> Row:
    return {
        "no": _text(r, "number"),
        "system_id": guid(r["id"]),
        "name": _text(r, "displayName"),
        "address": _text(r, "addressLine1"),
        "city": _text(r, "city"),
        "post_code": _text(r, "postalCode"),
        "country_region_code": _text(r, "country"),
        "currency_code": _text(r, "currencyCode"),
        # Any non-blank Blocked (Ship, Invoice, All) stops sales documents (bc-api.md §3.5).
        "blocked": decode_option(r.get("blocked")) != "",
        "system_modified_at": parse_moment(r.get("lastModifiedDateTime")),
    }


def currency_row(r: Mapping[str, Any]) -> Row:
    return {"code": _text(r, "code"), "description": _text(r, "displayName")}


def location_row(r: Mapping[str, Any]) -> Row:
    return {"code": _text(r, "code"), "name": _text(r, "displayName")}


def variant_row(r: Mapping[str, Any]) -> Row:
    return {
        "item_no": _text(r, "itemNumber"),
        "code": _text(r, "code"),
        "description": _text(r, "description"),
        "system_id": guid(r["id"]),
    }


def api_ledger_row(r: Mapping[str, Any]) -> Row:
    """``itemLedgerEntries`` (page 30069): no location, no variant (bc-api.md §3.3)."""
    return {
        "bc_entry_no": int(r["entryNumber"]),
        "item_no": _text(r, "itemNumber"),
        "location_code": "",
        "variant_code": "",
        "posting_date": parse_day(r["postingDate"]),
        "entry_type": decode_option(r.get("entryType")),
        "document_no": _text(r, "documentNumber"),
        "description": _text(r, "description"),
        "quantity": decimal(r.get("quantity")),
    }


def page_ledger_row(r: Mapping[str, Any]) -> Row:
    """Page 38 "Item Ledger Entries" published as a web service (bc-api.md §9)."""
    return {
        "bc_entry_no": int(r["Entry_No"]),
        "item_no": _text(r, "Item_No"),
        "location_code": _text(r, "Location_Code"),
        "variant_code": _text(r, "Variant_Code"),
        "posting_date": parse_day(r["Posting_Date"]),
        "entry_type": decode_option(r.get("Entry_Type")),
        "document_no": _text(r, "Document_No"),
        "description": _text(r, "Description"),
        "quantity": decimal(r.get("Quantity")),
    }


def item_unit_row(r: Mapping[str, Any]) -> Row:
    """Page 5404 "Item Units of Measure"."""
    return {
        "item_no": _text(r, "Item_No"),
        "code": _text(r, "Code"),
        "qty_per_unit_of_measure": decimal(r.get("Qty_per_Unit_of_Measure")),
    }


def resource_row(company_id: str) -> Callable[[Mapping[str, Any]], Row]:
    """Page 77 "Resources" (or 76 "Resource Card"): its rows have no SystemId."""

    def row(r: Mapping[str, Any]) -> Row:
        no = _text(r, "No")
        return {
            "no": no,
            "system_id": str(uuid.uuid5(RESOURCE_NAMESPACE, f"{company_id.lower()}/resource/{no}")),
            "name": _text(r, "Name"),
            "base_unit_of_measure": _text(r, "Base_Unit_of_Measure"),
            "unit_price": decimal(r.get("Unit_Price")),
            "blocked": bool(r.get("Blocked")),
        }

    return row


@dataclass(frozen=True, slots=True)
class Entity:
    """One master-data entity set of the standard API that the mirror keeps.

    ``name`` is BC's entity set (and the state row's key), ``table`` ours, ``select`` the fields
    read, ``to_row`` the mapping; ``coupling`` the BC table number its couplings use (0: none)."""

    name: str
    table: str
    select: tuple[str, ...]
    to_row: Callable[[Mapping[str, Any]], Row]
    coupling: int = 0

    @property
    def key_field(self) -> str:
        return "code" if "code" in self.select else "number"


_LMDT = "lastModifiedDateTime"
UNITS = Entity("unitsOfMeasure", "unit_of_measure", ("id", "code", "displayName", _LMDT), unit_row,
               t.TABLE_UNIT_OF_MEASURE)  # fmt: skip
CURRENCIES = Entity("currencies", "currency", ("id", "code", "displayName", _LMDT), currency_row)
LOCATIONS = Entity("locations", "location", ("id", "code", "displayName", _LMDT), location_row)
ITEMS = Entity(
    "items",
    "item",
    # Not `inventory`: a FlowField BC sums per row (costly over 100,000 items); reconciliation reads it.
    ("id", "number", "displayName", "type", "blocked", "unitPrice", "baseUnitOfMeasureCode", _LMDT),
    item_row,
    t.TABLE_ITEM,
)
VARIANTS = Entity("itemVariants", "item_variant", ("id", "itemNumber", "code", "description", _LMDT), variant_row)
CUSTOMERS = Entity(
    "customers",
    "customer",
    ("id", "number", "displayName", "addressLine1", "city", "postalCode", "country", "currencyCode", "blocked", _LMDT),
    customer_row,
    t.TABLE_CUSTOMER,
)
# In load order: what others refer to first (units and items before item variants).
MASTER_ENTITIES: tuple[Entity, ...] = (UNITS, CURRENCIES, LOCATIONS, ITEMS, VARIANTS, CUSTOMERS)
BY_NAME = {e.name: e for e in MASTER_ENTITIES}

# The ledger and the published pages have state rows of these names.
LEDGER = "itemLedgerEntries"
ITEM_UNITS = "itemUnitsOfMeasure"
RESOURCES = "resources"
API_LEDGER_SELECT = (
    "entryNumber", "itemNumber", "postingDate", "entryType", "documentNumber", "description", "quantity",
)  # fmt: skip
PAGE_LEDGER_SELECT = (
    "Entry_No", "Item_No", "Location_Code", "Variant_Code", "Posting_Date", "Entry_Type", "Document_No",
    "Description", "Quantity",
)  # fmt: skip
# What may be subscribed to (bc-api.md §6.7): the master data and the ledger (the AL's rule makes
# itemLedgerEntries eligible; stock moves never notify items, §3.3).
# BC's sales documents too (a change of a line notifies its header, bc-api.md §6.7).
WEBHOOK_SETS: tuple[str, ...] = (*(e.name for e in MASTER_ENTITIES), LEDGER, "salesOrders", "salesQuotes")
