"""Storing BC sales documents: number series, header, lines, notes, coupling and the totals.

Everything here runs inside the caller's transaction, so that a document, its coupling to the
Sales row, the outstanding quantities and the inbox state are written together or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument, BcSalesLine
from schemas.db import insert_ignore, is_sqlite
from schemas.inventory import add_to_totals
from schemas.record_link_store import couple_copied_notes

ORDER_SERIES = ("S-ORD", "SO000001")
QUOTE_SERIES = ("S-QUO", "SQ000001")


class AlreadyCoupled(Exception):
    """The Sales row is coupled to a BC document already."""

    def __init__(self, document_type: str, document_no: str) -> None:
        super().__init__(document_no)
        self.document_type = document_type
        self.document_no = document_no


def increment(number: str) -> str:
    """BC's INCSTR: add one to the last run of digits, keeping its width."""
    m = re.search(r"(\d+)(?!.*\d)", number)
    if not m:
        raise ValueError(f"The number {number} cannot be increased: it has no digits.")
    digits = m.group(1)
    bumped = str(int(digits) + 1).zfill(len(digits))
    return number[: m.start(1)] + bumped + number[m.end(1) :]


async def next_number(conn: AsyncConnection, company: str, series: tuple[str, str]) -> str:
    """The next number of a series; two concurrent transactions never get the same one."""
    code, starting = series
    ns = t.no_series
    await conn.execute(
        insert_ignore(conn, ns, ["company", "code"]).values(
            company=company, code=code, starting_no=starting, last_no_used=""
        )
    )
    stmt = select(ns.c.last_no_used).where(ns.c.company == company, ns.c.code == code)
    if not is_sqlite(conn):
        stmt = stmt.with_for_update()  # SQLite: the writer already holds the database's lock
    last = (await conn.execute(stmt)).scalar_one()
    number = increment(last) if last else starting
    await conn.execute(update(ns).where(ns.c.company == company, ns.c.code == code).values(last_no_used=number))
    return number


async def coupled_document(conn: AsyncConnection, company: str, sales_id: str) -> tuple[str, str] | None:
    """(document type, no.) of the BC document coupled to a Sales order or quote, if any."""
    cir, sh = t.crm_integration_record, t.sales_header
    row = (
        await conn.execute(
            select(sh.c.document_type, sh.c.no)
            .select_from(cir.join(sh, and_(sh.c.company == cir.c.company, sh.c.system_id == cir.c.integration_id)))
            .where(cir.c.company == company, cir.c.table_id == t.TABLE_SALES_HEADER, cir.c.crm_id == sales_id.lower())
        )
    ).first()
    return (row.document_type, row.no) if row else None


async def couple(conn: AsyncConnection, company: str, sales_id: str, system_id: str) -> None:
    existing = await coupled_document(conn, company, sales_id)
    if existing:
        raise AlreadyCoupled(*existing)
    # The unique key on (company, table, CRM ID) stops a concurrent second coupling at commit.
    await conn.execute(
        insert(t.crm_integration_record).values(
            company=company,
            crm_id=sales_id.lower(),
            table_id=t.TABLE_SALES_HEADER,
            integration_id=system_id,
            coupled_at=dt.datetime.now(dt.UTC),
        )
    )


async def move_coupling(conn: AsyncConnection, company: str, old_sales_id: str, new_sales_id: str) -> bool:
    """Couple the BC document of one Sales row to another; False when it was not coupled."""
    cir = t.crm_integration_record
    result = await conn.execute(
        update(cir)
        .where(cir.c.company == company, cir.c.table_id == t.TABLE_SALES_HEADER, cir.c.crm_id == old_sales_id.lower())
        .values(crm_id=new_sales_id.lower(), coupled_at=dt.datetime.now(dt.UTC))
    )
    return result.rowcount == 1


def _header_values(doc: BcSalesDocument) -> dict[str, Any]:
    h = doc.header
    names = [c.name for c in t.sales_header.c]
    values = {n: getattr(h, n) for n in names if hasattr(h, n) and n not in ("document_type", "no", "status")}
    values["sales_id"] = h.sales_id
    # BC's Amount: the lines' amounts less the invoice discount; no VAT is computed here.
    amount = sum((line.amount for line in doc.lines), Decimal(0)) - h.invoice_discount_amount
    values["amount"] = values["amount_including_vat"] = amount
    return values


