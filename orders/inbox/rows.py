"""The inbox's records: a delivery as received, what it came to, and an inbox row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from orders.inbox.states import FailureKind, InboxState


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery as received (what the delivery log keeps)."""

    table_name: str
    sales_id: str
    message_name: str
    event: str | None  # None: nothing to do (recorded as ignored)
    revision: int | None
    reason: str
    correlation_id: str = ""
    operation_id: str = ""
    organization: str = ""
    size_exceeded: bool = False
    body: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    outcome: str  # queued | duplicate | ignored
    inbox_id: int | None
    state: str | None


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    company: str
    table_name: str
    sales_id: str
    event: str
    revision: int
    state: str
    source: str
    attempts: int
    last_error: str
    failure: str
    document_type: str
    document_no: str
    writeback_state: str
    writeback_attempts: int
    received_at: dt.datetime
    processed_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    deliveries: int
    sales_number: str  # ordernumber / quotenumber, "" until a delivery or a read told it
    ignored_by: str  # a person set the row aside (`orders ignore`); "" otherwise
    ignored_at: dt.datetime | None
    ignored_reason: str

    bc_key: str  # api mode: our key in the BC document's externalDocumentNumber
    bc_document_id: str | None  # api mode: BC's id of the document, once BC answered
    note_pending: str  # notes owed to the Sales record (orders/inbox/notes.py); "" none
    note_error: str  # the failure last noted on the Sales record

    @property
    def label(self) -> str:
        """How people know the row's Sales record: its number, else its id."""
        return self.sales_number or self.sales_id

    @property
    def set_aside(self) -> bool:
        """Ignored by a person: only a person's retry or create brings it back."""
        return bool(self.ignored_by)

    def status(self, max_attempts: int, zone: dt.tzinfo = dt.UTC) -> str:
        """The state as a person needs it: a failed row the worker tries again by itself is
        "retrying (next at HH:MM:SS, attempt n of m)" (time in `zone`), not "failed"."""
        if self.state == InboxState.FAILED:
            if self.next_attempt_at is not None:
                at = self.next_attempt_at.astimezone(zone)
                return f"retrying (next at {at:%H:%M:%S}, attempt {self.attempts + 1} of {max_attempts})"
            if self.failure == FailureKind.TRANSIENT:
                return f"failed (gave up after {self.attempts} attempts)"
            return "failed (waits for a person)"
        if self.state == InboxState.IGNORED and self.ignored_by:
            return f"ignored by {self.ignored_by}"
        if self.state == InboxState.WAITING:
            return "waiting (for a person)"
        return self.state

    @classmethod
    def from_row(cls, row: Any) -> InboxRow:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        for k, v in out.items():
            if isinstance(v, dt.datetime):
                out[k] = v.isoformat()
        return out
