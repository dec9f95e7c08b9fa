"""The BC documents made from Sales (sales orders, lines, quotes, archives) and the order inbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from gateway.entity_sets.common import READ_INTEGRATION
from gateway.odata.edm import (
    DATE,
    DATETIMEOFFSET,
    DECIMAL,
    GUID,
    INT32,
    STRING,
    EntitySet,
    Property,
)
from schemas import tables as t


def _header_columns(h: Any) -> list[Any]:
    return [
        h.c.no.label("No"),
        h.c.sell_to_customer_no.label("Sell_to_Customer_No"),
        h.c.order_date.label("Order_Date"),
        h.c.your_reference.label("Your_Reference"),
        h.c.external_document_no.label("External_Document_No"),
        h.c.currency_code.label("Currency_Code"),
        h.c.status.label("Status"),
        h.c.payment_terms_code.label("Payment_Terms_Code"),
        h.c.shipment_method_code.label("Shipment_Method_Code"),
        h.c.shipping_agent_code.label("Shipping_Agent_Code"),
        h.c.salesperson_code.label("Salesperson_Code"),
        h.c.bill_to_name.label("Bill_to_Name"),
        h.c.ship_to_name.label("Ship_to_Name"),
        h.c.invoice_discount_amount.label("Invoice_Discount_Amount"),
        h.c.amount.label("Amount"),
        h.c.amount_including_vat.label("Amount_Including_VAT"),
        h.c.system_id.label("Id"),
        h.c.sales_id.label("Sales_Id"),
        h.c.created_at.label("Created_At"),
    ]


def sales_orders(company: str) -> Select[Any]:
    h = t.sales_header
    return select(
        *_header_columns(h),
        h.c.requested_delivery_date.label("Requested_Delivery_Date"),
        h.c.payment_discount_pct.label("Payment_Discount_Percent"),
        h.c.quote_no.label("Quote_No"),
        h.c.work_description.label("Work_Description"),
    ).where(h.c.company == company, h.c.document_type == "Order")


def _line_columns(ln: Any, base: bool) -> list[Any]:
    """A sales line's columns after its key; `base`: with the base quantities (not archived)."""
    based = (
        [
            ln.c.qty_per_unit_of_measure.label("Qty_per_Unit_of_Measure"),
            ln.c.quantity_base.label("Quantity_Base"),
            ln.c.outstanding_qty_base.label("Outstanding_Qty_Base"),
        ]
        if base
        else []
    )
    return [
        ln.c.line_no.label("Line_No"),
        ln.c.type.label("Type"),
        ln.c.no.label("No"),
        ln.c.description.label("Description"),
        ln.c.quantity.label("Quantity"),
        ln.c.unit_of_measure_code.label("Unit_of_Measure_Code"),
        *based,
        ln.c.unit_price.label("Unit_Price"),
        ln.c.line_discount_amount.label("Line_Discount_Amount"),
        ln.c.amount.label("Amount"),
        ln.c.attached_to_line_no.label("Attached_to_Line_No"),
    ]


def _line_properties(base: bool) -> tuple[Property, ...]:
    """The properties _line_columns gives, in the same order."""
    based = (
        (
            Property("Qty_per_Unit_of_Measure", DECIMAL, nullable=False),
            Property("Quantity_Base", DECIMAL, nullable=False),
            Property("Outstanding_Qty_Base", DECIMAL, nullable=False),
        )
        if base
        else ()
    )
    return (
        Property("Line_No", INT32, nullable=False),
        Property("Type", STRING, nullable=False, max_length=20),
        Property("No", STRING, nullable=False, max_length=20),
        Property("Description", STRING, nullable=False, max_length=100),
        Property("Quantity", DECIMAL, nullable=False),
        Property("Unit_of_Measure_Code", STRING, nullable=False, max_length=10),
        *based,
        Property("Unit_Price", DECIMAL, nullable=False),
        Property("Line_Discount_Amount", DECIMAL, nullable=False),
        Property("Amount", DECIMAL, nullable=False),
        Property("Attached_to_Line_No", INT32, nullable=False),
    )


def sales_lines(company: str) -> Select[Any]:
    ln = t.sales_line
    return select(
        ln.c.document_type.label("Document_Type"),
        ln.c.document_no.label("Document_No"),
        *_line_columns(ln, base=True),
        ln.c.location_code.label("Location_Code"),
        ln.c.outstanding_quantity.label("Outstanding_Quantity"),
        ln.c.qty_to_ship.label("Qty_to_Ship"),
        ln.c.quantity_shipped.label("Quantity_Shipped"),
        ln.c.qty_to_invoice.label("Qty_to_Invoice"),
        ln.c.quantity_invoiced.label("Quantity_Invoiced"),
    ).where(ln.c.company == company)


