"""Errors visible in Sales: a note on the Sales order or quote when BC's rules refuse it, and one
when it later becomes a BC document (no BC version does this; issue 12, item 3).

- **When.** A rule failure (BC's message; the inbox row waits for a person) owes a *failure* note,
  unless the same message was noted on that row already; a row that had a failure noted and is then
  created owes a *success* note. Both are recorded on the inbox row in the transaction that records
  the outcome (``note_pending``), so a crash never loses one. Switched by the setup's "Error Notes"
  (on by default): off, no failure note is owed and owed notes are dropped unsent.
- **Exactly once.** Each note's annotation id is fixed by what it is (the row, the kind, the
  message: :func:`note_id`), and the note is created with that id. Sending it again — a retry
  after a timeout, a second worker — makes Dataverse answer 412 with code 0x80040237
  (DuplicateRecord), which counts as sent. The row's ``note_pending`` is cleared only if it still
  says what was sent.
- **What it says.** The subject says what happened; the text is BC's message and what to do, or
  the BC document the Sales record became.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.dataverse.client import DataverseClient
from orders.dataverse.webapi import DataverseError
from orders.inbox.notes import BOTH, FAILURE, FAILURE_SUBJECT, SUCCESS, SUCCESS_SUBJECT, is_error_note
from orders.retry import ROW_RETRY_CAP, Backoff
from schemas.db import write_transaction
from schemas.tables import order_inbox as inbox

log = logging.getLogger("bcgw.notes")

DUPLICATE_RECORD = "0x80040237"  # Dataverse's DuplicateRecord: a row with that key exists
_NAMESPACE = uuid.UUID("6d1c3e0a-4f4b-4a8e-9a3e-0b5c2f7d1e12")
_SETS = {"salesorder": "salesorders", "quote": "quotes"}
_WHAT = {"salesorder": "sales order", "quote": "sales quote"}


@dataclass(frozen=True, slots=True)
class Note:
    annotation_id: str
    subject: str
    text: str


def note_id(company: str, inbox_id: int, kind: str, message: str = "") -> str:
    """The annotation id of a note: the same note always gets the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{company}\n{inbox_id}\n{kind}\n{message}"))


def failure_note(company: str, inbox_id: int, table_name: str, message: str) -> Note:
    what = _WHAT.get(table_name, table_name)
    command = "orders" if table_name == "salesorder" else "quotes"
    return Note(
        note_id(company, inbox_id, FAILURE, message),
        f"{FAILURE_SUBJECT}{what}",
        f"{message}\n\nWhat to do: correct what the message names (in Dynamics 365 Sales, or the coupling in "
        f"Business Central), then have it tried again: your Business Central administrator runs "
        f"'bc-gateway {command} retry {inbox_id}'. Another note will say when it has been created.",
    )


def success_note(company: str, inbox_id: int, table_name: str, document_type: str, document_no: str) -> Note:
    what = _WHAT.get(table_name, table_name)
    document = f"sales {document_type.lower()} {document_no}".strip()
    return Note(
        note_id(company, inbox_id, SUCCESS),
        f"{SUCCESS_SUBJECT}{document}",
        f"This {what} is now Business Central {document}.",
    )


def notes_of(row: Any, company: str) -> list[Note]:
    """The notes an inbox row owes, in the order they are sent."""
    out = []
    if row.note_pending in (FAILURE, BOTH):
        out.append(failure_note(company, row.id, row.table_name, row.note_error))
    if row.note_pending in (SUCCESS, BOTH):
        out.append(success_note(company, row.id, row.table_name, row.document_type, row.document_no))
    return out


async def send_due_notes(
    engine: AsyncEngine,
    company: str,
    client: Callable[[], DataverseClient],
    *,
    enabled: bool,
    max_attempts: int,
    base_delay: float,
    limit: int = 20,
    now: dt.datetime | None = None,
) -> int:
    """Send the notes the inbox owes Sales (see the module docstring); returns how many rows were
    done. ``client`` is called only when there is something to send."""
    now = now or dt.datetime.now(dt.UTC)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(inbox)
                .where(
                    inbox.c.company == company,
                    inbox.c.note_pending != "",
                    inbox.c.note_attempts < max_attempts,
                    or_(inbox.c.note_next_at.is_(None), inbox.c.note_next_at <= now),
                )
                .order_by(inbox.c.id)
                .limit(limit)
            )
        ).all()
    done = 0
    for row in rows:
        error = ""
        if enabled:
            try:
                dataverse = client()
                for note in notes_of(row, company):
                    await _create(dataverse, row.table_name, row.sales_id, note)
            except DataverseError as exc:
                error = exc.describe()
            except Exception as exc:  # Sales not configured, unreachable, ...: try again later
                error = f"{type(exc).__name__}: {exc}"
        async with write_transaction(engine) as conn:
            still = and_(inbox.c.id == row.id, inbox.c.note_pending == row.note_pending)
            if error:
                attempts = row.note_attempts + 1
                log.warning("note for inbox row %s not sent (attempt %s): %s", row.id, attempts, error)
                await conn.execute(
                    update(inbox)
                    .where(still)
                    .values(
                        note_attempts=attempts,
                        note_next_at=Backoff(base_delay, ROW_RETRY_CAP).next_attempt_at(attempts, now),
                    )
                )
            else:
                result = await conn.execute(update(inbox).where(still).values(note_pending="", note_next_at=None))
                done += result.rowcount
    return done


async def _create(client: DataverseClient, table_name: str, sales_id: str, note: Note) -> None:
    try:
        await client.create_note(_SETS[table_name], sales_id, note.subject, note.text, annotation_id=note.annotation_id)
    except DataverseError as exc:
        if exc.code != DUPLICATE_RECORD:
            raise
        # Sent before (a timeout hid the answer, or another worker was quicker): it is there.


__all__ = [
    "BOTH",
    "FAILURE",
    "SUCCESS",
    "Note",
    "failure_note",
    "is_error_note",
    "note_id",
    "notes_of",
    "send_due_notes",
    "success_note",
]
