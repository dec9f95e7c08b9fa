"""Quotes in a real BC: a revision replaces the lines of the same BC quote, a won quote becomes the
order through ``Microsoft.NAV.makeOrder`` — and what the standard API cannot do.

- **Revision** (``docs/reference/bc-api.md §1.6, §3.8``): the BC quote of the earlier revision
  keeps its number and its key; its header is PATCHed (with the ETag just read: a change made in
  BC meanwhile is a conflict, retried after a re-read), all its lines are deleted and the new ones
  inserted, in one ``$batch`` with ``Isolation: snapshot`` (all or nothing). A replace is
  idempotent: after a lost answer it is simply done again. Longer than one batch (100
  operations), it runs as several calls; a failure half-way leaves a quote that the next attempt
  rebuilds from scratch. **BC's own archive is not written**: the API has no action to archive a
  quote version; the gateway keeps the earlier version in its ``SalesQuoteArchives``.
- **Win**: the Sales order made from a won quote becomes the BC order by ``makeOrder`` on the BC
  quote (BC's "Sales-Quote to Order": the order takes the quote's header — our key in
  ``externalDocumentNumber`` too — and lines and its Quote No.; the quote is deleted, and archived
  if BC's Sales & Receivables Setup says so). The key's protocol is the same as for a POST
  (``orders/bc_link/writer.py``): recorded before the action, the order looked up by it after an
  uncertain answer. Then ``requestedDeliveryDate`` is PATCHed from the Sales order (a quote has
  none). The order's lines are BC's copy of the quote's: changes made to the Sales order after the
  win are not applied.
- **What the API cannot do**: release a quote (no release action, bc-api §3.9: a won quote whose
  Sales order is not submitted stays open, where BC would release it); set the Quote No. of an
  order that was created before the win was processed (not exposed, §3.6: that order and the quote
  stay unlinked in BC).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orders.bc_link.batch import BatchOperation
from orders.bc_link.errors import BcIndeterminate, BcNotFound, BcRejected, BcUnavailable
from orders.bc_link.odata import entity_path, etag_of
from orders.bc_link.writer_json import KEY_PREFIX, api_document, mirror_header, mirror_lines
from orders.bc_writer import BcDeferred, BcRefused, Finish, WriteJob, Written, record_quote_win
from orders.inbox import bc_keys
from orders.inbox.states import InboxState
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument
from schemas.db import write_transaction
from schemas.sales_document_mirror import header_row, lines_by_no, remove_document, store_document
from schemas.sales_document_store import AlreadyCoupled, archive_document, coupled_document, move_coupling

if TYPE_CHECKING:
    from orders.bc_link.writer import ApiWriter

__all__ = ["BcQuote", "make_order", "quote_in_bc", "quote_on_its_way", "rebuild_quote", "record_win"]


@dataclasses.dataclass(frozen=True, slots=True)
class BcQuote:
    """A BC quote the gateway made through the API: its number, BC id, our key and Sales id."""

    no: str
    id: str
    key: str
    sales_id: str


async def quote_in_bc(job: WriteJob, document: BcSalesDocument) -> BcQuote | None:
    """The BC quote an order's Sales quote is coupled to, if it was made through the API (its key
    is ours; a quote stored while the gateway was embedded is not in BC)."""
    quote_id = document.header.sales_quote_id
    if not quote_id:
        return None
    async with job.engine.connect() as conn:
        coupled = await coupled_document(conn, job.company, quote_id)
        if coupled is None or coupled[0] != "Quote":
            return None
        row = await header_row(conn, job.company, "Quote", coupled[1])
    if row is None or not row.external_document_no.startswith(KEY_PREFIX):
        return None
    return BcQuote(row.no, str(row.system_id), row.external_document_no, quote_id)


async def quote_on_its_way(job: WriteJob, document: BcSalesDocument) -> bool:
    """The order's Sales quote is not in BC yet but one of its inbox rows is at it (new, being
    processed, or to be retried): then the order waits, to be made from the quote by makeOrder
    rather than POSTed beside it — the API could not link them afterwards (bc-api §3.6)."""
    quote_id = document.header.sales_quote_id
    if not quote_id:
        return False
    ib = t.order_inbox
    pending = or_(
        ib.c.state.in_((InboxState.RECEIVED, InboxState.PROCESSING)),
        and_(ib.c.state == InboxState.FAILED, ib.c.next_attempt_at.is_not(None)),
    )
    async with job.engine.connect() as conn:
        if await coupled_document(conn, job.company, quote_id) is not None:
            return False  # in BC already (or stored while embedded): nothing to wait for
        found = await conn.execute(
            select(ib.c.id)
            .where(ib.c.company == job.company, ib.c.table_name == "quote", ib.c.sales_id == quote_id.lower(), pending)
            .limit(1)
        )
        return found.first() is not None


async def make_order(
    writer: ApiWriter, job: WriteJob, document: BcSalesDocument, quote: BcQuote, finish: Finish
) -> Written:
    """The won quote's Sales order as the BC order that ``makeOrder`` makes of the BC quote."""
    client, key, h = writer.client, quote.key, document.header
    claim = await writer.claim(job, h.sales_id, key)
    order = await writer.find("salesOrders", "salesOrderLines", key) if claim.last_posted is not None else None
    if order is None and claim.last_posted is not None:
        deferred = writer.not_settled(key, claim.last_posted)
        if deferred is not None:
            raise deferred
    if order is None:
        posted = await bc_keys.mark_posting(job.engine, job.row.id, job.owner, writer.clock())
        try:
            await client.action(entity_path("salesQuotes", quote.id), "makeOrder")
        except BcIndeterminate as error:
            order = await writer.find("salesOrders", "salesOrderLines", key)
            if order is None:
                raise writer.not_settled(key, posted) or BcDeferred(error.message) from error
        except BcNotFound:
            # The quote is gone from BC: made into an order already (ours, found by the key), or deleted.
            order = await writer.find("salesOrders", "salesOrderLines", key)
            if order is None:
                await bc_keys.clear_posting(job.engine, job.row.id, job.owner)
                raise BcRefused(
                    f"Sales quote {quote.no} no longer exists in Business Central, and no sales order has "
                    f"External Document No. {key}."
                ) from None
        except (BcRejected, BcUnavailable):
            await bc_keys.clear_posting(job.engine, job.row.id, job.owner)  # BC did nothing
            raise
        if order is None:
            order = await writer.find("salesOrders", "salesOrderLines", key)
        if order is None:
            raise BcDeferred(f"Business Central made an order of quote {quote.no}, but no order has {key} yet.")
    if order.get("@posted"):
        raise BcRefused(f"The order made from quote {quote.no} ({key}) is posted already in Business Central.")
    if (
        h.requested_delivery_date is not None
        and order.get("requestedDeliveryDate") != h.requested_delivery_date.isoformat()
    ):
        lines = order.get("salesOrderLines")
        order = await client.patch(
            entity_path("salesOrders", order["id"]),
            {"requestedDeliveryDate": h.requested_delivery_date.isoformat()},
            etag=etag_of(order),
        )
        order["salesOrderLines"] = lines

    async with job.engine.connect() as conn:
        copied = await lines_by_no(conn, job.company, "Quote", quote.no)
    header = mirror_header(order, "Order", your_reference=h.your_reference, sales_id=h.sales_id, quote_no=quote.no)
    bc_lines = order.get("salesOrderLines") or []
    lines = mirror_lines(bc_lines, "Order", copied_from=copied)
    number = header["no"]

    async def quote_done(conn: AsyncConnection) -> None:
        await archive_document(conn, job.company, "Quote", quote.no, f"Made into order {number} (makeOrder)")
        await remove_document(conn, job.company, "Quote", quote.no)
        await _record_made_order(conn, job.company, quote, number)

    written = Written(
        number, f"Created sales order {number} in Business Central from quote {quote.no} (Microsoft.NAV.makeOrder)."
    )
    await writer.record(job, key, header, lines, finish, written, also=quote_done)
    return written


