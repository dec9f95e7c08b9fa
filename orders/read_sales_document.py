"""Reading a Sales order or quote with everything its conversion refers to, from the Web API.

Lines and notes are never in a webhook's payload: they are read here, with the customer (an
account, or a contact and its parent account), the products, units and currency of the lines.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from orders.dataverse.client import DataverseClient, DataverseNotFound
from orders.dataverse.records import (
    Account,
    Contact,
    Currency,
    Note,
    Product,
    Quote,
    SalesOrder,
    SalesOrderLine,
    Uom,
)

D = TypeVar("D", SalesOrder, Quote)


@dataclass(frozen=True, slots=True)
class SalesDocumentData(Generic[D]):
    document: D
    lines: tuple[SalesOrderLine, ...]
    notes: tuple[Note, ...]
    account: Account | None
    contact: Contact | None
    products: dict[str, Product]
    uoms: dict[str, Uom]
    currency: Currency | None


async def _maybe(coro: Any) -> Any:
    """A row that Sales no longer has is None (the conversion then says what is missing)."""
    try:
        return await coro
    except DataverseNotFound:
        return None


async def read_references(
    client: DataverseClient, document: SalesOrder | Quote, lines: list[SalesOrderLine]
) -> tuple[Account | None, Contact | None, dict[str, Product], dict[str, Uom], Currency | None]:
    account = contact = None
    if document.customer is not None:
        kind, ref = document.customer.logical_name, document.customer.id
        if kind == "contact":
            row = await _maybe(client.get_contact(ref))
            contact = Contact.from_webapi(row) if row else None
            parent = contact.parentcustomer if contact else None
            if parent is not None and parent.logical_name == "account":
                row = await _maybe(client.get_account(parent.id))
                account = Account.from_webapi(row) if row else None
        elif kind == "account":
            row = await _maybe(client.get_account(ref))
            account = Account.from_webapi(row) if row else None

    product_ids = sorted({line.productid for line in lines if line.productid})
    uom_ids = sorted({line.uomid for line in lines if line.uomid})
    product_rows, uom_rows = await asyncio.gather(
        asyncio.gather(*[_maybe(client.get_product(i)) for i in product_ids]),
        asyncio.gather(*[_maybe(client.get_uom(i)) for i in uom_ids]),
    )
    products = {p.productid: p for p in (Product.from_webapi(r) for r in product_rows if r)}
    uoms = {u.uomid: u for u in (Uom.from_webapi(r) for r in uom_rows if r)}
    currency = None
    if document.transactioncurrencyid:
        row = await _maybe(client.get_currency(document.transactioncurrencyid))
        currency = Currency.from_webapi(row) if row else None
    return account, contact, products, uoms, currency


async def read_sales_order(client: DataverseClient, order_id: str) -> SalesDocumentData[SalesOrder]:
    order = SalesOrder.from_webapi(await client.get_sales_order(order_id))
    line_rows, note_rows = await asyncio.gather(client.get_sales_order_lines(order_id), client.get_notes(order_id))
    return await _complete(client, order, line_rows, note_rows)


async def read_quote(client: DataverseClient, quote_id: str) -> SalesDocumentData[Quote]:
    quote = Quote.from_webapi(await client.get_quote(quote_id))
    line_rows, note_rows = await asyncio.gather(client.get_quote_lines(quote_id), client.get_notes(quote_id))
    return await _complete(client, quote, line_rows, note_rows)


async def _complete(
    client: DataverseClient, document: D, line_rows: list[Any], note_rows: list[Any]
) -> SalesDocumentData[D]:
    lines = [SalesOrderLine.from_webapi(r) for r in line_rows]
    notes = tuple(n for n in (Note.from_webapi(r) for r in note_rows) if not n.isdocument)
    account, contact, products, uoms, currency = await read_references(client, document, lines)
    return SalesDocumentData(document, tuple(lines), notes, account, contact, products, uoms, currency)
