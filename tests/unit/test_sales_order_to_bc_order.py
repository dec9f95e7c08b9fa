"""BC's rules for turning a submitted Sales order into a BC sales order (bc-behaviour.md §4).

The builders here (``order``, ``line``, ``order_input``, ...) are reused by the quote tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.conversion_inputs import BcCustomer, BcItem, BcResource, Couplings
from orders.conversion_rules import bc_decimal, bc_guid
from orders.dataverse.records import (
    Account,
    Contact,
    Currency,
    LookupRef,
    Note,
    Product,
    SalesOrder,
    SalesOrderLine,
    Uom,
)
from orders.sales_order_to_bc_order import ConversionError, OrderConversionInput, sales_order_to_bc_order
from orders.setup import DEFAULT_OPTION_MAPPINGS, SalesSetup
from schemas.bc_sales_document import BcSalesDocument, BcSalesLine
from tests.unit.test_dataverse_records import load, rows

P = "The sales order cannot be created."

ORDER_ID = "4d6f0c2e-1b7a-ef11-a671-000d3a4b5c6d"
QUOTE_ID = "9e9e9e9e-0004-ef11-a671-000d3a4b5c6d"
ACCOUNT_ID = "a1e2c3d4-0001-ef11-a671-000d3a4b5c6d"
CONTACT_ID = "c0c0c0c0-0002-ef11-a671-000d3a4b5c6d"
USD_ID = "7f1e8c7a-5d2b-ef11-a671-000d3a4b5c6d"
EUR_ID = "7f1e8c7a-5d2b-ef11-a671-000d3a4b0e0e"
DESK_ID = "b1000001-0000-ef11-a671-000d3a4b5c6d"
LINDA_ID = "b3000003-0000-ef11-a671-000d3a4b5c6d"
FEE_ID = "b2000002-0000-ef11-a671-000d3a4b5c6d"
PIECE_ID = "e0000001-0000-ef11-a671-000d3a4b5c6d"
CRATE_ID = "e0000002-0000-ef11-a671-000d3a4b5c6d"
HOUR_ID = "e0000003-0000-ef11-a671-000d3a4b5c6d"
UNKNOWN_UOM_ID = "e00000ff-0000-ef11-a671-000d3a4b5c6d"


def order(**changes: Any) -> SalesOrder:
    base = SalesOrder(
        salesorderid=ORDER_ID,
        ordernumber="ORD-01001-B7K2Q9",
        name="Chairs for the Seattle office",
        description="Deliver to the back entrance.",
        customer=LookupRef("account", ACCOUNT_ID),
        transactioncurrencyid=USD_ID,
        statecode=1,
        statuscode=3,
    )
    return dataclasses.replace(base, **changes)


def line(n: int = 1, **changes: Any) -> SalesOrderLine:
    base = SalesOrderLine(
        entity="salesorderdetail",
        line_id=f"d{n:07d}-0000-ef11-a671-000d3a4b5c6d",
        parent_id=ORDER_ID,
        productid=DESK_ID,
        isproductoverridden=False,
        quantity=Decimal(2),
        priceperunit=Decimal("100"),
        uomid=PIECE_ID,
        lineitemnumber=n,
        sequencenumber=n,
    )
    return dataclasses.replace(base, **changes)


def write_in(n: int = 1, text: str = "Installation on site", **changes: Any) -> SalesOrderLine:
    values: dict[str, Any] = {"productid": None, "isproductoverridden": True, "productdescription": text, "uomid": None}
    return line(n, **{**values, **changes})


def account(**changes: Any) -> Account:
    return dataclasses.replace(Account(accountid=ACCOUNT_ID, name="Fabrikam, Inc.", customertypecode=3), **changes)


def contact(**changes: Any) -> Contact:
    base = Contact(contactid=CONTACT_ID, fullname="Nancy Anderson", parentcustomer=LookupRef("account", ACCOUNT_ID))
    return dataclasses.replace(base, **changes)


PRODUCTS = {
    DESK_ID: Product(productid=DESK_ID, productnumber="1896-S", name="ATHENS Desk", producttypecode=1, statecode=0),
    LINDA_ID: Product(productid=LINDA_ID, productnumber="LINDA", name="Linda Martin", producttypecode=3, statecode=0),
    FEE_ID: Product(productid=FEE_ID, productnumber="HANDLING", name="Handling fee", producttypecode=2, statecode=0),
}
UOMS = {
    PIECE_ID: Uom(uomid=PIECE_ID, name="Piece"),
    CRATE_ID: Uom(uomid=CRATE_ID, name="Crate"),
    HOUR_ID: Uom(uomid=HOUR_ID, name="Hour"),
}
ITEMS = {
    "1896-S": BcItem(
        no="1896-S",
        description="ATHENS Desk",
        base_unit_of_measure="PCS",
        units={"PCS": Decimal(1), "CRATE": Decimal(12)},
    ),
    "WRITE-IN": BcItem(no="WRITE-IN", description="Write-in", base_unit_of_measure="PCS", units={"PCS": Decimal(1)}),
}
RESOURCES = {
    "LINDA": BcResource(
        no="LINDA", name="Linda Martin", base_unit_of_measure="HOUR", units={"HOUR": Decimal(1), "DAY": Decimal(8)}
    ),
    "CONSULT": BcResource(no="CONSULT", name="Consulting", base_unit_of_measure="HOUR", units={}),
}
CUSTOMERS = {"10000": BcCustomer(no="10000", name="Fabrikam, Inc.")}
COUPLINGS = Couplings(
    account_to_customer={ACCOUNT_ID: "10000"},
    product_to_item={DESK_ID: "1896-S"},
    product_to_resource={LINDA_ID: "LINDA"},
    uom_to_unit={PIECE_ID: "PCS", HOUR_ID: "HOUR"},
)
SETUP = SalesSetup(
    write_in_product_type="Item",
    write_in_product_no="WRITE-IN",
    local_currency_code="USD",
    freight_gl_account="6810",
)
USD = Currency(transactioncurrencyid=USD_ID, isocurrencycode="USD", currencyname="US Dollar")


def shared_input(**changes: Any) -> dict[str, Any]:
    """The fields every conversion input has, with a valid default for each."""
    values: dict[str, Any] = {
        "lines": (line(1),),
        "notes": (),
        "account": account(),
        "contact": None,
        "products": PRODUCTS,
        "uoms": UOMS,
        "currency": USD,
        "couplings": COUPLINGS,
        "items": ITEMS,
        "resources": RESOURCES,
        "customers": CUSTOMERS,
        "currency_codes": frozenset({"EUR", "GBP"}),
        "setup": SETUP,
    }
    values.update(changes)
    return values


def order_input(doc: SalesOrder | None = None, **changes: Any) -> OrderConversionInput:
    return OrderConversionInput(order=doc or order(), **shared_input(**changes))


def convert(inp: OrderConversionInput) -> BcSalesDocument:
    return sales_order_to_bc_order(inp)


def error(inp: OrderConversionInput) -> str:
    with pytest.raises(ConversionError) as caught:
        sales_order_to_bc_order(inp)
    assert caught.value.message == str(caught.value)
    return caught.value.message


def only_line(doc: BcSalesDocument) -> BcSalesLine:
    (first,) = doc.lines
    return first


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


# ---- addresses ------------------------------------------------------------------------------

FULL_ADDRESS = {
    "name": "N" * 250,
    "line1": "A" * 250,
    "line2": "B" * 250,
    "line3": "dropped",
    "city": "C" * 80,
    "stateorprovince": "S" * 50,
    "postalcode": "98052-6399-abcdefghijk",
    "country": "United States of America",
    "contactname": "K" * 150,
    "telephone": "555-0100",
}


@pytest.mark.parametrize(("side", "prefix"), [("billto", "bill_to"), ("shipto", "ship_to")])
def test_address_copied_and_cut_to_bc_lengths(side: str, prefix: str) -> None:
    doc = order(**{f"{side}_{part}": value for part, value in FULL_ADDRESS.items()})
    h = convert(order_input(doc)).header
    got = {part: getattr(h, f"{prefix}_{part}") for part in ("name", "address", "address_2", "city", "county")}
    assert got == {"name": "N" * 100, "address": "A" * 100, "address_2": "B" * 50, "city": "C" * 30, "county": "S" * 30}
    assert getattr(h, f"{prefix}_post_code") == "98052-6399-ABCDEFGHI"[:20]
    assert getattr(h, f"{prefix}_country_region_code") == "UNITED STA"
    assert getattr(h, f"{prefix}_contact") == "K" * 100


@pytest.mark.parametrize("part", ["line1", "line2", "city", "postalcode", "country", "stateorprovince"])
def test_any_address_part_makes_the_address_copied(part: str) -> None:
    h = convert(order_input(order(**{f"shipto_{part}": "x", "shipto_name": "Warehouse"}))).header
    assert h.has_ship_to_address
    assert h.ship_to_name == "Warehouse"


@pytest.mark.parametrize("part", ["name", "line3", "contactname", "telephone", "fax"])
def test_address_without_bcs_parts_is_not_copied(part: str) -> None:
    h = convert(order_input(order(**{f"billto_{part}": "something"}))).header
    assert not h.has_bill_to_address
    assert (h.bill_to_name, h.bill_to_contact) == ("", "")


# ---- customer -------------------------------------------------------------------------------


def test_no_customer() -> None:
    assert error(order_input(order(customer=None))) == (
        f"{P} There is no potential customer defined on the Dataverse sales order Chairs for the Seattle office."
    )


def test_no_customer_without_a_name_names_the_number() -> None:
    assert error(order_input(order(customer=None, name=None))) == (
        f"{P} There is no potential customer defined on the Dataverse sales order ORD-01001-B7K2Q9."
    )


@pytest.mark.parametrize("customertypecode", [None, 1, 2, 4, 11, 12])
def test_account_that_is_not_a_customer(customertypecode: int | None) -> None:
    assert error(order_input(account=account(customertypecode=customertypecode))) == (
        f"{P} The selected type of the Fabrikam, Inc. Dataverse account is not customer."
    )


def test_contact_as_customer_uses_its_parent_account() -> None:
    inp = order_input(order(customer=LookupRef("contact", CONTACT_ID)), contact=contact(), account=account())
    assert convert(inp).header.sell_to_customer_no == "10000"


def test_contacts_parent_account_type_is_not_checked() -> None:
    # BC checks the type only when the order's customer is the account itself.
    inp = order_input(
        order(customer=LookupRef("contact", CONTACT_ID)), contact=contact(), account=account(customertypecode=1)
    )
    assert convert(inp).header.sell_to_customer_no == "10000"


NO_ACCOUNT = (
    "Sales order Chairs for the Seattle office is created for {kind} {guid}, "
    "which doesn't correspond to an account in Dataverse."
)


@pytest.mark.parametrize(
    ("customer", "changes"),
    [
        pytest.param(LookupRef("account", ACCOUNT_ID), {"account": None}, id="account-not-read"),
        pytest.param(
            LookupRef("account", ACCOUNT_ID),
            {"account": account(accountid="a1e2c3d4-9999-ef11-a671-000d3a4b5c6d")},
            id="another-account",
        ),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": None}, id="contact-not-read"),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": contact(parentcustomer=None)}, id="no-parent"),
        pytest.param(
            LookupRef("contact", CONTACT_ID),
            {"contact": contact(parentcustomer=LookupRef("contact", ACCOUNT_ID))},
            id="parent-is-a-contact",
        ),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": contact(), "account": None}, id="parent-not-read"),
        pytest.param(LookupRef("lead", CONTACT_ID), {}, id="another-table"),
    ],
)
def test_customer_that_is_not_an_account(customer: LookupRef, changes: dict[str, Any]) -> None:
    message = error(order_input(order(customer=customer), **changes))
    assert message == NO_ACCOUNT.format(kind=customer.logical_name, guid="{" + customer.id.upper() + "}")


def test_account_not_coupled() -> None:
    couplings = dataclasses.replace(COUPLINGS, account_to_customer={})
    assert error(order_input(couplings=couplings)) == (
        f"{P} There is no customer coupled to Dataverse account Fabrikam, Inc.."
    )


def test_coupled_customer_missing() -> None:
    assert error(order_input(customers={})) == (
        "The Customer does not exist. Identification fields and values: No.='10000'"
    )


def test_coupled_customer_blocked() -> None:
    customers = {"10000": BcCustomer(no="10000", name="Fabrikam, Inc.", blocked=True)}
    assert error(order_input(customers=customers)) == (
        "You cannot create this type of document when Customer 10000 is blocked with type All"
    )


def test_couplings_keys_are_normalised() -> None:
    couplings = dataclasses.replace(COUPLINGS, account_to_customer={"{" + ACCOUNT_ID.upper() + "}": "10000"})
    assert convert(order_input(couplings=couplings)).header.sell_to_customer_no == "10000"


# ---- currency -------------------------------------------------------------------------------


def test_no_currency_is_blank() -> None:
    assert convert(order_input(order(transactioncurrencyid=None), currency=None)).header.currency_code == ""


@pytest.mark.parametrize("iso", ["USD", "usd", " US D "])
def test_local_currency_is_blank(iso: str) -> None:
    currency = dataclasses.replace(USD, isocurrencycode=iso)
    assert convert(order_input(currency=currency)).header.currency_code == ""


def test_foreign_currency() -> None:
    eur = Currency(transactioncurrencyid=EUR_ID, isocurrencycode="EUR")
    assert convert(order_input(order(transactioncurrencyid=EUR_ID), currency=eur)).header.currency_code == "EUR"


def test_currency_bc_does_not_have() -> None:
    nok = Currency(transactioncurrencyid=EUR_ID, isocurrencycode="NOK")
    assert error(order_input(order(transactioncurrencyid=EUR_ID), currency=nok)) == (
        "The Currency does not exist. Identification fields and values: Code='NOK'"
    )


@pytest.mark.parametrize("currency", [None, Currency(transactioncurrencyid=USD_ID, isocurrencycode="EUR")])
def test_currency_not_found_in_dataverse(currency: Currency | None) -> None:
    assert error(order_input(order(transactioncurrencyid=EUR_ID), currency=currency)) == (
        f"Cannot find the currency with the value '{{{EUR_ID.upper()}}}' in Dataverse."
    )


# ---- products -------------------------------------------------------------------------------


def test_item_line() -> None:
    bc_line = only_line(convert(order_input()))
    assert (bc_line.type, bc_line.no, bc_line.description) == ("Item", "1896-S", "ATHENS Desk")
    assert bc_line.sales_line_id == line(1).line_id


def test_resource_line() -> None:
    bc_line = only_line(convert(order_input(lines=(line(1, productid=LINDA_ID, uomid=HOUR_ID),))))
    assert (bc_line.type, bc_line.no, bc_line.description, bc_line.unit_of_measure_code) == (
        "Resource",
        "LINDA",
        "Linda Martin",
        "HOUR",
    )


def test_product_not_read() -> None:
    assert error(order_input(products={})) == (
        f"The CRM Product does not exist. Identification fields and values: Product='{{{DESK_ID.upper()}}}'"
    )


@pytest.mark.parametrize(
    ("statecode", "caption"), [(1, "Retired"), (2, "Draft"), (3, "Under Revision"), (None, ""), (7, "")]
)
def test_product_not_active(statecode: int | None, caption: str) -> None:
    products = {DESK_ID: dataclasses.replace(PRODUCTS[DESK_ID], statecode=statecode)}
    assert error(order_input(products=products)) == (
        f"Status must be equal to 'Active'  in CRM Product: Product={{{DESK_ID.upper()}}}. "
        f"Current value is '{caption}'."
    )


@pytest.mark.parametrize(
    ("product_id", "couplings", "items", "resources", "message"),
    [
        pytest.param(
            DESK_ID,
            dataclasses.replace(COUPLINGS, product_to_item={}),
            ITEMS,
            RESOURCES,
            f"{P} The Dataverse product ATHENS Desk is not coupled to an item.",
            id="item-not-coupled",
        ),
        pytest.param(
            DESK_ID,
            COUPLINGS,
            {},
            RESOURCES,
            f"{P} The item 1896-S does not exist.",
            id="item-missing",
        ),
        pytest.param(
            DESK_ID,
            COUPLINGS,
            {"1896-S": dataclasses.replace(ITEMS["1896-S"], blocked=True)},
            RESOURCES,
            "Blocked must be equal to 'No'  in Item: No.=1896-S. Current value is 'Yes'.",
            id="item-blocked",
        ),
        pytest.param(
            LINDA_ID,
            dataclasses.replace(COUPLINGS, product_to_resource={}),
            ITEMS,
            RESOURCES,
            f"{P} The Dataverse resource Linda Martin is not coupled to a resource.",
            id="resource-not-coupled",
        ),
        pytest.param(
            LINDA_ID,
            COUPLINGS,
            ITEMS,
            {},
            f"{P} The resource LINDA does not exist.",
            id="resource-missing",
        ),
        pytest.param(
            LINDA_ID,
            COUPLINGS,
            ITEMS,
            {"LINDA": dataclasses.replace(RESOURCES["LINDA"], blocked=True)},
            "Blocked must be equal to 'No'  in Resource: No.=LINDA. Current value is 'Yes'.",
            id="resource-blocked",
        ),
    ],
)
def test_product_coupling_rules(
    product_id: str, couplings: Couplings, items: dict[str, BcItem], resources: dict[str, BcResource], message: str
) -> None:
    inp = order_input(lines=(line(1, productid=product_id, uomid=None),), couplings=couplings, items=items)
    inp = dataclasses.replace(inp, resources=resources)
    assert error(inp) == message


@pytest.mark.parametrize("producttypecode", [2, 4, None, 99])
def test_unexpected_product_type(producttypecode: int | None) -> None:
    products = {FEE_ID: dataclasses.replace(PRODUCTS[FEE_ID], producttypecode=producttypecode)}
    inp = order_input(lines=(line(1, productid=FEE_ID, uomid=None),), products=products)
    assert error(inp) == (
        f"{P} Unexpected value of product type code for product HANDLING. "
        "The supported values are: sales inventory, services."
    )


def test_first_failing_line_in_sequence_order_is_reported() -> None:
    inp = order_input(
        lines=(line(2, productid=FEE_ID, uomid=None), line(1, productid=LINDA_ID, uomid=None)), resources={}
    )
    assert error(inp) == f"{P} The resource LINDA does not exist."


# ---- write-in lines -------------------------------------------------------------------------


def test_write_in_line_uses_the_write_in_item() -> None:
    bc_line = only_line(convert(order_input(lines=(write_in(1, quantity=Decimal(3), priceperunit=Decimal(7)),))))
    assert (bc_line.type, bc_line.no, bc_line.description) == ("Item", "WRITE-IN", "Installation on site")
    assert (bc_line.unit_of_measure_code, bc_line.quantity, bc_line.amount) == ("PCS", 3, Decimal("21.00"))


def test_overridden_product_is_a_write_in() -> None:
    sales_line = line(1, isproductoverridden=True, productdescription="Custom desk")
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert (bc_line.no, bc_line.description) == ("WRITE-IN", "Custom desk")


@pytest.mark.parametrize("write_in_type", ["Item", ""])
def test_write_in_item(write_in_type: str) -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type=write_in_type)
    assert only_line(convert(order_input(lines=(write_in(),), setup=setup))).type == "Item"


def test_write_in_resource() -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type="Resource", write_in_product_no="CONSULT")
    bc_line = only_line(convert(order_input(lines=(write_in(),), setup=setup)))
    assert (bc_line.type, bc_line.no, bc_line.unit_of_measure_code) == ("Resource", "CONSULT", "HOUR")
    assert bc_line.qty_per_unit_of_measure == 1


def test_write_in_without_a_default_write_in_product() -> None:
    setup = dataclasses.replace(SETUP, write_in_product_no="")
    assert error(order_input(lines=(line(1), write_in(2)), setup=setup)) == (
        "Dataverse Order ORD-01001-B7K2Q9 contains a write-in product. "
        "You must choose the default write-in product in Sales & Receivables Setup window."
    )


@pytest.mark.parametrize(
    ("write_in_type", "message"),
    [
        ("Item", "The Item does not exist. Identification fields and values: No.='GONE'"),
        ("Resource", "The Resource does not exist. Identification fields and values: No.='GONE'"),
    ],
)
def test_write_in_product_missing(write_in_type: str, message: str) -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type=write_in_type, write_in_product_no="GONE")
    assert error(order_input(lines=(write_in(),), setup=setup)) == message


def test_write_in_item_blocked() -> None:
    items = {"WRITE-IN": dataclasses.replace(ITEMS["WRITE-IN"], blocked=True)}
    assert error(order_input(lines=(write_in(),), items=items)) == (
        "Blocked must be equal to 'No'  in Item: No.=WRITE-IN. Current value is 'Yes'."
    )


def test_long_write_in_text_continues_on_attached_text_lines() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(250))
    doc = convert(order_input(lines=(write_in(1, text), line(2))))
    assert [(bc.line_no, bc.type, bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        (10000, "Item", text[:100], 0),
        (20000, "", text[100:200], 10000),
        (30000, "", text[200:], 10000),
        (40000, "Item", "ATHENS Desk", 0),
    ]
    assert all(bc.quantity == 0 and bc.no == "" and bc.sales_line_id is None for bc in doc.lines[1:3])


def test_write_in_without_product_description_takes_the_description() -> None:
    sales_line = write_in(1, "", description="First line\nsecond line")
    doc = convert(order_input(lines=(sales_line,)))
    assert [(bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        ("First line", 0),
        ("second line", 10000),
    ]


def test_write_in_with_both_texts_keeps_both() -> None:
    doc = convert(order_input(lines=(write_in(1, "Widget", description="Blue\n\nlarge"),)))
    assert [bc.description for bc in doc.lines] == ["Widget", "Blue", "large"]


# ---- description text lines -----------------------------------------------------------------


def test_product_line_description_goes_on_attached_text_lines() -> None:
    doc = convert(order_input(lines=(line(1, description="Oak finish\r\n\r\n" + "x" * 150),)))
    assert [(bc.line_no, bc.type, bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        (10000, "Item", "ATHENS Desk", 0),
        (20000, "", "Oak finish", 10000),
        (30000, "", "x" * 100, 10000),
        (40000, "", "x" * 50, 10000),
    ]


def test_product_line_description_equal_to_the_items_is_not_repeated() -> None:
    assert len(convert(order_input(lines=(line(1, description="ATHENS Desk"),))).lines) == 1


def test_product_line_falls_back_to_product_description() -> None:
    doc = convert(order_input(lines=(line(1, productdescription="Special edition"),)))
    assert [bc.description for bc in doc.lines] == ["ATHENS Desk", "Special edition"]


# ---- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uomid", "code", "qty_per"),
    [
        pytest.param(PIECE_ID, "PCS", Decimal(1), id="coupled"),
        pytest.param(CRATE_ID, "CRATE", Decimal(12), id="by-name"),
        pytest.param(None, "PCS", Decimal(1), id="no-unit-base"),
    ],
)
def test_item_unit(uomid: str | None, code: str, qty_per: Decimal) -> None:
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=uomid, quantity=Decimal("2.5")),))))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure) == (code, qty_per)
    assert bc_line.quantity_base == Decimal("2.5") * qty_per


def test_coupled_unit_wins_over_the_name() -> None:
    couplings = dataclasses.replace(COUPLINGS, uom_to_unit={CRATE_ID: "crate"})
    uoms = {CRATE_ID: Uom(uomid=CRATE_ID, name="Box of twelve")}
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=CRATE_ID),), couplings=couplings, uoms=uoms)))
    assert bc_line.unit_of_measure_code == "CRATE"


def test_base_unit_counts_even_without_its_unit_row() -> None:
    items = {"1896-S": dataclasses.replace(ITEMS["1896-S"], units={})}
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=PIECE_ID),), items=items)))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure) == ("PCS", 1)


def test_resource_unit_by_name() -> None:
    uoms = {HOUR_ID: Uom(uomid=HOUR_ID, name="Day")}
    couplings = dataclasses.replace(COUPLINGS, uom_to_unit={})
    sales_line = line(1, productid=LINDA_ID, uomid=HOUR_ID, quantity=Decimal(2))
    bc_line = only_line(convert(order_input(lines=(sales_line,), uoms=uoms, couplings=couplings)))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure, bc_line.quantity_base) == ("DAY", 8, 16)


@pytest.mark.parametrize(
    ("sales_line", "uoms", "message"),
    [
        pytest.param(
            line(1, uomid=HOUR_ID),
            UOMS,
            "The Item Unit of Measure does not exist. Identification fields and values: Item No.='1896-S',Code='HOUR'",
            id="item",
        ),
        pytest.param(
            line(1, productid=LINDA_ID, uomid=CRATE_ID),
            UOMS,
            "The Resource Unit of Measure does not exist. Identification fields and values: "
            "Resource No.='LINDA',Code='CRATE'",
            id="resource",
        ),
        pytest.param(
            line(1, uomid=CRATE_ID),
            {CRATE_ID: Uom(uomid=CRATE_ID, name="Primary Unit")},
            "The Item Unit of Measure does not exist. Identification fields and values: "
            "Item No.='1896-S',Code='PRIMARY UNIT'",
            id="too-long-for-a-code",
        ),
        pytest.param(
            line(1, uomid=UNKNOWN_UOM_ID),
            UOMS,
            f"{P} The Dataverse unit {{{UNKNOWN_UOM_ID.upper()}}} is not coupled to a unit of measure.",
            id="not-coupled-not-read",
        ),
    ],
)
def test_unit_that_bc_does_not_have(sales_line: SalesOrderLine, uoms: dict[str, Uom], message: str) -> None:
    assert error(order_input(lines=(sales_line,), uoms=uoms)) == message


def test_write_in_ignores_the_sales_unit() -> None:
    bc_line = only_line(convert(order_input(lines=(write_in(1, uomid=UNKNOWN_UOM_ID),))))
    assert bc_line.unit_of_measure_code == "PCS"


# ---- quantities and amounts -----------------------------------------------------------------


def test_amounts() -> None:
    sales_line = line(
        1,
        quantity=Decimal("3"),
        priceperunit=Decimal("19.99"),
        volumediscountamount=Decimal("1.10"),
        manualdiscountamount=Decimal("2.00"),
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity == Decimal("3")
    assert bc_line.unit_price == Decimal("19.99")
    assert bc_line.line_discount_amount == Decimal("5.30")  # 3 x 1.10 + 2.00
    assert bc_line.amount == Decimal("54.67")  # 59.97 - 5.30


def test_rounding_as_bc() -> None:
    sales_line = line(
        1,
        quantity=Decimal("1.234565"),
        priceperunit=Decimal("0.1234567"),
        manualdiscountamount=Decimal("0.005"),
        uomid=CRATE_ID,
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity == Decimal("1.23457")  # 5 decimals, half away from zero
    assert bc_line.unit_price == Decimal("0.12346")
    assert bc_line.quantity_base == Decimal("14.81484")  # 1.23457 x 12
    assert bc_line.line_discount_amount == Decimal("0.01")
    assert bc_line.amount == Decimal("0.14")  # round(1.23457 x 0.12346) = 0.15, less 0.01
    assert bc_line.amount.as_tuple().exponent == -2


def test_missing_numbers_count_as_zero() -> None:
    sales_line = line(1, quantity=None, priceperunit=None, manualdiscountamount=None, volumediscountamount=None)
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert (bc_line.quantity, bc_line.unit_price, bc_line.line_discount_amount, bc_line.amount) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("quantity", "price", "manual", "volume"),
    [
        pytest.param("1", "10", "10.01", "0", id="more-than-the-amount"),
        pytest.param("2", "10", "0", "10.01", id="volume-more-than-the-amount"),
        pytest.param("1", "10", "-1", "0", id="negative"),
        pytest.param("1", "0", "1", "0", id="discount-on-nothing"),
    ],
)
def test_line_discount_outside_0_to_100_percent(quantity: str, price: str, manual: str, volume: str) -> None:
    sales_line = line(
        1,
        quantity=Decimal(quantity),
        priceperunit=Decimal(price),
        manualdiscountamount=Decimal(manual),
        volumediscountamount=Decimal(volume),
    )
    assert (
        error(order_input(lines=(sales_line,))) == "The value in the Line Discount % field must be between 0 and 100."
    )


def test_full_discount_is_allowed() -> None:
    sales_line = line(1, quantity=Decimal(1), priceperunit=Decimal(10), manualdiscountamount=Decimal(10))
    assert only_line(convert(order_input(lines=(sales_line,)))).amount == 0


# ---- line order and numbers -----------------------------------------------------------------


def test_lines_follow_sequence_number_then_line_item_number() -> None:
    lines = (
        line(1, sequencenumber=3, lineitemnumber=1),
        line(2, sequencenumber=None, lineitemnumber=1),
        line(3, sequencenumber=1, lineitemnumber=9),
        line(4, sequencenumber=1, lineitemnumber=2),
        line(5, sequencenumber=2, lineitemnumber=None),
    )
    doc = convert(order_input(lines=lines))
    assert [bc.sales_line_id for bc in doc.lines] == [lines[i].line_id for i in (3, 2, 4, 0, 1)]
    assert [bc.line_no for bc in doc.lines] == [10000, 20000, 30000, 40000, 50000]


def test_order_without_lines() -> None:
    doc = convert(order_input(lines=()))
    assert doc.lines == ()


# ---- freight --------------------------------------------------------------------------------


def test_freight_line_comes_last() -> None:
    doc = convert(order_input(order(freightamount=Decimal("12.345")), lines=(line(1, description="more"),)))
    freight = doc.lines[-1]
    assert (freight.line_no, freight.type, freight.no, freight.description) == (
        30000,
        "G/L Account",
        "6810",
        "Freight Amount",
    )
    assert (freight.quantity, freight.unit_price, freight.amount) == (1, Decimal("12.345"), Decimal("12.35"))
    assert freight.sales_line_id is None


def test_freight_on_an_order_without_lines() -> None:
    (freight,) = convert(order_input(order(freightamount=Decimal(5)), lines=())).lines
    assert freight.line_no == 10000


@pytest.mark.parametrize("freight", [None, Decimal(0), Decimal("-3")])
def test_no_freight_line_without_freight(freight: Decimal | None) -> None:
    doc = convert(order_input(order(freightamount=freight)))
    assert [bc.type for bc in doc.lines] == ["Item"]


def test_freight_without_a_freight_account() -> None:
    setup = dataclasses.replace(SETUP, freight_gl_account="")
    assert error(order_input(order(freightamount=Decimal(5)), setup=setup)) == (
        "Freight G/L Acc. No. must have a value in Sales & Receivables Setup: Primary Key=. It cannot be zero or empty."
    )


# ---- invoice discount -----------------------------------------------------------------------


def test_invoice_discount_from_sales_totals() -> None:
    doc = order(
        discountamount=Decimal(5),
        totallineitemamount=Decimal("200.00"),
        totalamountlessfreight=Decimal("185.00"),
    )
    assert convert(order_input(doc)).header.invoice_discount_amount == Decimal("15.00")


def test_invoice_discount_computed_without_totals() -> None:
    # 2 lines of 200.00: 400.00; 10.00 + 2.5 % of 400.00 = 20.00; the freight line does not count.
    doc = order(discountamount=Decimal(10), discountpercentage=Decimal("2.5"), freightamount=Decimal(50))
    h = convert(order_input(doc, lines=(line(1), line(2)))).header
    assert h.invoice_discount_amount == Decimal("20.00")
    assert h.payment_discount_pct == Decimal("2.5")  # BC sets both


def test_no_invoice_discount_when_sales_has_none() -> None:
    doc = order(discountamount=Decimal(0), totallineitemamount=Decimal(200), totalamountlessfreight=Decimal(150))
    assert convert(order_input(doc)).header.invoice_discount_amount == 0


@pytest.mark.parametrize(
    ("changes", "lines", "message"),
    [
        pytest.param(
            {"discountamount": Decimal(1), "totallineitemamount": Decimal(100), "totalamountlessfreight": Decimal(101)},
            (line(1),),
            "Invoice Discount Amount must not be negative.",
            id="negative",
        ),
        pytest.param(
            {"discountamount": Decimal(1)},
            (),
            "There is no amount that you can apply an invoice discount to.",
            id="no-lines",
        ),
        pytest.param(
            {"discountamount": Decimal("1234.56")},
            (line(1, quantity=Decimal(5), priceperunit=Decimal("200.1")),),
            "The maximum Invoice Discount Amount that you can apply is 1,000.5.",
            id="too-big",
        ),
    ],
)
def test_invoice_discount_bc_cannot_apply(
    changes: dict[str, Any], lines: tuple[SalesOrderLine, ...], message: str
) -> None:
    assert error(order_input(order(**changes), lines=lines)) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [("1000.50", "1,000.5"), ("100.00", "100"), ("0", "0"), ("0.00", "0"), ("1234567.891", "1,234,567.891")],
)
def test_bc_decimal_format(value: str, text: str) -> None:
    assert bc_decimal(Decimal(value)) == text


def test_bc_guid_format() -> None:
    assert bc_guid(DESK_ID) == "{B1000001-0000-EF11-A671-000D3A4B5C6D}"


# ---- notes ----------------------------------------------------------------------------------


def test_notes() -> None:
    notes = (
        Note(annotationid="f0000001-0000-ef11-a671-000d3a4b5c6d", subject="S" * 600, notetext="<p>Hi &amp; bye</p>"),
        Note(annotationid="f0000002-0000-ef11-a671-000d3a4b5c6d", subject="file", isdocument=True, filesize=10),
        Note(annotationid="f0000003-0000-ef11-a671-000d3a4b5c6d", subject=None, notetext=None, isdocument=False),
    )
    doc = convert(order_input(notes=notes))
    assert [(n.description, n.text, n.sales_note_id) for n in doc.notes] == [
        ("S" * 250, "Hi & bye", "f0000001-0000-ef11-a671-000d3a4b5c6d"),
        ("", "", "f0000003-0000-ef11-a671-000d3a4b5c6d"),
    ]


def test_errors_carry_a_rule_code() -> None:
    with pytest.raises(ConversionError) as caught:
        sales_order_to_bc_order(order_input(order(customer=None)))
    assert caught.value.code == "no_customer"
    assert isinstance(caught.value, ValueError)


# ---- properties -----------------------------------------------------------------------------

_decimal = st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False, allow_infinity=False)
_amount = st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200)
@given(st.text(max_size=1200))
def test_write_in_text_splits_into_pieces_that_join_back(text: str) -> None:
    doc = convert(order_input(lines=(write_in(1, text),)))
    main, *attached = doc.lines
    assert all(len(bc.description) <= 100 for bc in doc.lines)
    assert all(bc.type == "" and bc.attached_to_line_no == main.line_no for bc in attached)
    assert "".join(bc.description for bc in doc.lines) == text
    assert all(bc.description for bc in attached)


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.text(max_size=300),
            st.integers(min_value=0, max_value=5) | st.none(),
        ),
        max_size=12,
    ),
    _amount,
)
def test_line_numbers_increase_by_10000(specs: list[tuple[bool, str, int | None]], freight: Decimal) -> None:
    lines = tuple(
        write_in(i + 1, text, sequencenumber=seq) if is_write_in else line(i + 1, description=text, sequencenumber=seq)
        for i, (is_write_in, text, seq) in enumerate(specs)
    )
    doc = convert(order_input(order(freightamount=freight), lines=lines))
    assert [bc.line_no for bc in doc.lines] == [10000 * (i + 1) for i in range(len(doc.lines))]
    for bc in doc.lines:
        assert len(bc.description) <= 100
        if bc.type == "":
            # A text line is attached to the nearest product line before it.
            owner = max(o.line_no for o in doc.lines if o.type and o.line_no < bc.line_no)
            assert bc.attached_to_line_no == owner


@given(
    _decimal,
    st.decimals(min_value=0, max_value=10**4, places=5, allow_nan=False, allow_infinity=False),
    st.sampled_from([PIECE_ID, CRATE_ID, None]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_quantities_and_amounts(
    quantity: Decimal, price: Decimal, uomid: str | None, volume_share: float, manual_share: float
) -> None:
    base = (quantity * price).quantize(Decimal("0.01"))
    # Discounts within the line amount (a larger one is BC's error, tested above).
    volume = (base * Decimal(str(volume_share)) / quantity).quantize(Decimal("0.01"), "ROUND_DOWN") if quantity else 0
    rest = base - (quantity * volume).quantize(Decimal("0.01"))
    manual = max(Decimal(0), (rest * Decimal(str(manual_share))).quantize(Decimal("0.01"), "ROUND_DOWN"))
    sales_line = line(
        1,
        quantity=quantity,
        priceperunit=price,
        uomid=uomid,
        volumediscountamount=Decimal(volume),
        manualdiscountamount=manual,
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity_base == (bc_line.quantity * bc_line.qty_per_unit_of_measure).quantize(Decimal("0.00001"))
    assert bc_line.amount >= 0
    assert bc_line.line_discount_amount >= 0
    assert bc_line.amount == (bc_line.quantity * bc_line.unit_price).quantize(Decimal("0.01")) - (
        bc_line.line_discount_amount
    )


def test_record_names_in_messages_are_blank_when_sales_has_none() -> None:
    inp = order_input(account=account(name=None), couplings=dataclasses.replace(COUPLINGS, account_to_customer={}))
    assert error(inp) == f"{P} There is no customer coupled to Dataverse account ."