async def _record_made_order(conn: AsyncConnection, company: str, quote: BcQuote, order_no: str) -> None:
    """Making the order handles the quote's win: recorded (a win processed later finds it done)."""
    qw = t.quote_win
    where = (qw.c.company == company, qw.c.quote_id == quote.sales_id)
    if (await conn.execute(select(qw.c.quote_id).where(*where))).first() is None:
        await record_quote_win(conn, company, quote.sales_id, quote.no, order_no)
    else:
        await conn.execute(update(qw).where(*where).values(order_no=order_no))


async def record_win(conn: AsyncConnection, company: str, quote_id: str, quote_no: str, order_no: str | None) -> str:
    qw = t.quote_win
    made = (
        await conn.execute(select(qw.c.order_no).where(qw.c.company == company, qw.c.quote_id == quote_id))
    ).scalar_one_or_none()
    if made:
        return f"Quote {quote_no} won: Business Central made sales order {made} from it (Microsoft.NAV.makeOrder)."
    if order_no is not None:
        message = (
            f"Quote {quote_no} won: sales order {order_no} was in Business Central before the win was processed; "
            "BC's API cannot set its Quote No., so they stay unlinked in BC."
        )
    else:
        message = (
            f"Quote {quote_no} won; the Sales order is not submitted yet. BC's API has no release action: "
            "the quote stays open until its order is made from it."
        )
    await record_quote_win(conn, company, quote_id, quote_no, order_no or "")
    return message


