"""BC's "Process in Business Central" for a Sales quote (codeunit "CRM Quote to Sales Quote").

By the quote's state in Sales:
- Active, not coupled: revision 0 creates a BC sales quote; a later revision finds the earlier
  revision (same quote number, Closed/Revised) that is coupled, archives that BC quote, moves the
  coupling to the new revision and rebuilds the same BC quote from it (else creates one).
- Won: the BC quote is created first if missing; then the Sales order made from the quote: when
  it is submitted and not yet in BC it is created (by the order rules, which link the quote and
  archive it); an order already in BC gets Quote No. and the quote is archived; when the order is
  not submitted the BC quote is Released. A win is handled once: it is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders import inbox
from orders.bc_writer import BcWriter, EmbeddedWriter, WriteJob
from orders.conversion_rules import SERVICE_NAME
from orders.create_bc_sales_order import LeaseLost, Outcome, WaitsForSales
from orders.dataverse.client import DataverseClient
from orders.dataverse.codes import QuoteState, QuoteStatus, SalesOrderState
from orders.dataverse.records import Quote, SalesOrder
from orders.inbox.states import InboxState
from orders.read_bc_records import BcInputs, conversion_data, read_for
from orders.read_sales_document import SalesDocumentData, read_quote
from orders.sales_quote_to_bc_quote import QuoteConversionInput, sales_quote_to_bc_quote
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument
from schemas.db import write_transaction
from schemas.sales_document_store import AlreadyCoupled, coupled_document

MSG_NO_ORDER = "Unable to find Dynamics 365 Sales order that corresponds to this quote."
MSG_ALREADY_PROCESSED = "The current record has already been processed in Business Central."


CreateOrder = Callable[[str], Awaitable[str]]


def _convert(data: SalesDocumentData[Quote], bc: BcInputs) -> BcSalesDocument:
    return sales_quote_to_bc_quote(QuoteConversionInput(quote=data.document, **conversion_data(data, bc)))


async def _quote_document(engine: AsyncEngine, company: str, client: DataverseClient, quote_id: str) -> BcSalesDocument:
    """Read the quote and everything it refers to, and convert it (ConversionError on a rule)."""
    data = await read_quote(client, quote_id)
    async with engine.connect() as conn:
        bc = await read_for(conn, company, data)
    return _convert(data, bc)


async def _finish(
    conn: AsyncConnection, row: inbox.InboxRow, owner: str, state: str, message: str, no: str = ""
) -> None:
    if not await inbox.finish(
        conn, row.id, owner, state, error=message, document_type="Quote" if no else "", document_no=no
    ):
        raise LeaseLost


async def process_bc_sales_quote(
    engine: AsyncEngine,
    company: str,
    client: DataverseClient,
    row: inbox.InboxRow,
    owner: str,
    today: dt.date,
    create_order: CreateOrder,
    writer: BcWriter | None = None,
) -> Outcome:
    """`create_order(order_id)` creates a won quote's submitted order by the order rules
    (through the order's own inbox row, so that its write-back runs) and returns its number.
    ``writer`` stores the BC quote (the embedded tables by default; BC's API in api mode)."""
    job = WriteJob(engine, company, row, owner, today)
    bc = writer or EmbeddedWriter()
    quote = Quote.from_webapi(await client.get_quote(row.sales_id))
    if quote.statecode == QuoteState.ACTIVE:
        return await _active(job, bc, client, quote)
    if quote.statecode == QuoteState.WON:
        return await _won(job, bc, client, quote, create_order)
    message = f"The {SERVICE_NAME} quote {quote.quotenumber} is neither active nor won (statecode {quote.statecode})."
    async with write_transaction(engine) as conn:
        await _finish(conn, row, owner, InboxState.IGNORED, message)
    return Outcome(InboxState.IGNORED, message)


async def _earlier_revision(
    engine: AsyncEngine, company: str, client: DataverseClient, quote: Quote
) -> tuple[str, str] | None:
    """(Sales id, BC quote no.) of the earlier revision (same number, Closed/Revised) that is coupled."""
    if not (quote.revisionnumber or 0) > 0 or not quote.quotenumber:
        return None
    revised = [Quote.from_webapi(r) for r in await client.find_quotes_by_number(quote.quotenumber)]
    revised = [
        q
        for q in revised
        if q.quoteid != quote.quoteid and q.statecode == QuoteState.CLOSED and q.statuscode == QuoteStatus.REVISED
    ]
    async with engine.connect() as conn:
        for q in sorted(revised, key=lambda q: q.revisionnumber or 0, reverse=True):
            coupled = await coupled_document(conn, company, q.quoteid)
            if coupled:
                return q.quoteid, coupled[1]
    return None


async def _create_or_rebuild(
    job: WriteJob,
    writer: BcWriter,
    client: DataverseClient,
    quote: Quote,
    finish: Callable[[AsyncConnection, str, str], Awaitable[None]] | None = None,
) -> tuple[str, str]:
    """BC's CreateOrUpdateNAVQuote for a quote not yet coupled: rebuild the BC quote of its
    earlier revision (archived first, coupling moved), or create one. Returns (no., message).

    `finish(conn, no, message)` runs in the writer's last transaction. Raises AlreadyCoupled when
    another worker coupled this quote (or moved the earlier revision's coupling) first.
    """
    earlier = await _earlier_revision(job.engine, job.company, client, quote)
    document = await _quote_document(job.engine, job.company, client, quote.quoteid)
    if earlier is None:
        written = await writer.create_quote(job, document, revision=quote.revisionnumber, finish=finish)
    else:
        old_id, number = earlier
        written = await writer.rebuild_quote(
            job,
            document,
            earlier_id=old_id,
            number=number,
            revision=quote.revisionnumber,
            quote_number=quote.quotenumber or "",
            finish=finish,
        )
    return written.number, written.message


async def _active(job: WriteJob, writer: BcWriter, client: DataverseClient, quote: Quote) -> Outcome:
    engine, company, row, owner = job.engine, job.company, job.row, job.owner

    async def done(conn: AsyncConnection, number: str, message: str) -> None:
        await _finish(conn, row, owner, InboxState.CREATED, message, number)

    try:
        number, message = await _create_or_rebuild(job, writer, client, quote, done)
    except (AlreadyCoupled, IntegrityError):
        # Coupled already, or by another worker at the same moment: that document stands.
        async with write_transaction(engine) as conn:
            found = await coupled_document(conn, company, quote.quoteid)
            if found is None:
                raise
            message = f"The {SERVICE_NAME} quote {quote.quotenumber} is already coupled to sales quote {found[1]}."
            await _finish(conn, row, owner, InboxState.IGNORED, message, found[1])
        return Outcome(InboxState.IGNORED, message, "Quote", found[1])
    return Outcome(InboxState.CREATED, message, "Quote", number)


async def _won(
    job: WriteJob, writer: BcWriter, client: DataverseClient, quote: Quote, create_order: CreateOrder
) -> Outcome:
    engine, company, row, owner = job.engine, job.company, job.row, job.owner
    qw = t.quote_win
    async with engine.connect() as conn:
        recorded = (
            await conn.execute(select(qw).where(qw.c.company == company, qw.c.quote_id == quote.quoteid))
        ).first()
        coupled = await coupled_document(conn, company, quote.quoteid)
    if recorded:
        message = f"The win of quote {quote.quotenumber} was handled on {recorded.processed_at:%Y-%m-%d %H:%M} UTC."
        async with write_transaction(engine) as conn:
            await _finish(conn, row, owner, InboxState.IGNORED, message, recorded.quote_no)
        return Outcome(InboxState.IGNORED, message, "Quote", recorded.quote_no)

    if coupled is None:
        # BC creates the quote first (rebuilding an earlier revision's, as on activation).
        try:
            quote_no, _message = await _create_or_rebuild(job, writer, client, quote)
        except (AlreadyCoupled, IntegrityError):
            async with engine.connect() as conn:
                found = await coupled_document(conn, company, quote.quoteid)
            if found is None:
                raise
            quote_no = found[1]  # the activation, in another worker, got there first: go on with the win
    else:
        quote_no = coupled[1]

    orders = [SalesOrder.from_webapi(o) for o in await client.find_orders_for_quote(quote.quoteid)]
    if not orders:
        # Sales makes the order right after the win; it may simply not be there yet.
        raise WaitsForSales(None, "no_order", MSG_NO_ORDER)
    order = orders[0]
    async with engine.connect() as conn:
        order_doc = await coupled_document(conn, company, order.salesorderid)

    if order_doc is None and order.statecode == SalesOrderState.SUBMITTED:
        order_doc = ("Order", await create_order(order.salesorderid))

    try:
        return await _record_win(job, writer, quote, quote_no, order_doc)
    except IntegrityError:
        # The win's record exists: another worker handled this win at the same moment.
        async with write_transaction(engine) as conn:
            recorded = (
                await conn.execute(select(qw).where(qw.c.company == company, qw.c.quote_id == quote.quoteid))
            ).first()
            if recorded is None:
                raise
            message = f"The win of quote {quote.quotenumber} was handled by another worker."
            await _finish(conn, row, owner, InboxState.IGNORED, message, recorded.quote_no)
        return Outcome(InboxState.IGNORED, message, "Quote", recorded.quote_no)


async def _record_win(
    job: WriteJob, writer: BcWriter, quote: Quote, quote_no: str, order_doc: tuple[str, str] | None
) -> Outcome:
    async with write_transaction(job.engine) as conn:
        message = await writer.record_win(
            conn,
            job.company,
            quote_id=quote.quoteid,
            quote_no=quote_no,
            order_no=order_doc[1] if order_doc is not None else None,
        )
        await _finish(conn, job.row, job.owner, InboxState.CREATED, message, quote_no)
    return Outcome(InboxState.CREATED, message, "Quote", quote_no)


__all__ = ["MSG_ALREADY_PROCESSED", "MSG_NO_ORDER", "process_bc_sales_quote"]
