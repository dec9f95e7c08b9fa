"""Sales documents of API v2.0: orders, quotes, posted invoices and their lines, and subscriptions."""

from __future__ import annotations

from .entities import ID, LMDT, READ, EntityDef
from .fields import Field, boolean, code, day, dec, guid, integer, moment, option, text

LINE_TYPES = ("Comment", "Account", "Item", "Resource", "Fixed Asset", "Charge", "Allocation Account")

SELL_TO = (
    text("sellToAddressLine1", 100),
    text("sellToAddressLine2", 50),
    text("sellToCity", 30),
    code("sellToCountry", 10),
    text("sellToState", 30),
    code("sellToPostCode", 20),
)
BILL_TO = (
    text("billToAddressLine1", 100, ro=True),
    text("billToAddressLine2", 50, ro=True),
    text("billToCity", 30, ro=True),
    code("billToCountry", 10, ro=True),
    text("billToState", 30, ro=True),
    code("billToPostCode", 20, ro=True),
)
SHIP_TO = (
    text("shipToAddressLine1", 100),
    text("shipToAddressLine2", 50),
    text("shipToCity", 30),
    code("shipToCountry", 10),
    text("shipToState", 30),
    code("shipToPostCode", 20),
)
SHIP_TO_FIELDS = frozenset(f.name for f in SHIP_TO) | {"shipToName", "shipToContact"}
TOTALS = (
    boolean("discountAppliedBeforeTax", ro=True),
    dec("totalAmountExcludingTax", ro=True),
    dec("totalTaxAmount", ro=True),
    dec("totalAmountIncludingTax", ro=True),
)


def _header(first: tuple[Field, ...], middle: tuple[Field, ...], last: tuple[Field, ...]) -> tuple[Field, ...]:
    return (
        ID,
        code("number", 20, ro=True, caption="No."),
        code("externalDocumentNumber", 35),
        *first,
        guid("customerId"),
        code("customerNumber", 20),
        text("customerName", 100, ro=True),
        text("billToName", 100, ro=True),
        guid("billToCustomerId"),
        code("billToCustomerNumber", 20),
        text("shipToName", 100),
        text("shipToContact", 100),
        *SELL_TO,
        *BILL_TO,
        *SHIP_TO,
        code("shortcutDimension1Code", 20),
        code("shortcutDimension2Code", 20),
        guid("currencyId"),
        code("currencyCode", 10),
        boolean("pricesIncludeTax"),
        guid("paymentTermsId"),
        guid("shipmentMethodId"),
        code("salesperson", 20),
        *middle,
        dec("discountAmount"),
        *TOTALS,
        *last,
        LMDT,
        text("phoneNumber", 30),
        text("email", 80),
    )


_LINE_HEAD = (
    ID,
    guid("documentId"),
    integer("sequence"),
    guid("itemId"),
    guid("accountId"),
    option("lineType", LINE_TYPES),
    code("lineObjectNumber", 20),
    text("description", 100),
    text("description2", 50),
    guid("unitOfMeasureId"),
    code("unitOfMeasureCode", 10),
    dec("quantity"),
    dec("unitPrice"),
    dec("discountAmount"),
    dec("discountPercent"),
    boolean("discountAppliedBeforeTax", ro=True),
    dec("amountExcludingTax", ro=True),
    code("taxCode", 20),
    dec("taxPercent", ro=True),
    dec("totalTaxAmount", ro=True),
    dec("amountIncludingTax", ro=True),
)
_LINE_NET = (
    dec("netAmount", ro=True),
    dec("netTaxAmount", ro=True),
    dec("netAmountIncludingTax", ro=True),
)
_LINE_TAIL = (guid("itemVariantId"), guid("locationId"))

SALES_ORDERS = EntityDef(
    "salesOrders",
    "salesOrder",
    "Sales Header",
    36,
    _header(
        (day("orderDate"), day("postingDate")),
        (boolean("partialShipping"), day("requestedDeliveryDate")),
        (boolean("fullyShipped"), option("status", ("Draft", "In Review", "Open"), ro=True)),
    ),
    ("number",),
    series="S-ORD",
    ident=(("number", "No."),),
    lines="salesOrderLines",
)

