"""Builders shared by tests: Sales records and conversion inputs with a valid default for every
field (each test changes only what it is about), loaders of the Web API and webhook fixtures in
tests/fixtures, Sales documents made in the simulator, webhook bodies, and inbox rows in a state.

Test modules import these from here, never from each other.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.conversion_inputs import BcCustomer, BcItem, BcResource, Couplings
from orders.dataverse.records import (
    Account,
    Contact,
    Currency,
    LookupRef,
    Product,
    SalesOrder,
    SalesOrderLine,
    Uom,
)
from orders.inbox import InboxRow
from orders.sales_order_to_bc_order import ConversionError, OrderConversionInput, sales_order_to_bc_order
from orders.setup import SalesSetup
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument, BcSalesHeader, BcSalesLine
from schemas.db import write_transaction
from schemas.master_data import ensure_company
from schemas.sales_document_store import ORDER_SERIES, QUOTE_SERIES, insert_document, next_number
from schemas.sales_document_store import couple as couple_document
from tests.support.dataverse_payloads import OptionSetValue, build_context
from tests.support.sales_simulator import SalesSimulator

# --- Web API fixtures (tests/fixtures/dataverse_webapi) -----------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dataverse_webapi"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def rows(name: str) -> list[dict[str, Any]]:
    return load(name)["value"]


# Webhook bodies as Sales sent them (tests/fixtures/dataverse): Microsoft's example and our own.
WEBHOOK_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dataverse"


def webhook_body(name: str) -> bytes:
    return (WEBHOOK_FIXTURES / name).read_bytes()


# --- Sales records and the order conversion's input ---------------------------------------------

# The prefix of the order conversion's own messages.
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


# --- Sales documents in the simulator -----------------------------------------------------------


async def an_order(sim: SalesSimulator, **columns: Any) -> str:
    """An Active order for a new account: one product line and one note."""
    account = sim.add_account("Fabrikam", "C10000")
    product = sim.add_product("1896-S", "Athens Desk")
    return await sim.create_order(
        ("account", account),
        lines=[{"product": product, "quantity": 2, "priceperunit": Decimal("100.25")}],
        notes=[{"subject": "Hi", "notetext": "<p>Hello</p>"}],
        **columns,
    )


async def order_with_everything(sim: SalesSimulator) -> dict[str, str]:
    """An Active order for a contact of an account: a product line, a write-in line, a text
    note and an attachment, freight and a delivery date. Returns the ids by kind."""
    account = sim.add_account("Fabrikam, Inc.", "C10000")
    contact = sim.add_contact("Nancy Anderson", parent=("account", account))
    product = sim.add_product("1896-S", "Athens Desk")
    order = await sim.create_order(
        ("contact", contact),
        lines=[
            {"product": product, "quantity": Decimal("2"), "priceperunit": Decimal("649.40")},
            {"productdescription": "Assembly on site", "quantity": 1, "priceperunit": 120},
        ],
        notes=[
            {"subject": "Delivery", "notetext": "<div>Back entrance</div>"},
            {"subject": "Drawing", "notetext": "", "isdocument": True, "filename": "plan.pdf"},
        ],
        freightamount=Decimal("25.50"),
        requestdeliveryby=date(2024, 6, 14),
    )
    return {"account": account, "contact": contact, "product": product, "order": order}


# --- webhook bodies -----------------------------------------------------------------------------


def submission(order_id: str) -> dict[str, Any]:
    """The RemoteExecutionContext of an order's submission (Update of statecode to Submitted)."""
    return build_context(
        "Update",
        "salesorder",
        order_id,
        target={"statecode": OptionSetValue(1), "statuscode": OptionSetValue(3)},
    )


# --- inbox rows in a given state ------------------------------------------------------------------


async def inbox_row(
    engine: AsyncEngine,
    sales_id: str | None = None,
    *,
    table: str = "salesorder",
    event: str = "submit",
    company: str = "CRONUS",
    revision: int | None = None,
    **columns: Any,
) -> InboxRow:
    """An inbox row as ``enqueue`` makes it, then with ``columns`` set directly (a state, a lease,
    attempts, times ...) — the states a worker would leave it in, without running one."""
    row, _created = await inbox.enqueue(
        engine, company, table, sales_id or str(uuid.uuid4()), event, revision, source="webhook"
    )
    if columns:
        async with engine.begin() as conn:
            await conn.execute(update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(**columns))
    async with engine.connect() as conn:
        return InboxRow.from_row((await conn.execute(select(t.order_inbox).where(t.order_inbox.c.id == row.id))).one())


async def coupled_bc_document(
    engine: AsyncEngine,
    sales_id: str,
    document_type: Literal["Order", "Quote"] = "Order",
    *,
    company: str = "CRONUS",
    customer: str = "10000",
) -> str:
    """A BC sales document (no lines) coupled to a Sales order or quote, as the worker leaves one;
    the company is made if missing. Returns the document's number."""
    async with write_transaction(engine) as conn:
        await ensure_company(conn, company)
        series = ORDER_SERIES if document_type == "Order" else QUOTE_SERIES
        no = await next_number(conn, company, series)
        header = BcSalesHeader(document_type=document_type, sell_to_customer_no=customer, sales_id=sales_id.lower())
        system_id = await insert_document(conn, company, BcSalesDocument(header=header), no, date(2024, 5, 30))
        await couple_document(conn, company, sales_id, system_id)
    return no