async def insert_document(
    conn: AsyncConnection,
    company: str,
    doc: BcSalesDocument,
    no: str,
    order_date: dt.date,
    system_id: str | None = None,
    status: str = "Open",
    revision: int | None = None,
) -> str:
    """Insert header, lines and notes; returns the header's system id."""
    system_id = system_id or str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    doc_type = doc.header.document_type
    await conn.execute(
        insert(t.sales_header).values(
            company=company,
            document_type=doc_type,
            no=no,
            system_id=system_id,
            status=status,
            order_date=order_date,
            sales_revision=revision,
            created_at=now,
            **_header_values(doc),
        )
    )
    await _insert_lines_and_notes(conn, company, doc, no, now)
    return system_id


async def _insert_lines_and_notes(
    conn: AsyncConnection, company: str, doc: BcSalesDocument, no: str, now: dt.datetime
) -> None:
    doc_type = doc.header.document_type
    if doc.lines:
        await conn.execute(
            insert(t.sales_line),
            [
                {
                    "company": company,
                    "document_type": doc_type,
                    "document_no": no,
                    "line_no": line.line_no,
                    "type": line.type,
                    "no": line.no,
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_of_measure_code": line.unit_of_measure_code,
                    "qty_per_unit_of_measure": line.qty_per_unit_of_measure,
                    "quantity_base": line.quantity_base,
                    # Only an order has outstanding quantity: a quote promises nothing yet.
                    "outstanding_qty_base": line.quantity_base if doc_type == "Order" else Decimal(0),
                    # BC's InitOutstanding / InitQtyToShip / InitQtyToInvoice on an order line.
                    **dict.fromkeys(
                        ("outstanding_quantity", "qty_to_ship", "qty_to_invoice"),
                        line.quantity if doc_type == "Order" and line.type else Decimal(0),
                    ),
                    "unit_price": line.unit_price,
                    "line_discount_amount": line.line_discount_amount,
                    "amount": line.amount,
                    "attached_to_line_no": line.attached_to_line_no,
                    "sales_line_id": line.sales_line_id,
                }
                for line in doc.lines
            ],
        )
    if doc.notes:
        await conn.execute(
            insert(t.sales_note),
            [
                {
                    "company": company,
                    "document_type": doc_type,
                    "document_no": no,
                    "description": note.description[:250],
                    "note": note.text,
                    "sales_note_id": note.sales_note_id,
                    "created_at": now,
                }
                for note in doc.notes
            ],
        )
        if doc_type == "Order":
            times = {n.sales_note_id.lower(): (n.sales_created_on, n.sales_modified_on) for n in doc.notes}
            await couple_copied_notes(conn, company, no, times)
    if doc_type == "Order":
        await add_outstanding(conn, company, doc.lines, Decimal(1))


async def replace_lines_and_notes(conn: AsyncConnection, company: str, doc: BcSalesDocument, no: str) -> None:
    """Rebuild a document's lines and notes (a revised quote), header fields updated too."""
    doc_type = doc.header.document_type
    where_lines = (
        t.sales_line.c.company == company,
        t.sales_line.c.document_type == doc_type,
        t.sales_line.c.document_no == no,
    )
    if doc_type == "Order":
        old = (await conn.execute(select(t.sales_line).where(*where_lines))).all()
        await _remove_outstanding(conn, company, old)
    await conn.execute(delete(t.sales_line).where(*where_lines))
    await conn.execute(
        delete(t.sales_note).where(
            t.sales_note.c.company == company,
            t.sales_note.c.document_type == doc_type,
            t.sales_note.c.document_no == no,
        )
    )
    await conn.execute(
        update(t.sales_header)
        .where(
            t.sales_header.c.company == company, t.sales_header.c.document_type == doc_type, t.sales_header.c.no == no
        )
        .values(**_header_values(doc))
    )
    await _insert_lines_and_notes(conn, company, doc, no, dt.datetime.now(dt.UTC))


async def add_outstanding(conn: AsyncConnection, company: str, lines: Any, sign: Decimal) -> None:
    """Outstanding base quantities of item lines feed Qty. on Sales Order (with the ledger's totals)."""
    per_key: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.type == "Item" and line.no:
            qty = line.quantity_base if isinstance(line, BcSalesLine) else line.outstanding_qty_base
            per_key[(line.no, getattr(line, "location_code", "") or "")] += qty * sign
    for (item_no, location), qty in per_key.items():
        if qty:
            await add_to_totals(conn, company, item_no, location, qty_on_sales_order=qty)
    await changes.record_items(conn, company, {item for item, _loc in per_key})


async def _remove_outstanding(conn: AsyncConnection, company: str, rows: Any) -> None:
    await add_outstanding(conn, company, rows, Decimal(-1))


# --- archives (BC's ArchiveManagement) -----------------------------------------------------------


