"""The inbox's vocabulary, defined once: states, events, sources and failure kinds.

They are StrEnums, so each value is also the text stored in the database (and compares equal to
it), and a CLI or OData filter can use the same words.
"""

from __future__ import annotations

from enum import StrEnum


class SalesTable(StrEnum):
    """The Sales table an inbox row is about."""

    SALESORDER = "salesorder"
    QUOTE = "quote"


class InboxEvent(StrEnum):
    SUBMIT = "submit"  # a Sales order was submitted
    ACTIVATE = "activate"  # a quote was activated
    WIN = "win"  # a quote was won
    CHECK = "check"  # read the quote and see (size-exceeded deliveries, reconciliation, a person)


class InboxState(StrEnum):
    RECEIVED = "received"  # stored, waits for a worker
    PROCESSING = "processing"  # a worker holds its lease
    CREATED = "created"  # the BC document exists
    IGNORED = "ignored"  # nothing to do (not submitted, already coupled ...)
    WAITING = "waiting"  # automatic processing is off: waits for a person
    FAILED = "failed"  # see FailureKind


class FailureKind(StrEnum):
    NONE = ""
    RULE = "rule"  # one of BC's rules refused it (BC's message): waits for a person
    TRANSIENT = "transient"  # Sales or the database was away: retried with backoff


class WritebackState(StrEnum):
    """The write-back of lastbackofficesubmit to Sales, after the BC order exists."""

    NONE = ""
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Source(StrEnum):
    WEBHOOK = "webhook"
    MANUAL = "manual"  # a person's command
    RECONCILE = "reconcile"
    QUOTE = "quote"  # a won quote's order


class DeliveryResult(StrEnum):
    """What a webhook delivery came to, as the delivery log records it."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# A submitted Sales order in one of these states still waits to become a BC order.
OPEN_STATES = (InboxState.RECEIVED, InboxState.PROCESSING, InboxState.WAITING, InboxState.FAILED)
NO_REVISION = -1  # the revision of an event that has none (a key part must not be NULL)
