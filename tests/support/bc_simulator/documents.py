"""Sales orders and quotes: header rules, deep insert, and the bound actions.

Headers take their number from the series (S-ORD, S-QUO); a ``number`` in a POST gets BC's
manual-numbers error unless the series allows manual numbers. ``makeOrder`` turns a quote into an
order and removes the quote; ``shipAndInvoice`` posts an order: item ledger entries of type Sale
(negative, in the base unit), a posted sales invoice with the order's external document number,
and the order is gone. Posting commits, as BC's posting routines do.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, dialog, field_must_be, manual_numbers, read_only
from .fields import EMPTY_DATE, EMPTY_GUID
from .lines import KINDS, ORDER, QUOTE, ZERO, DocKind, create_line, lines_of, refresh_header
from .masterdata import blank, check_unique, convert_body, post_entry, resolve_currency
from .store import Company, Rec

_SELL_TO = {
    "addressLine1": "sellToAddressLine1",
    "addressLine2": "sellToAddressLine2",
    "city": "sellToCity",
    "country": "sellToCountry",
    "state": "sellToState",
    "postalCode": "sellToPostCode",
}
_BILL_TO = {k: v.replace("sellTo", "billTo") for k, v in _SELL_TO.items()}
_SHIP_TO = {k: v.replace("sellTo", "shipTo") for k, v in _SELL_TO.items()}


def check_blocked(customer: Rec, verb: str = "create") -> None:
    """Customer.CheckBlockedCustOnDocs: any blocking stops a new document; Ship/Invoice stop posting."""
    blocked = customer["blocked"]
    if blocked == " ":
        return
    if verb == "create" or (verb == "ship" and blocked in ("Ship", "All")) or (verb == "invoice" and blocked != " "):
        raise dialog(
            f"You cannot {verb} this type of document when Customer {customer['number']} is blocked with type {blocked}"
        )


def _customer(company: Company, data: dict[str, Any], prefix: str, label: str) -> Rec | None:
    customers = company.table("customers")
    id_field, no_field = f"{prefix}Id", f"{prefix}Number"
    found = None
    if id_field in data:
        found = customers.get(data[id_field])
        if found is None:
            raise dialog(f"The {label} customer cannot be found.")
    if no_field in data:
        if found is not None:
            if found["number"] != data[no_field]:
                raise dialog(f"The {label} customer values do not match to a specific Customer.")
        else:
            found = customers.by_key(data[no_field])
            if found is None:
                raise dialog(f"The {label} customer cannot be found.")
    return found


def _apply_customer(company: Company, header: Rec, customer: Rec, data: dict[str, Any]) -> None:
    check_blocked(customer)
    header.update(customerId=customer["id"], customerNumber=customer["number"], customerName=customer["displayName"])
    for src, dst in _SELL_TO.items():
        header[dst] = data.get(dst, customer[src])
    for src, dst in _SHIP_TO.items():
        header[dst] = data.get(dst, customer[src])
    header["shipToName"] = data.get("shipToName", customer["displayName"])
    header["shipToContact"] = data.get("shipToContact", "")
    if "currencyCode" not in data and "currencyId" not in data:
        header["currencyCode"], header["currencyId"] = customer["currencyCode"], customer["currencyId"]
    header["salesperson"] = data.get("salesperson", customer["salespersonCode"])
    header["phoneNumber"] = data.get("phoneNumber", customer["phoneNumber"])
    header["email"] = data.get("email", customer["email"])
    if "billToCustomerId" not in data and "billToCustomerNumber" not in data:
        _apply_bill_to(header, customer)


def _apply_bill_to(header: Rec, customer: Rec) -> None:
    header.update(billToCustomerId=customer["id"], billToCustomerNumber=customer["number"])
    header["billToName"] = customer["displayName"]
    for src, dst in _BILL_TO.items():
        header[dst] = customer[src]


def _check_lookups(data: dict[str, Any]) -> None:
    for name, label in (("paymentTermsId", "Payment Terms"), ("shipmentMethodId", "Shipment Method")):
        if data.get(name, EMPTY_GUID) != EMPTY_GUID:
            raise dialog(f'The "{name}" does not match to a {label}.')


def create_document(company: Company, kind: DocKind, body: dict[str, Any]) -> Rec:
    table = company.table(kind.header_set)
    body = dict(body)
    nested = body.pop(kind.line_set, None)
    if nested is not None and not (isinstance(nested, list) and all(isinstance(x, dict) for x in nested)):
        raise ApiError(400, "BadRequest", f"The value of '{kind.line_set}' must be an array of objects.")
    data = convert_body(table.defn, body, allow=frozenset({"number"}))
    data.pop("fullyShipped", None)  # computed; the page does not mark it read-only, so a write is ignored
    if "id" in data:
        raise read_only("id")
    header = blank(table.defn, company)
    customer = _customer(company, data, "customer", "sell-to")
    if customer is None:
        raise dialog('A "customerNumber" or a "customerId" must be provided.')
    bill_to = _customer(company, data, "billToCustomer", "bill-to")
    _check_lookups(data)
    resolve_currency(company, data)
    header.update({k: v for k, v in data.items() if k != "number"})
    _apply_customer(company, header, customer, data)
    if bill_to is not None:
        _apply_bill_to(header, bill_to)
    today = company.store.clock.today()
    header[kind.date_field] = data.get(kind.date_field, today)
    header["postingDate"] = data.get("postingDate", today)
    if kind is QUOTE:
        header["dueDate"] = data.get("dueDate", header["documentDate"])
    else:
        header["partialShipping"] = data.get("partialShipping", True)
        header["requestedDeliveryDate"] = data.get("requestedDeliveryDate", EMPTY_DATE)
    header["status"] = "Draft"
    with company.store.atomic():
        if data.get("number"):
            if not company.series(kind.series).manual:
                raise manual_numbers(kind.series)
            header["number"] = data["number"]
            check_unique(company, table.defn, header)
        else:
            header["number"] = company.next_number(kind.series)
        table.insert(header)
        for line_body in nested or []:
            create_line(company, kind, header, line_body)
        refresh_header(company, kind, header)
    return header


def update_document(company: Company, kind: DocKind, header: Rec, body: dict[str, Any]) -> Rec:
    table = company.table(kind.header_set)
    if kind.line_set in body:
        raise ApiError(400, "BadRequest", "Deep update is not supported. Update the lines one by one.")
    data = convert_body(table.defn, body)
    data.pop("fullyShipped", None)
    _check_lookups(data)
    draft = dict(header)
    customer = _customer(company, data, "customer", "sell-to")
    if customer is not None and customer["id"] != header["customerId"]:
        _apply_customer(company, draft, customer, data)
    bill_to = _customer(company, data, "billToCustomer", "bill-to")
    if bill_to is not None:
        _apply_bill_to(draft, bill_to)
    resolve_currency(company, data)
    draft.update(data)
    changes = {k: v for k, v in draft.items() if header.get(k) != v}
    with company.store.atomic():
        table.update(header, changes)
        if "discountAmount" in changes:
            refresh_header(company, kind, header)
    return header


def delete_document(company: Company, kind: DocKind, header: Rec) -> None:
    lines = company.table(kind.line_set)
    with company.store.atomic():
        for line in lines_of(company, kind.line_set, header):
            lines.delete(line, notify=False)
        company.table(kind.header_set).delete(header)


def _copy(header: Rec, target: Rec, skip: set[str]) -> None:
    for name in target:
        if name in header and name not in skip and not name.startswith("_"):
            target[name] = header[name]


def make_order(company: Company, quote: Rec) -> Rec:
    """Sales-Quote to Order: a new order with the quote's header and lines; the quote is deleted."""
    customer = company.table("customers").get(quote["customerId"])
    if customer is not None:
        check_blocked(customer)
    orders = company.table("salesOrders")
    order = blank(orders.defn, company)
    _copy(quote, order, {"id", "number", "status", "lastModifiedDateTime"})
    today = company.store.clock.today()
    order.update(orderDate=today, postingDate=today, status="Draft", partialShipping=True)
    order["requestedDeliveryDate"] = EMPTY_DATE
    with company.store.atomic():
        order["number"] = company.next_number(ORDER.series)
        orders.insert(order)
        order_lines = company.table(ORDER.line_set)
        for quote_line in lines_of(company, QUOTE.line_set, quote):
            line = blank(order_lines.defn, company)
            _copy(quote_line, line, {"id", "documentId", "lastModifiedDateTime"})
            line.update(documentId=order["id"], shipQuantity=line["quantity"], invoiceQuantity=line["quantity"])
            line["shipmentDate"] = today
            order_lines.insert(line, notify=False)
        refresh_header(company, ORDER, order)
        delete_document(company, QUOTE, quote)
    return order


