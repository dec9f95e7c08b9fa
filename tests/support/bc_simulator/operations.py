"""Writes through the API, dispatched to the rules of each kind of entity set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import documents, masterdata
from .entities import EntityDef
from .errors import dialog, record_not_found
from .lines import BY_LINES, KINDS, create_line, delete_line, update_line
from .store import Company, Rec, Store

# Bound actions per entity set; None: BC has the action, the simulator does not implement it.
ACTIONS: dict[str, dict[str, Callable[[Company, Rec], Any] | None]] = {
    "salesQuotes": {"makeOrder": documents.make_order, "makeInvoice": None, "send": None},
    "salesOrders": {"shipAndInvoice": documents.ship_and_invoice},
    "salesInvoices": {"post": None, "send": None, "cancel": None},
}


def create(store: Store, company: Company, defn: EntityDef, parent: Rec | None, body: dict[str, Any]) -> Rec:
    with store.atomic():
        if defn.set_name in KINDS:
            return documents.create_document(company, KINDS[defn.set_name], body)
        if defn.set_name in BY_LINES:
            kind = BY_LINES[defn.set_name]
            header = parent
            if header is None:
                doc_id = body.get("documentId")
                header = company.table(kind.header_set).get(str(doc_id).lower()) if doc_id else None
                if header is None:
                    raise dialog("You must specify an Id or a Document Id to get the lines.")
            return create_line(company, kind, header, body)
        return masterdata.create(company, defn, body, parent)


def header_of(company: Company, defn: EntityDef, line: Rec) -> Rec:
    header = company.table(BY_LINES[defn.set_name].header_set).get(line["documentId"])
    if header is None:
        raise record_not_found("Sales Header", f"Id='{line['documentId']}'")
    return header


def update(company: Company, defn: EntityDef, rec: Rec, body: dict[str, Any]) -> None:
    if defn.set_name in KINDS:
        documents.update_document(company, KINDS[defn.set_name], rec, body)
    elif defn.set_name in BY_LINES:
        update_line(company, BY_LINES[defn.set_name], header_of(company, defn, rec), rec, body)
    else:
        masterdata.update(company, defn, rec, body)


def delete(company: Company, defn: EntityDef, rec: Rec) -> None:
    if defn.set_name in KINDS:
        documents.delete_document(company, KINDS[defn.set_name], rec)
    elif defn.set_name in BY_LINES:
        delete_line(company, BY_LINES[defn.set_name], header_of(company, defn, rec), rec)
    else:
        masterdata.delete(company, defn, rec)