def sales_inbox(company: str) -> Select[Any]:
    ib = t.order_inbox
    return select(
        ib.c.id.label("Id"),
        ib.c.table_name.label("Table"),
        ib.c.sales_id.label("Sales_Id"),
        ib.c.event.label("Event"),
        ib.c.revision.label("Revision"),
        ib.c.state.label("State"),
        ib.c.source.label("Source"),
        ib.c.attempts.label("Attempts"),
        ib.c.last_error.label("Last_Error"),
        ib.c.next_attempt_at.label("Next_Attempt_At"),
        ib.c.received_at.label("Received_At"),
        ib.c.processed_at.label("Processed_At"),
        ib.c.deliveries.label("Deliveries"),
        ib.c.document_type.label("Document_Type"),
        ib.c.document_no.label("Document_No"),
        ib.c.writeback_state.label("Writeback_State"),
        ib.c.writeback_error.label("Writeback_Error"),
        ib.c.bc_key.label("BC_Key"),
        ib.c.bc_document_id.label("BC_Document_Id"),
    ).where(ib.c.company == company)


_HEADER_PROPERTIES = (
    Property("No", STRING, nullable=False, max_length=20),
    Property("Sell_to_Customer_No", STRING, nullable=False, max_length=20),
    Property("Order_Date", DATE, nullable=False),
    Property("Your_Reference", STRING, nullable=False, max_length=35),
    Property("External_Document_No", STRING, nullable=False, max_length=35),
    Property("Currency_Code", STRING, nullable=False, max_length=10),
    Property("Status", STRING, nullable=False, max_length=10),
    Property("Payment_Terms_Code", STRING, nullable=False, max_length=10),
    Property("Shipment_Method_Code", STRING, nullable=False, max_length=10),
    Property("Shipping_Agent_Code", STRING, nullable=False, max_length=10),
    Property("Salesperson_Code", STRING, nullable=False, max_length=20),
    Property("Bill_to_Name", STRING, nullable=False, max_length=100),
    Property("Ship_to_Name", STRING, nullable=False, max_length=100),
    Property("Invoice_Discount_Amount", DECIMAL, nullable=False),
    Property("Amount", DECIMAL, nullable=False),
    Property("Amount_Including_VAT", DECIMAL, nullable=False),
    Property("Id", GUID, nullable=False),  # BC's SystemId; in api mode the id BC's API answered
    Property("Sales_Id", GUID),
    Property("Created_At", DATETIMEOFFSET, nullable=False),
)

SALES_ORDERS = EntitySet(
    name="SalesOrders",
    properties=(
        *_HEADER_PROPERTIES,
        Property("Requested_Delivery_Date", DATE),
        Property("Payment_Discount_Percent", DECIMAL, nullable=False),
        Property("Quote_No", STRING, nullable=False, max_length=20),
        Property("Work_Description", STRING, nullable=False),
    ),
    key=("No",),
    source=sales_orders,
    read_roles=READ_INTEGRATION,
)

SALES_LINES = EntitySet(
    name="SalesLines",
    properties=(
        Property("Document_Type", STRING, nullable=False, max_length=10),
        Property("Document_No", STRING, nullable=False, max_length=20),
        *_line_properties(base=True),
        Property("Location_Code", STRING, nullable=False, max_length=10),
        Property("Outstanding_Quantity", DECIMAL, nullable=False),
        Property("Qty_to_Ship", DECIMAL, nullable=False),
        Property("Quantity_Shipped", DECIMAL, nullable=False),
        Property("Qty_to_Invoice", DECIMAL, nullable=False),
        Property("Quantity_Invoiced", DECIMAL, nullable=False),
    ),
    key=("Document_Type", "Document_No", "Line_No"),
    source=sales_lines,
    read_roles=READ_INTEGRATION,
)

SALES_INBOX = EntitySet(
    name="SalesInbox",
    properties=(
        Property("Id", INT32, nullable=False),
        Property("Table", STRING, nullable=False, max_length=20),
        Property("Sales_Id", GUID, nullable=False),
        Property("Event", STRING, nullable=False, max_length=10),
        Property("Revision", INT32, nullable=False),
        Property("State", STRING, nullable=False, max_length=12),
        Property("Source", STRING, nullable=False, max_length=10),
        Property("Attempts", INT32, nullable=False),
        Property("Last_Error", STRING, nullable=False),
        Property("Next_Attempt_At", DATETIMEOFFSET),
        Property("Received_At", DATETIMEOFFSET, nullable=False),
        Property("Processed_At", DATETIMEOFFSET),
        Property("Deliveries", INT32, nullable=False),
        Property("Document_Type", STRING, nullable=False, max_length=10),
        Property("Document_No", STRING, nullable=False, max_length=20),
        Property("Writeback_State", STRING, nullable=False, max_length=10),
        Property("Writeback_Error", STRING, nullable=False),
        Property("BC_Key", STRING, nullable=False, max_length=35),
        Property("BC_Document_Id", GUID),
    ),
    key=("Id",),
    source=sales_inbox,
    read_roles=READ_INTEGRATION,
)


