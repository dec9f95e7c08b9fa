"""BC's "Sales Order Notes" job (codeunit 5355 "CRM Notes Synch Job", bc-sync.md §11), the
decisions (pure); orders/sync/notes_job.py reads and writes.

- **BC → Sales, new notes only.** A note (Record Link of type Note) on a BC order coupled to a
  Sales order, not yet coupled to an annotation and not copied from Sales, becomes an
  ``annotation`` on that order: ``subject`` = Description, ``notetext`` = the note,
  ``isdocument`` false, ``objecttypecode`` salesorder. Its id is fixed by the note
  (:func:`annotation_id`), so a run repeated after a crash makes no second one. Edits and
  deletions of BC notes are not sent (BC neither).
- **Sales → BC, new.** Annotations on Sales orders created after the job's mark, on an order
  coupled to a BC order, not yet coupled: a BC note (Description = ``subject``, Created =
  ``createdon``, the text cleaned by :func:`extract_note_text`), coupled at once.
- **Sales → BC, changed.** Coupled annotations modified after the job's mark, whose cleaned text
  differs from the BC note: the note is rewritten.
- **Not ours back.** Annotations the integration user created — the notes this job sent, and the
  error notes (orders/error_notes.py) — are never copied into BC, and changes the integration user
  made never come back: the same rule as BC's engine (changes made by the integration user are not
  synchronised). A note that came from Sales is never sent to Sales.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orders.inbox.notes import is_error_note
from orders.sync.decide import OVERLAP

JOB_MESSAGE = "The notes on coupled sales orders have been synchronized."
SALES_ORDER = "salesorder"
_NAMESPACE = uuid.UUID("0c5f3b1e-5355-4d0e-9a55-5355c0de5355")

# -- BC's ExtractNoteText ---------------------------------------------------------------------------

# What BC removes from each line, literally and case-sensitively (CRMAnnotationCoupling.Table.al,
# RemoveHTMLStyleTagsFromNoteLine); then every "<span ...>" opening tag.
_INLINE_TAGS = (
    "<br>",
    "<br/>",
    "<br />",
    "<i>",
    "</i>",
    "<b>",
    "</b>",
    "<u>",
    "</u>",
    "<s>",
    "</s>",
    "<strong>",
    "</strong>",
    "<em>",
    "</em>",
    "<small>",
    "</small>",
    "<hr>",
    "<hr/>",
    "<hr />",
    "<p>",
    "</p>",
    "</span>",
)
# .NET's HtmlDecode decodes only complete references (with the ";").
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")


def _html_decode(text: str) -> str:
    return _ENTITY.sub(lambda m: html.unescape(m.group()), text)


def _remove_span_tags(line: str) -> str:
    start = line.find("<span")
    while start >= 0:
        end = line.find(">", start)
        if end < 0:
            return line  # an unclosed "<span": BC stops there
        line = line[:start] + line[end + 1 :]
        start = line.find("<span")
    return line


def _clean_line(line: str) -> str:
    for tag in _INLINE_TAGS:
        line = line.replace(tag, "")
    return _remove_span_tags(line)


def extract_note_text(annotation_text: str | None) -> str:
    """A Sales note's text as BC stores it in a BC note (BC's ExtractNoteText, which the notes job
    and the order's creation use):

    - a text without ``</div>`` (plain text, older notes) is kept exactly as it is;
    - otherwise each ``<div>…</div>`` is one line: the text between the last ``div>`` before a
      ``</div>`` and that ``</div>``, HTML-decoded, then stripped of ``<br>``, ``<i>``, ``<b>``,
      ``<u>``, ``<s>``, ``<strong>``, ``<em>``, ``<small>``, ``<hr>``, ``<p>``, ``</p>``, and
      ``<span …>`` / ``</span>`` (literally: other tags stay, as in BC);
    - lines are joined with a line feed (LF); empty lines after the last line with text are
      dropped, and so is whatever is outside the divs;
    - a ``</div>`` with no ``div>`` before it: BC gives up and keeps the text as it is.
    """
    if not annotation_text:
        return ""
    end = annotation_text.rfind("</div>")
    if end < 0:
        return annotation_text
    rest = annotation_text
    plain = ""
    while end >= 0:
        rest = rest[:end]
        start = rest.rfind("div>")
        if start < 0:
            return annotation_text
        line = _clean_line(_html_decode(rest[start + 4 :]))
        plain = line if plain == "" else f"{line}\n{plain}"
        end = rest.rfind("</div>")
    return plain


# -- what goes where --------------------------------------------------------------------------------


def annotation_id(company: str, link_id: int) -> str:
    """The annotation a BC note becomes: the same note always gives the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{company}\n{link_id}"))


