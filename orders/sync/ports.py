"""The two sides a synchronisation run reads and writes, as protocols.

``SalesPort`` is Dynamics 365 Sales (the Dataverse Web API adapter in orders/sync/sales_adapter.py,
or the in-memory fake of the tests); ``BcRecords`` is Business Central's records, read through one
interface over our tables, whichever way they got there (the embedded BC data or the mirror of a
real BC) — orders/sync/bc_records.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class SalesRefused(Exception):
    """Sales refused one row (its message is Sales'); the record fails, the pass goes on."""


class SalesChangedMeanwhile(Exception):
    """The row changed in Sales since it was read (If-Match failed): it is looked at again."""


class SalesUnavailable(Exception):
    """Sales cannot be reached now (or throttles beyond patience): the pass stops, the job retries."""


@dataclass(frozen=True, slots=True)
class FollowingWrite:
    """A write that goes with a new row, in its change set (``SalesPort.create_rows``): a row of
    ``entity_set`` created (``row_id`` None) or updated. ``$<content id>`` stands for the new row,
    as ``row_id`` or as the id of a ``transfer.Bind`` in ``values``."""

    entity_set: str
    values: Mapping[str, Any]
    row_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewRow:
    """A row to create, with ``content_id`` (digits, unique in the call) naming it to the writes
    that follow; they take the content ids after it (``content_id`` + 1, + 2, ...)."""

    values: Mapping[str, Any]
    content_id: str
    then: tuple[FollowingWrite, ...] = ()


class SalesPort(Protocol):
    async def integration_user_id(self) -> str:
        """The systemuserid the integration writes as (WhoAmI)."""
        ...

    async def changed_rows(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> list[dict[str, Any]]:
        """Rows in ``filter_`` with ``modifiedon`` after ``since`` (every row when None), leaving
        out those last modified by ``not_modified_by``; oldest change first."""
        ...

    async def any_changed(
        self, entity_set: str, filter_: str | None, since: dt.datetime | None, not_modified_by: str | None
    ) -> bool:
        """Whether ``changed_rows`` would return a row (the ``$top=1`` probe)."""
        ...

    async def rows_by_id(self, entity_set: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The rows that exist among ``ids``, by lower-case id."""
        ...

    async def find_rows(self, entity_set: str, filter_: str) -> list[dict[str, Any]]: ...

    async def create_row(self, entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Create a row; the row as Sales stored it (with its id, ``modifiedon``, ``@odata.etag``).
        ``values`` may hold ``transfer.Bind`` lookups, keyed by the lookup column's name."""
        ...

    async def update_row(
        self, entity_set: str, row_id: str, values: Mapping[str, Any], etag: str | None = None
    ) -> dict[str, Any]:
        """Update a row (only the given columns); the row after. With ``etag``, a row changed since
        raises SalesChangedMeanwhile."""
        ...

    async def update_rows(
        self, entity_set: str, updates: Sequence[tuple[str, Mapping[str, Any], str | None]]
    ) -> list[dict[str, Any] | Exception]:
        """Many updates at once ((id, values, etag) each; ``$batch``): per update the row after,
        or the SalesRefused / SalesChangedMeanwhile it met. SalesUnavailable when the batch failed."""
        ...

    async def create_rows(self, entity_set: str, rows: Sequence[NewRow]) -> list[dict[str, Any] | Exception]:
        """Many new rows at once (``$batch``), each with the writes that follow it in one change set:
        all of them or none. Per new row the row as it is after them, or the SalesRefused that
        stopped its change set (Sales kept nothing of it). SalesUnavailable when the batch failed."""
        ...


class BcRecords(Protocol):
    """BC's records of one company, as dicts of our column names with ``system_id``,
    ``system_modified_at`` and the record's key (``no`` or ``code``). FlowFields a mapping needs
    (an item's ``inventory``) are calculated."""

    writable: bool

    async def changed(self, table_id: int, since: dt.datetime | None) -> list[dict[str, Any]]:
        """Records changed after ``since`` (every record when None), oldest first."""
        ...

    async def by_system_ids(self, table_id: int, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def by_keys(self, table_id: int, keys: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def insert(self, table_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record (BC's validation applies; MasterDataError with BC's message); the record."""
        ...

    async def update(self, table_id: int, system_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change fields of a record; the record after (its new ``system_modified_at``)."""
        ...