def sales_quotes(company: str) -> Select[Any]:
    h = t.sales_header
    return select(
        *_header_columns(h),
        h.c.quote_valid_until_date.label("Quote_Valid_Until_Date"),
        h.c.sales_revision.label("Revision"),
        h.c.work_description.label("Work_Description"),
    ).where(h.c.company == company, h.c.document_type == "Quote")


def sales_quote_archives(company: str) -> Select[Any]:
    ha = t.sales_header_archive
    return select(
        ha.c.no.label("No"),
        ha.c.version_no.label("Version_No"),
        ha.c.archived_at.label("Archived_At"),
        ha.c.reason.label("Reason"),
        ha.c.sell_to_customer_no.label("Sell_to_Customer_No"),
        ha.c.your_reference.label("Your_Reference"),
        ha.c.quote_valid_until_date.label("Quote_Valid_Until_Date"),
        ha.c.status.label("Status"),
        ha.c.sales_id.label("Sales_Id"),
        ha.c.sales_revision.label("Revision"),
    ).where(ha.c.company == company, ha.c.document_type == "Quote")


def sales_quote_archive_lines(company: str) -> Select[Any]:
    la = t.sales_line_archive
    return select(
        la.c.document_no.label("Document_No"),
        la.c.version_no.label("Version_No"),
        *_line_columns(la, base=False),
    ).where(la.c.company == company, la.c.document_type == "Quote")


SALES_QUOTES = EntitySet(
    name="SalesQuotes",
    properties=(
        *_HEADER_PROPERTIES,
        Property("Quote_Valid_Until_Date", DATE),
        Property("Revision", INT32),
        Property("Work_Description", STRING, nullable=False),
    ),
    key=("No",),
    source=sales_quotes,
    read_roles=READ_INTEGRATION,
)

SALES_QUOTE_ARCHIVES = EntitySet(
    name="SalesQuoteArchives",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Version_No", INT32, nullable=False),
        Property("Archived_At", DATETIMEOFFSET, nullable=False),
        Property("Reason", STRING, nullable=False, max_length=100),
        Property("Sell_to_Customer_No", STRING, nullable=False, max_length=20),
        Property("Your_Reference", STRING, nullable=False, max_length=35),
        Property("Quote_Valid_Until_Date", DATE),
        Property("Status", STRING, nullable=False, max_length=10),
        Property("Sales_Id", GUID),
        Property("Revision", INT32),
    ),
    key=("No", "Version_No"),
    source=sales_quote_archives,
    read_roles=READ_INTEGRATION,
)

SALES_QUOTE_ARCHIVE_LINES = EntitySet(
    name="SalesQuoteArchiveLines",
    properties=(
        Property("Document_No", STRING, nullable=False, max_length=20),
        Property("Version_No", INT32, nullable=False),
        *_line_properties(base=False),
    ),
    key=("Document_No", "Version_No", "Line_No"),
    source=sales_quote_archive_lines,
    read_roles=READ_INTEGRATION,
)


def posted_sales_invoices(company: str) -> Select[Any]:
    ih = t.sales_invoice_header
    return select(
        ih.c.no.label("No"),
        ih.c.order_no.label("Order_No"),
        ih.c.sell_to_customer_no.label("Sell_to_Customer_No"),
        ih.c.bill_to_customer_no.label("Bill_to_Customer_No"),
        ih.c.posting_date.label("Posting_Date"),
        ih.c.document_date.label("Document_Date"),
        ih.c.due_date.label("Due_Date"),
        ih.c.shipment_date.label("Shipment_Date"),
        ih.c.your_reference.label("Your_Reference"),
        ih.c.external_document_no.label("External_Document_No"),
        ih.c.currency_code.label("Currency_Code"),
        ih.c.payment_terms_code.label("Payment_Terms_Code"),
        ih.c.shipment_method_code.label("Shipment_Method_Code"),
        ih.c.shipping_agent_code.label("Shipping_Agent_Code"),
        ih.c.salesperson_code.label("Salesperson_Code"),
        ih.c.bill_to_name.label("Bill_to_Name"),
        ih.c.ship_to_name.label("Ship_to_Name"),
        ih.c.invoice_discount_amount.label("Invoice_Discount_Amount"),
        ih.c.amount.label("Amount"),
        ih.c.amount_including_vat.label("Amount_Including_VAT"),
        ih.c.quote_no.label("Quote_No"),
        ih.c.system_id.label("Id"),
        ih.c.sales_id.label("Sales_Id"),
    ).where(ih.c.company == company)


