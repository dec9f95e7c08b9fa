"""The in-memory database: companies, their tables, transactions and change events.

Each table keeps its rows in a dict by id plus a list of sort keys kept in order, so reading a page
is a bisect and a short walk, whatever the table's size, and no request copies a table. Writes
inside ``Store.atomic()`` log how to undo themselves; a failure rolls everything back (deep
inserts, ``$batch`` with ``Isolation: snapshot``). Change events are held until the outermost
transaction commits, so webhooks never announce a rolled-back change.
"""

from __future__ import annotations

import bisect
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .clock import SimClock
from .config import NumberSeries, SimConfig
from .doc_entities import DOCUMENTS
from .entities import COMPANIES, INTERNAL, MASTER_DATA, EntityDef

Rec = dict[str, Any]
_MISSING = object()
_TRAILING_DIGITS = re.compile(r"(\d+)(\D*)$")


@dataclass(frozen=True)
class Change:
    company_id: str
    set_name: str
    entity_id: str
    change_type: str  # created | updated | deleted
    at: datetime


@dataclass
class Txn:
    undo: list[Callable[[], None]] = field(default_factory=list)
    events: list[Change] = field(default_factory=list)

    def rollback(self) -> None:
        for step in reversed(self.undo):
            step()
        self.undo.clear()
        self.events.clear()


