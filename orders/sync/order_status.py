"""What a BC order's release, shipment or invoice means for Sales (pure): BC's mapping
SALESORDER-ORDER and codeunit 5352 "CRM Order Status Update Job" (bc-sync.md §10).

- **Events.** A release, a posting that makes a shipment and one that makes an invoice each queue a
  "CRM Post Buffer" row in the transaction of the event (``schemas/sales_posting_store.py``), with
  the Sales order's id and the order's SALESORDER-ORDER fields as they were then.
- **Per order** with unsent rows: the fields of its latest row are written to the ``salesorder``
  (a Submitted order cannot be written, so first ``statecode`` 0, §10.1), then ``statecode`` 4 /
  ``statuscode`` 100003 (Invoiced) when the order is completely invoiced, else ``statecode`` 1
  (Submitted); and one ``post`` per row, with BC's text (§10.3).
- **Exactly once.** Each post's id is fixed by its buffer row (:func:`post_id`): a run repeated
  after a crash finds the post and does not make it again; a row is marked sent once its post is
  there.
- A row for an order that is not coupled (no Sales id) is discarded without a post, as BC does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

RELEASE, SHIPMENT, INVOICE = "Release", "Shipment", "Invoice"
TEXTS = {
    RELEASE: "The order status has changed to Released.",
    SHIPMENT: "A shipment has been created for the order.",
    INVOICE: "An invoice has been created for the order.",
}
ACTIVE, SUBMITTED, INVOICED = 0, 1, 4
STATUS_INVOICED = 100003
POST_SOURCE_MANUAL, POST_TYPE_CHECK_IN = 2, 1
JOB_MESSAGE = "Sent messages about status change of sales orders."
NOT_IN_SALES = "The Dynamics 365 Sales order {id} does not exist; no post was made."
_NAMESPACE = uuid.UUID("3f0b8f55-1c7e-4f0e-8a8e-5352c0de5352")


@dataclass(frozen=True, slots=True)
class BufferRow:
    """One "CRM Post Buffer" row: an event on a BC order."""

    id: int
    order_no: str
    sales_id: str | None
    change_type: str
    order_fields: Mapping[str, Any]
    fully_invoiced: bool = False


@dataclass(frozen=True, slots=True)
class Post:
    buffer_id: int
    post_id: str
    text: str

    def values(self) -> dict[str, Any]:
        """The ``post`` row's columns; ``regardingobjectid`` is bound by the caller."""
        return {"postid": self.post_id, "text": self.text, "source": POST_SOURCE_MANUAL, "type": POST_TYPE_CHECK_IN}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What Sales is told about one order."""

    sales_id: str
    order_no: str
    fields: Mapping[str, Any]
    statecode: int
    statuscode: int | None
    posts: tuple[Post, ...]

    @property
    def buffer_ids(self) -> tuple[int, ...]:
        return tuple(p.buffer_id for p in self.posts)


@dataclass(frozen=True, slots=True)
class Decision:
    updates: tuple[StatusUpdate, ...]
    discarded: tuple[int, ...]  # rows of orders that are not coupled: no post


def post_id(company: str, buffer_id: int) -> str:
    """The post's id: the same buffer row always gives the same post."""
    return str(uuid.uuid5(_NAMESPACE, f"{company}\n{buffer_id}"))


def _money(value: Any) -> float:
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def order_fields(header: Mapping[str, Any], last_shipment_date: dt.date | None) -> dict[str, Any]:
    """SALESORDER-ORDER's fields of a Sales Header (bc-sync.md §10.1), as ``salesorder`` columns:
    Amount → ``totalamountlessfreight``, Amount Incl. VAT → ``totalamount``, Invoice Discount
    Amount → ``discountamount``, Requested Delivery Date → ``requestdeliveryby``, Last Shipment
    Date → ``datefulfilled``. (``ordernumber`` is read-only in Sales, and the owner, currency and
    addresses came from Sales with the order: not written.)"""
    out: dict[str, Any] = {
        "totalamountlessfreight": _money(header.get("amount")),
        "totalamount": _money(header.get("amount_including_vat")),
        "discountamount": _money(header.get("invoice_discount_amount")),
    }
    requested = header.get("requested_delivery_date")
    if requested is not None:
        out["requestdeliveryby"] = requested.isoformat() if isinstance(requested, dt.date) else str(requested)
    if last_shipment_date is not None:
        out["datefulfilled"] = last_shipment_date.isoformat()
    return out


def decide(company: str, rows: Sequence[BufferRow]) -> Decision:
    """The updates for the unsent rows (oldest first): one per Sales order, its posts in the
    order of the events; rows of uncoupled orders are discarded."""
    by_order: dict[str, list[BufferRow]] = {}
    discarded: list[int] = []
    for row in sorted(rows, key=lambda r: r.id):
        if not row.sales_id or row.change_type not in TEXTS:
            discarded.append(row.id)
            continue
        by_order.setdefault(row.sales_id.lower(), []).append(row)
    updates = []
    for sales_id, events in by_order.items():
        invoiced = any(r.fully_invoiced for r in events)
        fields: dict[str, Any] = {}
        for r in events:  # later events' values win; an earlier shipment date stays
            fields.update(r.order_fields)
        updates.append(
            StatusUpdate(
                sales_id=sales_id,
                order_no=events[-1].order_no,
                fields=fields,
                statecode=INVOICED if invoiced else SUBMITTED,
                statuscode=STATUS_INVOICED if invoiced else None,
                posts=tuple(Post(r.id, post_id(company, r.id), TEXTS[r.change_type]) for r in events),
            )
        )
    return Decision(tuple(updates), tuple(discarded))


def fields_to_write(update: StatusUpdate, current: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields that differ from the Sales row (money compared as numbers)."""
    out = {}
    for column, value in update.fields.items():
        have = current.get(column)
        if isinstance(value, float) and have is not None:
            try:
                if abs(float(have) - value) < 0.005:
                    continue
            except (TypeError, ValueError):
                pass
        elif have is not None and str(have)[:10] == str(value)[:10]:
            continue
        out[column] = value
    return out
