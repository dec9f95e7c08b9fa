"""The BC writer for a real Business Central: documents created through the standard API v2.0,
exactly once, though BC has no idempotency key (``docs/reference/bc-api.md §7``).

Creating an order (or quote), step by step:

1. The key: ``GW-`` + the Sales id in hex (``writer_json.document_key``), BC's
   ``externalDocumentNumber``. It is recorded on the inbox row *before* anything is sent
   (``orders/inbox/bc_keys.py``), and only one inbox row at a time may write with it.
2. When an earlier POST with this key may have reached BC (a timeout, a lost connection, a 5xx),
   the document is looked up by the key first (``salesOrders`` / ``salesQuotes``, and posted
   ``salesInvoices``). Found: it is adopted. Not found: BC may still be working on that POST
   (BC runs a request for up to 10 minutes, bc-api §5), so the POST is repeated only once
   ``settle_seconds`` have passed since it was sent; until then the row waits.
3. The POST: one deep insert of the header with its lines (all or nothing, bc-api §1.7), with the
   time it was sent recorded first.
   - 201: go on to 4.
   - no clear answer (``BcIndeterminate``): look up by the key at once (a commit whose answer was
     dropped is found here); not found: the row waits for ``settle_seconds`` (step 2 next time).
   - BC's refusal (``BcRejected``): :class:`~orders.bc_writer.BcRefused` with BC's message and
     code; the row waits for a person. Throttled or away after the client's retries
     (``BcUnavailable``): :class:`~orders.bc_writer.BcDeferred`, after BC's ``Retry-After``.
4. One local transaction: the coupling (Sales id → BC id), the mirror of BC's header and lines
   (number, status, amounts; ``schemas/sales_document_mirror.py``), BC's id on the inbox row and
   the inbox state. If this fails, the next attempt finds the document by its key (step 2).

Quotes (revisions, wins and ``Microsoft.NAV.makeOrder``) are in ``orders/bc_link/writer_quotes.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from orders.bc_link.client import BcApiClient
from orders.bc_link.errors import BcConflict, BcError, BcIndeterminate, BcRejected, BcUnavailable
from orders.bc_link.odata import entity_path, eq, query
from orders.bc_link.writer_json import ApiDocument, api_document, document_key, mirror_header, mirror_lines
from orders.bc_writer import BcDeferred, BcRefused, Finish, WriteJob, Written
from orders.create_bc_sales_order import LeaseLost
from orders.inbox import bc_keys
from orders.inbox.rows import utcnow
from schemas.bc_sales_document import BcSalesDocument
from schemas.db import write_transaction
from schemas.sales_document_mirror import store_document
from schemas.sales_document_store import AlreadyCoupled, couple, coupled_document

log = logging.getLogger("bcgw.bc_writer")

SETTLE_SECONDS = 600.0  # BC's longest request (10 minutes, bc-api §5)
QUOTE_WAIT = 2.0  # an order whose quote is on its way to BC looks again this soon


def refusal_text(error: BcError) -> str:
    """BC's own message and code, as the inbox row shows it."""
    code = f" ({error.code})" if error.code else ""
    return f"{error.message}{code}"


@contextlib.contextmanager
def bc_outcomes() -> Iterator[None]:
    """BC's errors as the worker's two kinds: a refusal waits for a person, the rest is retried."""
    try:
        yield
    except bc_keys.KeyLost:
        raise LeaseLost from None
    except BcConflict as error:
        if error.code != "Request_EntityChanged" and error.status != 412:
            raise BcRefused(refusal_text(error)) from error
        # Changed in BC since it was read (bc-api §1.5): the next attempt reads it again.
        raise BcDeferred(f"Business Central: {refusal_text(error)}") from error
    except BcRejected as error:
        raise BcRefused(refusal_text(error)) from error
    except BcUnavailable as error:
        raise BcDeferred(f"Business Central is not available: {refusal_text(error)}", error.retry_after) from error
    except BcIndeterminate as error:  # only where no key protects the write: it is simply tried again
        raise BcDeferred(f"Business Central's answer was lost: {error.message}") from error
    except BcError as error:  # BcProtocolError: not BC's API (a proxy page, a redirect)
        raise BcRefused(refusal_text(error)) from error


