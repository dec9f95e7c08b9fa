"""Which notes an inbox row owes the Sales record (pure; orders/error_notes.py sends them).

Recorded on the row in the transaction that records its outcome, so that none is lost or doubled:
a rule failure owes a *failure* note (unless that failure was noted on the row already, or the
setup's Error Notes are off); a row created after a failure was noted owes a *success* note.
"""

from __future__ import annotations

from typing import Any

FAILURE, SUCCESS, BOTH = "failure", "success", "both"
# How the notes begin (orders/error_notes.py), and how they are known again: such a note on a Sales
# order is never copied into BC (not when the order is created, not by the notes job).
FAILURE_SUBJECT = "Business Central could not create the "
SUCCESS_SUBJECT = "Created in Business Central: "


def is_error_note(subject: str | None) -> bool:
    """Whether an annotation is one of our error notes (by its subject, which no one edits)."""
    return bool(subject) and str(subject).startswith((FAILURE_SUBJECT, SUCCESS_SUBJECT))


def owed_on_failure(enabled: bool, message: str, noted: str) -> dict[str, Any]:
    """The inbox columns a rule failure sets (``noted``: the failure last noted on the row)."""
    if not enabled or message == noted:
        return {}
    return {"note_pending": FAILURE, "note_error": message, "note_attempts": 0, "note_next_at": None}


def owed_on_success(noted: str, pending: str) -> dict[str, Any]:
    """The inbox columns a created row sets: a success note once a failure was noted (after an
    unsent failure note both are owed, the failure first)."""
    if not noted:
        return {}
    return {"note_pending": BOTH if pending == FAILURE else SUCCESS, "note_attempts": 0, "note_next_at": None}
