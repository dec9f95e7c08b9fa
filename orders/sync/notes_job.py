"""BC's "Sales Order Notes - Dynamics 365 Sales synchronization job" (codeunit 5355 "CRM Notes
Synch Job", bc-sync.md §11): BC notes on coupled orders → annotations; new and changed
annotations on coupled Sales orders → BC notes.

The decisions are in ``orders/sync/notes.py`` (pure); the notes and couplings in
``schemas/record_link_store.py``. The scheduler runs this within seconds of a note added in BC
(the change feed's ``notes`` topic) and of an annotation added or changed in Sales (a ``$top=1``
probe every few seconds, :func:`sales_has_news`), and every 5 minutes besides.

Only in embedded mode: a real BC keeps its notes itself and its API (v2.0) does not expose them,
so in api mode a run does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.dataverse.requests import checked_guid, odata_datetime
from orders.sync import notes, store
from orders.sync.decide import advance_mark
from orders.sync.defaults import NOTES_JOB
from orders.sync.model import Counters, Direction
from orders.sync.ports import SalesChangedMeanwhile, SalesPort, SalesRefused
from orders.sync.transfer import Bind
from schemas import record_link_store as links
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.sync.notes")

JOB_NAME = str(NOTES_JOB)
ANNOTATIONS, SALES_ORDERS = "annotations", "salesorders"
ON_ORDERS = f"objecttypecode eq '{notes.SALES_ORDER}'"


@dataclass(frozen=True, slots=True)
class NotesRun:
    to_sales: int  # annotations made from BC notes
    from_sales: int  # BC notes made from annotations
    modified: int  # BC notes rewritten from changed annotations
    failed: int
    api_mode: bool = False

    @property
    def activity(self) -> int:
        return self.to_sales + self.from_sales + self.modified + self.failed


async def in_api_mode(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.connection_setup.c.bc_mode))).first()
    return bool(row and row.bc_mode == "api")


def _filter(*clauses: str) -> str:
    return " and ".join(c for c in clauses if c)


async def _send_bc_notes(engine: AsyncEngine, company: str, sales: SalesPort, errors: list[tuple[str, str]]) -> int:
    """CreateAnnotationsForCreatedNotes: each unsent note becomes an annotation, then is coupled."""
    async with engine.connect() as conn:
        unsent = await links.unsent_notes(conn, company)
    if not unsent:
        return 0
    # A Sales order that is gone gets no note, and no error (BC: FindCoupledCRMSalesOrder).
    there = await sales.rows_by_id(SALES_ORDERS, sorted({n.sales_order_id for n in unsent}))
    made = 0
    for note in unsent:
        if note.sales_order_id.lower() not in there:
            continue
        values = notes.annotation_values(company, note.link_id, note.description, note.note)
        values["objectid"] = Bind(SALES_ORDERS, note.sales_order_id)
        try:
            row = await sales.create_row(ANNOTATIONS, values)
        except SalesChangedMeanwhile:
            # 412 DuplicateRecord: made before (a crash between the write and the coupling).
            row = (await sales.rows_by_id(ANNOTATIONS, [values["annotationid"]])).get(values["annotationid"], {})
        except SalesRefused as exc:
            log.warning("sales order notes: note %s on order %s: %s", note.link_id, note.order_no, exc)
            errors.append((f"Record Link: {note.link_id}", str(exc)))
            continue
        made_row = notes.Annotation.from_row({"annotationid": values["annotationid"], **row})
        try:
            async with write_transaction(engine) as conn:
                await links.couple(conn, company, note.link_id, made_row.id, made_row.created_on, made_row.modified_on)
        except IntegrityError:
            continue  # another run coupled it a moment ago (the annotation is the same: its id is fixed)
        made += 1
    return made


async def _copy_new_annotations(
    engine: AsyncEngine, company: str, sales: SalesPort, user: str, mark: dt.datetime | None
) -> tuple[int, dt.datetime | None]:
    """CreateNotesForCreatedAnnotations: annotations created after the mark; (notes made, the
    newest ``createdon`` read)."""
    bound = notes.since(mark)
    clauses = [ON_ORDERS, f"_createdby_value ne {checked_guid(user)}"]
    if bound is not None:
        clauses.append(f"createdon gt {odata_datetime(bound)}")
    rows = [notes.Annotation.from_row(r) for r in await sales.find_rows(ANNOTATIONS, _filter(*clauses))]
    if not rows:
        return 0, None
    async with engine.connect() as conn:
        orders = await links.coupled_orders(conn, company, [a.object_id or "" for a in rows])
        coupled = await links.couplings(conn, company, [a.id for a in rows])
    made = 0
    for new in notes.new_for_bc(rows, orders, coupled, user):
        a = new.annotation
        try:
            async with write_transaction(engine) as conn:
                if await links.couplings(conn, company, [a.id]):
                    continue  # coupled meanwhile (the order's creation copied it)
                await links.insert_copied_note(
                    conn, company, new.order_no, a.id, a.subject, new.text, a.created_on, a.modified_on
                )
        except IntegrityError:
            continue  # coupled by the order's creation at this very moment: the key refused a second
        made += 1
    return made, notes.latest([a.created_on for a in rows])


async def _rewrite_changed_notes(
    engine: AsyncEngine, company: str, sales: SalesPort, user: str, mark: dt.datetime | None
) -> tuple[int, dt.datetime | None]:
    """ModifyNotesForModifiedAnnotations: coupled annotations changed after the mark; (notes
    rewritten, the newest ``modifiedon`` read)."""
    rows = [
        notes.Annotation.from_row(r) for r in await sales.changed_rows(ANNOTATIONS, ON_ORDERS, notes.since(mark), user)
    ]
    if not rows:
        return 0, None
    async with engine.connect() as conn:
        found = await links.couplings(conn, company, [a.id for a in rows])
    coupled = {k: notes.CoupledNote(c.link_id, c.crm_modified_on, c.note) for k, c in found.items()}
    changed = notes.changed_for_bc(rows, coupled, user)
    for change in changed:
        async with write_transaction(engine) as conn:
            await links.rewrite_note(conn, change.link_id, change.text, change.annotation.modified_on)
    return len(changed), notes.latest([a.modified_on for a in rows])


async def run_notes(
    engine: AsyncEngine, company: str, sales: SalesPort, job_queue_entry_id: str | None = None
) -> NotesRun:
    """One run. SalesUnavailable goes on to the scheduler (the job is retried); a note Sales
    refuses is logged as an error row and tried again at the next run."""
    if await in_api_mode(engine):
        return NotesRun(0, 0, 0, 0, api_mode=True)
    started = store.now()
    errors: list[tuple[str, str]] = []
    to_sales = await _send_bc_notes(engine, company, sales, errors)
    user = await sales.integration_user_id()
    async with engine.connect() as conn:
        created_mark, modified_mark = await links.notes_marks(conn, company)
    from_sales, created_seen = await _copy_new_annotations(engine, company, sales, user, created_mark)
    modified, modified_seen = await _rewrite_changed_notes(engine, company, sales, user, modified_mark)
    cap = notes.mark_cap(started)
    new_created = advance_mark(created_mark, created_seen, cap)
    new_modified = advance_mark(modified_mark, modified_seen, cap)
    counters = Counters(inserted=to_sales + from_sales, modified=modified, failed=len(errors))
    async with write_transaction(engine) as conn:
        if (new_created, new_modified) != (created_mark, modified_mark):
            await links.set_notes_marks(conn, company, new_created, new_modified)
        if counters.activity():
            job_id = await store.start_job(
                conn, company, JOB_NAME, Direction.BIDIRECTIONAL.value, started, job_queue_entry_id
            )
            for source, message in errors:
                await store.log_error(conn, company, job_id, source, "annotation", message)
            await store.finish_job(conn, job_id, counters, notes.JOB_MESSAGE)
    return NotesRun(to_sales, from_sales, modified, len(errors))


async def sales_has_news(engine: AsyncEngine, company: str, sales: SalesPort) -> bool:
    """The probe: an annotation on a Sales order created or changed after the job's marks, not
    by the integration user (``$top=1``). A new annotation's ``modifiedon`` is its ``createdon``,
    so one probe on ``modifiedon`` covers both passes."""
    async with engine.connect() as conn:
        _created, modified_mark = await links.notes_marks(conn, company)
    user = await sales.integration_user_id()
    return await sales.any_changed(ANNOTATIONS, ON_ORDERS, modified_mark, user)
