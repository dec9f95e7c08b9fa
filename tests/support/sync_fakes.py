"""An in-memory Sales for the synchronisation engine's tests (the ``SalesPort`` protocol).

It keeps what the engine relies on: ids, ``modifiedon`` (to the millisecond, always later than
the previous write) and ``modifiedby`` on every write, ``@odata.etag``, lookups as
``_<column>_value``, a unit group's base unit made on create, products created Draft, unique
product numbers and ISO codes, and a simple ``$filter`` (``and`` of ``eq`` / ``ne`` comparisons).
Changes "made by a person in Sales" go through ``edit`` (modifiedby = another user).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from orders.sync.ports import NewRow, SalesChangedMeanwhile, SalesRefused
from orders.sync.transfer import Bind, lookup_column

INTEGRATION_USER = "00000000-0000-0000-0000-0000000000aa"
SALES_USER = "00000000-0000-0000-0000-0000000000bb"

_KEYS = {
    "transactioncurrencies": "transactioncurrencyid",
}
_UNIQUE = {"products": ("productnumber",), "transactioncurrencies": ("isocurrencycode",), "uomschedules": ("name",)}
_CLAUSE = re.compile(r"^\s*(\S+)\s+(eq|ne|gt)\s+(.+?)\s*$")


def key_of(entity_set: str) -> str:
    return _KEYS.get(entity_set, entity_set[:-1] + "id")


class FakeSales:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.clock = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
        self.writes: list[tuple[str, str, str, dict[str, Any]]] = []  # (method, set, id, values)
        self.probes = 0
        self.batches: list[int] = []  # the size of each update_rows call
        self.created_in_batches: list[int] = []  # the size of each create_rows call

    # -- helpers for tests --------------------------------------------------------------------

    def _tick(self) -> str:
        self.clock = max(self.clock + dt.timedelta(milliseconds=1), dt.datetime.now(dt.UTC))
        return self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def table(self, entity_set: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(entity_set, {})

    def edit(self, entity_set: str, row_id: str, values: Mapping[str, Any]) -> None:
        """A person changes a row in Sales."""
        self._write(entity_set, row_id, dict(values), SALES_USER)

    def writes_to(self, entity_set: str, method: str = "PATCH") -> list[dict[str, Any]]:
        return [v for m, s, _i, v in self.writes if s == entity_set and m == method]

    # -- storage ------------------------------------------------------------------------------

    def _write(self, entity_set: str, row_id: str, values: dict[str, Any], user: str) -> dict[str, Any]:
        row = self.table(entity_set)[row_id]
        for name, value in values.items():
            if isinstance(value, Bind):
                row[lookup_column(name)] = value.id
            else:
                row[name] = value
        row["modifiedon"] = self._tick()
        row["_modifiedby_value"] = user
        row["versionnumber"] = row.get("versionnumber", 0) + 1
        row["@odata.etag"] = f'W/"{row["versionnumber"]}"'
        return dict(row)

    def _check_unique(self, entity_set: str, row_id: str, row: Mapping[str, Any]) -> None:
        for name in _UNIQUE.get(entity_set, ()):
            value = row.get(name)
            for other_id, other in self.table(entity_set).items():
                if other_id != row_id and value is not None and str(other.get(name)).lower() == str(value).lower():
                    raise SalesRefused(f"A record with matching key values already exists: {name} = {value!r}.")
        for name in ("price", "quantityonhand", "standardcost", "currentcost", "amount"):
            value = row.get(name)
            if isinstance(value, (int, Decimal)) and value < 0:
                raise SalesRefused(
                    f"A validation error occurred. The value {value} of '{name}' is outside the valid range."
                )

    def _matches(self, row: Mapping[str, Any], filter_: str | None) -> bool:
        if not filter_:
            return True
        for part in re.split(r"\s+and\s+", filter_.strip()):
            part = part.strip("() ")
            if " or " in part:
                if not any(self._matches(row, p) for p in part.split(" or ")):
                    return False
                continue
            match = _CLAUSE.match(part)
            if match is None:
                raise AssertionError(f"the fake cannot read the filter {part!r}")
            name, op, literal = match.groups()
            actual = row.get(name)
            wanted: Any
            if literal == "null":
                wanted = None
            elif literal.startswith("'"):
                wanted = literal[1:-1].replace("''", "'")
            elif re.fullmatch(r"-?\d+", literal):
                wanted = int(literal)
            else:
                wanted = literal
            if op == "gt":
                if actual is None or str(actual) <= str(wanted):
                    return False
                continue
            equal = (
                str(actual).lower() == str(wanted).lower()
                if actual is not None and wanted is not None
                else actual == wanted
            )
            if equal != (op == "eq"):
                return False
        return True

    # -- SalesPort ------------------------------------------------------------------------------

    async def integration_user_id(self) -> str:
        return INTEGRATION_USER

    async def changed_rows(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> list[dict[str, Any]]:
        out = []
        for row in self.table(entity_set).values():
            if not self._matches(row, filter_):
                continue
            if since is not None and dt.datetime.fromisoformat(row["modifiedon"].replace("Z", "+00:00")) <= since:
                continue
            if not_modified_by is not None and row.get("_modifiedby_value") == not_modified_by:
                continue
            out.append(dict(row))
        return sorted(out, key=lambda r: r["modifiedon"])

    async def any_changed(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> bool:
        self.probes += 1
        return bool(await self.changed_rows(entity_set, filter_, since, not_modified_by))

    async def rows_by_id(self, entity_set: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = self.table(entity_set)
        return {i.lower(): dict(table[i.lower()]) for i in ids if i and i.lower() in table}

    async def find_rows(self, entity_set: str, filter_: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.table(entity_set).values() if self._matches(r, filter_)]

    async def create_row(self, entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
        row_id = str(uuid.uuid4())
        key = key_of(entity_set)
        draft: dict[str, Any] = {key: row_id, "statecode": 0, "statuscode": 1}
        if entity_set == "products":
            draft.update(statecode=2, statuscode=0)
        for name, value in values.items():
            draft[lookup_column(name) if isinstance(value, Bind) else name] = (
                value.id if isinstance(value, Bind) else value
            )
        self._check_unique(entity_set, row_id, draft)
        self.table(entity_set)[row_id] = {key: row_id}
        self.writes.append(("POST", entity_set, row_id, dict(values)))
        row = self._write(entity_set, row_id, {k: v for k, v in draft.items() if k != key}, INTEGRATION_USER)
        if entity_set == "uomschedules":
            unit_id = str(uuid.uuid4())
            self.table("uoms")[unit_id] = {"uomid": unit_id}
            self._write(
                "uoms",
                unit_id,
                {
                    "name": row["baseuomname"],
                    "quantity": Decimal(1),
                    "isschedulebaseuom": True,
                    "_uomscheduleid_value": row_id,
                },
                INTEGRATION_USER,
            )
        return row

    async def update_rows(
        self, entity_set: str, updates: Sequence[tuple[str, Mapping[str, Any], str | None]]
    ) -> list[dict[str, Any] | Exception]:
        self.batches.append(len(updates))
        out: list[dict[str, Any] | Exception] = []
        for row_id, values, etag in updates:
            try:
                out.append(await self.update_row(entity_set, row_id, values, etag))
            except (SalesRefused, SalesChangedMeanwhile) as exc:
                out.append(exc)
        return out

    async def create_rows(self, entity_set: str, rows: Sequence[NewRow]) -> list[dict[str, Any] | Exception]:
        """Each new row and its writes all or none, as a change set: a refusal puts the rows back."""
        self.created_in_batches.append(len(rows))
        out: list[dict[str, Any] | Exception] = []
        for new in rows:
            saved, writes = copy.deepcopy(self.rows), len(self.writes)
            try:
                row_id = (await self.create_row(entity_set, new.values))[key_of(entity_set)]
                ref = {f"${new.content_id}": row_id}

                def resolved(values: Mapping[str, Any], ref: dict[str, str] = ref) -> dict[str, Any]:
                    return {
                        k: Bind(v.entity_set, ref.get(v.id, v.id)) if isinstance(v, Bind) and v.id else v
                        for k, v in values.items()
                    }

                for write in new.then:
                    if write.row_id is None:
                        await self.create_row(write.entity_set, resolved(write.values))
                    else:
                        await self.update_row(
                            write.entity_set, ref.get(write.row_id, write.row_id), resolved(write.values)
                        )
                out.append(dict(self.table(entity_set)[row_id]))
            except (SalesRefused, SalesChangedMeanwhile) as exc:
                self.rows, self.writes[writes:] = saved, []
                out.append(exc)
        return out

    async def update_row(
        self, entity_set: str, row_id: str, values: Mapping[str, Any], etag: str | None = None
    ) -> dict[str, Any]:
        row_id = row_id.lower()
        row = self.table(entity_set).get(row_id)
        if row is None:
            raise SalesRefused(f"Entity '{entity_set}' With Id = {row_id} Does Not Exist")
        if etag is not None and etag != row.get("@odata.etag"):
            raise SalesChangedMeanwhile("The version of the existing record doesn't match the RowVersion property")
        merged = {**row, **{k: v for k, v in values.items() if not isinstance(v, Bind)}}
        self._check_unique(entity_set, row_id, merged)
        self.writes.append(("PATCH", entity_set, row_id, dict(values)))
        return self._write(entity_set, row_id, dict(values), INTEGRATION_USER)
