"""BC's "Create in Business Central" for a submitted Sales order: read, convert, store, couple.

Read from Sales, convert by BC's rules (pure), then store through the writer (``orders/bc_writer.py``):
embedded, in ONE transaction the number, the sales header, lines and notes, the coupling of the
Sales order id (unique), the outstanding quantities and the inbox row's new state; through BC's
API, the order is created in BC exactly once (``orders/bc_link/writer.py``) and its coupling, its
mirror and the inbox state are then written in one local transaction. A second attempt (a retry, a
duplicate row, another worker) finds the coupling and creates nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders import inbox
from orders.bc_writer import BcWriter, EmbeddedWriter, WriteJob, link_quote, with_customer_addresses
from orders.conversion_rules import SERVICE_NAME as SALES
from orders.dataverse.client import DataverseClient, DataverseNotFound, DataverseUnavailable
from orders.dataverse.codes import SalesOrderState
from orders.dataverse.records import SalesOrder
from orders.inbox.states import InboxState, WritebackState
from orders.read_bc_records import BcInputs, conversion_data, read_for
from orders.read_sales_document import SalesDocumentData, read_sales_order
from orders.sales_order_to_bc_order import ConversionError, OrderConversionInput, sales_order_to_bc_order
from schemas.bc_sales_document import BcSalesDocument
from schemas.db import write_transaction
from schemas.sales_document_store import AlreadyCoupled, coupled_document
from schemas.sales_posting_store import posted_invoice_for_sales_order


def already_coupled_message(document_no: str) -> str:
    return f"This {SALES} order is already coupled to sales order {document_no}."


def already_posted_message(invoice_no: str) -> str:
    return f"This {SALES} order is already coupled, posted and turned into posted sales invoice {invoice_no}."


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # created | ignored
    message: str
    document_type: str = ""
    document_no: str = ""


class WaitsForSales(DataverseUnavailable):
    """BC cannot go on until Sales catches up (the message is BC's); tried again with backoff."""


class LeaseLost(Exception):
    """Another worker took the inbox row over while this one worked; this one changes nothing."""


def convert(data: SalesDocumentData[SalesOrder], bc: BcInputs) -> BcSalesDocument:
    return sales_order_to_bc_order(OrderConversionInput(order=data.document, **conversion_data(data, bc)))


async def create_bc_sales_order(
    engine: AsyncEngine,
    company: str,
    client: DataverseClient,
    row: inbox.InboxRow,
    owner: str,
    today: dt.date,
    writer: BcWriter | None = None,
    on_read: Callable[[str], None] | None = None,
) -> Outcome:
    """Process one claimed inbox row for a submitted order; raises ConversionError on a rule.

    ``writer`` stores the converted order (the embedded tables by default; BC's API in api mode),
    ending with the coupling and the inbox state in one local transaction. `on_read` hears the
    order's number once it is read (the worker records it with the row's outcome, whatever that is)."""
    async with engine.connect() as conn:
        found = await coupled_document(conn, company, row.sales_id)
        invoiced = None if found else await posted_invoice_for_sales_order(conn, company, row.sales_id)
    if found:
        return await _already(engine, row, owner, found)
    if invoiced:
        # Its BC order was invoiced completely and deleted with its coupling (bc-rules.md §4.8).
        return await _finish(engine, row, owner, InboxState.IGNORED, already_posted_message(invoiced))

    data = await read_sales_order(client, row.sales_id)
    order = data.document
    known: dict[str, Any] = {"sales_number": order.ordernumber[:100]} if order.ordernumber else {}
    if order.ordernumber and on_read is not None:
        on_read(order.ordernumber[:100])
    if order.statecode != SalesOrderState.SUBMITTED:
        return await _finish(
            engine,
            row,
            owner,
            InboxState.IGNORED,
            f"The {SALES} order {order.ordernumber or row.sales_id} is not submitted (statecode {order.statecode}).",
            **known,
        )
    if order.lastbackofficesubmit is not None:
        return await _finish(
            engine,
            row,
            owner,
            InboxState.IGNORED,
            f"The {SALES} order {order.ordernumber} was already processed by a back office "
            f"on {order.lastbackofficesubmit.isoformat()}.",
            **known,
        )

    async with engine.connect() as conn:
        bc = await read_for(conn, company, data)
    document = convert(data, bc)  # ConversionError carries BC's message
    quote_number = await _quote_number(client, order.quoteid) if order.quoteid else None

    async def done(conn: AsyncConnection, number: str, message: str) -> None:
        if not await inbox.finish(
            conn,
            row.id,
            owner,
            InboxState.CREATED,
            document_type="Order",
            document_no=number,
            writeback_state=WritebackState.PENDING,
            writeback_attempts=0,
            writeback_next_at=None,
            writeback_error="",
            **known,
        ):
            raise LeaseLost

    job = WriteJob(engine, company, row, owner, today)
    try:
        written = await (writer or EmbeddedWriter()).create_order(job, document, quote_number=quote_number, finish=done)
    except AlreadyCoupled as exc:
        return await _already(engine, row, owner, (exc.document_type, exc.document_no))
    except IntegrityError:
        # A concurrent worker coupled the same order first: its document stands, ours never was.
        async with engine.connect() as conn:
            found = await coupled_document(conn, company, row.sales_id)
        if not found:
            raise
        return await _already(engine, row, owner, found)
    return Outcome(InboxState.CREATED, written.message, "Order", written.number)


async def _quote_number(client: DataverseClient, quote_id: str) -> str | None:
    try:
        return (await client.get_quote(quote_id)).get("quotenumber")
    except DataverseNotFound:
        return None


async def _already(engine: AsyncEngine, row: inbox.InboxRow, owner: str, found: tuple[str, str]) -> Outcome:
    doc_type, doc_no = found
    return await _finish(engine, row, owner, InboxState.IGNORED, already_coupled_message(doc_no), doc_type, doc_no)


async def _finish(
    engine: AsyncEngine,
    row: inbox.InboxRow,
    owner: str,
    state: str,
    message: str,
    document_type: str = "",
    document_no: str = "",
    **values: Any,
) -> Outcome:
    async with write_transaction(engine) as conn:
        if not await inbox.finish(
            conn, row.id, owner, state, error=message, document_type=document_type, document_no=document_no, **values
        ):
            raise LeaseLost
    return Outcome(state, message, document_type, document_no)


__all__ = [
    "ConversionError",
    "LeaseLost",
    "Outcome",
    "already_coupled_message",
    "create_bc_sales_order",
    "link_quote",
    "with_customer_addresses",
]