class ApiWriter:
    """Stores converted documents in BC through ``client`` (the one shared client of the identity)."""

    mode: ClassVar[str] = "api"

    def __init__(
        self,
        client: BcApiClient,
        *,
        settle_seconds: float = SETTLE_SECONDS,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.client = client
        self.settle_seconds = settle_seconds
        self.clock = clock

    # -- the writer interface -------------------------------------------------------------------

    async def create_order(
        self, job: WriteJob, document: BcSalesDocument, *, quote_number: str | None, finish: Finish
    ) -> Written:
        from orders.bc_link import writer_quotes

        with bc_outcomes():
            quote = await writer_quotes.quote_in_bc(job, document)
            if quote is not None:
                return await writer_quotes.make_order(self, job, document, quote, finish)
            if await writer_quotes.quote_on_its_way(job, document):
                raise BcDeferred(
                    f"Waiting for Sales quote {quote_number or document.header.sales_quote_id} to reach Business "
                    "Central: the order is to be made from it.",
                    QUOTE_WAIT,
                )
            # The quote's own row may have put it in BC between the two reads above (it was not
            # coupled at the first, is at the second): look again, or the order is POSTed beside it.
            quote = await writer_quotes.quote_in_bc(job, document)
            if quote is not None:
                return await writer_quotes.make_order(self, job, document, quote, finish)
            return await self.create(job, document, finish)

    async def create_quote(
        self, job: WriteJob, document: BcSalesDocument, *, revision: int | None, finish: Finish | None
    ) -> Written:
        with bc_outcomes():
            return await self.create(job, document, finish, revision=revision)

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
        from orders.bc_link import writer_quotes

        with bc_outcomes():
            return await writer_quotes.rebuild_quote(self, job, document, earlier_id, number, revision, finish)

    async def record_win(
        self, conn: AsyncConnection, company: str, *, quote_id: str, quote_no: str, order_no: str | None
    ) -> str:
        from orders.bc_link import writer_quotes

        return await writer_quotes.record_win(conn, company, quote_id, quote_no, order_no)

    # -- creating exactly once --------------------------------------------------------------------

    async def claim(self, job: WriteJob, sales_id: str, key: str) -> bc_keys.KeyClaim:
        """Step 1: our key on the inbox row; another row writing it now means: wait. Then, holding
        the key, the Sales row must still be uncoupled: another row may have written it just now."""
        claim = await bc_keys.claim_key(
            job.engine, job.row.id, job.owner, company=job.company, sales_id=sales_id, key=key, now=self.clock()
        )
        if claim.busy_until is not None:
            wait = max(1.0, min((claim.busy_until - self.clock()).total_seconds(), 30.0))
            raise BcDeferred(f"Inbox row {claim.busy_row} is writing {key} to Business Central right now.", wait)
        async with job.engine.connect() as conn:
            found = await coupled_document(conn, job.company, sales_id)
        if found is not None:
            raise AlreadyCoupled(*found)
        return claim

    def not_settled(self, key: str, posted: dt.datetime) -> BcDeferred | None:
        """Step 2: an earlier POST with ``key`` was not found; None once BC cannot still be at it."""
        remaining = (posted + dt.timedelta(seconds=self.settle_seconds) - self.clock()).total_seconds()
        if remaining <= 0:
            return None
        return BcDeferred(
            f"Business Central's answer to the POST of {key} at {posted:%H:%M:%S} UTC was lost and the document "
            f"is not there (yet); looked up again before any new POST, in {remaining:.0f} s.",
            remaining,
        )

    async def find(self, entity_set: str, lines_set: str, key: str) -> dict[str, Any] | None:
        """The document with our key, with its lines; for an order also one BC has posted since
        (then the posted invoice, marked ``"@posted": True``; bc-api §7.2)."""
        params = query(filter=eq("externalDocumentNumber", key), expand=lines_set, orderby="number")
        found = await self.client.first(entity_set, params)
        if found is None and entity_set == "salesOrders":
            invoice = await self.client.first("salesInvoices", query(filter=eq("externalDocumentNumber", key)))
            if invoice is not None:
                return {**invoice, "@posted": True}
        return found

    async def post_once(self, job: WriteJob, api: ApiDocument, key: str, claim: bc_keys.KeyClaim) -> dict[str, Any]:
        """Steps 2 and 3: the document with ``key``, found or created; raises BcDeferred when
        its fate cannot be known yet."""
        if claim.last_posted is not None:
            found = await self.find(api.entity_set, api.lines_set, key)
            if found is not None:
                log.info("%s %s found by its key after an uncertain POST: adopted", api.entity_set, key)
                return found
            deferred = self.not_settled(key, claim.last_posted)
            if deferred is not None:
                raise deferred
        posted = await bc_keys.mark_posting(job.engine, job.row.id, job.owner, self.clock())
        try:
            return await self.client.post(api.entity_set, api.body(), params={"$expand": api.lines_set})
        except BcIndeterminate as error:
            found = await self.find(api.entity_set, api.lines_set, key)
            if found is not None:
                log.info("%s %s: the answer was lost, the document is there: adopted", api.entity_set, key)
                return found
            log.warning("%s %s: outcome unknown (%s); not there yet", api.entity_set, key, error.message)
            raise self.not_settled(key, posted) or BcDeferred(error.message) from error
        except (BcRejected, BcUnavailable):
            await bc_keys.clear_posting(job.engine, job.row.id, job.owner)  # BC did nothing
            raise

    async def create(
        self, job: WriteJob, document: BcSalesDocument, finish: Finish | None, *, revision: int | None = None
    ) -> Written:
        h = document.header
        key = document_key(h.sales_id)
        api = api_document(document, key, job.today)
        claim = await self.claim(job, h.sales_id, key)
        entity = await self.post_once(job, api, key, claim)
        if entity.get("@posted"):
            return await self._record_posted(job, document, key, entity, finish)
        if api.lines_set not in entity:  # the answer to a deep insert need not carry the lines
            entity = await self.client.get(entity_path(api.entity_set, entity["id"]), {"$expand": api.lines_set})
        header = mirror_header(
            entity, h.document_type, your_reference=h.your_reference, sales_id=h.sales_id, revision=revision
        )
        lines = mirror_lines(entity.get(api.lines_set) or [], h.document_type, sent=api.lines)
        noun = "order" if h.document_type == "Order" else "quote"
        written = Written(header["no"], f"Created sales {noun} {header['no']} in Business Central ({key}).")
        await self.record(job, key, header, lines, finish, written)
        return written

    async def record(
        self,
        job: WriteJob,
        key: str,
        header: Mapping[str, Any],
        lines: list[dict[str, Any]],
        finish: Finish | None,
        written: Written,
        also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> None:
        """Step 4: coupling, mirror, BC's id and the inbox state in one local transaction."""
        async with write_transaction(job.engine) as conn:
            await couple(conn, job.company, header["sales_id"], header["system_id"])
            await store_document(conn, job.company, header, lines)
            if also is not None:
                await also(conn)
            await bc_keys.record_created(
                conn, job.row.id, job.owner, company=job.company, key=key, document_id=header["system_id"]
            )
            if finish is not None:
                await finish(conn, written.number, written.message)

    async def _record_posted(
        self, job: WriteJob, document: BcSalesDocument, key: str, invoice: dict[str, Any], finish: Finish | None
    ) -> Written:
        """The order was created and BC has posted it already: coupled, nothing left open to mirror."""
        number, order_id = str(invoice.get("orderNumber") or ""), str(invoice.get("orderId") or invoice["id"])
        written = Written(
            number,
            f"Sales order {number} ({key}) was created in Business Central and is posted already "
            f"(invoice {invoice.get('number')}).",
        )
        async with write_transaction(job.engine) as conn:
            await couple(conn, job.company, document.header.sales_id, order_id.lower())
            await bc_keys.record_created(
                conn, job.row.id, job.owner, company=job.company, key=key, document_id=order_id.lower()
            )
            if finish is not None:
                await finish(conn, written.number, written.message)
        return written


__all__ = ["SETTLE_SECONDS", "ApiWriter", "bc_outcomes", "refusal_text"]
