"""Typed Dataverse records from Web API JSON (tests/fixtures/dataverse_webapi)."""

from __future__ import annotations

import contextlib
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
    RecordError,
    SalesOrder,
    SalesOrderLine,
    Uom,
)
from tests.support.builders import load, rows

ORDER_ID = "4d6f0c2e-1b7a-ef11-a671-000d3a4b5c6d"


def test_sales_order_from_webapi() -> None:
    order = SalesOrder.from_webapi(load("salesorder.json"))
    assert order.salesorderid == ORDER_ID  # lower-cased
    assert order.ordernumber == "ORD-01001-B7K2Q9"
    assert order.customer == LookupRef("account", "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d")
    assert order.customer.logical_name == "account"
    assert order.transactioncurrencyid == "7f1e8c7a-5d2b-ef11-a671-000d3a4b5c6d"
    assert order.quoteid == "9e9e9e9e-0004-ef11-a671-000d3a4b5c6d"
    assert order.opportunityid is None
    assert order.requestdeliveryby == dt.date(2024, 6, 14)
    assert order.submitdate == dt.date(2024, 5, 30)  # the datetime form of a date
    assert order.lastbackofficesubmit is None
    assert (order.statecode, order.statuscode) == (1, 3)
    assert order.discountamount == Decimal("10.0")
    assert order.discountpercentage == Decimal(5)
    assert order.freightamount == Decimal("25.5")
    assert order.totallineitemamount == Decimal("3333.15")
    assert order.totalamountlessfreight == Decimal("3156.49")
    assert isinstance(order.totaltax, Decimal)
    assert (order.paymenttermscode, order.shippingmethodcode, order.freighttermscode) == (2, 3, 1)
    assert order.willcall is False
    assert order.billto_line1 == "4567 Main Street"
    assert order.billto_contactname == "Nancy Anderson"
    assert order.billto_line3 is None
    assert order.shipto_line1 is None
    assert order.description == "Deliver to the back entrance.\nCall ahead."


def test_quote_from_webapi_with_missing_columns() -> None:
    quote = Quote.from_webapi(load("quote.json"))
    assert quote.quoteid == "9e9e9e9e-0004-ef11-a671-000d3a4b5c6d"
    assert quote.quotenumber == "QUO-01007-Z3X8M1"
    assert quote.revisionnumber == 0
    assert quote.customer == LookupRef("contact", "c0c0c0c0-0002-ef11-a671-000d3a4b5c6d")
    assert quote.effectivefrom == dt.date(2024, 5, 1)
    assert quote.effectiveto == dt.date(2024, 5, 31)
    assert quote.discountamount is None
    assert quote.freightamount == 0
    assert quote.billto_line2 is None  # not in the row at all
    assert quote.shipto_postalcode == "98052-6399"
    assert quote.willcall is True


def test_order_lines_from_webapi() -> None:
    write_in, product = (SalesOrderLine.from_webapi(r) for r in rows("salesorderdetails.json"))
    assert write_in.entity == "salesorderdetail"
    assert write_in.is_write_in
    assert write_in.productid is None
    assert write_in.productdescription == "Installation on site, two technicians"
    assert product.line_id == "d0000001-0000-ef11-a671-000d3a4b5c6d"
    assert product.parent_id == ORDER_ID
    assert product.productid == "b1000001-0000-ef11-a671-000d3a4b5c6d"
    assert not product.is_write_in
    assert product.quantity == Decimal("3.0")
    assert product.priceperunit == Decimal("1000.8")
    assert product.manualdiscountamount == Decimal("12.5")
    assert product.volumediscountamount == Decimal("2.25")
    assert product.uomid == "e0000001-0000-ef11-a671-000d3a4b5c6d"
    assert (product.lineitemnumber, product.sequencenumber) == (1, 1)
    assert product.quotedetailid == "ad000001-0000-ef11-a671-000d3a4b5c6d"


def test_quote_lines_from_webapi() -> None:
    (line,) = (SalesOrderLine.from_webapi(r) for r in rows("quotedetails.json"))
    assert line.entity == "quotedetail"
    assert line.line_id == "ad000001-0000-ef11-a671-000d3a4b5c6d"
    assert line.parent_id == "9e9e9e9e-0004-ef11-a671-000d3a4b5c6d"
    assert line.quantity == Decimal(3)
    assert line.manualdiscountamount is None
    assert line.quotedetailid == line.line_id


