"""The inbox's records: a delivery as received, what it came to, and an inbox row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


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
    bc_key: str  # api mode: our key in the BC document's externalDocumentNumber
    bc_document_id: str | None  # api mode: BC's id of the document, once BC answered

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
