"""Release, reopen and post a BC sales order in the embedded BC (`bc-gateway orders release|reopen|
post`).

The rules are BC's (``orders/sales_post.py``, pure); each command reads the order and writes the
result in one transaction (``schemas/sales_posting_store.py``), so a posting happens completely or
not at all, and two postings of one order run one after the other. In api mode a real BC posts by
itself and our tables are its mirror: these commands are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.bc_link.from_setup import local_write_refusal
from orders.change_setup import load_connection_setup
from orders.sales_post import RELEASED, PostingRefused, post, release, reopen
from orders.sync.order_status import INVOICE, RELEASE, SHIPMENT, order_fields
from schemas import change_log as changes
from schemas.customer_ledger import post_invoice_entry
from schemas.db import write_transaction
from schemas.sales_posting import PostedDocuments
from schemas.sales_posting_store import (
    coupled_sales_id,
    order_for_posting,
    order_header,
    queue_status_post,
    set_status,
    write_posting,
)


class PostingNotAllowed(Exception):
    """The command cannot run here (api mode: BC posts by itself)."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    order_no: str
    status: str
    changed: bool


def order_missing(no: str) -> str:
    return f"The Sales Header does not exist. Identification fields and values: Document Type='Order',No.='{no}'"


async def _refuse_in_api_mode(conn: AsyncConnection) -> None:
    message = local_write_refusal(await load_connection_setup(conn), "Release and post sales orders")
    if message:
        raise PostingNotAllowed(message)


async def _header(conn: AsyncConnection, company: str, no: str) -> Any:
    await _refuse_in_api_mode(conn)
    header = await order_header(conn, company, no.upper(), lock=True)
    if header is None:
        raise PostingRefused(order_missing(no.upper()), code="no_order")
    return header


async def release_sales_order(engine: AsyncEngine, company: str, no: str) -> StatusChange:
    """BC's "Release": Status Released, after the release checks."""
    async with write_transaction(engine) as conn:
        header = await _header(conn, company, no)
        order = await order_for_posting(conn, company, header)
        status = release(order)
        if order.status == status:
            return StatusChange(order.no, status, False)
        await set_status(conn, company, order.no, status)
        await _queue(conn, company, header, await coupled_sales_id(conn, company, header), RELEASE)
        return StatusChange(order.no, status, True)


async def _queue(
    conn: AsyncConnection,
    company: str,
    header: Any,
    sales_id: str | None,
    change_type: str,
    *,
    document_no: str = "",
    shipped_on: dt.date | None = None,
    fully_invoiced: bool = False,
) -> None:
    """Sales hears of it through the Sales Order Status job (orders/sync/order_status.py)."""
    fields = orjson.dumps(order_fields(header._mapping, shipped_on)).decode()
    await queue_status_post(
        conn, company, header, sales_id, change_type, fields, document_no=document_no, fully_invoiced=fully_invoiced
    )


async def reopen_sales_order(engine: AsyncEngine, company: str, no: str) -> StatusChange:
    """BC's "Reopen": Status Open, so the order can be changed again."""
    async with write_transaction(engine) as conn:
        header = await _header(conn, company, no)
        order = await order_for_posting(conn, company, header)
        status = reopen(order)
        if order.status == status:
            return StatusChange(order.no, status, False)
        await set_status(conn, company, order.no, status)
        return StatusChange(order.no, status, True)


async def post_sales_order(
    engine: AsyncEngine,
    company: str,
    no: str,
    *,
    ship: bool,
    invoice: bool,
    quantities: Mapping[int, Decimal] | None = None,
    today: dt.date | None = None,
) -> PostedDocuments:
    """BC's "Post" (Ship, Invoice, or Ship and Invoice) of one order; PostingRefused with BC's
    message when BC would refuse it (then nothing is written)."""
    async with write_transaction(engine) as conn:
        header = await _header(conn, company, no)
        order = await order_for_posting(conn, company, header)
        posting = post(order, ship=ship, invoice=invoice, quantities=quantities)
        today = today or dt.date.today()
        sales_id = await coupled_sales_id(conn, company, header)  # before the posting may delete it
        documents = await write_posting(conn, company, header, posting, today)
        if documents.invoice_no:
            # Sales-Post's customer posting: the invoice's Cust. Ledger Entry (what the customer owes).
            await post_invoice_entry(
                conn,
                company,
                customer_no=header.sell_to_customer_no,
                invoice_no=documents.invoice_no,
                posting_date=today,
                due_date=today,  # as the posted invoice's Due Date (no payment terms calculation here)
                amount_including_vat=documents.invoice_amount,
                amount=documents.invoice_amount,
                currency_code=header.currency_code,
                description=f"Order {header.no}",
            )
        else:  # a shipment moves Outstanding Orders and Shipped Not Invoiced: the statistics follow
            await changes.record(conn, changes.CUST_STATISTICS, company, header.sell_to_customer_no)
        # BC's three events (a release by the posting included), in the posting's transaction.
        if order.status != RELEASED and posting.status == RELEASED:
            await _queue(conn, company, header, sales_id, RELEASE)
        if documents.shipment_no:
            await _queue(conn, company, header, sales_id, SHIPMENT, document_no=documents.shipment_no, shipped_on=today)
        if documents.invoice_no:
            await _queue(
                conn,
                company,
                header,
                sales_id,
                INVOICE,
                document_no=documents.invoice_no,
                shipped_on=today if documents.shipment_no else None,
                fully_invoiced=documents.order_deleted,
            )
        return documents


__all__ = [
    "RELEASED",
    "PostingNotAllowed",
    "PostingRefused",
    "StatusChange",
    "order_missing",
    "post_sales_order",
    "release_sales_order",
    "reopen_sales_order",
]
