"""BC's rules for turning a submitted Sales order into a BC sales order: a whole order from Web API
rows, and the header's fields and option mappings (docs/reference/bc-rules.md §4.4).

The builders are in tests/support/builders.py; the other rule areas in the
test_order_conversion_* modules beside this one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from orders.dataverse.records import (
    Account,
    Currency,
    Note,
    Product,
    SalesOrder,
    SalesOrderLine,
    Uom,
)
from orders.setup import DEFAULT_OPTION_MAPPINGS
from schemas.bc_sales_document import BcSalesLine
from tests.support.builders import (
    ORDER_ID,
    QUOTE_ID,
    SETUP,
    convert,
    line,
    load,
    order,
    order_input,
    rows,
    write_in,
)

# ---- a whole order from Web API rows ---------------------------------------------------------


def test_order_from_webapi_rows() -> None:
    sales_order = SalesOrder.from_webapi(load("salesorder.json"))
    products = {p.productid: p for p in map(Product.from_webapi, rows("products.json"))}
    uoms = {u.uomid: u for u in map(Uom.from_webapi, rows("uoms.json"))}
    doc = convert(
        order_input(
            sales_order,
            lines=tuple(map(SalesOrderLine.from_webapi, rows("salesorderdetails.json"))),
            notes=tuple(map(Note.from_webapi, rows("annotations.json"))),
            account=Account.from_webapi(load("account.json")),
            products=products,
            uoms=uoms,
            currency=Currency.from_webapi(load("transactioncurrency.json")),
        )
    )
    h = doc.header
    assert h.document_type == "Order"
    assert h.sell_to_customer_no == "10000"
    assert h.your_reference == "ORD-01001-B7K2Q9"
    assert h.external_document_no == "CHAIRS FOR THE SEATTLE OFFICE"
    assert h.work_description == "Deliver to the back entrance.\nCall ahead."
    assert h.currency_code == ""  # USD is the local currency
    assert h.requested_delivery_date == dt.date(2024, 6, 14)
    assert h.quote_valid_until_date is None
    assert h.payment_discount_pct == Decimal(5)
    assert h.invoice_discount_amount == Decimal("176.66")  # totallineitemamount - totalamountlessfreight
    assert (h.payment_terms_code, h.shipping_agent_code, h.shipment_method_code) == ("2%10NET30", "FEDEX", "FOB")
    assert (h.bill_to_name, h.bill_to_address, h.bill_to_address_2) == (
        "Fabrikam, Inc.",
        "4567 Main Street",
        "Building 2",
    )
    assert (h.bill_to_city, h.bill_to_county, h.bill_to_post_code) == ("Seattle", "WA", "98052")
    assert (h.bill_to_country_region_code, h.bill_to_contact) == ("US", "Nancy Anderson")
    assert h.has_bill_to_address and not h.has_ship_to_address
    assert h.sales_id == ORDER_ID
    assert h.sales_quote_id == QUOTE_ID

    assert doc.lines == (
        BcSalesLine(
            line_no=10000,
            type="Item",
            no="1896-S",
            description="ATHENS Desk",
            quantity=Decimal("3.00000"),
            unit_of_measure_code="PCS",
            qty_per_unit_of_measure=Decimal(1),
            quantity_base=Decimal("3.00000"),
            unit_price=Decimal("1000.80000"),
            line_discount_amount=Decimal("19.25"),
            amount=Decimal("2983.15"),
            sales_line_id="d0000001-0000-ef11-a671-000d3a4b5c6d",
        ),
        BcSalesLine(line_no=20000, type="", description="Oak finish", attached_to_line_no=10000),
        BcSalesLine(
            line_no=30000,
            type="Item",
            no="WRITE-IN",
            description="Installation on site, two technicians",
            quantity=Decimal("1.00000"),
            unit_of_measure_code="PCS",
            qty_per_unit_of_measure=Decimal(1),
            quantity_base=Decimal("1.00000"),
            unit_price=Decimal("350.00000"),
            line_discount_amount=Decimal("0.00"),
            amount=Decimal("350.00"),
            sales_line_id="d0000002-0000-ef11-a671-000d3a4b5c6d",
        ),
        BcSalesLine(
            line_no=40000,
            type="G/L Account",
            no="6810",
            description="Freight Amount",
            quantity=Decimal(1),
            qty_per_unit_of_measure=Decimal(1),
            quantity_base=Decimal(1),
            unit_price=Decimal("25.50000"),
            amount=Decimal("25.50"),
        ),
    )
    assert [(n.description, n.text, n.sales_note_id) for n in doc.notes] == [
        ("Delivery", "Use the back entrance & ring twice.\nAsk for Nancy.", "f0000001-0000-ef11-a671-000d3a4b5c6d"),
        ("", "Plain text note\nsecond line", "f0000002-0000-ef11-a671-000d3a4b5c6d"),
    ]


def test_conversion_is_pure() -> None:
    inp = order_input(lines=(line(1), write_in(2)), notes=(Note(annotationid=ORDER_ID, notetext="<b>x</b>"),))
    before = repr(inp)
    assert convert(inp) == convert(inp)
    assert repr(inp) == before


# ---- header ---------------------------------------------------------------------------------


def test_header_fields() -> None:
    doc = convert(
        order_input(
            order(
                ordernumber="ORD-" + "9" * 40,
                name="x" * 300,
                description="d" * 3000,
                requestdeliveryby=dt.date(2024, 7, 1),
                discountpercentage=Decimal("2.5"),
                quoteid=None,
            )
        )
    )
    h = doc.header
    assert h.your_reference == ("ORD-" + "9" * 40)[:35]
    assert h.external_document_no == "X" * 35  # a Code[35]
    assert h.work_description == "d" * 3000  # a BLOB in BC: not cut
    assert h.requested_delivery_date == dt.date(2024, 7, 1)
    assert h.payment_discount_pct == Decimal("2.5")
    assert h.sales_quote_id is None


def test_header_defaults_for_empty_columns() -> None:
    h = convert(order_input(order(name=None, description=None, ordernumber=None))).header
    assert (h.your_reference, h.external_document_no, h.work_description) == ("", "", "")
    assert h.payment_discount_pct == 0
    assert h.invoice_discount_amount == 0
    assert (h.payment_terms_code, h.shipping_agent_code, h.shipment_method_code) == ("", "", "")


@pytest.mark.parametrize(("value", "code"), sorted(DEFAULT_OPTION_MAPPINGS.payment_terms.items()))
def test_payment_terms_mapping(value: int, code: str) -> None:
    assert convert(order_input(order(paymenttermscode=value))).header.payment_terms_code == code


@pytest.mark.parametrize(("value", "code"), sorted(DEFAULT_OPTION_MAPPINGS.shipping_agents.items()))
def test_shipping_agent_mapping(value: int, code: str) -> None:
    assert convert(order_input(order(shippingmethodcode=value))).header.shipping_agent_code == code


@pytest.mark.parametrize(("value", "code"), sorted(DEFAULT_OPTION_MAPPINGS.shipment_methods.items()))
def test_shipment_method_mapping(value: int, code: str) -> None:
    assert convert(order_input(order(freighttermscode=value))).header.shipment_method_code == code


def test_default_mapping_codes_fit_bc() -> None:
    for mapping in (
        DEFAULT_OPTION_MAPPINGS.payment_terms,
        DEFAULT_OPTION_MAPPINGS.shipping_agents,
        DEFAULT_OPTION_MAPPINGS.shipment_methods,
    ):
        assert all(len(code) <= 10 and code == code.upper() for code in mapping.values())


def test_unmapped_option_values_leave_the_field_blank() -> None:
    doc = order(paymenttermscode=99, shippingmethodcode=100000, freighttermscode=3)
    h = convert(order_input(doc)).header
    assert (h.payment_terms_code, h.shipping_agent_code, h.shipment_method_code) == ("", "", "")


def test_custom_option_mappings() -> None:
    setup = dataclasses.replace(
        SETUP, payment_terms={1: "30 days net!"}, shipping_agents={2: "dhl"}, shipment_methods={1: "EXW"}
    )
    h = convert(order_input(order(paymenttermscode=1, shippingmethodcode=2, freighttermscode=1), setup=setup)).header
    assert (h.payment_terms_code, h.shipping_agent_code, h.shipment_method_code) == ("30 DAYS NE", "DHL", "EXW")