def test_account_contact_product_uom_currency() -> None:
    account = Account.from_webapi(load("account.json"))
    assert account.is_customer
    assert (account.accountnumber, account.name, account.address1_city) == ("FAB-001", "Fabrikam, Inc.", "Seattle")
    contact = Contact.from_webapi(load("contact.json"))
    assert contact.parentcustomer == LookupRef("account", account.accountid)
    assert contact.fullname == "Nancy Anderson"
    desk, linda, fee = (Product.from_webapi(r) for r in rows("products.json"))
    assert (desk.productnumber, desk.producttypecode, desk.statecode) == ("1896-S", 1, 0)
    assert desk.defaultuomid == "e0000001-0000-ef11-a671-000d3a4b5c6d"
    assert desk.quantityonhand == Decimal("12.5")
    assert linda.producttypecode == 3
    assert (fee.statecode, fee.defaultuomid) == (1, None)
    piece, crate, _hour = (Uom.from_webapi(r) for r in rows("uoms.json"))
    assert (piece.name, crate.name, crate.quantity) == ("Piece", "Crate", Decimal("12.0"))
    currency = Currency.from_webapi(load("transactioncurrency.json"))
    assert (currency.isocurrencycode, currency.currencyname) == ("USD", "US Dollar")


def test_notes_from_webapi() -> None:
    html, plain = (Note.from_webapi(r) for r in rows("annotations.json"))
    assert html.annotationid == "f0000001-0000-ef11-a671-000d3a4b5c6d"
    assert html.objectid == ORDER_ID
    assert html.objecttypecode == "salesorder"
    assert html.createdon == dt.datetime(2024, 5, 29, 14, 3, 11, tzinfo=dt.UTC)
    assert html.modifiedon == dt.datetime(2024, 5, 29, 14, 3, 11, 500000, tzinfo=dt.UTC)
    assert not html.is_attachment
    assert html.filesize == 0
    assert plain.subject is None
    # objecttypecode not selected: the lookup's annotation names the table.
    assert plain.objecttypecode == "salesorder"
    assert plain.modifiedon is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", dt.date(2024, 5, 1)),
        ("2024-05-01T00:00:00Z", dt.date(2024, 5, 1)),
        ("2024-04-30T22:00:00Z", dt.date(2024, 4, 30)),  # the UTC date is kept
        ("2024-05-01T01:30:00+02:00", dt.date(2024, 4, 30)),
        (None, None),
    ],
)
def test_date_columns_accept_both_forms(value: str | None, expected: dt.date | None) -> None:
    assert SalesOrder.from_webapi({"salesorderid": ORDER_ID, "requestdeliveryby": value}).requestdeliveryby == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, Decimal(1)),
        (0.1, Decimal("0.1")),  # from the number's text, not its binary value
        (1234.5678, Decimal("1234.5678")),
        ("19.99", Decimal("19.99")),  # IEEE754Compatible=true sends strings
        (Decimal("7.25"), Decimal("7.25")),
    ],
)
def test_decimals_never_go_through_float_arithmetic(value: object, expected: Decimal) -> None:
    order = SalesOrder.from_webapi({"salesorderid": ORDER_ID, "freightamount": value})
    assert order.freightamount == expected
    assert str(order.freightamount) == str(expected)


def test_guids_are_lower_case_without_braces() -> None:
    order = SalesOrder.from_webapi({"salesorderid": "{4D6F0C2E-1B7A-EF11-A671-000D3A4B5C6D}"})
    assert order.salesorderid == ORDER_ID


def test_missing_columns_are_none() -> None:
    order = SalesOrder.from_webapi({"salesorderid": ORDER_ID})
    assert order.customer is None
    assert order.ordernumber is None
    assert order.freightamount is None
    assert order.willcall is None


