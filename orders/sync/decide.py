"""BC's decisions for one record and for a pass's marks (bc-sync.md §1.2, §1.3, §1.5). Pure.

The engine (orders/sync/engine.py) reads what these need — the coupling, whether the counterpart
exists, the two sides' change times — and carries out what they return.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from orders.sync.model import (
    Coupling,
    DeletionConflictResolution,
    Direction,
    SynchResult,
    UpdateConflictResolution,
)

# BC compares change times with TypeHelper.CompareDateTime: within 10 ms they are equal.
EQUAL_WITHIN = dt.timedelta(milliseconds=10)
# The Sales -> BC pass reads from the mark minus 999 ms: a one-second overlap (Dataverse keeps
# modifiedon to the second); the repeats it brings are Unchanged through the coupling's time.
OVERLAP = dt.timedelta(milliseconds=999)


def newer(source: dt.datetime | None, stored: dt.datetime | None) -> bool:
    """Whether ``source`` is later than ``stored`` by more than BC's 10 ms; no stored time: yes."""
    if stored is None:
        return True
    if source is None:
        return False
    return source - stored > EQUAL_WITHIN


def from_pass_since(mark: dt.datetime | None) -> dt.datetime | None:
    """The ``modifiedon gt`` bound of a Sales -> BC pass (None: every row)."""
    return None if mark is None else mark - OVERLAP


def advance_mark(old: dt.datetime | None, seen: dt.datetime | None, started: dt.datetime) -> dt.datetime | None:
    """A pass's new high-water mark: the largest time seen, capped at the pass's start (a change
    made while the pass ran is read again next time), and never earlier than before."""
    if seen is None:
        return old
    new = min(seen, started)
    return new if old is None or new > old else old


class Action(StrEnum):
    INSERT = "insert"  # create the counterpart and couple it
    UPDATE = "update"  # transfer the fields; write those that differ
    UNCHANGED = "unchanged"
    SKIP = "skip"  # a skipped coupling (counted Skipped)
    IGNORE = "ignore"  # uncoupled while "Synch. Only Coupled Records" (not counted)
    FAIL = "fail"
    RESTORE = "restore"  # deletion conflict, Restore Records: drop the coupling, insert afresh
    REMOVE_COUPLING = "remove_coupling"  # deletion conflict, Remove Coupling


@dataclass(frozen=True, slots=True)
class RecordDecision:
    action: Action
    message: str = ""
    both_modified: bool = False  # the destination changed too since the last sync (a possible conflict)


def touched_by_others(
    modified_on: dt.datetime | None,
    modified_by: str | None,
    stored: dt.datetime | None,
    integration_user: str | None,
    etag: str | None = None,
    stored_etag: str = "",
) -> bool:
    """A Sales row changed by someone else than the integration user since the stored time (its
    second included: Sales' times have whole seconds). The version synchronised last (its ETag,
    when the coupling has it) is not a change, even when someone else made it in that second."""
    if integration_user is None or not modified_by or modified_on is None or stored is None:
        return False
    if etag and stored_etag and etag == stored_etag:
        return False
    return modified_by.lower() != integration_user.lower() and modified_on >= stored - EQUAL_WITHIN


def coupled_to_deleted_message(table_caption: str) -> str:
    return f"The {table_caption} record cannot be updated because it is coupled to a deleted record."


