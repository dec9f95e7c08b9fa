"""Match-based coupling (BC's "Int. Coupling Job Runner"), the pure part: which uncoupled BC
record goes with which Sales row, by the fields BC marks "Use For Match-Based Coupling".

docs/reference/bc-sync.md §1.6: for each uncoupled BC record the Sales table is filtered on the
match fields (text case-insensitive unless "Case-Sensitive Matching", empty BC values left out),
groups of fields tried in "Match Priority" order; exactly one uncoupled match couples. What stays
unmatched is created when "Create New in Case of No Match" is set, otherwise reported.

Where BC's code leaves a choice, ours (stated in the README, "Coupling and matching"):
- a priority group that finds no row, or several, falls through to the next group;
- a record with several uncoupled candidates is never created (a third twin helps nobody): it is
  reported with the candidates' ids, for a person to couple by hand;
- records are taken in key order and a row one record took is no longer free for the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class MatchField:
    """One field pair used for matching. `template`: how the BC value is written on the Sales
    side (BC names a unit group "NAV <code>")."""

    bc_field: str  # BC's caption: "No.", "Description", "Name", "Code"
    column: str  # the Dataverse column
    priority: int = 1
    case_sensitive: bool = False
    template: str = "{}"


@dataclass(frozen=True)
class MatchCriteria:
    """What match-based coupling of one kind reads and compares."""

    kind: str  # the CLI word: item, resource, customer, unit
    mapping: str  # BC's integration table mapping name
    bc_table: str  # BC's table caption
    entity_set: str  # the Dataverse table, as the Web API names it
    key_column: str  # its id column
    integration_filter: str  # the mapping's integration table filter, as an OData $filter ("" for none)
    fields: tuple[MatchField, ...]

    @property
    def columns(self) -> list[str]:
        """What to $select from Sales."""
        return [self.key_column, *dict.fromkeys(f.column for f in self.fields)]

    def groups(self) -> list[tuple[int, tuple[MatchField, ...]]]:
        """The fields by Match Priority, lowest first."""
        priorities = sorted({f.priority for f in self.fields})
        return [(p, tuple(f for f in self.fields if f.priority == p)) for p in priorities]


# Our defaults for "Use For Match-Based Coupling" (BC leaves the choice to whoever runs it):
# the number first, as it is unique on both sides, then the name.
CRITERIA: dict[str, MatchCriteria] = {
    "item": MatchCriteria(
        "item",
        "ITEM-PRODUCT",
        "Item",
        "products",
        "productid",
        "producttypecode eq 1 and statecode eq 0",
        (MatchField("No.", "productnumber", 1), MatchField("Description", "name", 2)),
    ),
    "resource": MatchCriteria(
        "resource",
        "RESOURCE-PRODUCT",
        "Resource",
        "products",
        "productid",
        "producttypecode eq 3 and statecode eq 0",
        (MatchField("No.", "productnumber", 1), MatchField("Name", "name", 2)),
    ),
    "customer": MatchCriteria(
        "customer",
        "CUSTOMER",
        "Customer",
        "accounts",
        "accountid",
        "statecode eq 0 and customertypecode eq 3",
        (MatchField("No.", "accountnumber", 1), MatchField("Name", "name", 2)),
    ),
    "unit": MatchCriteria(
        "unit",
        "UNIT OF MEASURE",
        "Unit of Measure",
        "uomschedules",
        "uomscheduleid",
        "",
        (MatchField("Code", "name", 1, template="NAV {}"),),
    ),
    # A salesperson is the Sales user with the same e-mail (BC's SALESPEOPLE match field).
    "salesperson": MatchCriteria(
        "salesperson",
        "SALESPEOPLE",
        "Salesperson/Purchaser",
        "systemusers",
        "systemuserid",
        "isdisabled eq false and islicensed eq true and isintegrationuser eq false",
        (MatchField("E-Mail", "internalemailaddress", 1),),
    ),
}


@dataclass(frozen=True)
class BcRecord:
    """An uncoupled BC record: its key (No. or Code), SystemId and the values of its match fields
    by BC caption."""

    key: str
    system_id: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class SalesRow:
    id: str
    values: Mapping[str, Any]


class Unmatched(StrEnum):
    NO_MATCH = "no match"
    SEVERAL = "several matches"
    TAKEN = "the only match is coupled"


@dataclass(frozen=True)
class Match:
    record: BcRecord
    row_id: str
    priority: int
    on: tuple[str, ...]  # the BC fields that matched


@dataclass(frozen=True)
class NotMatched:
    record: BcRecord
    reason: Unmatched
    candidates: tuple[str, ...] = ()  # Sales ids: the several rows, or the coupled one


@dataclass(frozen=True)
class MatchPlan:
    matches: tuple[Match, ...]
    to_create: tuple[BcRecord, ...]  # create new in case of no match
    unmatched: tuple[NotMatched, ...]  # left as they are: the report


def _norm(value: Any, case_sensitive: bool) -> str:
    text = "" if value is None else str(value).strip()
    return text if case_sensitive else text.casefold()


def _wanted(record: BcRecord, fields: Sequence[MatchField]) -> list[tuple[MatchField, str]]:
    """The group's fields with the BC value to look for; empty BC values are left out."""
    out = []
    for f in fields:
        value = (record.values.get(f.bc_field) or "").strip()
        if value:
            out.append((f, _norm(f.template.format(value), f.case_sensitive)))
    return out


