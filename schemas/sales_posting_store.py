"""Posting a BC sales order in the embedded BC: reading the order for the rules, writing what the
rules decided (``schemas/sales_posting.py``), all inside the caller's transaction.

A posting writes together or not at all: the lines' new quantities, the item ledger entries of the
shipment (through ``schemas/inventory.py``, so the running totals and the change feed move with
them), Qty. on Sales Order, the posted invoice with its number, the header's status and last
numbers, and, once the order is completely invoiced, its deletion with its coupling.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.db import is_sqlite
from schemas.inventory import LedgerLine, add_to_totals, post_ledger_entries
from schemas.sales_document_store import next_number
from schemas.sales_posting import OrderForPosting, OrderLineForPosting, PostedDocuments, SalesPosting

# BC's "Posted Shipment Nos." and "Posted Invoice Nos." of Sales & Receivables Setup.
SHIPMENT_SERIES = ("S-SHPT", "PSS000001")
INVOICE_SERIES = ("S-INV+", "PSI000001")
ZERO = Decimal(0)

# Header fields a posted invoice copies from its order.
_COPIED = (
    "sell_to_customer_no",
    "your_reference",
    "external_document_no",
    "work_description",
    "currency_code",
    "payment_terms_code",
    "shipment_method_code",
    "shipping_agent_code",
    "salesperson_code",
    "payment_discount_pct",
    "order_date",
    "quote_no",
    "sales_id",
    *(f"{side}_{part}" for side in ("bill_to", "ship_to") for part in t.ADDRESS_PARTS),
)


async def order_header(conn: AsyncConnection, company: str, no: str, lock: bool = False) -> Any:
    """The order's Sales Header row, or None; `lock`: held until the transaction ends, so that two
    postings of one order run one after the other."""
    h = t.sales_header
    stmt = select(h).where(h.c.company == company, h.c.document_type == "Order", h.c.no == no)
    if lock and not is_sqlite(conn):  # SQLite: the writer holds the database's lock already
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def order_for_posting(conn: AsyncConnection, company: str, header: Any) -> OrderForPosting:
    """The order as the posting rules read it: lines, what each has been invoiced for, blocks."""
    ln, il, it, rs = t.sales_line, t.sales_invoice_line, t.item, t.resource
    invoiced = {
        r.order_line_no: r
        for r in (
            await conn.execute(
                select(
                    il.c.order_line_no,
                    func.coalesce(func.sum(il.c.amount + il.c.inv_discount_amount), 0).label("line_amount"),
                    func.coalesce(func.sum(il.c.line_discount_amount), 0).label("line_discount"),
                    func.coalesce(func.sum(il.c.inv_discount_amount), 0).label("inv_discount"),
                )
                .where(il.c.company == company, il.c.order_no == header.no, il.c.type != "")
                .group_by(il.c.order_line_no)
            )
        ).all()
    }
    rows = (
        await conn.execute(
            select(
                ln,
                it.c.blocked.label("item_blocked"),
                it.c.type.label("item_type"),
                rs.c.blocked.label("resource_blocked"),
            )
            .select_from(
                ln.outerjoin(it, and_(ln.c.type == "Item", it.c.company == ln.c.company, it.c.no == ln.c.no)).outerjoin(
                    rs, and_(ln.c.type == "Resource", rs.c.company == ln.c.company, rs.c.no == ln.c.no)
                )
            )
            .where(ln.c.company == company, ln.c.document_type == "Order", ln.c.document_no == header.no)
            .order_by(ln.c.line_no)
        )
    ).all()
    lines = []
    for r in rows:
        done = invoiced.get(r.line_no)
        lines.append(
            OrderLineForPosting(
                line_no=r.line_no,
                type=r.type,
                no=r.no,
                description=r.description,
                location_code=r.location_code,
                quantity=r.quantity,
                unit_of_measure_code=r.unit_of_measure_code,
                qty_per_unit_of_measure=r.qty_per_unit_of_measure,
                unit_price=r.unit_price,
                line_discount_amount=r.line_discount_amount,
                amount=r.amount,
                attached_to_line_no=r.attached_to_line_no,
                outstanding_quantity=r.outstanding_quantity,
                qty_to_ship=r.qty_to_ship,
                quantity_shipped=r.quantity_shipped,
                qty_to_invoice=r.qty_to_invoice,
                quantity_invoiced=r.quantity_invoiced,
                invoiced_line_amount=Decimal(done.line_amount) if done else ZERO,
                invoiced_line_discount=Decimal(done.line_discount) if done else ZERO,
                invoiced_inv_discount=Decimal(done.inv_discount) if done else ZERO,
                blocked=bool(r.item_blocked or r.resource_blocked),
                inventory=r.type != "Item" or r.item_type in (None, "Inventory"),
            )
        )
    customer_blocked = (
        await conn.execute(
            select(t.customer.c.blocked).where(
                t.customer.c.company == company, t.customer.c.no == header.sell_to_customer_no
            )
        )
    ).scalar_one_or_none()
    return OrderForPosting(
        no=header.no,
        status=header.status,
        sell_to_customer_no=header.sell_to_customer_no,
        customer_blocked=bool(customer_blocked),
        invoice_discount_amount=header.invoice_discount_amount,
        lines=tuple(lines),
    )


async def set_status(conn: AsyncConnection, company: str, no: str, status: str) -> None:
    h = t.sales_header
    await conn.execute(
        update(h).where(h.c.company == company, h.c.document_type == "Order", h.c.no == no).values(status=status)
    )


async def write_posting(
    conn: AsyncConnection, company: str, header: Any, posting: SalesPosting, today: dt.date
) -> PostedDocuments:
    """Write what the rules decided; returns the numbers of what was posted."""
    no = header.no
    shipment_no = await next_number(conn, company, SHIPMENT_SERIES) if posting.shipped else ""
    entry_nos: list[int] = []
    ledger = [e for e in posting.shipment_entries if e.ledger and e.quantity_base]
    if ledger:
        entry_nos = await post_ledger_entries(
            conn,
            company,
            [
                LedgerLine(e.item_no, e.quantity_base, e.location_code, today, "Sale", shipment_no, e.description)
                for e in ledger
            ],
            today,
        )
    touched: set[str] = set()
    for e in posting.shipment_entries:
        if e.qty_on_sales_order_base:
            await add_to_totals(conn, company, e.item_no, e.location_code, qty_on_sales_order=e.qty_on_sales_order_base)
            touched.add(e.item_no)
    await changes.record_items(conn, company, touched)

    ln = t.sales_line
    for u in posting.line_updates:
        await conn.execute(
            update(ln)
            .where(
                ln.c.company == company,
                ln.c.document_type == "Order",
                ln.c.document_no == no,
                ln.c.line_no == u.line_no,
            )
            .values(
                outstanding_quantity=u.outstanding_quantity,
                outstanding_qty_base=u.outstanding_qty_base,
                qty_to_ship=u.qty_to_ship,
                quantity_shipped=u.quantity_shipped,
                qty_to_invoice=u.qty_to_invoice,
                quantity_invoiced=u.quantity_invoiced,
            )
        )

    invoice_no = ""
    if posting.invoice_lines:
        invoice_no = await next_number(conn, company, INVOICE_SERIES)
        await _insert_invoice(conn, company, header, posting, invoice_no, shipment_no or header.last_shipping_no, today)

    header_values: dict[str, Any] = {"status": posting.status}
    if shipment_no:
        header_values["last_shipping_no"] = shipment_no
    if invoice_no:
        header_values["last_posting_no"] = invoice_no
    h = t.sales_header
    await conn.execute(
        update(h).where(h.c.company == company, h.c.document_type == "Order", h.c.no == no).values(**header_values)
    )
    if posting.fully_invoiced:
        await delete_order(conn, company, header)
    return PostedDocuments(
        order_no=no,
        shipment_no=shipment_no,
        invoice_no=invoice_no,
        entry_nos=tuple(entry_nos),
        order_deleted=posting.fully_invoiced,
        posting_date=today,
        invoice_amount=posting.invoice_amount,
        items=tuple(sorted(touched)),
    )


async def _insert_invoice(
    conn: AsyncConnection,
    company: str,
    header: Any,
    posting: SalesPosting,
    invoice_no: str,
    shipment_no: str,
    today: dt.date,
) -> None:
    amount = posting.invoice_amount
    await conn.execute(
        insert(t.sales_invoice_header).values(
            company=company,
            no=invoice_no,
            system_id=str(uuid.uuid4()),
            order_no=header.no,
            bill_to_customer_no=header.sell_to_customer_no,
            posting_date=today,
            document_date=today,
            due_date=today,  # no payment terms calculation here (Due Date Calculation)
            shipment_date=today if posting.shipped else None,
            invoice_discount_amount=posting.invoice_discount,
            amount=amount,
            amount_including_vat=amount,  # no VAT is computed here
            created_at=dt.datetime.now(dt.UTC),
            **{name: getattr(header, name) for name in _COPIED},
        )
    )
    await conn.execute(
        insert(t.sales_invoice_line),
        [
            {
                "company": company,
                "document_no": invoice_no,
                "line_no": line.line_no,
                "type": line.type,
                "no": line.no,
                "description": line.description,
                "location_code": line.location_code,
                "quantity": line.quantity,
                "unit_of_measure_code": line.unit_of_measure_code,
                "qty_per_unit_of_measure": line.qty_per_unit_of_measure,
                "quantity_base": line.quantity_base,
                "unit_price": line.unit_price,
                "line_discount_amount": line.line_discount_amount,
                "inv_discount_amount": line.inv_discount_amount,
                "amount": line.amount,
                "amount_including_vat": line.amount,
                "attached_to_line_no": line.attached_to_line_no,
                "order_no": header.no,
                "order_line_no": line.line_no,
                "shipment_no": shipment_no if line.type else "",
            }
            for line in posting.invoice_lines
        ],
    )


async def delete_order(conn: AsyncConnection, company: str, header: Any) -> None:
    """BC deletes a completely invoiced order, and its coupling to the Sales order goes with it.
    What it still had outstanding leaves Qty. on Sales Order (nothing, once all is shipped)."""
    ln, nt, h, cir = t.sales_line, t.sales_note, t.sales_header, t.crm_integration_record
    doc = (ln.c.company == company, ln.c.document_type == "Order", ln.c.document_no == header.no)
    rest = (
        await conn.execute(
            select(ln.c.no, ln.c.location_code, ln.c.outstanding_qty_base).where(*doc, ln.c.type == "Item")
        )
    ).all()
    touched: set[str] = set()
    for r in rest:
        if r.outstanding_qty_base:
            await add_to_totals(conn, company, r.no, r.location_code, qty_on_sales_order=-r.outstanding_qty_base)
            touched.add(r.no)
    await changes.record_items(conn, company, touched)
    await conn.execute(delete(ln).where(*doc))
    await conn.execute(
        delete(nt).where(nt.c.company == company, nt.c.document_type == "Order", nt.c.document_no == header.no)
    )
    await conn.execute(delete(h).where(h.c.company == company, h.c.document_type == "Order", h.c.no == header.no))
    await conn.execute(
        delete(cir).where(
            cir.c.company == company,
            cir.c.table_id == t.TABLE_SALES_HEADER,
            cir.c.integration_id == header.system_id,
        )
    )


async def posted_invoice_for_sales_order(conn: AsyncConnection, company: str, sales_id: str) -> str | None:
    """The last posted invoice made from the BC order of a Sales order, if any."""
    ih = t.sales_invoice_header
    return (
        await conn.execute(
            select(ih.c.no)
            .where(ih.c.company == company, ih.c.sales_id == sales_id.lower())
            .order_by(ih.c.no.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def posted_invoices_of_order(conn: AsyncConnection, company: str, order_no: str) -> list[dict[str, Any]]:
    """The posted invoices made from an order, oldest first, with their lines."""
    ih, il = t.sales_invoice_header, t.sales_invoice_line
    headers = (
        await conn.execute(select(ih).where(ih.c.company == company, ih.c.order_no == order_no).order_by(ih.c.no))
    ).all()
    out = []
    for hdr in headers:
        lines = (
            await conn.execute(
                select(il).where(il.c.company == company, il.c.document_no == hdr.no).order_by(il.c.line_no)
            )
        ).all()
        out.append({**dict(hdr._mapping), "lines": [dict(r._mapping) for r in lines]})
    return out


async def coupled_sales_id(conn: AsyncConnection, company: str, header: Any) -> str | None:
    """The Sales order the BC order is coupled to, if any."""
    cir = t.crm_integration_record
    value = (
        await conn.execute(
            select(cir.c.crm_id).where(
                cir.c.company == company,
                cir.c.table_id == t.TABLE_SALES_HEADER,
                cir.c.integration_id == header.system_id,
            )
        )
    ).scalar()
    return str(value) if value is not None else None


async def queue_status_post(
    conn: AsyncConnection,
    company: str,
    header: Any,
    sales_id: str | None,
    change_type: str,
    order_fields: str,
    *,
    document_no: str = "",
    fully_invoiced: bool = False,
) -> None:
    """BC's "CRM Post Buffer" row for a release, shipment or invoice of an order, in the event's
    transaction (bc-sync.md §10.3), and the change feed's word for the Sales Order Status job.
    ``order_fields``: the SALESORDER-ORDER fields as JSON, taken now (the order may be deleted);
    ``sales_id``: the coupled Sales order, read before a posting deletes the coupling (None: the
    job discards the row, as BC does)."""
    await conn.execute(
        insert(t.crm_post_buffer).values(
            company=company,
            table_id=t.TABLE_SALES_HEADER,
            order_no=header.no,
            sales_id=sales_id,
            change_type=change_type,
            document_no=document_no,
            order_fields=order_fields,
            fully_invoiced=fully_invoiced,
            change_date_time=dt.datetime.now(dt.UTC),
        )
    )
    await changes.record(conn, changes.ORDER_STATUS, company, header.no)
