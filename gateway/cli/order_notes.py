"""`bc-gateway orders note ORDER_NO TEXT` and `bc-gateway orders notes ORDER_NO`: BC's notes on a
sales order of the embedded BC (Record Links of type Note). A note on an order coupled to a Sales
order reaches Sales with the Sales Order Notes job; notes from Sales show here (FROM SALES)."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, print_json, print_table, run_with_engine, shorten, subcommands_of
from gateway.config import Settings
from orders.order_notes import NoteError, RecordLink, add_order_note, order_notes

HEADERS = ("LINK ID", "CREATED", "USER ID", "FROM SALES", "IN SALES", "DESCRIPTION", "NOTE")


def add_parsers(sub: Subcommands) -> None:
    """Adds ``note`` and ``notes`` to the ``orders`` command (made by gateway/cli/orders.py)."""
    o = subcommands_of(sub.choices["orders"])
    a = o.add_parser("note", help="add a note to a BC sales order (BC's Notes: a Record Link of type Note)")
    a.add_argument("order_no", metavar="ORDER_NO", help="the BC sales order's No. (e.g. SO000001)")
    a.add_argument("text", metavar="TEXT", help="the note's text")
    a.add_argument("--description", default="", help="the note's Description (the Sales note's title)")
    a.set_defaults(func=cmd_note)
    a = o.add_parser("notes", help="the notes on a BC sales order, oldest first")
    a.add_argument("order_no", metavar="ORDER_NO", help="the BC sales order's No. (e.g. SO000001)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_notes)


def _as_dict(n: RecordLink) -> dict[str, Any]:
    return {
        "link_id": n.link_id,
        "record_id": n.record_id,
        "type": n.type,
        "description": n.description,
        "note": n.note,
        "created": n.created.isoformat(),
        "user_id": n.user_id,
        "url1": n.url1,
        "notify": n.notify,
        "to_user_id": n.to_user_id,
        "sales_annotation_id": n.crm_annotation_id,
        "from_sales": n.sales_note_id is not None,
    }


def cmd_note(args: argparse.Namespace, settings: Settings) -> int:
    async def run(engine: AsyncEngine) -> RecordLink:
        return await add_order_note(
            engine, settings.company, args.order_no, args.text, description=args.description, user_id=_user()
        )

    try:
        note = run_with_engine(settings, run)
    except NoteError as exc:
        fail(str(exc))
    print(f"Added note {note.link_id} to sales order {note.document_no}.")
    print(
        "If the order is coupled to a Sales order, the Sales Order Notes job puts it on that order within "
        f"seconds; 'bc-gateway orders notes {note.document_no}' shows when it is there (IN SALES)."
    )
    return 0


def cmd_notes(args: argparse.Namespace, settings: Settings) -> int:
    async def run(engine: AsyncEngine) -> list[RecordLink]:
        return await order_notes(engine, settings.company, args.order_no)

    try:
        found = run_with_engine(settings, run)
    except NoteError as exc:
        fail(str(exc))
    if args.json:
        print_json([_as_dict(n) for n in found])
        return 0
    no = args.order_no.strip().upper()
    print_table(
        HEADERS,
        [
            (
                n.link_id,
                n.created.strftime("%Y-%m-%d %H:%M"),
                n.user_id,
                "yes" if n.sales_note_id else "",
                "yes" if n.crm_annotation_id else "",
                shorten(n.description, 40),
                shorten(n.note, 60),
            )
            for n in found
        ],
        f'Sales order {no} has no notes. Add one: bc-gateway orders note {no} "text"',
    )
    return 0


def _user() -> str:
    """BC's User ID of the note: who runs the command."""
    try:
        return getpass.getuser().upper()
    except Exception:
        return ""
