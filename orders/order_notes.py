"""Notes on a BC sales order in the embedded BC (BC's Notes FactBox: a Record Link of type Note):
add one, list them. A note added to an order coupled to a Sales order goes to Sales with the Sales
Order Notes job (orders/sync/notes_job.py), within seconds.

In api mode a real BC holds its notes and its API (v2.0) does not expose them: adding one here
is refused, and the list is of what the gateway holds (nothing from that BC).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link.from_setup import local_write_refusal
from orders.change_setup import load_connection_setup
from schemas import record_link_store as links
from schemas.db import write_transaction
from schemas.record_link_store import NoteError, RecordLink

__all__ = ["NoteError", "RecordLink", "add_order_note", "order_notes"]


async def add_order_note(
    engine: AsyncEngine, company: str, order_no: str, text: str, *, description: str = "", user_id: str = ""
) -> RecordLink:
    """A new note on the order; the note as stored. NoteError with BC's message when the order
    does not exist, the text is empty, or BC is a real BC (api mode)."""
    if not text.strip():
        raise NoteError("The note is empty: write its text.")
    async with write_transaction(engine) as conn:
        refusal = local_write_refusal(await load_connection_setup(conn), "Add notes to sales orders")
        if refusal:
            raise NoteError(refusal)
        link_id = await links.add_note(conn, company, order_no, text, description=description, user_id=user_id)
        found = await links.order_notes(conn, company, order_no)
    return next(n for n in found or [] if n.link_id == link_id)


async def order_notes(engine: AsyncEngine, company: str, order_no: str) -> list[RecordLink]:
    """The order's notes, oldest first; NoteError when there is no such order."""
    async with engine.connect() as conn:
        found = await links.order_notes(conn, company, order_no)
    if found is None:
        raise NoteError(links.order_missing(order_no.strip().upper()))
    return found
