"""The gateway's copy of sales documents that a real BC holds (api mode).

When BC is the system of record, ``sales_header`` / ``sales_line`` mirror what BC's API answered,
so that ``SalesOrders``, ``SalesLines`` and ``Qty_on_Sales_Order`` show BC's documents at once
(the mirror's reads bring later changes). Everything runs inside the caller's transaction, together
with the coupling and the inbox state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import tables as t
from schemas.sales_document_store import add_outstanding


async def _lines(conn: AsyncConnection, company: str, document_type: str, no: str) -> list[Any]:
    ln = t.sales_line
    return list(
        (
            await conn.execute(
                select(ln)
                .where(ln.c.company == company, ln.c.document_type == document_type, ln.c.document_no == no)
                .order_by(ln.c.line_no)
            )
        ).all()
    )


async def _drop_lines(conn: AsyncConnection, company: str, document_type: str, no: str) -> None:
    old = await _lines(conn, company, document_type, no)
    if document_type == "Order":
        await add_outstanding(conn, company, old, Decimal(-1))
    ln = t.sales_line
    await conn.execute(
        delete(ln).where(ln.c.company == company, ln.c.document_type == document_type, ln.c.document_no == no)
    )


# What ties our copy to Sales: BC's API does not hold it, so a copy read from BC keeps ours.
HEADER_LINKS = ("sales_id", "sales_revision", "your_reference", "quote_no")


def _links_kept(old: Mapping[str, Any], new: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: old[name] for name in names if not new.get(name) and old.get(name)}


def _line_links_kept(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Mapping[str, Any]:
    if old is None or new.get("sales_line_id") or (old["type"], old["no"]) != (new["type"], new["no"]):
        return new
    return {**new, "sales_line_id": old["sales_line_id"]}


async def store_document(
    conn: AsyncConnection, company: str, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> None:
    """Insert or replace one document as BC holds it: header, lines, outstanding quantities.

    ``header`` has the ``sales_header`` columns (``document_type`` and ``no`` among them) except
    ``company`` and ``created_at``; ``lines`` the ``sales_line`` columns after the document's key."""
    h = t.sales_header
    document_type, no = header["document_type"], header["no"]
    where = (h.c.company == company, h.c.document_type == document_type, h.c.no == no)
    # Locked (PostgreSQL): the writer and the mirror's reads may store one document at once, and
    # what either read before the other committed must not undo it.
    existing = (await conn.execute(select(h).where(*where).with_for_update())).first()
    if existing is not None:
        header = {**header, **_links_kept(dict(existing._mapping), header, HEADER_LINKS)}
        kept = {row.line_no: dict(row._mapping) for row in await _lines(conn, company, document_type, no)}
        lines = [_line_links_kept(kept.get(line["line_no"]), line) for line in lines]
        await _drop_lines(conn, company, document_type, no)
        await conn.execute(update(h).where(*where).values(**header))
    else:
        await conn.execute(insert(h).values(company=company, created_at=dt.datetime.now(dt.UTC), **header))
    if lines:
        await conn.execute(
            insert(t.sales_line),
            [{"company": company, "document_type": document_type, "document_no": no, **line} for line in lines],
        )
    if document_type == "Order":
        await add_outstanding(conn, company, await _lines(conn, company, document_type, no), Decimal(1))


async def remove_document(conn: AsyncConnection, company: str, document_type: str, no: str) -> None:
    """BC no longer holds the document (a quote made into an order): header, lines and notes go."""
    await _drop_lines(conn, company, document_type, no)
    nt, h = t.sales_note, t.sales_header
    await conn.execute(
        delete(nt).where(nt.c.company == company, nt.c.document_type == document_type, nt.c.document_no == no)
    )
    await conn.execute(delete(h).where(h.c.company == company, h.c.document_type == document_type, h.c.no == no))


async def header_row(conn: AsyncConnection, company: str, document_type: str, no: str) -> Any | None:
    h = t.sales_header
    return (
        await conn.execute(select(h).where(h.c.company == company, h.c.document_type == document_type, h.c.no == no))
    ).first()


async def lines_by_no(conn: AsyncConnection, company: str, document_type: str, no: str) -> dict[int, Mapping[str, Any]]:
    """A document's lines by Line No. (what BC copies when it makes an order from a quote)."""
    return {row.line_no: row._mapping for row in await _lines(conn, company, document_type, no)}


async def item_units(conn: AsyncConnection, company: str, item_nos: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """(item no., unit code) → Qty. per Unit of Measure, from the gateway's item units."""
    iu = t.item_unit_of_measure
    wanted = sorted(set(item_nos))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(iu.c.item_no, iu.c.code, iu.c.qty_per_unit_of_measure).where(
            iu.c.company == company, iu.c.item_no.in_(wanted)
        )
    )
    return {(r.item_no, r.code): r.qty_per_unit_of_measure for r in rows}


__all__ = ["header_row", "item_units", "lines_by_no", "remove_document", "store_document"]
