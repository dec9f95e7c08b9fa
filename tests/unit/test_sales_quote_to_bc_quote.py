"""BC's rules for turning a Sales quote into a BC sales quote (docs/reference/bc-rules.md §5).

The rules shared with orders are tested in full in the test_order_conversion_* modules; here every
message is checked with the quote's wording, and the quote's own header fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.dataverse.records import (
    Account,
    Contact,
    Currency,
    LookupRef,
    Note,
    Product,
    Quote,
    SalesOrderLine,
    Uom,
)
from orders.sales_quote_to_bc_quote import ConversionError, QuoteConversionInput, sales_quote_to_bc_quote
from schemas.bc_sales_document import BcSalesDocument
from tests.support.builders import (
    ACCOUNT_ID,
    COUPLINGS,
    CUSTOMERS,
    DESK_ID,
    EUR_ID,
    FEE_ID,
    LINDA_ID,
    PRODUCTS,
    RESOURCES,
    SETUP,
    UNKNOWN_UOM_ID,
    account,
    line,
    load,
    rows,
    shared_input,
    write_in,
)

P = "The sales quote cannot be created."
QUOTE_ID = "9e9e9e9e-0004-ef11-a671-000d3a4b5c6d"


def quote(**changes: Any) -> Quote:
    base = Quote(
        quoteid=QUOTE_ID,
        quotenumber="QUO-01007-Z3X8M1",
        revisionnumber=0,
        name="Seattle office furniture",
        customer=LookupRef("account", ACCOUNT_ID),
        transactioncurrencyid="7f1e8c7a-5d2b-ef11-a671-000d3a4b5c6d",
        statecode=1,
        statuscode=2,
        effectivefrom=dt.date(2024, 5, 1),
        effectiveto=dt.date(2024, 5, 31),
    )
    return dataclasses.replace(base, **changes)


def quote_line(n: int = 1, **changes: Any) -> SalesOrderLine:
    return dataclasses.replace(line(n, **changes), entity="quotedetail", parent_id=QUOTE_ID)


def quote_input(doc: Quote | None = None, **changes: Any) -> QuoteConversionInput:
    changes.setdefault("lines", (quote_line(1),))
    return QuoteConversionInput(quote=doc or quote(), **shared_input(**changes))


def convert(inp: QuoteConversionInput) -> BcSalesDocument:
    return sales_quote_to_bc_quote(inp)


def error(inp: QuoteConversionInput) -> str:
    with pytest.raises(ConversionError) as caught:
        sales_quote_to_bc_quote(inp)
    return caught.value.message


def test_quote_from_webapi_rows() -> None:
    products = {p.productid: p for p in map(Product.from_webapi, rows("products.json"))}
    doc = convert(
        quote_input(
            Quote.from_webapi(load("quote.json")),
            lines=tuple(map(SalesOrderLine.from_webapi, rows("quotedetails.json"))),
            contact=Contact.from_webapi(load("contact.json")),
            account=Account.from_webapi(load("account.json")),
            products=products,
            uoms={u.uomid: u for u in map(Uom.from_webapi, rows("uoms.json"))},
            currency=Currency.from_webapi(load("transactioncurrency.json")),
        )
    )
    h = doc.header
    assert h.document_type == "Quote"
    assert h.sell_to_customer_no == "10000"  # the contact's parent account, coupled
    assert h.your_reference == "QUO-01007-Z3X8M1"
    assert h.external_document_no == "SEATTLE OFFICE FURNITURE"
    assert h.quote_valid_until_date == dt.date(2024, 5, 31)
    assert h.requested_delivery_date is None
    assert h.payment_discount_pct == 0
    assert h.invoice_discount_amount == 0
    assert h.shipping_agent_code == "WILL CALL"
    assert (h.ship_to_name, h.ship_to_address, h.ship_to_city) == ("Seattle office", "1 Microsoft Way", "Redmond")
    assert (h.ship_to_post_code, h.ship_to_country_region_code) == ("98052-6399", "US")
    assert not h.has_bill_to_address
    assert h.sales_id == QUOTE_ID
    assert h.sales_quote_id is None
    (bc_line,) = doc.lines
    assert (bc_line.no, bc_line.quantity, bc_line.amount) == ("1896-S", 3, Decimal("3002.40"))
    assert bc_line.sales_line_id == "ad000001-0000-ef11-a671-000d3a4b5c6d"


def test_quote_header() -> None:
    doc = quote(
        quotenumber="QUO-" + "1" * 40,
        effectiveto=dt.date(2024, 12, 31),
        requestdeliveryby=dt.date(2024, 11, 1),
        description="Work",
        discountpercentage=Decimal(10),
        freightamount=Decimal(20),
    )
    h = convert(quote_input(doc, lines=(quote_line(1), quote_line(2)))).header
    assert h.your_reference == ("QUO-" + "1" * 40)[:35]
    assert h.quote_valid_until_date == dt.date(2024, 12, 31)
    assert h.requested_delivery_date == dt.date(2024, 11, 1)
    assert h.work_description == "Work"
    assert h.payment_discount_pct == 0  # no payment discount on quotes
    assert h.invoice_discount_amount == Decimal("40.00")  # but the header discount still applies


def test_quote_freight_line() -> None:
    doc = convert(quote_input(quote(freightamount=Decimal(20))))
    assert [(bc.line_no, bc.type, bc.no) for bc in doc.lines] == [
        (10000, "Item", "1896-S"),
        (20000, "G/L Account", "6810"),
    ]


def test_quote_notes() -> None:
    notes = (Note(annotationid="f0000009-0000-ef11-a671-000d3a4b5c6d", subject="Terms", notetext="<div>Net 30</div>"),)
    (note,) = convert(quote_input(notes=notes)).notes
    assert (note.description, note.text) == ("Terms", "Net 30")


@pytest.mark.parametrize(
    ("doc", "changes", "message"),
    [
        pytest.param(
            quote(customer=None),
            {},
            f"{P} There is no potential customer defined on the Dataverse sales quote Seattle office furniture.",
            id="no-customer",
        ),
        pytest.param(
            quote(),
            {"account": account(customertypecode=1)},
            f"{P} The selected type of the Fabrikam, Inc. Dataverse account is not customer.",
            id="account-not-customer",
        ),
        pytest.param(
            quote(),
            {"account": None},
            "The Dataverse account for Dataverse sales quote Seattle office furniture does not exist.",
            id="no-account",
        ),
        pytest.param(
            quote(customer=LookupRef("contact", "c0c0c0c0-0002-ef11-a671-000d3a4b5c6d")),
            {"contact": None},
            "The Dataverse account for Dataverse sales quote Seattle office furniture does not exist.",
            id="contact-without-account",
        ),
        pytest.param(
            quote(),
            {"couplings": dataclasses.replace(COUPLINGS, account_to_customer={})},
            f"{P} There is no customer coupled to Dataverse account Fabrikam, Inc..",
            id="account-not-coupled",
        ),
        pytest.param(
            quote(),
            {"customers": {}},
            "The Customer does not exist. Identification fields and values: No.='10000'",
            id="customer-missing",
        ),
        pytest.param(
            quote(),
            {"customers": {"10000": dataclasses.replace(CUSTOMERS["10000"], blocked=True)}},
            "You cannot create this type of document when Customer 10000 is blocked with type All",
            id="customer-blocked",
        ),
        pytest.param(
            quote(transactioncurrencyid=EUR_ID),
            {"currency": None},
            f"Cannot find the currency with the value '{{{EUR_ID.upper()}}}' in Dataverse.",
            id="currency-not-found",
        ),
        pytest.param(
            quote(transactioncurrencyid=EUR_ID),
            {"currency": Currency(transactioncurrencyid=EUR_ID, isocurrencycode="CHF")},
            "The Currency does not exist. Identification fields and values: Code='CHF'",
            id="currency-missing",
        ),
        pytest.param(
            quote(),
            {"products": {DESK_ID: dataclasses.replace(PRODUCTS[DESK_ID], statecode=2)}},
            f"Status must be equal to 'Active'  in CRM Product: Product={{{DESK_ID.upper()}}}. "
            "Current value is 'Draft'.",
            id="product-inactive",
        ),
        pytest.param(
            quote(),
            {"couplings": dataclasses.replace(COUPLINGS, product_to_item={})},
            f"{P} The Dataverse product ATHENS Desk is not coupled to an item.",
            id="item-not-coupled",
        ),
        pytest.param(quote(), {"items": {}}, f"{P} The item 1896-S does not exist.", id="item-missing"),
        pytest.param(
            quote(),
            {
                "lines": (quote_line(1, productid=LINDA_ID, uomid=None),),
                "couplings": dataclasses.replace(COUPLINGS, product_to_resource={}),
            },
            f"{P} The Dataverse resource Linda Martin is not coupled to a resource.",
            id="resource-not-coupled",
        ),
        pytest.param(
            quote(),
            {"lines": (quote_line(1, productid=LINDA_ID, uomid=None),), "resources": {}},
            f"{P} The resource LINDA does not exist.",
            id="resource-missing",
        ),
        pytest.param(
            quote(),
            {"lines": (quote_line(1, productid=FEE_ID, uomid=None),)},
            f"{P} Unexpected value of product type code for product HANDLING. "
            "The supported values are: sales inventory, services.",
            id="unexpected-product-type",
        ),
        pytest.param(
            quote(),
            {"lines": (write_in(1),), "setup": dataclasses.replace(SETUP, write_in_product_no="")},
            "Dataverse Quote QUO-01007-Z3X8M1 contains a write-in product. "
            "You must choose the default write-in product in Sales & Receivables Setup window.",
            id="write-in-not-set-up",
        ),
        pytest.param(
            quote(),
            {"lines": (quote_line(1, uomid=UNKNOWN_UOM_ID),)},
            f"{P} The Dataverse unit {{{UNKNOWN_UOM_ID.upper()}}} is not coupled to a unit of measure.",
            id="unit-not-coupled",
        ),
        pytest.param(
            quote(),
            {"lines": (quote_line(1, productid=LINDA_ID, uomid="e0000002-0000-ef11-a671-000d3a4b5c6d"),)},
            "The Resource Unit of Measure does not exist. Identification fields and values: "
            "Resource No.='LINDA',Code='CRATE'",
            id="unit-missing",
        ),
        pytest.param(
            quote(),
            {"lines": (quote_line(1, manualdiscountamount=Decimal(1000)),)},
            "The value in the Line Discount % field must be between 0 and 100.",
            id="line-discount",
        ),
        pytest.param(
            quote(freightamount=Decimal(1)),
            {"setup": dataclasses.replace(SETUP, freight_gl_account="")},
            "Freight G/L Acc. No. must have a value in Sales & Receivables Setup: Primary Key=. "
            "It cannot be zero or empty.",
            id="freight-account",
        ),
        pytest.param(
            quote(discountamount=Decimal(500)),
            {},
            "The maximum Invoice Discount Amount that you can apply is 200.",
            id="invoice-discount",
        ),
    ],
)
def test_quote_messages(doc: Quote, changes: dict[str, Any], message: str) -> None:
    assert error(quote_input(doc, **changes)) == message


def test_resources_used_in_quotes() -> None:
    doc = convert(quote_input(lines=(quote_line(1, productid=LINDA_ID, uomid=None),)))
    assert (doc.lines[0].type, doc.lines[0].no) == ("Resource", RESOURCES["LINDA"].no)


@given(st.text(max_size=600))
def test_quote_write_in_text_joins_back(text: str) -> None:
    doc = convert(quote_input(lines=(write_in(1, text),)))
    assert "".join(bc.description for bc in doc.lines) == text
    assert all(len(bc.description) <= 100 for bc in doc.lines)
    assert [bc.line_no for bc in doc.lines] == [10000 * (i + 1) for i in range(len(doc.lines))]