async def archive_document(
    conn: AsyncConnection, company: str, document_type: str, no: str, reason: str, archived_by: str = ""
) -> int:
    """Copy header, lines and notes into the archive as the next version; returns its number."""
    h, ha = t.sales_header, t.sales_header_archive
    header = (
        await conn.execute(select(h).where(h.c.company == company, h.c.document_type == document_type, h.c.no == no))
    ).first()
    if header is None:
        raise ValueError(f"There is no {document_type.lower()} {no} to archive.")
    last = (
        await conn.execute(
            select(ha.c.version_no)
            .where(ha.c.company == company, ha.c.document_type == document_type, ha.c.no == no)
            .order_by(ha.c.version_no.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    version = (last or 0) + 1
    await conn.execute(
        insert(ha).values(
            **dict(header._mapping),
            version_no=version,
            archived_at=dt.datetime.now(dt.UTC),
            archived_by=archived_by[:50],
            reason=reason[:100],
        )
    )
    ln = t.sales_line
    lines = (
        await conn.execute(
            select(ln).where(ln.c.company == company, ln.c.document_type == document_type, ln.c.document_no == no)
        )
    ).all()
    if lines:
        await conn.execute(insert(t.sales_line_archive), [{**dict(r._mapping), "version_no": version} for r in lines])
    nt = t.sales_note
    notes = (
        await conn.execute(
            select(nt).where(nt.c.company == company, nt.c.document_type == document_type, nt.c.document_no == no)
        )
    ).all()
    if notes:
        await conn.execute(
            insert(t.sales_note_archive),
            [
                {
                    "company": company,
                    "document_type": document_type,
                    "document_no": no,
                    "version_no": version,
                    "description": r.description,
                    "note": r.note,
                    "sales_note_id": r.sales_note_id,
                }
                for r in notes
            ],
        )
    return version


async def quote_by_your_reference(conn: AsyncConnection, company: str, your_reference: str) -> str | None:
    """The last BC quote whose Your Reference is the Sales quote number (BC's SetQuoteNo)."""
    h = t.sales_header
    return (
        await conn.execute(
            select(h.c.no)
            .where(h.c.company == company, h.c.document_type == "Quote", h.c.your_reference == your_reference[:35])
            .order_by(h.c.no.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def set_header(conn: AsyncConnection, company: str, document_type: str, no: str, **values: Any) -> None:
    h = t.sales_header
    await conn.execute(
        update(h).where(h.c.company == company, h.c.document_type == document_type, h.c.no == no).values(**values)
    )


async def document_summary(conn: AsyncConnection, company: str, document_type: str, no: str) -> dict[str, Any] | None:
    """A BC sales document as people look at it (header fields and lines, amounts as text)."""
    if not no:
        return None
    header = (
        await conn.execute(
            select(t.sales_header).where(
                t.sales_header.c.company == company,
                t.sales_header.c.document_type == document_type,
                t.sales_header.c.no == no,
            )
        )
    ).first()
    if header is None:
        return None
    lines = (
        await conn.execute(
            select(t.sales_line)
            .where(
                t.sales_line.c.company == company,
                t.sales_line.c.document_type == document_type,
                t.sales_line.c.document_no == no,
            )
            .order_by(t.sales_line.c.line_no)
        )
    ).all()
    return {
        "document_type": document_type,
        "no": no,
        "status": header.status,
        "sell_to_customer_no": header.sell_to_customer_no,
        "your_reference": header.your_reference,
        "external_document_no": header.external_document_no,
        "currency_code": header.currency_code,
        "quote_no": header.quote_no,
        "lines": [
            {
                "line_no": ln.line_no,
                "type": ln.type,
                "no": ln.no,
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit_of_measure_code": ln.unit_of_measure_code,
                "unit_price": str(ln.unit_price),
                "line_discount_amount": str(ln.line_discount_amount),
                "amount": str(ln.amount),
                "attached_to_line_no": ln.attached_to_line_no,
            }
            for ln in lines
        ],
    }


async def quote_archives(conn: AsyncConnection, company: str, no: str) -> list[dict[str, Any]]:
    """The archived versions of a BC sales quote, oldest first."""
    ha = t.sales_header_archive
    rows = (
        await conn.execute(
            select(ha.c.version_no, ha.c.archived_at, ha.c.reason, ha.c.sales_revision)
            .where(ha.c.company == company, ha.c.document_type == "Quote", ha.c.no == no)
            .order_by(ha.c.version_no)
        )
    ).all()
    return [
        {
            "version_no": r.version_no,
            "archived_at": r.archived_at.isoformat(),
            "reason": r.reason,
            "revision": r.sales_revision,
        }
        for r in rows
    ]
