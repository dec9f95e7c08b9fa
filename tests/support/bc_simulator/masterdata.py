"""Business rules of the master-data sets and of the item ledger.

What the API pages and tables do on insert, modify, rename and delete: number series, upper-cased
and length-checked codes, table relations, and the item rules (a POST with ``inventory`` is
refused; a PATCH of ``inventory`` posts an adjustment through the item journal, which does not
modify the item). Ledger entries apply to each other FIFO per item, location and variant, the way
BC maintains Remaining Quantity and Open.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from .entities import EntityDef
from .errors import (
    ApiError,
    already_exists,
    dialog,
    manual_numbers,
    must_have_value,
    read_only,
    table_relation,
    unknown_property,
)
from .fields import EMPTY_GUID, from_wire
from .store import Company, Rec

LCY_BLANK = ""


def convert_body(defn: EntityDef, body: dict[str, Any], allow: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Body properties as stored values; unknown and read-only properties are refused as BC does."""
    out: dict[str, Any] = {}
    for name, raw in body.items():
        if name.startswith("@"):
            continue
        f = defn.by_name.get(name)
        if f is None:
            raise unknown_property(name, defn.entity)
        if f.ro and name not in allow:
            raise read_only(name)
        out[name] = from_wire(f, raw)
    return out


def blank(defn: EntityDef, company: Company) -> Rec:
    rec: Rec = {f.name: f.default() for f in defn.fields if f.name not in defn.computed}
    rec["id"] = str(uuid.uuid4())
    if defn.has_last_modified:
        rec["lastModifiedDateTime"] = company.store.clock.now()
    return rec


def assign_number(company: Company, defn: EntityDef, data: dict[str, Any], field: str = "number") -> None:
    """Blank: the next number of the set's series. Given: only where the series allows manual numbers."""
    series = defn.series
    given = data.get(field, "")
    if series is None:
        if not given:
            raise must_have_value(defn.by_name[field].caption or "Code", defn.caption, f"{field}=")
        return
    if not given:
        data[field] = company.next_number(series)
    elif not company.series(series).manual:
        raise manual_numbers(series)


def check_unique(company: Company, defn: EntityDef, rec: Rec, exclude: str | None = None) -> None:
    table = company.table(defn.set_name)
    existing = table.by_key(*table.key_of(rec))
    if existing is not None and existing["id"] != exclude:
        raise already_exists(defn.caption, defn.identify(rec))


# -- currencies (LCY is not a record: blank on documents and customers) --------------------------


def resolve_currency(company: Company, data: dict[str, Any]) -> None:
    lcy = company.store.config.lcy_code.upper()
    currencies = company.table("currencies")
    if "currencyCode" in data:
        code = data["currencyCode"]
        code = LCY_BLANK if code == lcy else code
        if code:
            found = currencies.by_key(code)
            if found is None:
                raise dialog('The "currencyCode" does not match to a Currency.')
            if "currencyId" in data and data["currencyId"] != found["id"]:
                raise dialog("The currency values do not match to a specific Currency.")
            data["currencyId"] = found["id"]
        else:
            data["currencyId"] = EMPTY_GUID
        data["currencyCode"] = code
    elif "currencyId" in data:
        if data["currencyId"] == EMPTY_GUID:
            data["currencyCode"] = LCY_BLANK
        else:
            match = currencies.get(data["currencyId"])
            if match is None:
                raise dialog('The "currencyId" does not match to a Currency.')
            data["currencyCode"] = match["code"]


def currency_out(company: Company, code: str) -> str:
    return code or company.store.config.lcy_code


# -- per-set rules -------------------------------------------------------------------------------


def _unit_of_measure(company: Company, data: dict[str, Any]) -> None:
    units = company.table("unitsOfMeasure")
    code, uid = data.get("baseUnitOfMeasureCode"), data.get("baseUnitOfMeasureId")
    if code is not None:
        found = units.by_key(code) if code else None
        if code and found is None:
            raise table_relation("Base Unit of Measure", "Item", code, "Unit of Measure")
        if uid is not None and found is not None and uid != found["id"]:
            raise dialog("The unit of measure values do not match to a specific Unit of Measure.")
        data["baseUnitOfMeasureId"] = found["id"] if found else EMPTY_GUID
    elif uid is not None:
        found = units.get(uid) if uid != EMPTY_GUID else None
        if uid != EMPTY_GUID and found is None:
            raise dialog('The "baseUnitOfMeasureId" does not match to a Unit of Measure.')
        data["baseUnitOfMeasureCode"] = found["code"] if found else ""


def ensure_item_unit(company: Company, item_no: str, unit: str, qty: Decimal = Decimal(1)) -> None:
    if not unit:
        return
    table = company.table("itemUnitsOfMeasure")
    existing = table.by_key(item_no, unit)
    if existing is None:
        rec = blank(table.defn, company)
        rec.update(itemNumber=item_no, code=unit, qtyPerUnitOfMeasure=qty)
        table.insert(rec, notify=False)
    elif existing["qtyPerUnitOfMeasure"] != qty:
        table.update(existing, {"qtyPerUnitOfMeasure": qty}, notify=False)


