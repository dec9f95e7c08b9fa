"""Where a converted BC sales document is stored: the one interface, and its embedded implementation.

The conversion (``orders/sales_order_to_bc_order.py``, ``orders/sales_quote_to_bc_quote.py``) is the
one source of BC's rules; a :class:`BcWriter` only stores its result. Two implementations:

- :class:`EmbeddedWriter` (here): the gateway's own tables are Business Central. Everything — the
  number, header, lines, notes, the coupling, the outstanding quantities and the inbox state — is
  written in ONE local transaction (``schemas/sales_document_store.py``).
- ``orders.bc_link.writer.ApiWriter``: a real BC through its standard API v2.0 is the system of
  record; the gateway's tables mirror what BC answered (``docs/reference/bc-api.md §7``).

Each method ends by calling ``finish(conn, number, message)`` inside its last local transaction, so
that the inbox row's new state is committed with the coupling or not at all (``finish`` raises
``LeaseLost`` when another worker took the row over: then nothing local is kept). A method raises
``AlreadyCoupled`` when the Sales row turned out to be coupled already, :class:`BcRefused` when one
of BC's rules refused the write (waits for a person), :class:`BcDeferred` when it should be tried
again later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox import InboxRow
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument
from schemas.db import write_transaction
from schemas.sales_document_store import (
    ORDER_SERIES,
    QUOTE_SERIES,
    AlreadyCoupled,
    archive_document,
    couple,
    coupled_document,
    insert_document,
    move_coupling,
    next_number,
    quote_by_your_reference,
    replace_lines_and_notes,
    set_header,
)

Finish = Callable[[AsyncConnection, str, str], Awaitable[None]]
"""``finish(conn, number, message)``: what the caller records in the writer's last transaction."""


class BcRefused(Exception):
    """One of BC's rules refused the write; the message is BC's own (with its error code)."""


class BcDeferred(Exception):
    """The write cannot go on now (BC away or throttled, an outcome still unknown); try again
    after ``retry_after`` seconds, or by the inbox's backoff when None."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class WriteJob:
    """The inbox row being worked on, under whose lease the write happens."""

    engine: AsyncEngine
    company: str
    row: InboxRow
    owner: str
    today: dt.date


@dataclass(frozen=True, slots=True)
class Written:
    number: str
    message: str


class BcWriter(Protocol):
    """Stores converted documents in BC (see the module docstring for the contract)."""

    mode: ClassVar[str]

    async def create_order(
        self, job: WriteJob, document: BcSalesDocument, *, quote_number: str | None, finish: Finish
    ) -> Written:
        """A new sales order; ``quote_number`` is the Sales quote it was made from, if any."""
        ...

    async def create_quote(
        self, job: WriteJob, document: BcSalesDocument, *, revision: int | None, finish: Finish | None
    ) -> Written:
        """A new sales quote for an activated quote ``revision`` that no BC quote stands for yet."""
        ...

    async def rebuild_quote(
        self,
        job: WriteJob,
        document: BcSalesDocument,
        *,
        earlier_id: str,
        number: str,
        revision: int | None,
        quote_number: str,
        finish: Finish | None,
    ) -> Written:
        """The BC quote ``number`` of the earlier revision ``earlier_id`` takes this revision's
        header and lines; the coupling moves to it (``AlreadyCoupled`` when it moved meanwhile)."""
        ...

    async def record_win(
        self, conn: AsyncConnection, company: str, *, quote_id: str, quote_no: str, order_no: str | None
    ) -> str:
        """Inside the caller's transaction: what BC does when the quote is won (``order_no`` the
        BC order of its Sales order, None when that is not submitted yet), and the record of the
        win. Returns the message."""
        ...


async def with_customer_addresses(conn: AsyncConnection, company: str, doc: BcSalesDocument) -> BcSalesDocument:
    """Where Sales gave no address, BC keeps the customer's (validating Sell-to Customer No.), and
    the customer's Salesperson Code becomes the document's when it has none."""
    h = doc.header
    if h.has_bill_to_address and h.has_ship_to_address and h.salesperson_code:
        return doc
    c = (
        await conn.execute(
            select(t.customer).where(t.customer.c.company == company, t.customer.c.no == h.sell_to_customer_no)
        )
    ).first()
    if c is None:
        return doc
    values: dict[str, Any] = {}
    if not h.salesperson_code and c.salesperson_code:
        values["salesperson_code"] = c.salesperson_code
    for side, has in (("bill_to", h.has_bill_to_address), ("ship_to", h.has_ship_to_address)):
        if not has:
            values.update(
                {
                    f"{side}_name": c.name,
                    f"{side}_address": c.address,
                    f"{side}_city": c.city,
                    f"{side}_post_code": c.post_code,
                    f"{side}_country_region_code": c.country_region_code,
                }
            )
    return dataclasses.replace(doc, header=dataclasses.replace(h, **values))


async def link_quote(conn: AsyncConnection, company: str, order_no: str, quote_number: str) -> str | None:
    """BC's SetQuoteNo: the BC quote whose Your Reference is the Sales quote number becomes the
    order's Quote No., and is archived."""
    quote_no = await quote_by_your_reference(conn, company, quote_number)
    if quote_no is None:
        return None
    await set_header(conn, company, "Order", order_no, quote_no=quote_no)
    await archive_document(conn, company, "Quote", quote_no, f"Order {order_no} created from it")
    return quote_no


