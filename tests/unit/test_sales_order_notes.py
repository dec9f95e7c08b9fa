"""The Sales Order Notes job's decisions (orders/sync/notes.py): BC's ExtractNoteText, which
annotations become BC notes, which changes rewrite one, and the annotation a BC note becomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orders.error_notes import failure_note, success_note
from orders.inbox.notes import is_error_note
from orders.sync.notes import (
    Annotation,
    CoupledNote,
    annotation_id,
    annotation_values,
    changed_for_bc,
    extract_note_text,
    new_for_bc,
)

ORDER = "0b6a3c7e-1111-4c4c-9a9a-000000000001"
OTHER_ORDER = "0b6a3c7e-1111-4c4c-9a9a-000000000002"
SALESPERSON = "5d7e0f00-0000-4000-8000-0000000000aa"
INTEGRATION = "5d7e0f00-0000-4000-8000-0000000000ff"
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("sales", "bc"),
    [
        # What the Sales note editor writes: one div per line inside a wrapper div.
        (
            '<div class="ck-content" data-wrapper="true"><div>Deliver to the back door</div>'
            "<div>Call &amp; ask for Jo</div></div>",
            "Deliver to the back door\nCall & ask for Jo",
        ),
        ("<div><b>Urgent</b>: <i>before</i> <u>Friday</u></div>", "Urgent: before Friday"),
        ('<div><span style="color:red">red</span> <strong>bold</strong><br></div>', "red bold"),
        ("<div><p>in a paragraph</p></div>", "in a paragraph"),
        ("<div>first</div><div></div><div>third</div>", "first\n\nthird"),
        # Empty lines after the last line with text are dropped; text outside the divs too.
        ("before<div>only</div><div></div>after", "only"),
        ("<div>&lt;x&gt; &#233;t&#xE9; &nbsp;x</div>", "<x> été \xa0x"),
        # Other tags stay, as in BC (it removes only the ones it knows).
        ("<div><a href='x'>link</a></div>", "<a href='x'>link</a>"),
        # No </div>: the text as it is, HTML and all.
        ("Plain text\nwith two lines", "Plain text\nwith two lines"),
        ("<p>a paragraph</p><p>another</p>", "<p>a paragraph</p><p>another</p>"),
        ("AT&amp;T", "AT&amp;T"),
        # A </div> with no div> before it: BC gives up and keeps the text.
        ("text</div>", "text</div>"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_is_stripped_as_bc_strips_it(sales: str | None, bc: str) -> None:
    assert extract_note_text(sales) == bc


def test_an_unclosed_span_stops_the_span_removal_as_in_bc() -> None:
    assert extract_note_text("<div><span class='a'>x<span</div>") == "x<span"


def _annotation(n: int, **over: Any) -> Annotation:
    values: dict[str, Any] = {
        "id": f"aaaaaaaa-0000-4000-8000-{n:012d}",
        "object_id": ORDER,
        "object_type": "salesorder",
        "subject": f"Note {n}",
        "text": f"<div>text {n}</div>",
        "is_document": False,
        "created_on": T0 + dt.timedelta(minutes=n),
        "modified_on": T0 + dt.timedelta(minutes=n),
        "created_by": SALESPERSON,
        "modified_by": SALESPERSON,
    }
    values.update(over)
    return Annotation(**values)


def test_new_annotations_on_coupled_orders_become_bc_notes_oldest_first() -> None:
    rows = [
        _annotation(3),
        _annotation(1),
        _annotation(2, object_id=OTHER_ORDER),  # its order is not coupled to a BC order
        _annotation(4, is_document=True),  # an attachment
        _annotation(5, created_by=INTEGRATION),  # ours: a BC note sent, or an error note
        _annotation(6),  # coupled already
        _annotation(7, object_type="quote"),
    ]
    chosen = new_for_bc(rows, {ORDER: "SO000001"}, [_annotation(6).id], INTEGRATION)
    assert [(c.annotation.subject, c.order_no, c.text) for c in chosen] == [
        ("Note 1", "SO000001", "text 1"),
        ("Note 3", "SO000001", "text 3"),
    ]


def test_error_notes_never_become_bc_notes_whoever_wrote_them() -> None:
    failure = failure_note("CRONUS", 7, "salesorder", "The Item does not exist.")
    success = success_note("CRONUS", 7, "salesorder", "Order", "SO000001")
    assert is_error_note(failure.subject) and is_error_note(success.subject)
    assert not is_error_note("Business Central") and not is_error_note(None)
    rows = [_annotation(1, subject=failure.subject), _annotation(2, subject=success.subject), _annotation(3)]
    chosen = new_for_bc(rows, {ORDER: "SO000001"}, [], INTEGRATION)
    assert [c.annotation.subject for c in chosen] == ["Note 3"]


def test_a_changed_annotation_rewrites_its_note_when_the_cleaned_text_differs() -> None:
    changed = _annotation(1, text="<div>new text</div>", modified_on=T0 + dt.timedelta(hours=1))
    same = _annotation(2, text="<div>text 2</div>", modified_on=T0 + dt.timedelta(hours=1))
    ours = _annotation(3, text="<div>by us</div>", modified_by=INTEGRATION, modified_on=T0 + dt.timedelta(hours=1))
    older = _annotation(4, text="<div>stale</div>", modified_on=T0)
    loose = _annotation(5, text="<div>not coupled</div>")
    couplings = {
        changed.id: CoupledNote(11, T0, "text 1"),
        same.id: CoupledNote(12, T0, "text 2"),
        ours.id: CoupledNote(13, T0, "text 3"),
        older.id: CoupledNote(14, T0 + dt.timedelta(minutes=30), "text 4"),
    }
    result = changed_for_bc([changed, same, ours, older, loose], couplings, INTEGRATION)
    assert [(c.link_id, c.text) for c in result] == [(11, "new text")]


def test_a_change_in_the_second_of_the_coupling_is_decided_by_the_text() -> None:
    # Sales keeps modifiedon to the second: the same time as the coupling's may be a change.
    edited = _annotation(1, text="edited", modified_on=T0)
    assert [c.text for c in changed_for_bc([edited], {edited.id: CoupledNote(11, T0, "text 1")}, INTEGRATION)] == [
        "edited"
    ]


def test_a_bc_note_always_becomes_the_same_annotation() -> None:
    assert annotation_id("CRONUS", 5) == annotation_id("CRONUS", 5)
    assert annotation_id("CRONUS", 5) != annotation_id("CRONUS", 6) != annotation_id("OTHER", 5)
    values = annotation_values("CRONUS", 5, "Delivery", "Back door, please")
    assert values == {
        "annotationid": annotation_id("CRONUS", 5),
        "subject": "Delivery",
        "notetext": "Back door, please",
        "isdocument": False,
        "objecttypecode": "salesorder",
    }


def test_an_annotation_row_from_the_web_api() -> None:
    row = {
        "annotationid": "AAAAAAAA-0000-4000-8000-000000000001",
        "_objectid_value": ORDER.upper(),
        "objecttypecode": "salesorder",
        "subject": None,
        "notetext": "x",
        "isdocument": False,
        "createdon": "2026-12-01T10:00:00Z",
        "modifiedon": "2026-12-01T10:05:00Z",
        "_createdby_value": SALESPERSON,
        "_modifiedby_value": INTEGRATION,
    }
    a = Annotation.from_row(row)
    assert (a.id, a.object_id, a.subject, a.created_on, a.modified_by) == (
        "aaaaaaaa-0000-4000-8000-000000000001",
        ORDER,
        "",
        T0,
        INTEGRATION,
    )


def test_a_mark_stays_before_the_second_its_pass_started_in() -> None:
    from orders.sync.notes import mark_cap

    started = dt.datetime(2026, 12, 1, 10, 0, 5, 400_000, tzinfo=dt.UTC)
    # A change later in 10:00:05 has modifiedon 10:00:05 (Sales keeps seconds): after the mark.
    assert mark_cap(started) < dt.datetime(2026, 12, 1, 10, 0, 5, tzinfo=dt.UTC) < started
    assert mark_cap(started) > dt.datetime(2026, 12, 1, 10, 0, 4, tzinfo=dt.UTC)