class Table:
    """Rows of one entity set of one company, ordered by the set's sort key."""

    def __init__(self, store: Store, defn: EntityDef, company_id: str) -> None:
        self.store = store
        self.defn = defn
        self.company_id = company_id
        self.rows: dict[str, Rec] = {}
        self._keys: list[tuple[Any, ...]] = []
        self._ids: list[str] = []
        self._by_key: dict[tuple[Any, ...], str] = {}
        self._sort_fields = defn.sort_key

    def __len__(self) -> int:
        return len(self.rows)

    def key_of(self, rec: Rec) -> tuple[Any, ...]:
        return tuple(rec[f] for f in self._sort_fields)

    def get(self, entity_id: str) -> Rec | None:
        return self.rows.get(entity_id)

    def by_key(self, *key: Any) -> Rec | None:
        entity_id = self._by_key.get(tuple(key))
        return self.rows[entity_id] if entity_id is not None else None

    def _index(self, key: tuple[Any, ...], entity_id: str) -> None:
        pos = bisect.bisect_left(self._keys, key)
        self._keys.insert(pos, key)
        self._ids.insert(pos, entity_id)
        self._by_key[key] = entity_id

    def _unindex(self, key: tuple[Any, ...]) -> None:
        pos = bisect.bisect_left(self._keys, key)
        del self._keys[pos]
        del self._ids[pos]
        del self._by_key[key]

    def insert(self, rec: Rec, notify: bool = True) -> Rec:
        entity_id = rec["id"] if "id" in rec else rec[self._sort_fields[0]]
        key = self.key_of(rec)
        rec["_v"] = self.store.next_version()
        self.rows[entity_id] = rec
        self._index(key, entity_id)
        self.store.on_undo(lambda: self._drop(entity_id, key))
        if notify:
            self.store.emit(self, entity_id, "created", rec.get("lastModifiedDateTime"))
        return rec

    def _drop(self, entity_id: str, key: tuple[Any, ...]) -> None:
        del self.rows[entity_id]
        self._unindex(key)

    def update(self, rec: Rec, changes: dict[str, Any], notify: bool = True, touch: bool = True) -> bool:
        """Apply changes in place; False (and nothing happens) when they change nothing."""
        changes = {k: v for k, v in changes.items() if rec.get(k, _MISSING) != v}
        if not changes:
            return False
        old_key = self.key_of(rec)
        before = {k: rec.get(k, _MISSING) for k in (*changes, "_v", "lastModifiedDateTime")}
        rec.update(changes)
        rec["_v"] = self.store.next_version()
        if touch and "lastModifiedDateTime" in self.defn.by_name:
            rec["lastModifiedDateTime"] = self.store.clock.now()
        new_key = self.key_of(rec)
        entity_id = rec["id"] if "id" in rec else rec[self._sort_fields[0]]
        if new_key != old_key:
            self._unindex(old_key)
            self._index(new_key, entity_id)

        def undo() -> None:
            if new_key != old_key:
                self._unindex(new_key)
                self._index(old_key, entity_id)
            for k, v in before.items():
                if v is _MISSING:
                    rec.pop(k, None)
                else:
                    rec[k] = v

        self.store.on_undo(undo)
        if notify:
            self.store.emit(self, entity_id, "updated", rec.get("lastModifiedDateTime"))
        return True

    def touch(self, rec: Rec) -> None:
        """A change the record itself does not show (a line of a document): new ETag and timestamp."""
        before = (rec["_v"], rec.get("lastModifiedDateTime"))
        rec["_v"] = self.store.next_version()
        if "lastModifiedDateTime" in self.defn.by_name:
            rec["lastModifiedDateTime"] = self.store.clock.now()

        def undo() -> None:
            rec["_v"], rec["lastModifiedDateTime"] = before

        self.store.on_undo(undo)
        self.store.emit(self, rec["id"], "updated", rec.get("lastModifiedDateTime"))

    def delete(self, rec: Rec, notify: bool = True) -> None:
        entity_id = rec["id"] if "id" in rec else rec[self._sort_fields[0]]
        key = self.key_of(rec)
        del self.rows[entity_id]
        self._unindex(key)

        def undo() -> None:
            self.rows[entity_id] = rec
            self._index(key, entity_id)

        self.store.on_undo(undo)
        if notify:
            self.store.emit(self, entity_id, "deleted", self.store.clock.now())

    def scan(self, after: tuple[Any, ...] | None = None, prefix: tuple[Any, ...] | None = None) -> Iterator[Rec]:
        """Rows in key order: those after a key (keyset paging), within a key prefix (lines of a document)."""
        start = 0
        if prefix is not None:
            start = bisect.bisect_left(self._keys, prefix)
        if after is not None:
            start = max(start, bisect.bisect_right(self._keys, after))
        keys, ids, rows = self._keys, self._ids, self.rows
        width = len(prefix) if prefix is not None else 0
        for pos in range(start, len(keys)):
            if prefix is not None and keys[pos][:width] != prefix:
                return
            yield rows[ids[pos]]

    def start_at(self, key: tuple[Any, ...]) -> Iterator[Rec]:
        """Rows from the first one whose key is >= key (a `gt`/`ge` filter on the leading sort field)."""
        pos = bisect.bisect_left(self._keys, key)
        for entity_id in self._ids[pos:]:
            yield self.rows[entity_id]

    def bulk_load(self, recs: list[Rec]) -> None:
        """Seeding: no undo, no events, one sort at the end (list operations in C, not per-row calls)."""
        first = self.store.reserve_versions(len(recs))
        for version, rec in enumerate(recs, first):
            rec["_v"] = version
        fields = self._sort_fields
        if len(fields) == 1:
            name = fields[0]
            keys = [(rec[name],) for rec in recs]
        else:
            keys = [tuple(rec[f] for f in fields) for rec in recs]
        ids = [rec["id"] for rec in recs]
        self.rows.update(zip(ids, recs, strict=True))
        self._by_key.update(zip(keys, ids, strict=True))
        in_order = (not self._keys or not keys or self._keys[-1] < keys[0]) and all(
            a < b for a, b in itertools.pairwise(keys)
        )
        self._keys.extend(keys)
        self._ids.extend(ids)
        if not in_order:
            order = sorted(range(len(self._keys)), key=self._keys.__getitem__)
            self._keys = [self._keys[i] for i in order]
            self._ids = [self._ids[i] for i in order]


