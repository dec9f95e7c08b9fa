"""``SalesPort`` over the Dataverse Web API (orders/dataverse/writes.py).

Lookups come in as ``transfer.Bind`` values keyed by the lookup column and go out as
``<navigation property>@odata.bind`` (Dataverse's navigation names are case-sensitive and, for a
polymorphic lookup, carry the target table). Sales' refusals become ``SalesRefused`` (the record
fails with Sales' message); Sales being away or throttling beyond patience ``SalesUnavailable``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from orders.dataverse.writes import (
    DUPLICATE_RECORD,
    ChangeSet,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseTables,
    DataverseUnavailable,
    Operation,
    Query,
    bind,
    changes_query,
    entity_set_key,
    unbind,
)
from orders.sync.ports import FollowingWrite, NewRow, SalesChangedMeanwhile, SalesRefused, SalesUnavailable
from orders.sync.transfer import Bind

# (entity set, lookup column) -> navigation property, where it is not the lookup's own name: a
# polymorphic lookup (a contact's company: account or contact) names its target table.
NAVIGATION: dict[tuple[str, str], str] = {
    ("contacts", "parentcustomerid"): "parentcustomerid_account",
    ("posts", "regardingobjectid"): "regardingobjectid_salesorder",  # a post on an order's wall
    ("invoices", "customerid"): "customerid_account",  # an invoice's customer: an account
    ("annotations", "objectid"): "objectid_salesorder",  # a BC note on a Sales order (the notes job)
}

ID_CHUNK = 50  # ids per "or" filter: a URL stays well below Dataverse's length limit


def navigation(entity_set: str, column: str) -> str:
    return NAVIGATION.get((entity_set, column), column)


def body(entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in values.items():
        if isinstance(value, Bind) and value.id and value.id.startswith("$"):
            out[f"{navigation(entity_set, column)}@odata.bind"] = value.id  # a row new in the change set
        elif isinstance(value, Bind):
            nav = navigation(entity_set, column)
            out.update(bind(nav, value.entity_set, value.id) if value.id else unbind(nav))
        else:
            out[column] = value
    return out


def _translate(exc: DataverseError) -> Exception:
    if isinstance(exc, DataversePreconditionFailed) and exc.code == DUPLICATE_RECORD:
        return SalesRefused(exc.message)  # a row with the same unique key exists: this record fails
    if isinstance(exc, DataversePreconditionFailed):
        return SalesChangedMeanwhile(exc.message)
    if isinstance(exc, DataverseUnavailable) or exc.status is None or (exc.status or 0) >= 500:
        return SalesUnavailable(exc.describe())
    return SalesRefused(exc.message)


class DataverseSales:
    def __init__(self, tables: DataverseTables) -> None:
        self.tables = tables

    async def integration_user_id(self) -> str:
        try:
            return await self.tables.integration_user_id()
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def changed_rows(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> list[dict[str, Any]]:
        query = changes_query(entity_set, since, filter=filter_ or None, not_modified_by=not_modified_by)
        try:
            return await self.tables.all_rows(query)
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def any_changed(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> bool:
        query = changes_query(entity_set, since, filter=filter_ or None, not_modified_by=not_modified_by)
        try:
            return await self.tables.has_rows(query)
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def rows_by_id(self, entity_set: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        key = entity_set_key(entity_set) or "id"
        wanted = sorted({i.lower() for i in ids if i})
        out: dict[str, dict[str, Any]] = {}
        try:
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                text = " or ".join(f"{key} eq {i}" for i in chunk)
                for row in await self.tables.all_rows(Query(entity_set, filter=text)):
                    out[str(row[key]).lower()] = row
        except DataverseError as exc:
            raise _translate(exc) from exc
        return out

    async def find_rows(self, entity_set: str, filter_: str) -> list[dict[str, Any]]:
        try:
            return await self.tables.all_rows(Query(entity_set, filter=filter_))
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def create_row(self, entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            written = await self.tables.create(entity_set, body(entity_set, values), return_row=True)
            return written.row or await self._read(entity_set, written.id)
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def update_row(
        self, entity_set: str, row_id: str, values: Mapping[str, Any], etag: str | None = None
    ) -> dict[str, Any]:
        try:
            written = await self.tables.update(
                entity_set, row_id, body(entity_set, values), if_match=etag or "*", return_row=True
            )
            return written.row or await self._read(entity_set, row_id)
        except DataverseNotFound as exc:
            raise SalesRefused(exc.message) from exc
        except DataverseError as exc:
            raise _translate(exc) from exc

    async def update_rows(
        self, entity_set: str, updates: Sequence[tuple[str, Mapping[str, Any], str | None]]
    ) -> list[dict[str, Any] | Exception]:
        """One ``$batch`` (split by the client at 1000 operations), each update on its own: one
        refused row does not stop the others. The rows are read back afterwards, in chunks."""
        if not updates:
            return []
        operations = [
            Operation.update(entity_set, row_id, body(entity_set, values), if_match=etag or "*")
            for row_id, values, etag in updates
        ]
        try:
            results = await self.tables.batch(operations, continue_on_error=True)
            rows = await self.rows_by_id(entity_set, [row_id for row_id, _v, _e in updates])
        except DataverseError as exc:
            raise _translate(exc) from exc
        out: list[dict[str, Any] | Exception] = []
        for (row_id, _values, _etag), result in zip(updates, results, strict=True):
            if result.ok and row_id.lower() in rows:
                out.append(rows[row_id.lower()])
            elif result.error is not None:
                out.append(_translate(result.error))
            else:
                out.append(SalesUnavailable(f"$batch: the update of {entity_set}({row_id}) was not carried out"))
        return out

    async def create_rows(self, entity_set: str, rows: Sequence[NewRow]) -> list[dict[str, Any] | Exception]:
        """One ``$batch`` of change sets, one per new row (the row, then the writes that follow
        it), with ``continue-on-error``: a refused change set does not stop the others. The rows
        are read back afterwards, in chunks, once the writes after them are done."""
        if not rows:
            return []
        change_sets = [ChangeSet(_operations(entity_set, new)) for new in rows]
        try:
            results = await self.tables.batch(change_sets, continue_on_error=True)
            created: list[str | None] = []
            position = 0
            for change_set in change_sets:
                created.append(results[position].id if results[position].ok else None)
                position += len(change_set.operations)
            found = await self.rows_by_id(entity_set, [i for i in created if i])
        except DataverseError as exc:
            raise _translate(exc) from exc
        out: list[dict[str, Any] | Exception] = []
        position = 0
        for change_set, row_id in zip(change_sets, created, strict=True):
            mine = results[position : position + len(change_set.operations)]
            position += len(change_set.operations)
            error = next((r.error for r in mine if r.error is not None), None)
            if error is not None:
                out.append(_translate(error))
            elif row_id is not None and all(r.ok for r in mine) and row_id.lower() in found:
                out.append(found[row_id.lower()])
            else:
                out.append(SalesUnavailable(f"$batch: the creation of a {entity_set} row was not carried out"))
        return out

    async def _read(self, entity_set: str, row_id: str) -> dict[str, Any]:
        row = await self.tables.find(entity_set, row_id)
        if row is None:
            raise SalesRefused(f"The {entity_set} row {row_id} was not found.")
        return row


def _operations(entity_set: str, new: NewRow) -> list[Operation]:
    operations = [Operation.create(entity_set, body(entity_set, new.values), content_id=new.content_id)]
    for offset, write in enumerate(new.then, start=1):
        operations.append(_following(write, str(int(new.content_id) + offset)))
    return operations


def _following(write: FollowingWrite, content_id: str) -> Operation:
    values = body(write.entity_set, write.values)
    if write.row_id is None:
        return Operation.create(write.entity_set, values, content_id=content_id)
    if write.row_id.startswith("$"):  # the new row itself: its content id is the request's path
        return Operation("PATCH", write.row_id, values, {"If-Match": "*"}, content_id)
    return Operation.update(write.entity_set, write.row_id, values, content_id=content_id)