def _variant_item(company: Company, data: dict[str, Any]) -> None:
    items = company.table("items")
    item = None
    if "itemId" in data:
        item = items.get(data["itemId"])
        if item is None:
            raise dialog('The "itemId" does not match to an Item.')
    if "itemNumber" in data:
        by_no = items.by_key(data["itemNumber"])
        if by_no is None:
            raise dialog('The "itemNumber" does not match to an Item.')
        if item is not None and item["id"] != by_no["id"]:
            raise dialog("The item values do not match to a specific Item.")
        item = by_no
    if item is None:
        raise dialog('An "itemId" or an "itemNumber" must be provided.')
    data["itemId"], data["itemNumber"] = item["id"], item["number"]


def create(company: Company, defn: EntityDef, body: dict[str, Any], parent: Rec | None = None) -> Rec:
    name = defn.set_name
    if name == "items" and "inventory" in body:
        raise dialog("Inventory cannot be changed during on insert.")
    data = convert_body(defn, body)
    if name == "itemVariants" and parent is not None:
        data.setdefault("itemId", parent["id"])
    if name in ("items", "customers", "contacts"):
        assign_number(company, defn, data)
    elif name == "itemVariants":
        _variant_item(company, data)
    key_field = defn.sort_key[-1]
    if not data.get(key_field):
        raise must_have_value("Code", defn.caption, defn.identify({**data, key_field: ""}))
    if name == "items":
        _unit_of_measure(company, data)
    if name == "customers":
        resolve_currency(company, data)
    rec = blank(defn, company)
    rec.update(data)
    if name == "contacts" and not rec["searchName"]:
        rec["searchName"] = rec["displayName"].upper()[:100]
    check_unique(company, defn, rec)
    company.table(name).insert(rec)
    if name == "items":
        ensure_item_unit(company, rec["number"], rec["baseUnitOfMeasureCode"])
    return rec


def update(company: Company, defn: EntityDef, rec: Rec, body: dict[str, Any]) -> Rec:
    name = defn.set_name
    data = convert_body(defn, body)
    if "id" in data:
        raise read_only("id")
    target_inventory = data.pop("inventory", None) if name == "items" else None
    if name == "items":
        _unit_of_measure(company, data)
    elif name == "customers":
        resolve_currency(company, data)
    elif name == "itemVariants" and ("itemId" in data or "itemNumber" in data):
        _variant_item(company, data)
    table = company.table(name)
    old_key = table.key_of(rec)
    candidate = {**rec, **data}
    if table.key_of(candidate) != old_key:
        if not candidate[defn.sort_key[-1]]:
            raise must_have_value("Code", defn.caption, defn.identify(candidate))
        check_unique(company, defn, candidate, exclude=rec["id"])
    old_number = rec.get("number")
    table.update(rec, data)
    if name == "items":
        if old_number != rec["number"]:
            _rename_item(company, old_number or "", rec["number"])
        ensure_item_unit(company, rec["number"], rec["baseUnitOfMeasureCode"])
        if target_inventory is not None:
            _adjust_inventory(company, rec, target_inventory)
    return rec


def _rename_item(company: Company, old: str, new: str) -> None:
    """BC's Rename cascades to every table relating to the item."""
    for set_name, field in (("itemVariants", "itemNumber"), ("itemUnitsOfMeasure", "itemNumber")):
        table = company.table(set_name)
        for row in [r for r in table.rows.values() if r[field] == old]:
            table.update(row, {field: new}, notify=False)
    ledger = company.table("itemLedgerEntries")
    for row in ledger.rows.values():
        if row["itemNumber"] == old:
            row["itemNumber"] = new
    company.add_inventory(new, company.inventory.get(old, Decimal(0)))
    company.add_inventory(old, -company.inventory.get(old, Decimal(0)))
    for key in [k for k in company.open_entries if k[0] == old]:
        company.open_entries[(new, *key[1:])] = company.open_entries.pop(key)


def _adjust_inventory(company: Company, item: Rec, target: Decimal) -> None:
    """APIV2 Items UpdateInventory: a positive or negative adjustment up to the requested figure."""
    current = company.inventory.get(item["number"], Decimal(0))
    if target == current:
        return
    post_entry(
        company,
        item_no=item["number"],
        quantity=target - current,
        entry_type="Positive Adjmt." if target > current else "Negative Adjmt.",
        posting_date=company.store.clock.today(),
        document_no=item["number"],
        description=item["displayName"],
    )


