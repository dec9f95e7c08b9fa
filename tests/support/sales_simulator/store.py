"""The organisation's rows, and what a save does to them.

Each row keeps ``createdon``, ``modifiedon``, ``createdby``, ``modifiedby`` (the systemuser who
made the change: the integration user for Web API writes) and ``versionnumber`` (the ETag) as
Dataverse does, plus ``_seq`` (insertion order: collections and ``$skiptoken`` follow it). A save runs Dataverse's
rules (tables.check_update), and is then offered to the registered webhook steps; a failed
synchronous step rolls the whole save back to the snapshot taken before it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tests.support.dataverse_payloads import EntityReference
from tests.support.sales_simulator.errors import Refused
from tests.support.sales_simulator.tables import LINE_SETS, TABLES, Table, check_update

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

Rows = dict[str, dict[str, dict[str, Any]]]
INDEXED_FROM = 200  # rows in a table from which the unique checks use an index (holders)
# (message, the columns this operation set, the row before it or None, the row after it)
Operation = tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]


class RowStore:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.rows: Rows = {name: {} for name in TABLES}
        self._seq = 0
        # The unique checks' index of big tables (see holders): (entity set, key) -> the rows it
        # was built from, values -> row ids, how far into `_written` it has read.
        self._written: list[tuple[str, str]] = []  # (entity set, row id) of every put and update
        self._indexes: dict[tuple[str, tuple[str, ...]], tuple[dict[str, Any], dict[Any, set[str]], int]] = {}
        # An open change set's journal: each row it touched, as it was before (None: it did not
        # exist). Its rollback puts back those rows only; a copy of every row per change set made
        # a $batch of creates quadratic.
        self._journal: dict[tuple[str, str], dict[str, Any] | None] | None = None

    # -- reading -------------------------------------------------------------------------------

    def get(self, entity_set: str, row_id: str) -> dict[str, Any] | None:
        return self.rows[entity_set].get(row_id.lower())

    def ordered(self, entity_set: str) -> list[dict[str, Any]]:
        return sorted(self.rows[entity_set].values(), key=lambda r: r["_seq"])

    def lines(self, entity_set: str, parent_column: str, parent_id: str) -> list[dict[str, Any]]:
        """A document's lines in Sales' order (sequencenumber)."""
        parent_id = parent_id.lower()
        rows = [r for r in self.ordered(entity_set) if r[parent_column] and r[parent_column].id == parent_id]
        return sorted(rows, key=lambda r: r["sequencenumber"] or 0)

    def holders(
        self, entity_set: str, key: tuple[str, ...], wanted: tuple[Any, ...], comparable: Any
    ) -> Iterable[dict[str, Any]]:
        """Rows that may hold these values in the `key` columns (the caller compares them): every
        row of a small table, as always; from INDEXED_FROM rows on, those an index names (a full
        synchronisation creates 10,000 products: reading every row for each made it quadratic)."""
        rows = self.rows[entity_set]
        if len(rows) < INDEXED_FROM:
            return rows.values()

        def values(row: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(comparable(row.get(name)) for name in key)

        held = self._indexes.get((entity_set, key))
        if held is None or held[0] is not rows:  # first use, or the rows were restored from a snapshot
            index: dict[Any, set[str]] = {}
            for row_id, row in rows.items():
                index.setdefault(values(row), set()).add(row_id)
            held = (rows, index, len(self._written))
        rows_then, index, read = held
        for written_set, row_id in self._written[read:]:  # rows written since: their values now
            if written_set == entity_set and row_id in rows:
                index.setdefault(values(rows[row_id]), set()).add(row_id)
        self._indexes[(entity_set, key)] = (rows_then, index, len(self._written))
        # An id whose row is gone or has other values since is dropped by the caller's compare.
        return [rows[i] for i in index.get(wanted, ()) if i in rows]

    def snapshot(self) -> Rows:
        return copy.deepcopy(self.rows)

    # -- a change set's transaction -------------------------------------------------------------

    def begin(self) -> None:
        self._journal = {}

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        """Every row the change set touched back as it was (the rows' values are immutable, so
        a shallow copy of each is enough)."""
        journal, self._journal = self._journal or {}, None
        for (entity_set, row_id), before in journal.items():
            if before is None:
                self.rows[entity_set].pop(row_id, None)
            else:
                self.rows[entity_set][row_id] = before
                self._written.append((entity_set, row_id))  # the unique index reads it again

    def _touch(self, entity_set: str, row_id: str) -> None:
        if self._journal is not None and (entity_set, row_id) not in self._journal:
            row = self.rows[entity_set].get(row_id)
            self._journal[(entity_set, row_id)] = dict(row) if row is not None else None

    def restore(self, snapshot: Rows) -> None:
        self.rows = snapshot

    # -- writing -------------------------------------------------------------------------------

    def new_row(self, table: Table, row_id: str, user_id: str | None = None) -> dict[str, Any]:
        self._seq += 1
        row: dict[str, Any] = dict.fromkeys((*table.columns, *table.lookups))
        now = self.sim.now()
        user = EntityReference("systemuser", user_id or self.sim.user_id)
        row.update(
            {
                table.key: row_id,
                "createdon": now,
                "modifiedon": now,
                "createdby": user,
                "modifiedby": user,
                "versionnumber": 1,
                "_seq": self._seq,
            }
        )
        if "ownerid" in table.lookups:
            row["ownerid"] = user  # a new row is its creator's until an owner is given
        if "statecode" in table.columns and table.states:
            row["statecode"] = 0
            row["statuscode"] = table.states[0][0]
        return row

    def snapshot_for_steps(self) -> Rows | None:
        """A copy to roll back to when a synchronous step fails; None when no step is synchronous
        (copying every row for each save would make bulk writes slow)."""
        return self.snapshot() if self.sim.hooks.any_synchronous() else None

    def _restore_if(self, snapshot: Rows | None) -> None:
        if snapshot is not None:
            self.restore(snapshot)

    def put(
        self, entity_set: str, row_id: str, values: Mapping[str, Any], user_id: str | None = None
    ) -> dict[str, Any]:
        """A new row with these stored values, without running any step (test master data)."""
        row = self.new_row(TABLES[entity_set], row_id, user_id)
        row.update(values)
        self._touch(entity_set, row_id)
        self.rows[entity_set][row_id] = row
        self._written.append((entity_set, row_id))
        return row

    async def create(
        self, entity_set: str, values: Mapping[str, Any], user_id: str | None = None, snapshot: Rows | None = None
    ) -> str:
        """A Create: the row, then its steps. ``snapshot``: where a failed synchronous step rolls
        back to (a document's lines share their header's)."""
        table = TABLES[entity_set]
        data = dict(values)
        row_id = str(data.pop(table.key, None) or uuid.uuid4()).lower()
        if snapshot is None:
            snapshot = self.snapshot_for_steps()
        row = self.put(entity_set, row_id, data, user_id)
        target = {k: v for k, v in row.items() if v is not None and k != "_seq" and k != table.key}
        await self.sim.hooks.dispatch(
            table,
            row_id,
            [("Create", target, None, dict(row))],
            set(target),
            user_id or self.sim.user_id,
            lambda: self._restore_if(snapshot),
        )
        return row_id

    def delete(self, table: Table, row_id: str) -> None:
        """Remove a row (no steps are registered for Delete in this simulator)."""
        self._touch(table.entity_set, row_id.lower())
        if self.rows[table.entity_set].pop(row_id.lower(), None) is None:
            raise Refused(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {row_id} Does Not Exist")

    async def update(
        self, table: Table, row_id: str, changes: Mapping[str, Any], state: Mapping[str, Any], user_id: str
    ) -> None:
        """Apply an update as Dataverse does: edit rules, state/status pairs, and the split of a
        combined change into two Update operations (other columns first, then the state)."""
        row_id = row_id.lower()
        row = self.rows[table.entity_set].get(row_id)
        if row is None:
            raise Refused(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {row_id} Does Not Exist")
        changes, state = check_update(table, row, changes, state)
        self._touch(table.entity_set, row_id)
        snapshot = self.snapshot_for_steps()
        operations: list[Operation] = []
        for part in (changes, state):
            if not part:
                continue
            pre = dict(row)
            row.update(part)
            self._written.append((table.entity_set, row_id))
            row["modifiedon"] = self.sim.now()
            row["modifiedby"] = EntityReference("systemuser", user_id)
            row["versionnumber"] += 1
            message = "Update"
            if part is state and "statecode" in part and self.sim.state_change_message != "Update":
                message = self.sim.state_change_message
            operations.append((message, dict(part), pre, dict(row)))
        if table.entity_set in LINE_SETS and changes:
            self.recalculate(table.entity_set, row_id)
        await self.sim.hooks.dispatch(
            table, row_id, operations, set(changes) | set(state), user_id, lambda: self._restore_if(snapshot)
        )

    def recalculate(self, entity_set: str, row_id: str) -> None:
        """Totals as Sales computes them (line extended amounts, header discount, freight, tax)."""
        line_set, parent = LINE_SETS[entity_set]
        row = self.rows[entity_set][row_id]
        lines = self.lines(line_set, parent, row_id)
        line_total = sum((line["extendedamount"] or Decimal(0)) - (line["tax"] or Decimal(0)) for line in lines)
        line_total = Decimal(line_total)
        tax = Decimal(sum(line["tax"] or Decimal(0) for line in lines))
        percent = row["discountpercentage"] or Decimal(0)
        discount = (row["discountamount"] or Decimal(0)) + (line_total * percent / 100).quantize(Decimal("0.01"))
        freight = row["freightamount"] or Decimal(0)
        row["totallineitemamount"] = line_total
        row["totallineitemdiscountamount"] = Decimal(
            sum(
                (line["manualdiscountamount"] or 0) + (line["volumediscountamount"] or 0) * line["quantity"]
                for line in lines
            )
        )
        row["totaldiscountamount"] = discount
        row["totalamountlessfreight"] = line_total - discount
        row["totaltax"] = tax
        row["totalamount"] = line_total - discount + freight + tax
