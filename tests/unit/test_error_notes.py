"""Errors visible in Sales, the pure parts (orders/inbox/notes.py, orders/error_notes.py): which
notes a row owes, their fixed ids, and what they say."""

from __future__ import annotations

from types import SimpleNamespace

from orders.error_notes import failure_note, note_id, notes_of, success_note
from orders.inbox.notes import owed_on_failure, owed_on_success

MESSAGE = "The sales order cannot be created. The Dataverse product X is not coupled to an item."


def test_a_failure_is_owed_once_per_message_and_not_when_switched_off() -> None:
    assert owed_on_failure(True, MESSAGE, "")["note_pending"] == "failure"
    assert owed_on_failure(True, MESSAGE, "")["note_error"] == MESSAGE
    assert owed_on_failure(True, MESSAGE, MESSAGE) == {}  # noted already
    assert owed_on_failure(True, "another rule", MESSAGE)["note_error"] == "another rule"
    assert owed_on_failure(False, MESSAGE, "") == {}


def test_a_success_is_owed_only_after_a_failure_was_noted() -> None:
    assert owed_on_success("", "") == {}
    assert owed_on_success(MESSAGE, "")["note_pending"] == "success"
    assert owed_on_success(MESSAGE, "failure")["note_pending"] == "both"  # the failure note is not sent yet


def test_a_note_keeps_its_id_so_sending_it_again_makes_no_second_note() -> None:
    assert note_id("CRONUS", 7, "failure", MESSAGE) == note_id("CRONUS", 7, "failure", MESSAGE)
    ids = {
        note_id("CRONUS", 7, "failure", MESSAGE),
        note_id("CRONUS", 7, "failure", "another rule"),
        note_id("CRONUS", 8, "failure", MESSAGE),
        note_id("CRONUS", 7, "success"),
        note_id("OTHER", 7, "success"),
    }
    assert len(ids) == 5


def test_what_the_notes_say() -> None:
    failure = failure_note("CRONUS", 7, "quote", MESSAGE)
    assert failure.subject == "Business Central could not create the sales quote"
    assert failure.text.startswith(MESSAGE + "\n\nWhat to do:") and "bc-gateway quotes retry 7" in failure.text
    success = success_note("CRONUS", 7, "salesorder", "Order", "SO000004")
    assert success.subject == "Created in Business Central: sales order SO000004"
    assert success.text == "This sales order is now Business Central sales order SO000004."


def test_both_owed_sends_the_failure_first() -> None:
    row = SimpleNamespace(
        id=3, table_name="salesorder", note_pending="both", note_error=MESSAGE, document_type="Order", document_no="SO1"
    )
    assert [n.subject.split(":")[0] for n in notes_of(row, "CRONUS")] == [
        "Business Central could not create the sales order",
        "Created in Business Central",
    ]