@pytest.mark.parametrize(
    ("factory", "row", "fragment"),
    [
        (SalesOrder, [], "expected a JSON object"),
        (SalesOrder, {}, "'salesorderid' is missing"),
        (SalesOrder, {"salesorderid": None}, "'salesorderid' is missing"),
        (SalesOrder, {"salesorderid": "not-a-guid"}, "'salesorderid' must be a GUID"),
        (SalesOrder, {"salesorderid": 12}, "'salesorderid' must be a GUID"),
        (SalesOrder, {"salesorderid": ORDER_ID, "ordernumber": 5}, "'ordernumber' must be a string"),
        (SalesOrder, {"salesorderid": ORDER_ID, "freightamount": "ten"}, "'freightamount' must be a number"),
        (SalesOrder, {"salesorderid": ORDER_ID, "freightamount": True}, "'freightamount' must be a number"),
        (SalesOrder, {"salesorderid": ORDER_ID, "freightamount": "NaN"}, "must be a finite number"),
        (SalesOrder, {"salesorderid": ORDER_ID, "freightamount": float("inf")}, "must be a finite number"),
        (SalesOrder, {"salesorderid": ORDER_ID, "statecode": "1"}, "'statecode' must be an integer"),
        (SalesOrder, {"salesorderid": ORDER_ID, "statecode": 1.5}, "'statecode' must be an integer"),
        (SalesOrder, {"salesorderid": ORDER_ID, "willcall": 0}, "'willcall' must be true or false"),
        (
            SalesOrder,
            {"salesorderid": ORDER_ID, "requestdeliveryby": "14/06/2024"},
            "'requestdeliveryby' must be a date",
        ),
        (SalesOrder, {"salesorderid": ORDER_ID, "requestdeliveryby": 20240614}, "'requestdeliveryby' must be a date"),
        (SalesOrder, {"salesorderid": ORDER_ID, "_quoteid_value": "x"}, "'_quoteid_value' must be a GUID"),
        (
            SalesOrder,
            {"salesorderid": ORDER_ID, "_customerid_value": "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d"},
            "lookuplogicalname' is missing",
        ),
        (
            SalesOrder,
            {
                "salesorderid": ORDER_ID,
                "_customerid_value": "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d",
                "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": 1,
            },
            "must be a table logical name",
        ),
        (SalesOrderLine, {"salesorderdetailid": ORDER_ID, "quantity": [1]}, "'quantity' must be a number"),
        (SalesOrderLine, {"productid": ORDER_ID}, "'salesorderdetailid' is missing"),
        (Note, {"annotationid": ORDER_ID, "createdon": "yesterday"}, "'createdon' must be an ISO datetime"),
        (Note, {"annotationid": ORDER_ID, "filesize": "12"}, "'filesize' must be an integer"),
        (Account, {"accountid": ORDER_ID, "customertypecode": "Customer"}, "'customertypecode' must be an integer"),
    ],
)
def test_malformed_rows_raise_record_error(factory: Any, row: Any, fragment: str) -> None:
    with pytest.raises(RecordError) as caught:
        factory.from_webapi(row)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_record_error_names_table_and_row() -> None:
    with pytest.raises(
        RecordError, match=rf"^salesorder {ORDER_ID}: column 'ordernumber' must be a string, got int 5$"
    ):
        SalesOrder.from_webapi({"salesorderid": ORDER_ID, "ordernumber": 5})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
_COLUMNS = [
    "salesorderid",
    "quoteid",
    "ordernumber",
    "freightamount",
    "statecode",
    "willcall",
    "requestdeliveryby",
    "effectiveto",
    "_customerid_value",
    "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
    "_quoteid_value",
    "salesorderdetailid",
    "quotedetailid",
    "quantity",
    "annotationid",
    "createdon",
    "filesize",
    "accountid",
    "customertypecode",
    "contactid",
    "_parentcustomerid_value",
    "productid",
    "uomid",
    "transactioncurrencyid",
]


@given(
    st.dictionaries(st.sampled_from(_COLUMNS), _json | st.uuids().map(str), max_size=8),
    st.sampled_from([SalesOrder, Quote, SalesOrderLine, Account, Contact, Product, Uom, Currency, Note]),
)
def test_from_webapi_raises_only_record_error(row: dict[str, Any], factory: Any) -> None:
    with contextlib.suppress(RecordError):
        factory.from_webapi(row)