def posted_sales_invoice_lines(company: str) -> Select[Any]:
    il = t.sales_invoice_line
    return select(
        il.c.document_no.label("Document_No"),
        il.c.line_no.label("Line_No"),
        il.c.type.label("Type"),
        il.c.no.label("No"),
        il.c.description.label("Description"),
        il.c.location_code.label("Location_Code"),
        il.c.quantity.label("Quantity"),
        il.c.unit_of_measure_code.label("Unit_of_Measure_Code"),
        il.c.quantity_base.label("Quantity_Base"),
        il.c.unit_price.label("Unit_Price"),
        il.c.line_discount_amount.label("Line_Discount_Amount"),
        il.c.inv_discount_amount.label("Inv_Discount_Amount"),
        il.c.amount.label("Amount"),
        il.c.amount_including_vat.label("Amount_Including_VAT"),
        il.c.attached_to_line_no.label("Attached_to_Line_No"),
        il.c.order_no.label("Order_No"),
        il.c.order_line_no.label("Order_Line_No"),
        il.c.shipment_no.label("Shipment_No"),
    ).where(il.c.company == company)


# BC's page 143 "Posted Sales Invoices" and its lines (tables 112 / 113).
POSTED_SALES_INVOICES = EntitySet(
    name="PostedSalesInvoices",
    properties=(
        Property("No", STRING, nullable=False, max_length=20),
        Property("Order_No", STRING, nullable=False, max_length=20),
        Property("Sell_to_Customer_No", STRING, nullable=False, max_length=20),
        Property("Bill_to_Customer_No", STRING, nullable=False, max_length=20),
        Property("Posting_Date", DATE, nullable=False),
        Property("Document_Date", DATE, nullable=False),
        Property("Due_Date", DATE, nullable=False),
        Property("Shipment_Date", DATE),
        Property("Your_Reference", STRING, nullable=False, max_length=35),
        Property("External_Document_No", STRING, nullable=False, max_length=35),
        Property("Currency_Code", STRING, nullable=False, max_length=10),
        Property("Payment_Terms_Code", STRING, nullable=False, max_length=10),
        Property("Shipment_Method_Code", STRING, nullable=False, max_length=10),
        Property("Shipping_Agent_Code", STRING, nullable=False, max_length=10),
        Property("Salesperson_Code", STRING, nullable=False, max_length=20),
        Property("Bill_to_Name", STRING, nullable=False, max_length=100),
        Property("Ship_to_Name", STRING, nullable=False, max_length=100),
        Property("Invoice_Discount_Amount", DECIMAL, nullable=False),
        Property("Amount", DECIMAL, nullable=False),
        Property("Amount_Including_VAT", DECIMAL, nullable=False),
        Property("Quote_No", STRING, nullable=False, max_length=20),
        Property("Id", GUID, nullable=False),
        Property("Sales_Id", GUID),
    ),
    key=("No",),
    source=posted_sales_invoices,
    read_roles=READ_INTEGRATION,
)

POSTED_SALES_INVOICE_LINES = EntitySet(
    name="PostedSalesInvoiceLines",
    properties=(
        Property("Document_No", STRING, nullable=False, max_length=20),
        Property("Line_No", INT32, nullable=False),
        Property("Type", STRING, nullable=False, max_length=20),
        Property("No", STRING, nullable=False, max_length=20),
        Property("Description", STRING, nullable=False, max_length=100),
        Property("Location_Code", STRING, nullable=False, max_length=10),
        Property("Quantity", DECIMAL, nullable=False),
        Property("Unit_of_Measure_Code", STRING, nullable=False, max_length=10),
        Property("Quantity_Base", DECIMAL, nullable=False),
        Property("Unit_Price", DECIMAL, nullable=False),
        Property("Line_Discount_Amount", DECIMAL, nullable=False),
        Property("Inv_Discount_Amount", DECIMAL, nullable=False),
        Property("Amount", DECIMAL, nullable=False),
        Property("Amount_Including_VAT", DECIMAL, nullable=False),
        Property("Attached_to_Line_No", INT32, nullable=False),
        Property("Order_No", STRING, nullable=False, max_length=20),
        Property("Order_Line_No", INT32, nullable=False),
        Property("Shipment_No", STRING, nullable=False, max_length=20),
    ),
    key=("Document_No", "Line_No"),
    source=posted_sales_invoice_lines,
    read_roles=READ_INTEGRATION,
)

ORDER_SETS = [
    SALES_ORDERS,
    SALES_LINES,
    SALES_INBOX,
    SALES_QUOTES,
    SALES_QUOTE_ARCHIVES,
    SALES_QUOTE_ARCHIVE_LINES,
    POSTED_SALES_INVOICES,
    POSTED_SALES_INVOICE_LINES,
]
