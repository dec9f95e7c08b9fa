"""BC's notes on sales orders ("Record Link" of type Note, our ``sales_note``) and their couplings
to Sales annotations ("CRM Annotation Coupling"): what the Sales Order Notes job and the CLI read
and write (orders/sync/notes_job.py, gateway/cli/order_notes.py).

A note added here records a change feed row (topic ``notes``) in its transaction, so the notes
job hears of it within seconds. A note the notes job copies from Sales is coupled in the same
transaction that inserts it, so it is never taken for a new BC note and sent back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.db import insert_ignore

ORDER = "Order"
NOTE = "Note"
DESCRIPTION_LENGTH = 250


class NoteError(Exception):
    """A note cannot be added (BC's message)."""


def record_id(document_type: str, no: str) -> str:
    """BC's Record ID of the header a link belongs to, as BC shows it."""
    return f"Sales Header: {document_type},{no}"


def order_missing(no: str) -> str:
    return f"The Sales Header does not exist. Identification fields and values: Document Type='Order',No.='{no}'"


@dataclass(frozen=True, slots=True)
class RecordLink:
    link_id: int
    record_id: str
    document_no: str
    description: str
    note: str
    type: str
    created: dt.datetime
    user_id: str
    url1: str
    notify: bool
    to_user_id: str
    sales_note_id: str | None
    crm_annotation_id: str | None  # its coupling, if any

    @classmethod
    def from_row(cls, row: Any) -> RecordLink:
        return cls(
            link_id=row.id,
            record_id=record_id(row.document_type, row.document_no),
            document_no=row.document_no,
            description=row.description,
            note=row.note,
            type=row.type,
            created=row.created_at,
            user_id=row.user_id,
            url1=row.url1,
            notify=bool(row.notify),
            to_user_id=row.to_user_id,
            sales_note_id=str(row.sales_note_id) if row.sales_note_id else None,
            crm_annotation_id=str(row.crm_annotation_id) if row.crm_annotation_id else None,
        )


def _links_query() -> Any:
    nt, cp = t.sales_note, t.crm_annotation_coupling
    return select(nt, cp.c.crm_annotation_id).select_from(nt.outerjoin(cp, cp.c.record_link_id == nt.c.id))


async def add_note(
    conn: AsyncConnection, company: str, order_no: str, text: str, *, description: str = "", user_id: str = ""
) -> int:
    """A note written in BC on a sales order (BC: Notes > New); its Link ID."""
    h = t.sales_header
    no = order_no.strip().upper()
    exists = (
        await conn.execute(
            select(h.c.no).where(h.c.company == company, h.c.document_type == ORDER, h.c.no == no).with_for_update()
        )
    ).first()
    if exists is None:
        raise NoteError(order_missing(no))
    link_id = (
        await conn.execute(
            insert(t.sales_note)
            .values(
                company=company,
                document_type=ORDER,
                document_no=no,
                description=description[:DESCRIPTION_LENGTH],
                note=text,
                type=NOTE,
                user_id=user_id[:50],
                created_at=dt.datetime.now(dt.UTC),
            )
            .returning(t.sales_note.c.id)
        )
    ).scalar_one()
    await changes.record(conn, changes.NOTES, company, no)
    return int(link_id)


async def order_notes(conn: AsyncConnection, company: str, order_no: str) -> list[RecordLink] | None:
    """The notes of a sales order, oldest first; None when there is no such order."""
    h, nt = t.sales_header, t.sales_note
    no = order_no.strip().upper()
    found = (
        await conn.execute(select(h.c.no).where(h.c.company == company, h.c.document_type == ORDER, h.c.no == no))
    ).first()
    if found is None:
        return None
    rows = await conn.execute(
        _links_query()
        .where(nt.c.company == company, nt.c.document_type == ORDER, nt.c.document_no == no)
        .order_by(nt.c.id)
    )
    return [RecordLink.from_row(r) for r in rows.all()]


@dataclass(frozen=True, slots=True)
class UnsentNote:
    """A BC note on a coupled order that Sales has not got: BC's "CRM Annotation Buffer" row."""

    link_id: int
    order_no: str
    sales_order_id: str
    description: str
    note: str


async def unsent_notes(conn: AsyncConnection, company: str) -> list[UnsentNote]:
    """Notes of type Note on orders coupled to a Sales order, not coupled to an annotation and not
    copied from Sales (``sales_note_id``), oldest first."""
    nt, cp, h, cir = t.sales_note, t.crm_annotation_coupling, t.sales_header, t.crm_integration_record
    rows = await conn.execute(
        select(nt.c.id, nt.c.document_no, nt.c.description, nt.c.note, cir.c.crm_id)
        .select_from(
            nt.join(
                h,
                and_(h.c.company == nt.c.company, h.c.document_type == nt.c.document_type, h.c.no == nt.c.document_no),
            )
            .join(
                cir,
                and_(
                    cir.c.company == h.c.company,
                    cir.c.table_id == t.TABLE_SALES_HEADER,
                    cir.c.integration_id == h.c.system_id,
                ),
            )
            .outerjoin(cp, cp.c.record_link_id == nt.c.id)
        )
        .where(
            nt.c.company == company,
            nt.c.document_type == ORDER,
            nt.c.type == NOTE,
            nt.c.sales_note_id.is_(None),
            cp.c.record_link_id.is_(None),
        )
        .order_by(nt.c.id)
    )
    return [UnsentNote(r.id, r.document_no, str(r.crm_id), r.description, r.note) for r in rows.all()]


async def coupled_orders(conn: AsyncConnection, company: str, sales_ids: Iterable[str]) -> dict[str, str]:
    """Sales order id (lower case) -> the No. of the BC order coupled to it, for those that are."""
    wanted = sorted({s.lower() for s in sales_ids if s})
    if not wanted:
        return {}
    h, cir = t.sales_header, t.crm_integration_record
    rows = await conn.execute(
        select(cir.c.crm_id, h.c.no)
        .select_from(cir.join(h, and_(h.c.company == cir.c.company, h.c.system_id == cir.c.integration_id)))
        .where(
            cir.c.company == company,
            cir.c.table_id == t.TABLE_SALES_HEADER,
            cir.c.crm_id.in_(wanted),
            h.c.document_type == ORDER,
        )
    )
    return {str(r.crm_id).lower(): r.no for r in rows.all()}


@dataclass(frozen=True, slots=True)
class Coupling:
    link_id: int
    crm_annotation_id: str
    crm_modified_on: dt.datetime | None
    note: str


async def couplings(conn: AsyncConnection, company: str, annotation_ids: Sequence[str]) -> dict[str, Coupling]:
    """The couplings of these annotations, by lower-case annotation id, with the note's text."""
    wanted = sorted({a.lower() for a in annotation_ids if a})
    if not wanted:
        return {}
    cp, nt = t.crm_annotation_coupling, t.sales_note
    rows = await conn.execute(
        select(cp.c.record_link_id, cp.c.crm_annotation_id, cp.c.crm_modified_on, nt.c.note)
        .select_from(cp.join(nt, nt.c.id == cp.c.record_link_id))
        .where(cp.c.company == company, cp.c.crm_annotation_id.in_(wanted))
    )
    return {
        str(r.crm_annotation_id).lower(): Coupling(
            r.record_link_id, str(r.crm_annotation_id), r.crm_modified_on, r.note
        )
        for r in rows.all()
    }


async def couple(
    conn: AsyncConnection,
    company: str,
    link_id: int,
    annotation_id: str,
    created_on: dt.datetime | None,
    modified_on: dt.datetime | None,
) -> None:
    """BC's CoupleRecordLinkToCRMAnnotation (each side once: the keys refuse a second)."""
    await conn.execute(
        insert(t.crm_annotation_coupling).values(
            record_link_id=link_id,
            company=company,
            crm_annotation_id=annotation_id.lower(),
            last_synch_date_time=dt.datetime.now(dt.UTC),
            crm_created_on=created_on,
            crm_modified_on=modified_on,
        )
    )


async def insert_copied_note(
    conn: AsyncConnection,
    company: str,
    order_no: str,
    annotation_id: str,
    description: str,
    text: str,
    created_on: dt.datetime | None,
    modified_on: dt.datetime | None,
) -> int:
    """BC's CreateNote + coupling: a note copied from a Sales annotation, coupled to it at once."""
    link_id = (
        await conn.execute(
            insert(t.sales_note)
            .values(
                company=company,
                document_type=ORDER,
                document_no=order_no,
                description=description[:DESCRIPTION_LENGTH],
                note=text,
                type=NOTE,
                sales_note_id=annotation_id.lower(),
                created_at=created_on or dt.datetime.now(dt.UTC),
            )
            .returning(t.sales_note.c.id)
        )
    ).scalar_one()
    await couple(conn, company, int(link_id), annotation_id, created_on, modified_on)
    return int(link_id)


async def rewrite_note(conn: AsyncConnection, link_id: int, text: str, modified_on: dt.datetime | None) -> None:
    """A changed annotation's text into its coupled note (BC's ModifyNote)."""
    cp = t.crm_annotation_coupling
    await conn.execute(update(t.sales_note).where(t.sales_note.c.id == link_id).values(note=text))
    await conn.execute(
        update(cp)
        .where(cp.c.record_link_id == link_id)
        .values(crm_modified_on=modified_on, last_synch_date_time=dt.datetime.now(dt.UTC))
    )


async def couple_copied_notes(
    conn: AsyncConnection,
    company: str,
    order_no: str,
    times: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] | None = None,
) -> int:
    """Couple the notes an order got from its Sales order when it was created (as BC does in
    CreateSalesOrderNotes), unless their annotation is coupled already; how many. ``times``:
    annotation id (lower case) -> its createdon and modifiedon."""
    times = times or {}
    nt, cp = t.sales_note, t.crm_annotation_coupling
    rows = (
        await conn.execute(
            select(nt.c.id, nt.c.sales_note_id, nt.c.created_at)
            .select_from(nt.outerjoin(cp, cp.c.record_link_id == nt.c.id))
            .where(
                nt.c.company == company,
                nt.c.document_type == ORDER,
                nt.c.document_no == order_no,
                nt.c.sales_note_id.is_not(None),
                cp.c.record_link_id.is_(None),
            )
        )
    ).all()
    made = 0
    for r in rows:
        annotation_id = str(r.sales_note_id).lower()
        created_on, modified_on = times.get(annotation_id, (None, None))
        result = await conn.execute(
            insert_ignore(conn, cp, ["company", "crm_annotation_id"]).values(
                record_link_id=r.id,
                company=company,
                crm_annotation_id=annotation_id,
                last_synch_date_time=dt.datetime.now(dt.UTC),
                crm_created_on=created_on,
                crm_modified_on=modified_on,
            )
        )
        made += int(result.rowcount or 0)
    return made


# -- the job's marks (crm_synch_status) ----------------------------------------------------------


async def notes_marks(conn: AsyncConnection, company: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(created after, modified after): how far the Sales -> BC passes have read."""
    css = t.crm_synch_status
    row = (
        await conn.execute(
            select(css.c.notes_created_after, css.c.notes_modified_after).where(css.c.company == company)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


async def set_notes_marks(
    conn: AsyncConnection, company: str, created_after: dt.datetime | None, modified_after: dt.datetime | None
) -> None:
    css = t.crm_synch_status
    await conn.execute(insert_ignore(conn, css, ["company"]).values(company=company))
    await conn.execute(
        update(css)
        .where(css.c.company == company)
        .values(notes_created_after=created_after, notes_modified_after=modified_after)
    )


async def count_couplings(conn: AsyncConnection, company: str) -> int:
    cp = t.crm_annotation_coupling
    return int((await conn.execute(select(func.count()).where(cp.c.company == company))).scalar_one())