async def record_quote_win(conn: AsyncConnection, company: str, quote_id: str, quote_no: str, order_no: str) -> None:
    await conn.execute(
        insert(t.quote_win).values(
            company=company,
            quote_id=quote_id,
            quote_no=quote_no,
            order_no=order_no,
            processed_at=dt.datetime.now(dt.UTC),
        )
    )


class EmbeddedWriter:
    """The gateway's tables are BC: each document in one transaction with its coupling."""

    mode: ClassVar[str] = "embedded"

    async def create_order(
        self, job: WriteJob, document: BcSalesDocument, *, quote_number: str | None, finish: Finish
    ) -> Written:
        async with write_transaction(job.engine) as conn:
            document = await with_customer_addresses(conn, job.company, document)
            number = await next_number(conn, job.company, ORDER_SERIES)
            system_id = str(uuid.uuid4())
            await couple(conn, job.company, job.row.sales_id, system_id)
            await insert_document(conn, job.company, document, number, job.today, system_id)
            if quote_number:
                await link_quote(conn, job.company, number, quote_number)
            written = Written(number, f"Created sales order {number}.")
            await finish(conn, number, written.message)
        return written

    async def create_quote(
        self, job: WriteJob, document: BcSalesDocument, *, revision: int | None, finish: Finish | None
    ) -> Written:
        sales_id = document.header.sales_id
        async with write_transaction(job.engine) as conn:
            found = await coupled_document(conn, job.company, sales_id)
            if found:
                raise AlreadyCoupled(*found)
            document = await with_customer_addresses(conn, job.company, document)
            number = await next_number(conn, job.company, QUOTE_SERIES)
            system_id = str(uuid.uuid4())
            await couple(conn, job.company, sales_id, system_id)
            await insert_document(conn, job.company, document, number, job.today, system_id, revision=revision)
            written = Written(number, f"Created sales quote {number}.")
            if finish is not None:
                await finish(conn, number, written.message)
        return written

    async def rebuild_quote(
        self,
        job: WriteJob,
        document: BcSalesDocument,
        *,
        earlier_id: str,
        number: str,
        revision: int | None,
        quote_number: str,
        finish: Finish | None,
    ) -> Written:
        sales_id = document.header.sales_id
        async with write_transaction(job.engine) as conn:
            found = await coupled_document(conn, job.company, sales_id)
            if found:
                raise AlreadyCoupled(*found)
            if not await move_coupling(conn, job.company, earlier_id, sales_id):
                raise AlreadyCoupled("Quote", number)  # moved meanwhile: the other worker rebuilt it
            version = await archive_document(
                conn, job.company, "Quote", number, f"Revision {revision} of {quote_number}"
            )
            document = await with_customer_addresses(conn, job.company, document)
            await replace_lines_and_notes(conn, job.company, document, number)
            await set_header(conn, job.company, "Quote", number, status="Open", sales_revision=revision)
            written = Written(
                number, f"Rebuilt sales quote {number} from revision {revision}; archived as version {version}."
            )
            if finish is not None:
                await finish(conn, number, written.message)
        return written

    async def record_win(
        self, conn: AsyncConnection, company: str, *, quote_id: str, quote_no: str, order_no: str | None
    ) -> str:
        if order_no is not None:
            linked = (
                await conn.execute(
                    select(t.sales_header.c.quote_no).where(
                        t.sales_header.c.company == company,
                        t.sales_header.c.document_type == "Order",
                        t.sales_header.c.no == order_no,
                    )
                )
            ).scalar_one_or_none()
            if linked != quote_no:
                # The order came into BC before its quote did: link it now and archive the quote.
                # (An order that carries the quote already archived it when it was linked.)
                await set_header(conn, company, "Order", order_no, quote_no=quote_no)
                await archive_document(conn, company, "Quote", quote_no, f"Won: order {order_no}")
            message = f"Quote {quote_no} won: sales order {order_no} carries it as Quote No."
        else:
            await set_header(conn, company, "Quote", quote_no, status="Released")
            message = f"Quote {quote_no} won; the Sales order is not submitted yet, so the quote is Released."
        await record_quote_win(conn, company, quote_id, quote_no, order_no or "")
        return message


__all__ = [
    "BcDeferred",
    "BcRefused",
    "BcWriter",
    "EmbeddedWriter",
    "Finish",
    "WriteJob",
    "Written",
    "link_quote",
    "record_quote_win",
    "with_customer_addresses",
]
