"""The BC document → API v2.0 JSON mapping, and BC's answer → the mirror's rows (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from orders.bc_link.writer_json import (
    api_document,
    document_key,
    mirror_header,
    mirror_lines,
    mirror_status,
)
from schemas.bc_sales_document import BcSalesDocument, BcSalesHeader, BcSalesLine
from tests.support import builders as b

TODAY = dt.date(2026, 12, 1)


def _doc(**header: Any) -> BcSalesDocument:
    lines = (
        BcSalesLine(
            line_no=10000,
            type="Item",
            no="1900-S",
            description="PARIS Guest Chair, black",
            quantity=Decimal(2),
            unit_of_measure_code="BOX",
            qty_per_unit_of_measure=Decimal(6),
            quantity_base=Decimal(12),
            unit_price=Decimal(1100),
            line_discount_amount=Decimal(70),
            amount=Decimal(2130),
            sales_line_id="d0000001-0000-ef11-a671-000d3a4b5c6d",
        ),
        BcSalesLine(line_no=20000, type="", description="a long description, continued", attached_to_line_no=10000),
        BcSalesLine(
            line_no=30000,
            type="Resource",
            no="LINA",
            description="Lina Townsend",
            quantity=Decimal(3),
            unit_of_measure_code="HOUR",
            qty_per_unit_of_measure=Decimal(1),
            quantity_base=Decimal(3),
            unit_price=Decimal(95),
            amount=Decimal(285),
        ),
        BcSalesLine(
            line_no=40000,
            type="G/L Account",
            no="6710",
            description="Freight Amount",
            quantity=Decimal(1),
            qty_per_unit_of_measure=Decimal(1),
            quantity_base=Decimal(1),
            unit_price=Decimal("45.5"),
            amount=Decimal("45.5"),
        ),
    )
    values: dict[str, Any] = {
        "document_type": "Order",
        "sell_to_customer_no": "10000",
        "your_reference": "ORD-01001-B7K2Q9",
        "external_document_no": "PO-4711",
        "work_description": "Rush order",
        "sales_id": b.ORDER_ID,
        **header,
    }
    return BcSalesDocument(header=BcSalesHeader(**values), lines=lines)


def test_the_key_is_ours_derived_from_the_sales_id_and_fits_code_35() -> None:
    key = document_key(b.ORDER_ID)
    assert key == "GW-4D6F0C2E1B7AEF11A671000D3A4B5C6D"
    assert len(key) == 35 and key == key.upper()
    assert document_key(b.ORDER_ID.upper()) == key  # the same Sales row, however its id is written


def test_header_customer_key_date_and_local_currency_sent_blank() -> None:
    api = api_document(_doc(), "GW-KEY", TODAY)
    assert api.entity_set == "salesOrders" and api.lines_set == "salesOrderLines"
    assert api.header == {
        "customerNumber": "10000",
        "externalDocumentNumber": "GW-KEY",
        "orderDate": "2026-12-01",
        # Blank is BC's local currency; left out, BC would take the customer's currency.
        "currencyCode": "",
    }
    body = api.body()
    assert body["salesOrderLines"] == [line.body for line in api.lines]


def test_header_currency_delivery_date_ship_to_and_invoice_discount() -> None:
    doc = _doc(
        currency_code="EUR",
        requested_delivery_date=dt.date(2027, 1, 15),
        invoice_discount_amount=Decimal("12.50"),
        ship_to_name="Adatum, goods in",
        ship_to_address="1 Dock Road",
        ship_to_city="Atlanta",
        ship_to_county="GA",
        ship_to_post_code="31772",
        ship_to_country_region_code="US",
        ship_to_contact="Ann",
        bill_to_name="Adatum accounts",
        bill_to_address="2 Pay Street",
    )
    header = api_document(doc, "GW-KEY", TODAY).header
    assert header["currencyCode"] == "EUR"
    assert header["requestedDeliveryDate"] == "2027-01-15"
    assert header["discountAmount"] == Decimal("12.50")
    assert {k: v for k, v in header.items() if k.startswith("shipTo")} == {
        "shipToName": "Adatum, goods in",
        "shipToContact": "Ann",
        "shipToAddressLine1": "1 Dock Road",
        "shipToAddressLine2": "",
        "shipToCity": "Atlanta",
        "shipToState": "GA",
        "shipToPostCode": "31772",
        "shipToCountry": "US",
    }
    # Read-only in the API (the bill-to customer's): never sent.
    assert not [k for k in header if k.startswith("billTo")]


def test_what_the_api_cannot_take_is_not_sent() -> None:
    header = api_document(_doc(payment_terms_code="14 DAYS", shipping_agent_code="DHL"), "GW-KEY", TODAY).header
    for field in ("yourReference", "workDescription", "paymentTermsCode", "shippingAgentCode", "number"):
        assert field not in header


def test_your_reference_and_the_sales_name_go_on_comment_lines_first() -> None:
    api = api_document(_doc(), "GW-KEY", TODAY)
    first, second = api.lines[0], api.lines[1]
    assert first.body == {"lineType": "Comment", "description": "Your Reference: ORD-01001-B7K2Q9"}
    assert second.body == {"lineType": "Comment", "description": "External Document No.: PO-4711"}
    assert first.source is None and second.source is None
    bare = api_document(_doc(your_reference="", external_document_no=""), "GW-KEY", TODAY)
    assert bare.lines[0].source is not None and bare.lines[0].source.line_no == 10000


def test_long_reference_is_cut_into_comment_lines_of_100() -> None:
    api = api_document(_doc(external_document_no="X" * 35, your_reference="R" * 35), "GW-KEY", TODAY)
    assert all(len(line.body["description"]) <= 100 for line in api.lines)


def test_line_types_and_fields() -> None:
    api = api_document(_doc(your_reference="", external_document_no=""), "GW-KEY", TODAY)
    item, text, resource, freight = (line.body for line in api.lines)
    assert item == {
        "lineType": "Item",
        "lineObjectNumber": "1900-S",
        "description": "PARIS Guest Chair, black",
        "quantity": Decimal(2),
        "unitPrice": Decimal(1100),
        "unitOfMeasureCode": "BOX",
        "discountAmount": Decimal(70),
    }
    assert text == {"lineType": "Comment", "description": "a long description, continued"}
    assert resource["lineType"] == "Resource" and resource["unitOfMeasureCode"] == "HOUR"
    assert "discountAmount" not in resource  # no discount: nothing sent
    # Freight is a G/L account line: lineType Account, no unit of measure.
    assert freight == {
        "lineType": "Account",
        "lineObjectNumber": "6710",
        "description": "Freight Amount",
        "quantity": Decimal(1),
        "unitPrice": Decimal("45.5"),
    }
    # BC numbers the lines itself (bc-api §1.7): no sequence is ever sent.
    assert not [line for line in api.lines if "sequence" in line.body]


def test_quote_header() -> None:
    doc = _doc(document_type="Quote", quote_valid_until_date=dt.date(2027, 1, 31), requested_delivery_date=TODAY)
    api = api_document(doc, "GW-KEY", TODAY)
    assert api.entity_set == "salesQuotes" and api.lines_set == "salesQuoteLines"
    assert api.header["documentDate"] == "2026-12-01" and api.header["validUntilDate"] == "2027-01-31"
    assert "requestedDeliveryDate" not in api.header and "orderDate" not in api.header


def test_conversion_output_maps_end_to_end() -> None:
    """What the conversion really produces (long text on attached lines) maps line for line."""
    doc = b.convert(b.order_input(lines=(b.line(1, description="x" * 150),)))
    api = api_document(doc, document_key(doc.header.sales_id), TODAY)
    types = [line.body["lineType"] for line in api.lines]
    assert types == ["Comment", "Comment", "Item", "Comment", "Comment"]


@pytest.mark.parametrize(
    ("document_type", "bc_status", "ours"),
    [
        ("Order", "Draft", "Open"),
        ("Order", "In Review", "Open"),
        ("Order", "Open", "Released"),
        ("Quote", "Sent", "Open"),
    ],
)
def test_status(document_type: str, bc_status: str, ours: str) -> None:
    assert mirror_status(document_type, bc_status) == ours


def _bc_order() -> dict[str, Any]:
    return {
        "@odata.etag": 'W/"x"',
        "id": "AB000000-0000-0000-0000-000000000001",
        "number": "S-ORD101001",
        "externalDocumentNumber": "GW-KEY",
        "orderDate": "2026-12-01",
        "customerNumber": "10000",
        "billToName": "Adatum Corporation",
        "billToAddressLine1": "192 Market Square",
        "billToCity": "Atlanta",
        "shipToName": "Adatum Corporation",
        "currencyId": "00000000-0000-0000-0000-000000000000",
        "currencyCode": "USD",
        "requestedDeliveryDate": "0001-01-01",
        "discountAmount": Decimal("10"),
        "totalAmountExcludingTax": Decimal("2450.5"),
        "totalAmountIncludingTax": Decimal("2450.5"),
        "status": "Draft",
    }


def test_mirror_header_from_bcs_answer() -> None:
    h = mirror_header(_bc_order(), "Order", your_reference="ORD-1", sales_id=b.ORDER_ID)
    assert h["no"] == "S-ORD101001" and h["system_id"] == "ab000000-0000-0000-0000-000000000001"
    assert h["external_document_no"] == "GW-KEY" and h["your_reference"] == "ORD-1"
    assert h["currency_code"] == ""  # BC shows the LCY code where the document's currency is blank
    assert h["requested_delivery_date"] is None and h["order_date"] == TODAY
    assert (h["amount"], h["amount_including_vat"], h["invoice_discount_amount"]) == (
        Decimal("2450.5"),
        Decimal("2450.5"),
        Decimal(10),
    )
    assert h["status"] == "Open" and h["bill_to_address"] == "192 Market Square"
    euro = mirror_header(
        {**_bc_order(), "currencyId": "e0", "currencyCode": "EUR"}, "Order", your_reference="", sales_id=None
    )
    assert euro["currency_code"] == "EUR"
    assert h["salesperson_code"] == ""  # BC's document had no salesperson
    coded = mirror_header({**_bc_order(), "salesperson": "AO"}, "Order", your_reference="", sales_id=None)
    assert coded["salesperson_code"] == "AO"  # the API's "salesperson" is BC's Salesperson Code


def _bc_lines(api_lines: list[dict[str, Any]], extra_at: int | None = None) -> list[dict[str, Any]]:
    out = []
    for n, body in enumerate(api_lines, start=1):
        line = {**body, "sequence": n * 10000, "shippedQuantity": Decimal(0)}
        line.setdefault("lineObjectNumber", "")
        line["amountExcludingTax"] = body.get("quantity", 0) * body.get("unitPrice", 0) - body.get("discountAmount", 0)
        out.append(line)
    if extra_at is not None:  # an extended text BC inserted by itself
        out.insert(extra_at, {"lineType": "Comment", "description": "Extended text", "sequence": 35000})
    return out


def test_mirror_lines_keep_what_bc_does_not_show() -> None:
    api = api_document(_doc(), "GW-KEY", TODAY)
    rows = mirror_lines(_bc_lines([line.body for line in api.lines], extra_at=3), "Order", sent=api.lines)
    by_no = {r["line_no"]: r for r in rows}
    assert [r["type"] for r in rows] == ["", "", "Item", "", "", "Resource", "G/L Account"]
    assert [r["line_no"] for r in rows] == [10000, 20000, 30000, 35000, 40000, 50000, 60000]
    chairs = by_no[30000]
    assert chairs["qty_per_unit_of_measure"] == 6 and chairs["quantity_base"] == 12
    assert chairs["outstanding_qty_base"] == 12 and chairs["amount"] == 2130
    assert chairs["sales_line_id"] == "d0000001-0000-ef11-a671-000d3a4b5c6d"
    # The long description's text line is attached to its line, under BC's numbers.
    assert by_no[40000]["description"] == "a long description, continued"
    assert by_no[40000]["attached_to_line_no"] == 30000
    assert by_no[35000]["attached_to_line_no"] == 0 and by_no[10000]["attached_to_line_no"] == 0
    assert by_no[35000]["sales_line_id"] is None


def test_mirror_lines_of_a_quote_promise_nothing_and_copied_lines_keep_their_factor() -> None:
    api = api_document(_doc(document_type="Quote", your_reference="", external_document_no=""), "GW-KEY", TODAY)
    bc = _bc_lines([line.body for line in api.lines])
    quote_rows = mirror_lines(bc, "Quote", sent=api.lines)
    assert all(r["outstanding_qty_base"] == 0 for r in quote_rows)
    # makeOrder keeps the Line No.: the order's lines take the quote's factors and attachments.
    copied = {r["line_no"]: r for r in quote_rows}
    order_rows = mirror_lines(bc, "Order", copied_from=copied)
    assert order_rows[0]["qty_per_unit_of_measure"] == 6 and order_rows[0]["outstanding_qty_base"] == 12
    assert order_rows[1]["attached_to_line_no"] == 10000
    # Nothing known: the item's unit from the gateway's item units.
    plain = mirror_lines(bc, "Order", units={("1900-S", "BOX"): Decimal(6)})
    assert plain[0]["quantity_base"] == 12 and plain[0]["sales_line_id"] is None