def _header_changes(api_header: dict[str, Any], entity: dict[str, Any]) -> dict[str, Any]:
    """The header fields to PATCH: those that differ from BC's (the key and the discount apart)."""
    changes = {}
    for name, value in api_header.items():
        if name in ("externalDocumentNumber", "discountAmount"):
            continue
        current = entity.get(name)
        if name == "currencyCode" and value == "" and entity.get("currencyId", "").startswith("00000000"):
            continue
        if str(current) != str(value):
            changes[name] = value
    return changes


async def rebuild_quote(
    writer: ApiWriter,
    job: WriteJob,
    document: BcSalesDocument,
    earlier_id: str,
    number: str,
    revision: int | None,
    finish: Finish | None,
) -> Written:
    client, h = writer.client, document.header
    async with job.engine.connect() as conn:
        found = await coupled_document(conn, job.company, h.sales_id)
        if found:
            raise AlreadyCoupled(*found)
        row = await header_row(conn, job.company, "Quote", number)
    if row is None:
        raise BcRefused(f"Sales quote {number} is not in the gateway's copy of Business Central.")
    path = entity_path("salesQuotes", str(row.system_id))
    try:
        entity = await client.get(path, {"$expand": "salesQuoteLines"})
    except BcNotFound:
        raise BcRefused(f"Sales quote {number} no longer exists in Business Central.") from None
    key = str(entity.get("externalDocumentNumber") or row.external_document_no)
    api = api_document(document, key, job.today)
    lines_path = entity_path("salesQuotes", str(row.system_id), "salesQuoteLines")
    # The ETag just read: a change made in BC meanwhile is a 409, and the rebuild is retried.
    operations = [BatchOperation("PATCH", path, _header_changes(api.header, entity), etag=etag_of(entity))]
    operations += [
        BatchOperation("DELETE", f"{lines_path}({line['id']})", etag="*")
        for line in entity.get("salesQuoteLines") or []
    ]
    operations += [BatchOperation("POST", lines_path, line.body) for line in api.lines]
    # Last: BC spreads an invoice discount over the lines there are.
    operations.append(BatchOperation("PATCH", path, {"discountAmount": h.invoice_discount_amount}, etag="*"))
    await _replace(writer, operations)
    entity = await client.get(path, {"$expand": "salesQuoteLines"})

    header = mirror_header(entity, "Quote", your_reference=h.your_reference, sales_id=h.sales_id, revision=revision)
    lines = mirror_lines(entity.get("salesQuoteLines") or [], "Quote", sent=api.lines)
    async with write_transaction(job.engine) as conn:
        if not await move_coupling(conn, job.company, earlier_id, h.sales_id):
            raise AlreadyCoupled("Quote", number)  # moved meanwhile: the other worker rebuilt it
        version = await archive_document(
            conn, job.company, "Quote", number, f"Revision {revision} of {h.your_reference}"
        )
        await store_document(conn, job.company, header, lines)
        await bc_keys.record_created(
            conn, job.row.id, job.owner, company=job.company, key=key, document_id=header["system_id"]
        )
        written = Written(
            number,
            f"Rebuilt sales quote {number} in Business Central from revision {revision} (lines replaced); "
            f"BC's API cannot archive it: the gateway keeps version {version}.",
        )
        if finish is not None:
            await finish(conn, number, written.message)
    return written


async def _replace(writer: ApiWriter, operations: list[BatchOperation]) -> None:
    """All at once when they fit one snapshot batch, else in order, call after call."""
    client = writer.client
    if len(operations) <= client.limits.max_batch:
        reply = await client.batch(operations, isolation_snapshot=True)
        failed = reply.failed
        if failed and failed[0].error is not None:
            raise failed[0].error
        return
    for op in operations:
        if op.method == "DELETE":
            await client.delete(op.path, missing_ok=True)
        elif op.method == "PATCH":
            await client.patch(op.path, op.body, etag=op.etag or "*")
        else:
            await client.post(op.path, op.body)