def plan_matches(
    criteria: MatchCriteria,
    records: Iterable[BcRecord],
    rows: Iterable[SalesRow],
    coupled_rows: Iterable[str],
    *,
    create_new: bool = False,
) -> MatchPlan:
    """Decide, for each uncoupled BC record, the Sales row to couple it to, or why there is none.
    `coupled_rows`: Sales ids already coupled (to any record of this BC table)."""
    rows = list(rows)
    taken = {r.lower() for r in coupled_rows}
    matches: list[Match] = []
    to_create: list[BcRecord] = []
    unmatched: list[NotMatched] = []
    groups = criteria.groups()
    # One index per (column, case sensitivity): value -> row ids, so a run is linear, not n × m.
    index: dict[tuple[str, bool], dict[str, list[str]]] = {}
    for f in criteria.fields:
        by_value = index.setdefault((f.column, f.case_sensitive), {})
        if by_value:
            continue
        for row in rows:
            by_value.setdefault(_norm(row.values.get(f.column), f.case_sensitive), []).append(row.id.lower())
    for record in sorted(records, key=lambda r: r.key):
        outcome: Match | NotMatched | None = None
        several: NotMatched | None = None
        coupled_one: NotMatched | None = None
        for priority, fields in groups:
            wanted = _wanted(record, fields)
            if not wanted:
                continue
            found: set[str] | None = None
            for f, value in wanted:
                ids = set(index[(f.column, f.case_sensitive)].get(value, ()))
                found = ids if found is None else found & ids
            free = sorted((found or set()) - taken)
            if len(free) == 1:
                outcome = Match(record, free[0], priority, tuple(f.bc_field for f, _v in wanted))
                break
            if len(free) > 1 and several is None:
                several = NotMatched(record, Unmatched.SEVERAL, tuple(free))
            elif found and not free and coupled_one is None:
                coupled_one = NotMatched(record, Unmatched.TAKEN, tuple(sorted(found)))
        if isinstance(outcome, Match):
            taken.add(outcome.row_id)
            matches.append(outcome)
        elif several is not None:
            unmatched.append(several)
        elif create_new:
            to_create.append(record)
        else:
            unmatched.append(coupled_one or NotMatched(record, Unmatched.NO_MATCH))
    return MatchPlan(tuple(matches), tuple(to_create), tuple(unmatched))


def failure_message(organisation_url: str, count: int) -> str:
    """BC's one log line for what stayed unmatched (bc-sync.md §1.6)."""
    return (
        f"Failed to couple {count} record(s), because no unique uncoupled matching entity was found in "
        f"{organisation_url} with the specified matching criteria."
    )


def describe(item: NotMatched) -> str:
    """Why a record stayed unmatched, for the report."""
    if item.reason is Unmatched.SEVERAL:
        return f"several matches: {', '.join(item.candidates)}"
    if item.reason is Unmatched.TAKEN:
        return f"the only match {item.candidates[0]} is coupled to another record"
    return "no match"