def annotation_values(company: str, link_id: int, description: str, note: str) -> dict[str, Any]:
    """The ``annotation`` columns of a BC note (``objectid`` is bound by the caller)."""
    return {
        "annotationid": annotation_id(company, link_id),
        "subject": description,
        "notetext": note,
        "isdocument": False,
        "objecttypecode": SALES_ORDER,
    }


@dataclass(frozen=True, slots=True)
class Annotation:
    """An ``annotation`` row as the job needs it."""

    id: str
    object_id: str | None
    object_type: str | None
    subject: str
    text: str
    is_document: bool
    created_on: dt.datetime | None
    modified_on: dt.datetime | None
    created_by: str | None
    modified_by: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Annotation:
        def when(name: str) -> dt.datetime | None:
            value = row.get(name)
            if value is None or isinstance(value, dt.datetime):
                return value
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))

        def ref(name: str) -> str | None:
            value = row.get(f"_{name}_value")
            return str(value).lower() if value else None

        return cls(
            id=str(row["annotationid"]).lower(),
            object_id=ref("objectid"),
            object_type=row.get("objecttypecode"),
            subject=row.get("subject") or "",
            text=row.get("notetext") or "",
            is_document=bool(row.get("isdocument")),
            created_on=when("createdon"),
            modified_on=when("modifiedon"),
            created_by=ref("createdby"),
            modified_by=ref("modifiedby"),
        )


def _same_user(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


@dataclass(frozen=True, slots=True)
class NewNote:
    annotation: Annotation
    order_no: str
    text: str


def new_for_bc(
    annotations: Iterable[Annotation],
    orders: Mapping[str, str],
    coupled: Iterable[str],
    integration_user: str | None,
) -> list[NewNote]:
    """The annotations that become BC notes: on a Sales order coupled to a BC order (``orders``:
    Sales order id -> BC order no.), not coupled yet, not an attachment, not created by the
    integration user (ours: sent from BC, or an error note) and not an error note by its subject
    (should another user have written it). Oldest first."""
    done = {c.lower() for c in coupled}
    out = []
    for a in sorted(annotations, key=lambda a: (a.created_on or dt.datetime.min.replace(tzinfo=dt.UTC), a.id)):
        if a.id in done or a.is_document or _same_user(a.created_by, integration_user) or is_error_note(a.subject):
            continue
        if a.object_type not in (None, SALES_ORDER) or a.object_id is None or a.object_id not in orders:
            continue
        done.add(a.id)
        out.append(NewNote(a, orders[a.object_id], extract_note_text(a.text)))
    return out


@dataclass(frozen=True, slots=True)
class CoupledNote:
    link_id: int
    crm_modified_on: dt.datetime | None
    note: str


@dataclass(frozen=True, slots=True)
class ChangedNote:
    annotation: Annotation
    link_id: int
    text: str


def changed_for_bc(
    annotations: Iterable[Annotation], couplings: Mapping[str, CoupledNote], integration_user: str | None
) -> list[ChangedNote]:
    """The coupled annotations whose change reaches the BC note: not changed by the integration
    user, not older than the coupling's time, and whose cleaned text differs from the note (BC's
    ModifyNote decides by the text alone). Sales keeps ``modifiedon`` to the second, so a change
    in the second the coupling was made has the coupling's time: the text decides then."""
    out = []
    for a in annotations:
        coupling = couplings.get(a.id)
        if coupling is None or _same_user(a.modified_by, integration_user):
            continue
        if (
            coupling.crm_modified_on is not None
            and a.modified_on is not None
            and a.modified_on < coupling.crm_modified_on
        ):
            continue
        text = extract_note_text(a.text)
        if text != coupling.note:
            out.append(ChangedNote(a, coupling.link_id, text))
    return out


def mark_cap(started: dt.datetime) -> dt.datetime:
    """The latest a pass's mark may be: before the second the pass started in. Sales keeps
    ``modifiedon`` to the second, so a change made later in that second has that second's time;
    the probe (``modifiedon gt <mark>``, no overlap) must still see it."""
    return started.replace(microsecond=0) - dt.timedelta(milliseconds=1)


def since(mark: dt.datetime | None) -> dt.datetime | None:
    """The bound a pass reads after (BC's one-second overlap; None: every annotation)."""
    return None if mark is None else mark - OVERLAP


def latest(values: Sequence[dt.datetime | None]) -> dt.datetime | None:
    seen = [v for v in values if v is not None]
    return max(seen) if seen else None
