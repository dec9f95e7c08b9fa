"""The synchronisation's data: mappings, field mappings, couplings, counters (BC's names).

Plain values, read from and written to the tables of migration 0012 by orders/sync/store.py; the
decisions (orders/sync/decide.py, transfer.py) take and return these and do no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from enum import StrEnum


class Direction(StrEnum):
    BIDIRECTIONAL = "Bidirectional"
    TO = "ToIntegrationTable"  # BC -> Sales
    FROM = "FromIntegrationTable"  # Sales -> BC


class UpdateConflictResolution(StrEnum):
    NONE = "None"
    SEND = "Send Update to Integration"
    GET = "Get Update from Integration"


class DeletionConflictResolution(StrEnum):
    NONE = "None"
    RESTORE = "Restore Records"
    REMOVE = "Remove Coupling"


class SynchResult(StrEnum):
    BLANK = ""
    SUCCESS = "Success"
    FAILURE = "Failure"


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One Integration Field Mapping row. ``field_name`` is our column of the BC record ("" for a
    constant); ``integration_field`` the Dataverse column (a lookup's column name, without
    ``_..._value``); ``lookup_mapping`` the mapping whose couplings translate the value."""

    no: int
    field_name: str
    integration_field: str
    direction: Direction = Direction.TO
    constant_value: str = ""
    lookup_mapping: str = ""
    transformation_rule: str = ""
    not_null: bool = False
    clear_value_on_failed_sync: bool = False
    enabled: bool = True
    use_for_match_based_coupling: bool = False
    case_sensitive_matching: bool = False
    match_priority: int = 0
    # What the BC field is called in BC's messages ("Base Unit of Measure"); defaults from the name.
    caption: str = ""

    def runs_in(self, direction: Direction) -> bool:
        return self.enabled and self.direction in (direction, Direction.BIDIRECTIONAL)

    @property
    def bc_caption(self) -> str:
        return self.caption or self.field_name.replace("_", " ").title()


@dataclass(frozen=True, slots=True)
class TableMapping:
    """One Integration Table Mapping row with its field rows."""

    name: str
    table_id: int
    integration_table: str  # Dataverse logical name: product, account, uomschedule, ...
    direction: Direction
    fields: tuple[FieldMapping, ...] = ()
    table_filter: str = ""
    integration_table_filter: str = ""
    synch_only_coupled_records: bool = True
    synch_modified_on_filter: dt.datetime | None = None  # Sales modifiedon mark (From pass)
    synch_int_tbl_mod_on_fltr: dt.datetime | None = None  # BC SystemModifiedAt mark (To pass)
    dependency_filter: str = ""
    deletion_conflict_resolution: DeletionConflictResolution = DeletionConflictResolution.NONE
    update_conflict_resolution: UpdateConflictResolution = UpdateConflictResolution.NONE
    create_new_in_case_of_no_match: bool = False
    synch_after_bulk_coupling: bool = False
    disable_event_job_resch: bool = False
    enabled: bool = True

    def runs(self, direction: Direction) -> bool:
        return self.direction in (direction, Direction.BIDIRECTIONAL)

    @property
    def dependencies(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.dependency_filter.split("|") if part.strip())

    def field_rows(self, direction: Direction) -> tuple[FieldMapping, ...]:
        return tuple(f for f in self.fields if f.runs_in(direction))

    def filters_integration_user(self) -> bool:
        """BC leaves out rows last modified by the integration user on a bidirectional mapping
        with no enabled From-only field that has a Dataverse column (bc-sync.md §1.2)."""
        if self.direction != Direction.BIDIRECTIONAL:
            return False
        return not any(f.enabled and f.direction == Direction.FROM and f.integration_field for f in self.fields)


@dataclass(frozen=True, slots=True)
class Coupling:
    """A CRM Integration Record with BC's synchronisation fields."""

    id: int
    crm_id: str
    integration_id: str
    table_id: int
    last_synch_modified_on: dt.datetime | None = None
    last_synch_crm_modified_on: dt.datetime | None = None
    last_synch_crm_etag: str = ""  # the Sales row's version seen then ("" unknown)
    last_synch_result: SynchResult = SynchResult.BLANK  # Sales -> BC
    last_synch_error: str = ""
    last_synch_crm_result: SynchResult = SynchResult.BLANK  # BC -> Sales
    last_synch_crm_error: str = ""
    skipped: bool = False

    def result(self, direction: Direction) -> SynchResult:
        return self.last_synch_crm_result if direction == Direction.TO else self.last_synch_result

    def error(self, direction: Direction) -> str:
        return self.last_synch_crm_error if direction == Direction.TO else self.last_synch_error

    def source_time(self, direction: Direction) -> dt.datetime | None:
        """The time stored for the side read in this direction."""
        return self.last_synch_modified_on if direction == Direction.TO else self.last_synch_crm_modified_on

    def destination_time(self, direction: Direction) -> dt.datetime | None:
        return self.last_synch_crm_modified_on if direction == Direction.TO else self.last_synch_modified_on


@dataclass(slots=True)
class Counters:
    """The counters of an Integration Synch. Job row."""

    inserted: int = 0
    modified: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    deleted: int = 0
    coupled: int = 0
    uncoupled: int = 0

    def activity(self) -> int:
        """What keeps a job awake: Inserted + Modified + Deleted + Failed (bc-sync.md §1.8)."""
        return self.inserted + self.modified + self.deleted + self.failed

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One Integration Synch. Job row as a run reports it."""

    id: str
    mapping_name: str
    direction: str
    start: dt.datetime
    finish: dt.datetime | None
    message: str = ""
    counters: Counters = field(default_factory=Counters)

    def __getattr__(self, name: str) -> int:  # summary.inserted, summary.failed, ...
        if name in Counters.__dataclass_fields__:
            return int(getattr(self.counters, name))
        raise AttributeError(name)