class Company:
    """One company: its tables, number series, and the item inventory totals (BC's SIFT idea)."""

    def __init__(self, store: Store, rec: Rec) -> None:
        self.store = store
        self.rec = rec
        self.id: str = rec["id"]
        self.tables: dict[str, Table] = {
            d.set_name: Table(store, d, self.id) for d in (*MASTER_DATA, *INTERNAL, *DOCUMENTS)
        }
        self.last_numbers: dict[str, str] = {}
        self.inventory: dict[str, Decimal] = {}
        # Posted, unpaid amounts per customer number (customers.balanceDue).
        self.balances: dict[str, Decimal] = {}
        # Open item ledger entries per (item, location, variant), oldest first, for FIFO application;
        # None after a bulk load until first needed (then rebuilt from the ledger in one pass).
        self._open_entries: dict[tuple[str, str, str], list[str]] | None = {}
        self.next_entry_no = 1
        # Column getters per entity set (views.schema_for), built once per company.
        self.schemas: dict[str, Any] = {}

    @property
    def open_entries(self) -> dict[tuple[str, str, str], list[str]]:
        if self._open_entries is None:
            index: dict[tuple[str, str, str], list[str]] = {}
            for rec in self.tables["itemLedgerEntries"].scan():
                if rec["_open"]:
                    index.setdefault((rec["itemNumber"], rec["_location"], rec["_variant"]), []).append(rec["id"])
            self._open_entries = index
        return self._open_entries

    def forget_open_entries(self) -> None:
        self._open_entries = None

    @property
    def name(self) -> str:
        return str(self.rec["name"])

    def table(self, set_name: str) -> Table:
        return self.tables[set_name]

    def series(self, code: str) -> NumberSeries:
        return self.store.config.number_series[code]

    def next_number(self, code: str) -> str:
        series = self.series(code)
        last = self.last_numbers.get(code)
        number = series.start if last is None else increment(last)
        self.last_numbers[code] = number

        def undo() -> None:
            if last is None:
                self.last_numbers.pop(code, None)
            else:
                self.last_numbers[code] = last

        self.store.on_undo(undo)
        return number

    def add_inventory(self, item_no: str, quantity: Decimal | int) -> None:
        before = self.inventory.get(item_no, Decimal(0))
        self.inventory[item_no] = before + quantity

        def undo() -> None:
            self.inventory[item_no] = before

        self.store.on_undo(undo)


def increment(number: str) -> str:
    """BC's IncStr: the last run of digits plus one, same width."""
    match = _TRAILING_DIGITS.search(number)
    if match is None:
        return number + "1"
    digits = match.group(1)
    bumped = str(int(digits) + 1).zfill(len(digits))
    return number[: match.start(1)] + bumped + number[match.end(1) :]


class Store:
    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self._version = 10_000
        self._stack: list[Txn] = []
        self.listeners: list[Callable[[list[Change]], None]] = []
        self.companies = Table(self, COMPANIES, "")
        self.by_id: dict[str, Company] = {}

    def next_version(self) -> int:
        self._version += 1
        return self._version

    def reserve_versions(self, count: int) -> int:
        """The first of count consecutive row versions (bulk loading)."""
        first = self._version + 1
        self._version += count
        return first

    # -- companies ---------------------------------------------------------------------------

    def add_company(self, name: str, display_name: str = "", company_id: str | None = None) -> Company:
        now = self.clock.now()
        rec: Rec = {
            "id": company_id or str(uuid.uuid4()),
            "systemVersion": "27.0.38460.40658",
            "timestamp": 0,
            "name": name,
            "displayName": display_name or name,
            "businessProfileId": "",
            "systemCreatedAt": now,
            "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
            "systemModifiedAt": now,
            "systemModifiedBy": "00000000-0000-0000-0000-000000000001",
        }
        self.companies.insert(rec, notify=False)
        rec["timestamp"] = rec["_v"]
        company = Company(self, rec)
        self.by_id[company.id] = company
        return company

    def company(self, id_or_name: str) -> Company | None:
        found = self.by_id.get(id_or_name.lower())
        if found is not None:
            return found
        for company in self.by_id.values():
            if company.name == id_or_name:
                return company
        return None

    def clear(self) -> None:
        self.companies = Table(self, COMPANIES, "")
        self.by_id.clear()
        self._stack.clear()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Txn]:
        txn = Txn()
        self._stack.append(txn)
        try:
            yield txn
        except BaseException:
            self._stack.pop()
            txn.rollback()
            raise
        self._stack.pop()
        if self._stack:
            self._stack[-1].undo.extend(txn.undo)
            self._stack[-1].events.extend(txn.events)
        else:
            self._publish(txn.events)

    def commit_point(self) -> None:
        """AL COMMIT: everything so far becomes final, whatever fails afterwards."""
        events: list[Change] = []
        for txn in self._stack:
            txn.undo.clear()
            events.extend(txn.events)
            txn.events.clear()
        self._publish(events)

    def on_undo(self, step: Callable[[], None]) -> None:
        if self._stack:
            self._stack[-1].undo.append(step)

    def emit(self, table: Table, entity_id: str, change_type: str, at: datetime | None) -> None:
        change = Change(table.company_id, table.defn.set_name, entity_id, change_type, at or self.clock.now())
        if self._stack:
            self._stack[-1].events.append(change)
        else:
            self._publish([change])

    def _publish(self, events: list[Change]) -> None:
        if not events:
            return
        for listener in self.listeners:
            listener(events)