SALES_ORDER_LINES = EntityDef(
    "salesOrderLines",
    "salesOrderLine",
    "Sales Line",
    37,
    (
        *_LINE_HEAD,
        dec("invoiceDiscountAllocation", ro=True),
        *_LINE_NET,
        day("shipmentDate"),
        dec("shippedQuantity", ro=True),
        dec("invoicedQuantity", ro=True),
        dec("invoiceQuantity"),
        dec("shipQuantity"),
        *_LINE_TAIL,
    ),
    ("documentId", "sequence"),
    ident=(("sequence", "Line No."),),
    webhook=False,
)

SALES_QUOTES = EntityDef(
    "salesQuotes",
    "salesQuote",
    "Sales Header",
    36,
    _header(
        (day("documentDate"), day("postingDate"), day("dueDate")),
        (),
        (
            option("status", ("Draft", "Sent", "Accepted", "Expired"), ro=True),
            moment("sentDate", ro=True),
            day("validUntilDate"),
            day("acceptedDate"),
        ),
    ),
    ("number",),
    series="S-QUO",
    ident=(("number", "No."),),
    lines="salesQuoteLines",
)

SALES_QUOTE_LINES = EntityDef(
    "salesQuoteLines",
    "salesQuoteLine",
    "Sales Line",
    37,
    (*_LINE_HEAD, *_LINE_NET, *_LINE_TAIL),
    ("documentId", "sequence"),
    ident=(("sequence", "Line No."),),
    webhook=False,
)

SALES_INVOICES = EntityDef(
    "salesInvoices",
    "salesInvoice",
    "Sales Invoice Header",
    112,
    tuple(
        Field(f.name, f.kind, f.length, f.options, True, f.caption)
        for f in _header(
            (day("invoiceDate"), day("postingDate"), day("dueDate")),
            (guid("orderId"), code("orderNumber", 20), dec("remainingAmount")),
            (option("status", ("Draft", "In Review", "Open", "Paid", "Canceled", "Corrective")),),
        )
    ),
    ("number",),
    methods=READ,
    ident=(("number", "No."),),
    lines="salesInvoiceLines",
)

SALES_INVOICE_LINES = EntityDef(
    "salesInvoiceLines",
    "salesInvoiceLine",
    "Sales Invoice Line",
    113,
    tuple(
        Field(f.name, f.kind, f.length, f.options, True, f.caption)
        for f in (*_LINE_HEAD, dec("invoiceDiscountAllocation"), *_LINE_NET, day("shipmentDate"), *_LINE_TAIL)
    ),
    ("documentId", "sequence"),
    methods=READ,
    ident=(("sequence", "Line No."),),
    webhook=False,
)

SUBSCRIPTIONS = EntityDef(
    "subscriptions",
    "subscription",
    "API Webhook Subscription",
    2000000095,
    (
        text("subscriptionId", 150, ro=True),
        text("notificationUrl", 250),
        text("resource", 250),
        guid("userId", ro=True),
        moment("lastModifiedDateTime", ro=True),
        text("clientState", 2048),
        moment("expirationDateTime", ro=True),
        integer("timestamp", ro=True),
        moment("systemCreatedAt", ro=True),
        guid("systemCreatedBy", ro=True),
        moment("systemModifiedAt", ro=True),
        guid("systemModifiedBy", ro=True),
    ),
    ("subscriptionId",),
    webhook=False,
)

DOCUMENTS = (SALES_ORDERS, SALES_ORDER_LINES, SALES_QUOTES, SALES_QUOTE_LINES, SALES_INVOICES, SALES_INVOICE_LINES)
# Which set holds the lines of which document set.
LINE_PARENT = {
    "salesOrderLines": "salesOrders",
    "salesQuoteLines": "salesQuotes",
    "salesInvoiceLines": "salesInvoices",
}