def delete(company: Company, defn: EntityDef, rec: Rec) -> None:
    name = defn.set_name
    if name == "items":
        no = rec["number"]
        if any(e["itemNumber"] == no for e in company.table("itemLedgerEntries").rows.values()):
            raise dialog(
                f"You cannot delete Item {no} because it has ledger entries in a fiscal year "
                "that has not been closed yet."
            )
        for lines, label in (("salesOrderLines", "Sales Order"), ("salesQuoteLines", "Sales Quote")):
            if any(r["itemId"] == rec["id"] and r["lineType"] == "Item" for r in company.table(lines).rows.values()):
                raise dialog(
                    f"You cannot delete Item {no} because there is at least one outstanding {label} "
                    "that includes this item."
                )
        for set_name in ("itemVariants", "itemUnitsOfMeasure"):
            table = company.table(set_name)
            for row in [r for r in table.rows.values() if r["itemNumber"] == no]:
                table.delete(row, notify=set_name == "itemVariants")
    if name == "customers":
        for doc_set, label in (("salesOrders", "Sales Order"), ("salesQuotes", "Sales Quote")):
            if any(r["customerNumber"] == rec["number"] for r in company.table(doc_set).rows.values()):
                raise dialog(
                    f"You cannot delete Customer {rec['number']} because there is at least one outstanding "
                    f"{label} for this customer."
                )
    company.table(name).delete(rec)


# -- the item ledger -----------------------------------------------------------------------------


def post_entry(
    company: Company,
    *,
    item_no: str,
    quantity: Decimal | int,
    entry_type: str,
    posting_date: date | None = None,
    document_no: str = "",
    document_type: str = " ",
    description: str = "",
    location: str = "",
    variant: str = "",
    source_type: str = " ",
    source_no: str = "",
    sales_amount: Decimal | int = 0,
    cost_amount: Decimal | None = None,
) -> Rec:
    """Item Jnl.-Post Line, reduced: one ledger entry, applied FIFO, added to the item's inventory."""
    item_no, location, variant = item_no.upper(), location.upper(), variant.upper()
    item = company.table("items").by_key(item_no)
    if item is None:
        raise table_relation("Item No.", "Item Journal Line", item_no, "Item")
    if location and company.table("locations").by_key(location) is None:
        raise table_relation("Location Code", "Item Journal Line", location, "Location")
    if variant and company.table("itemVariants").by_key(item_no, variant) is None:
        raise table_relation("Variant Code", "Item Journal Line", variant, "Item Variant")
    quantity = Decimal(quantity)
    if quantity == 0:
        raise must_have_value("Quantity", "Item Journal Line", f"Item No.='{item_no}'")
    table = company.table("itemLedgerEntries")
    entry_no = company.next_entry_no
    company.next_entry_no += 1

    def undo_number() -> None:
        company.next_entry_no = entry_no

    company.store.on_undo(undo_number)
    remaining = _apply(company, (item_no, location, variant), quantity)
    rec = blank(table.defn, company)
    rec.update(
        entryNumber=entry_no,
        itemNumber=item_no,
        postingDate=posting_date or company.store.clock.today(),
        entryType=entry_type,
        sourceNumber=source_no,
        sourceType=source_type,
        documentNumber=document_no,
        documentType=document_type,
        description=description or item["displayName"],
        quantity=quantity,
        salesAmountActual=Decimal(sales_amount),
        costAmountActual=cost_amount if cost_amount is not None else quantity * item["unitCost"],
        _location=location,
        _variant=variant,
        _remaining=remaining,
        _open=remaining != 0,
    )
    table.insert(rec)
    if remaining != 0:
        queue = _open_list(company, (item_no, location, variant))
        queue.append(rec["id"])
        company.store.on_undo(lambda: queue.remove(rec["id"]) if rec["id"] in queue else None)
    company.add_inventory(item_no, quantity)
    return rec


def _open_list(company: Company, key: tuple[str, str, str]) -> list[str]:
    return company.open_entries.setdefault(key, [])


def _apply(company: Company, key: tuple[str, str, str], quantity: Decimal) -> Decimal:
    """Apply against open entries of the opposite sign; what is left stays open on the new entry."""
    table = company.table("itemLedgerEntries")
    queue = company.open_entries.get(key, [])
    left = quantity
    while left != 0 and queue:
        head = table.get(queue[0])
        if head is None or head["_remaining"] == 0:
            queue.pop(0)  # rolled back or already closed: stale
            continue
        if (head["_remaining"] > 0) == (left > 0):
            break
        take = min(abs(left), abs(head["_remaining"]))
        step = take if head["_remaining"] > 0 else -take
        new_remaining = head["_remaining"] - step
        left += step if left < 0 else -take
        table.update(head, {"_remaining": new_remaining, "_open": new_remaining != 0})
        if new_remaining == 0:
            popped = queue.pop(0)

            def reopen(q: list[str] = queue, p: str = popped) -> None:
                q.insert(0, p)

            company.store.on_undo(reopen)
    return left


def require(company: Company, set_name: str, key: str) -> Rec:
    rec = company.table(set_name).by_key(key.upper())
    if rec is None:
        raise ApiError(
            404, "Internal_RecordNotFound", f"The {company.table(set_name).defn.caption} {key} does not exist."
        )
    return rec