def decide_record(
    direction: Direction,
    coupling: Coupling | None,
    *,
    only_coupled: bool,
    bidirectional: bool,
    counterpart_exists: bool,
    source_time: dt.datetime | None,
    destination_time: dt.datetime | None,
    deletion_resolution: DeletionConflictResolution,
    source_caption: str,
    force: bool = False,
    source_touched: bool = False,
    destination_touched: bool = False,
) -> RecordDecision:
    """What to do with one source record (bc-sync.md §1.3). ``destination_time`` is the
    counterpart's change time now (BC SystemModifiedAt or Sales modifiedon). ``*_touched``: that
    side's Sales row was last changed by someone other than the integration user at (not before)
    the time stored on the coupling — Dataverse keeps ``modifiedon`` to the second, so a person's
    edit in the same second as our write would otherwise look unchanged."""
    if coupling is None:
        return RecordDecision(Action.IGNORE if only_coupled else Action.INSERT)
    if coupling.skipped:
        return RecordDecision(Action.SKIP)
    if not counterpart_exists:
        if deletion_resolution == DeletionConflictResolution.RESTORE:
            return RecordDecision(Action.RESTORE)
        if deletion_resolution == DeletionConflictResolution.REMOVE:
            return RecordDecision(Action.REMOVE_COUPLING)
        return RecordDecision(Action.FAIL, coupled_to_deleted_message(source_caption))
    changed = (
        force
        or coupling.result(direction) == SynchResult.FAILURE
        or newer(source_time, coupling.source_time(direction))
        or source_touched
    )
    if not changed:
        return RecordDecision(Action.UNCHANGED)
    both = bidirectional and (newer(destination_time, coupling.destination_time(direction)) or destination_touched)
    return RecordDecision(Action.UPDATE, both_modified=both)


@dataclass(frozen=True, slots=True)
class ConflictOutcome:
    proceed: bool
    message: str = ""  # when it fails
    skip: bool = False  # the other direction wins: counted Skipped, nothing written
    wind_back_other: bool = False  # one-way changes only: the other side's stored time goes back


def update_conflict_message(dest_table: str, src_field: str, src_table: str, dest_field: str) -> str:
    return (
        f"Cannot update a record in the {dest_table} table. The mapping between {src_field} field on the "
        f"{src_table} table and the {dest_field} field on the {dest_table} table is bi-directional, and one "
        "or both values have changed since the last synchronization."
    )


def resolve_update_conflict(
    direction: Direction,
    both_modified: bool,
    differing_bidirectional: list[tuple[str, str]],
    resolution: UpdateConflictResolution,
    src_table: str,
    dest_table: str,
) -> ConflictOutcome:
    """BC's update conflict (bc-sync.md §1.5): both sides changed and a bidirectional field
    differs. ``differing_bidirectional`` holds (source field, destination field) captions."""
    if not both_modified:
        return ConflictOutcome(proceed=True)
    if not differing_bidirectional:
        return ConflictOutcome(proceed=True, wind_back_other=True)
    if resolution == UpdateConflictResolution.GET:
        return ConflictOutcome(proceed=direction == Direction.FROM, skip=direction == Direction.TO)
    if resolution == UpdateConflictResolution.SEND:
        return ConflictOutcome(proceed=direction == Direction.TO, skip=direction == Direction.FROM)
    src_field, dest_field = differing_bidirectional[0]
    return ConflictOutcome(proceed=False, message=update_conflict_message(dest_table, src_field, src_table, dest_field))


def wound_back(time: dt.datetime | None, side: Direction) -> dt.datetime | None:
    """The other side's stored time, wound back so the opposite pass still sees its change: by 999 ms
    for Sales' modifiedon, by 10 ms for BC's SystemModifiedAt (bc-sync.md §1.5)."""
    if time is None:
        return None
    return time - (OVERLAP if side == Direction.TO else EQUAL_WITHIN)


def after_failure(coupling: Coupling | None, direction: Direction, message: str) -> bool:
    """Whether a failed coupled record becomes Skipped: it failed before in this direction with
    the identical message (bc-sync.md §1.3 step 6). A failed insert has no coupling."""
    if coupling is None:
        return False
    return coupling.result(direction) == SynchResult.FAILURE and coupling.error(direction) == message


def without_full_stop(message: str) -> str:
    """An error text loses its trailing full stop before it is wrapped into another message."""
    return message[:-1] if message.endswith(".") else message
