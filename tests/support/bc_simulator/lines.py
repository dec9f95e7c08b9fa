"""Sales document lines: what the line API pages and the Sales Line table check and compute.

Messages are the pages' own ("Item does not exist.", 'The value for "sequence" cannot be
modified. ...'). Amounts: unit price × quantity − line discount, rounded to cents; no tax is
computed (tax fields are 0), and a header ``discountAmount`` is allocated over the lines as BC's
invoice discount is. Every line change gives the header a new ETag and timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import dialog, field_must_be, record_not_found, table_relation
from .fields import EMPTY_GUID
from .masterdata import blank, convert_body
from .store import Company, Rec

CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class DocKind:
    header_set: str
    line_set: str
    series: str
    label: str
    date_field: str


ORDER = DocKind("salesOrders", "salesOrderLines", "S-ORD", "Order", "orderDate")
QUOTE = DocKind("salesQuotes", "salesQuoteLines", "S-QUO", "Quote", "documentDate")
KINDS = {k.header_set: k for k in (ORDER, QUOTE)}
BY_LINES = {k.line_set: k for k in (ORDER, QUOTE)}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def lines_of(company: Company, line_set: str, header: Rec) -> list[Rec]:
    return list(company.table(line_set).scan(prefix=(header["id"],)))


def _resolve_object(company: Company, line: Rec, data: dict[str, Any], insert: bool) -> None:
    """Fill the line from its item, resource or G/L account (Sales Line CopyFromItem and friends)."""
    line_type = line["lineType"]
    number = str(data.get("lineObjectNumber", line["lineObjectNumber"] if not insert else ""))
    if line_type == "Item":
        items = company.table("items")
        item = items.get(data["itemId"]) if data.get("itemId", EMPTY_GUID) != EMPTY_GUID else None
        if item is None and "itemId" in data and data["itemId"] != EMPTY_GUID:
            raise dialog("Item does not exist.")
        if item is None:
            item = items.by_key(number) if number else None
            if item is None:
                raise dialog("Item does not exist.")
        if item["blocked"]:
            raise field_must_be("Blocked", "No", "Item", f"No.={item['number']}", "Yes")
        if item.get("_salesBlocked"):
            raise dialog(
                f"You cannot sell Item {item['number']} because the Sales Blocked check box is selected "
                "on the Item card."
            )
        line.update(itemId=item["id"], lineObjectNumber=item["number"], accountId=EMPTY_GUID)
        line["description"] = data.get("description", item["displayName"])
        line["unitPrice"] = data.get("unitPrice", item["unitPrice"])
        line["unitOfMeasureCode"] = item["baseUnitOfMeasureCode"]
    elif line_type == "Account":
        accounts = company.table("accounts")
        account = accounts.get(data["accountId"]) if data.get("accountId", EMPTY_GUID) != EMPTY_GUID else None
        if account is None:
            account = accounts.by_key(number) if number else None
        if account is None:
            raise dialog("Account does not exist.")
        if account["blocked"]:
            raise field_must_be("Blocked", "No", "G/L Account", f"No.={account['number']}", "Yes")
        line.update(accountId=account["id"], lineObjectNumber=account["number"], itemId=EMPTY_GUID)
        line["description"] = data.get("description", account["displayName"])
    elif line_type == "Resource":
        resource = company.table("resources").by_key(number) if number else None
        if resource is None:
            raise table_relation("No.", "Sales Line", number, "Resource")
        if resource["blocked"]:
            raise field_must_be("Blocked", "No", "Resource", f"No.={resource['number']}", "Yes")
        line.update(lineObjectNumber=resource["number"], itemId=EMPTY_GUID, accountId=EMPTY_GUID)
        line["description"] = data.get("description", resource["name"])
        line["unitPrice"] = data.get("unitPrice", resource["unitPrice"])
        line["unitOfMeasureCode"] = resource["baseUnitOfMeasure"]
    elif line_type == "Comment":
        if number:
            raise table_relation("No.", "Sales Line", number, "Standard Text")
    else:
        raise dialog(f"Lines of type {line_type} are not supported by the simulator.")


def _unit_of_measure(company: Company, line: Rec, data: dict[str, Any], insert: bool) -> None:
    units = company.table("unitsOfMeasure")
    if "unitOfMeasureId" in data and "unitOfMeasureCode" not in data:
        found = units.get(data["unitOfMeasureId"]) if data["unitOfMeasureId"] != EMPTY_GUID else None
        if found is None and data["unitOfMeasureId"] != EMPTY_GUID:
            raise dialog('The "unitOfMeasureId" does not match to a Unit of Measure.')
        data["unitOfMeasureCode"] = found["code"] if found else ""
    if "unitOfMeasureCode" in data:
        line["unitOfMeasureCode"] = data["unitOfMeasureCode"]
    code = line["unitOfMeasureCode"]
    item_units = company.table("itemUnitsOfMeasure")
    if code and line["lineType"] == "Item" and item_units.by_key(line["lineObjectNumber"], code) is None:
        raise table_relation("Unit of Measure Code", "Sales Line", code, "Item Unit of Measure")
    unit = units.by_key(code) if code else None
    if code and unit is None:
        raise table_relation("Unit of Measure Code", "Sales Line", code, "Unit of Measure")
    line["unitOfMeasureId"] = unit["id"] if unit else EMPTY_GUID
    item = company.table("items").get(line["itemId"]) if line["lineType"] == "Item" else None
    if item is not None and "unitPrice" not in data and (insert or "unitOfMeasureCode" in data):
        # The price is per the line's unit: the item's price times the unit's quantity.
        per = item_units.by_key(item["number"], code)
        line["unitPrice"] = item["unitPrice"] * (per["qtyPerUnitOfMeasure"] if per else 1)


def _check_refs(company: Company, line: Rec) -> None:
    if line["itemVariantId"] != EMPTY_GUID:
        variant = company.table("itemVariants").get(line["itemVariantId"])
        if variant is None or variant["itemNumber"] != line["lineObjectNumber"]:
            raise record_not_found("Item Variant", f"Id='{line['itemVariantId']}'")
    if line["locationId"] != EMPTY_GUID and company.table("locations").get(line["locationId"]) is None:
        raise record_not_found("Location", f"Id='{line['locationId']}'")


def compute(line: Rec, data: dict[str, Any]) -> None:
    """Line amounts; a given discount percent wins over a kept amount, a given amount sets the percent."""
    gross = line["quantity"] * line["unitPrice"]
    if "discountAmount" in data and "discountPercent" not in data:
        line["discountPercent"] = (
            (line["discountAmount"] / gross * 100).quantize(Decimal("0.00001"), ROUND_HALF_UP) if gross else ZERO
        )
    else:
        line["discountAmount"] = money(gross * line["discountPercent"] / 100)
    amount = money(gross - line["discountAmount"]) if line["lineType"] != "Comment" else ZERO
    line.update(
        discountAppliedBeforeTax=False,
        amountExcludingTax=amount,
        taxPercent=ZERO,
        totalTaxAmount=ZERO,
        amountIncludingTax=amount,
    )
    _net(line)


def _net(line: Rec) -> None:
    net = line["amountExcludingTax"] - line.get("invoiceDiscountAllocation", ZERO)
    line.update(netAmount=net, netTaxAmount=ZERO, netAmountIncludingTax=net)


def create_line(company: Company, kind: DocKind, header: Rec, body: dict[str, Any]) -> Rec:
    table = company.table(kind.line_set)
    data = convert_body(table.defn, body)
    if data.get("documentId", header["id"]) != header["id"]:
        raise dialog('The value for "documentId" cannot be modified.')
    item_id, account_id = data.get("itemId", EMPTY_GUID), data.get("accountId", EMPTY_GUID)
    if item_id != EMPTY_GUID and account_id != EMPTY_GUID:
        raise dialog('Both "itemId" and "accountId" are specified. Specify only one of them.')
    line = blank(table.defn, company)
    line.update(data)
    line["documentId"] = header["id"]
    if "lineType" not in data:
        line["lineType"] = "Item" if item_id != EMPTY_GUID else "Account" if account_id != EMPTY_GUID else "Comment"
    existing = lines_of(company, kind.line_set, header)
    if "sequence" in data:
        if any(r["sequence"] == data["sequence"] for r in existing):
            raise dialog("You cannot insert a line because a line already exists.")
    else:
        line["sequence"] = (existing[-1]["sequence"] if existing else 0) + 10000
    _resolve_object(company, line, data, insert=True)
    _unit_of_measure(company, line, data, insert=True)
    _check_refs(company, line)
    if kind is ORDER:
        line["shipQuantity"] = data.get("shipQuantity", line["quantity"])
        line["invoiceQuantity"] = data.get("invoiceQuantity", line["quantity"])
        line["shipmentDate"] = data.get("shipmentDate", header["orderDate"])
    compute(line, data)
    table.insert(line, notify=False)
    refresh_header(company, kind, header)
    return line


def update_line(company: Company, kind: DocKind, header: Rec, line: Rec, body: dict[str, Any]) -> Rec:
    table = company.table(kind.line_set)
    data = convert_body(table.defn, body)
    if "id" in data:
        raise dialog('The "id" cannot be changed.')
    if data.get("documentId", line["documentId"]) != line["documentId"]:
        raise dialog('The value for "documentId" cannot be modified.')
    if data.get("sequence", line["sequence"]) != line["sequence"]:
        raise dialog('The value for "sequence" cannot be modified. Delete and insert the line again.')
    if (
        data.get("lineObjectNumber", line["lineObjectNumber"]) != line["lineObjectNumber"]
        or data.get("itemId", line["itemId"]) != line["itemId"]
        or data.get("lineType", line["lineType"]) != line["lineType"]
    ):
        raise dialog('The value for "lineObjectNumber" cannot be modified.')
    draft = dict(line)
    draft.update(data)
    _unit_of_measure(company, draft, data, insert=False)
    _check_refs(company, draft)
    if kind is ORDER and "quantity" in data:
        draft["shipQuantity"] = data.get("shipQuantity", draft["quantity"])
        draft["invoiceQuantity"] = data.get("invoiceQuantity", draft["quantity"])
    compute(draft, data)
    changes = {k: v for k, v in draft.items() if not k.startswith("_") and line.get(k) != v}
    if changes:
        table.update(line, changes, notify=False)
        refresh_header(company, kind, header)
    return line


def delete_line(company: Company, kind: DocKind, header: Rec, line: Rec) -> None:
    company.table(kind.line_set).delete(line, notify=False)
    refresh_header(company, kind, header)


def refresh_header(company: Company, kind: DocKind, header: Rec) -> None:
    """Totals and invoice-discount allocation; the header's ETag and timestamp move either way."""
    lines = lines_of(company, kind.line_set, header)
    priced = [ln for ln in lines if ln["lineType"] != "Comment" and ln["amountExcludingTax"] != 0]
    subtotal = sum((ln["amountExcludingTax"] for ln in lines), ZERO)
    discount = min(header["discountAmount"], subtotal) if subtotal > 0 else ZERO
    allocated = ZERO
    line_table = company.table(kind.line_set)
    for index, ln in enumerate(priced):
        share = (
            discount - allocated if index == len(priced) - 1 else money(discount * ln["amountExcludingTax"] / subtotal)
        )
        allocated += share
        if "invoiceDiscountAllocation" in line_table.defn.by_name:
            changes = {"invoiceDiscountAllocation": share}
            net = ln["amountExcludingTax"] - share
            changes.update(netAmount=net, netAmountIncludingTax=net)
            line_table.update(ln, changes, notify=False)
    total = subtotal - discount
    totals = {
        "discountAppliedBeforeTax": True,
        "totalAmountExcludingTax": total,
        "totalTaxAmount": ZERO,
        "totalAmountIncludingTax": total,
    }
    headers = company.table(kind.header_set)
    if not headers.update(header, totals):
        headers.touch(header)