def ship_and_invoice(company: Company, order: Rec) -> Rec:
    """Sales-Post with Ship and Invoice, for the whole order."""
    lines = lines_of(company, ORDER.line_set, order)
    if any(ln["lineType"] != "Comment" and ln["lineObjectNumber"] and ln["quantity"] == 0 for ln in lines):
        raise dialog("One or more document lines with a value in the No. field do not have a quantity specified.")
    postable = [ln for ln in lines if ln["lineType"] != "Comment" and ln["quantity"] != 0]
    if not postable:
        raise dialog("There is nothing to post.")
    customer = company.table("customers").get(order["customerId"])
    if customer is not None:
        check_blocked(customer, "ship")
        check_blocked(customer, "invoice")
    items = company.table("items")
    for ln in postable:
        item = items.get(ln["itemId"]) if ln["lineType"] == "Item" else None
        if item is not None and item["blocked"]:
            raise field_must_be("Blocked", "No", "Item", f"No.={item['number']}", "Yes")
    with company.store.atomic():
        shipment_no = company.next_number("S-SHPT")
        invoice_no = company.next_number("S-INV+")
        for ln in postable:
            if ln["lineType"] == "Item":
                _post_item_line(company, order, ln, shipment_no)
        invoices = company.table("salesInvoices")
        invoice = blank(invoices.defn, company)
        _copy(order, invoice, {"id", "number", "status", "lastModifiedDateTime"})
        invoice.update(
            number=invoice_no,
            invoiceDate=order["postingDate"],
            dueDate=order["postingDate"],
            orderId=order["id"],
            orderNumber=order["number"],
            remainingAmount=order["totalAmountIncludingTax"],
            status="Open",
        )
        invoices.insert(invoice)
        invoice_lines = company.table("salesInvoiceLines")
        for ln in lines:
            copy = blank(invoice_lines.defn, company)
            _copy(ln, copy, {"id", "documentId"})
            copy["documentId"] = invoice["id"]
            invoice_lines.insert(copy, notify=False)
        number = order["customerNumber"]
        before = company.balances.get(number, ZERO)
        company.balances[number] = before + order["totalAmountIncludingTax"]
        company.store.on_undo(lambda: company.balances.__setitem__(number, before))
        delete_document(company, ORDER, order)
        company.store.commit_point()
    return invoice


def _post_item_line(company: Company, order: Rec, line: Rec, shipment_no: str) -> None:
    unit = company.table("itemUnitsOfMeasure").by_key(line["lineObjectNumber"], line["unitOfMeasureCode"])
    per = unit["qtyPerUnitOfMeasure"] if unit is not None else 1
    base_qty = line["quantity"] * per
    item = company.table("items").get(line["itemId"])
    location = company.table("locations").get(line["locationId"]) if line["locationId"] != EMPTY_GUID else None
    variant = company.table("itemVariants").get(line["itemVariantId"]) if line["itemVariantId"] != EMPTY_GUID else None
    post_entry(
        company,
        item_no=line["lineObjectNumber"],
        quantity=-base_qty,
        entry_type="Sale",
        posting_date=order["postingDate"],
        document_no=shipment_no,
        document_type="Sales Shipment",
        description=line["description"],
        location=location["code"] if location else "",
        variant=variant["code"] if variant else "",
        source_type="Customer",
        source_no=order["customerNumber"],
        sales_amount=line["netAmount"],
        cost_amount=-base_qty * (item["unitCost"] if item else ZERO),
    )


__all__ = ["KINDS", "check_blocked", "create_document", "make_order", "ship_and_invoice", "update_document"]
