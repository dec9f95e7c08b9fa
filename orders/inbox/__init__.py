"""The order inbox: every Sales event to act on, stored durably, collapsed to one row per event.

Used as a namespace (``from orders import inbox``; ``inbox.claim(...)``):
- :mod:`~orders.inbox.states`: the states, events, sources and failure kinds (StrEnums);
- :mod:`~orders.inbox.rows`: a delivery, what it came to, an inbox row;
- :mod:`~orders.inbox.intake`: webhook deliveries and events without one into the inbox;
- :mod:`~orders.inbox.queue`: claiming with a lease, finishing, write-backs;
- :mod:`~orders.inbox.queries`: reading, a person's retry, counts, pruning;
- :mod:`~orders.inbox.set_aside`: a person's ignore and discard, and their log.
"""

from orders.inbox.intake import enqueue, record_delivery
from orders.inbox.queries import (
    counts_by_state,
    deliveries,
    find,
    get,
    list_rows,
    prune,
    retry,
    submitted_orders_waiting,
    waiting_submitted_orders,
)
from orders.inbox.queue import (
    claim,
    claim_one,
    claim_writebacks,
    finish,
    finish_writeback,
    owned,
    renew_lease,
)
from orders.inbox.rows import Delivery, DeliveryOutcome, InboxRow, utcnow
from orders.inbox.set_aside import InboxAction, SetAsideAction, SetAsideRefused, actions, set_aside
from orders.inbox.states import (
    NO_REVISION,
    OPEN_STATES,
    DeliveryResult,
    FailureKind,
    InboxEvent,
    InboxState,
    SalesTable,
    Source,
    WritebackState,
)

SALESORDER = SalesTable.SALESORDER
QUOTE = SalesTable.QUOTE

__all__ = [
    "NO_REVISION",
    "OPEN_STATES",
    "QUOTE",
    "SALESORDER",
    "Delivery",
    "DeliveryOutcome",
    "DeliveryResult",
    "FailureKind",
    "InboxAction",
    "InboxEvent",
    "InboxRow",
    "InboxState",
    "SalesTable",
    "SetAsideAction",
    "SetAsideRefused",
    "Source",
    "WritebackState",
    "actions",
    "claim",
    "claim_one",
    "claim_writebacks",
    "counts_by_state",
    "deliveries",
    "enqueue",
    "find",
    "finish",
    "finish_writeback",
    "get",
    "list_rows",
    "owned",
    "prune",
    "record_delivery",
    "renew_lease",
    "retry",
    "set_aside",
    "submitted_orders_waiting",
    "utcnow",
    "waiting_submitted_orders",
]
