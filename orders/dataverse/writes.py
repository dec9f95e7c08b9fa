"""Writing Dataverse tables, and the queries the synchronisation jobs make: the public surface is
:class:`DataverseTables`, over the existing Web API client (:class:`~orders.dataverse.webapi.WebApiSession`,
so the same token, retry policy, deadlines and errors).

Writes (docs/dataverse-client.md tells the whole story):

- ``create(entity_set, values)`` — ``POST <set>``; the new row's id comes from the
  ``OData-EntityId`` header (``return_row=True`` sends ``Prefer: return=representation`` and gives
  the row as Dataverse stored it, ``modifiedon`` and ``@odata.etag`` included).
- ``update(entity_set, id, values, if_match="*")`` — ``PATCH <set>(<id>)`` with ``If-Match``:
  ``"*"`` (the default) forbids Dataverse's upsert, so a missing row is a 404
  (:class:`DataverseNotFound`) instead of a new row; an ETag (``row["@odata.etag"]``) makes the
  write fail with 412 (:class:`DataversePreconditionFailed`) when someone changed the row since it
  was read. ``if_match=None`` sends no header: an upsert. ``upsert`` says so by name.
- ``delete(entity_set, id, if_match=None)`` — ``DELETE <set>(<id>)``.
- Lookups are written with ``@odata.bind``: :func:`bind` builds
  ``{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}``; :func:`bind_lookup` finds the
  navigation property from the column (``parentcustomerid_account`` for a contact's account);
  :func:`unbind` clears one.
- ``batch(items)`` — ``POST $batch`` (multipart/mixed). Items are :class:`Operation` (made by
  :meth:`Operation.create` / ``update`` / ``delete`` / ``get``) or :class:`ChangeSet` (writes that
  Dataverse carries out in one transaction: all or none). More than 1000 operations are sent as
  several batches (Dataverse's limit per batch); a change set is never split. The answer is one
  :class:`OperationResult` per operation, in the order given. Without ``continue_on_error``
  Dataverse stops at the first failure: the operations after it are not run (``status`` None).
  A failed change set is rolled back by Dataverse: every operation in it is ``rolled_back``.
- ``create_note(entity_set, id, subject, text)`` — an ``annotation`` on a row's timeline.

Queries:

- :class:`Query` — ``$select``, ``$filter``, ``$orderby``, ``$top`` — and ``rows(query,
  page_size=...)``, which follows ``@odata.nextLink`` with ``Prefer: odata.maxpagesize``;
  ``first(query)`` and ``has_rows(query)`` are the ``$top=1`` probe.
- :func:`changes_query` — rows whose ``modifiedon`` is after a mark (``modifiedon gt <mark>``),
  optionally not last modified by a user (``_modifiedby_value ne <id>``: the integration user's
  own writes), oldest first.
- ``integration_user_id()`` — the ``systemuserid`` the client writes as (``WhoAmI``), kept.

Limits: throttling (429) is waited out by the client's retry policy (orders/retry.py) and never
sooner than ``Retry-After``; at most 52 requests of one client are in flight at once
(``max_concurrent_requests``). A POST, PATCH, DELETE or a ``$batch`` with writes that timed out
or lost its connection is **not** repeated (Dataverse may have carried it out): that is a
:class:`DataverseUnavailable`, and the caller finds out by reading.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from orders.dataverse.batch import (
    BatchItem,
    ChangeSet,
    Operation,
    OperationResult,
    _header,
    _numbered,
    _ops,
    build_batch,
    chunks,
    parse_batch,
)
from orders.dataverse.requests import (
    _LOGICAL_NAMES,
    DUPLICATE_RECORD,
    MAX_BATCH_OPERATIONS,
    NAVIGATION_PROPERTIES,
    STALE_ROW_VERSION,
    Query,
    Written,
    all_of,
    bind,
    bind_lookup,
    bind_path,
    changes_query,
    entity_id,
    entity_set_key,
    etag_of,
    logical_name,
    navigation_property,
    odata_datetime,
    unbind,
)
from orders.dataverse.webapi import (
    LOOKUP_ANNOTATIONS,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseUnavailable,
    WebApiSession,
    checked_guid,
    odata_string,
)

__all__ = [
    "DUPLICATE_RECORD",
    "MAX_BATCH_OPERATIONS",
    "NAVIGATION_PROPERTIES",
    "STALE_ROW_VERSION",
    "ChangeSet",
    "DataverseError",
    "DataverseNotFound",
    "DataversePreconditionFailed",
    "DataverseTables",
    "DataverseUnavailable",
    "Operation",
    "OperationResult",
    "Query",
    "Written",
    "all_of",
    "bind",
    "bind_lookup",
    "bind_path",
    "build_batch",
    "changes_query",
    "chunks",
    "entity_id",
    "entity_set_key",
    "etag_of",
    "logical_name",
    "navigation_property",
    "odata_datetime",
    "odata_string",
    "parse_batch",
    "unbind",
]

# -- the client -------------------------------------------------------------------------------


class DataverseTables:
    """Create, update, delete and query Dataverse rows through a Web API client."""

    def __init__(self, client: WebApiSession) -> None:
        self.client = client
        self._integration_user: str | None = None

    # -- single writes --------------------------------------------------------------------------

    async def create(
        self, entity_set: str, values: Mapping[str, Any], *, return_row: bool = False, select: Sequence[str] = ()
    ) -> Written:
        """``POST <entity_set>``. Never repeated after a timeout or a dropped connection
        (DataverseUnavailable): Dataverse may have created the row."""
        path = entity_set + ("?$select=" + ",".join(select) if select and return_row else "")
        headers = {"Prefer": f"return=representation,{LOOKUP_ANNOTATIONS}"} if return_row else {}
        _status, answer, data = await self.client.request(
            "POST", path, body=dict(values), headers=headers, idempotent=False
        )
        row = data if isinstance(data, dict) else None
        row_id = entity_id(_header(answer, "OData-EntityId"))
        if row_id is None and row is not None:
            key = entity_set_key(entity_set)
            value = row.get(key) if key else None
            row_id = value.lower() if isinstance(value, str) else None
        if row_id is None:
            raise DataverseError(None, "bad_response", f"POST {entity_set} answered no OData-EntityId")
        return Written(row_id, row)

    async def update(
        self,
        entity_set: str,
        row_id: str,
        values: Mapping[str, Any],
        *,
        if_match: str | None = "*",
        return_row: bool = False,
    ) -> Written:
        """``PATCH <entity_set>(<id>)``. ``if_match``: ``"*"`` — the row must exist
        (DataverseNotFound otherwise); an ETag — it must still be that version
        (DataversePreconditionFailed otherwise); None — an upsert. Repeated after a passing
        failure only when guarded by If-Match (then a repeat cannot create a row)."""
        headers = {"If-Match": if_match} if if_match is not None else {}
        if return_row:
            headers["Prefer"] = f"return=representation,{LOOKUP_ANNOTATIONS}"
        _status, _answer, data = await self.client.request(
            "PATCH",
            f"{entity_set}({checked_guid(row_id)})",
            body=dict(values),
            headers=headers,
            # A PATCH of the same values twice gives the same row, but a stale-ETag PATCH repeated
            # after a lost answer would fail with 412 for its own write: only "*" or none repeats.
            idempotent=if_match in (None, "*"),
        )
        return Written(checked_guid(row_id), data if isinstance(data, dict) else None)

    async def upsert(self, entity_set: str, row_id: str, values: Mapping[str, Any]) -> Written:
        """``PATCH`` without If-Match: the row is created with this id when it does not exist."""
        return await self.update(entity_set, row_id, values, if_match=None)

    async def set_state(self, entity_set: str, row_id: str, statecode: int, statuscode: int) -> None:
        """Change a row's state and status (e.g. activate a product, retire it)."""
        await self.update(entity_set, row_id, {"statecode": statecode, "statuscode": statuscode})

    async def delete(self, entity_set: str, row_id: str, *, if_match: str | None = None) -> None:
        """``DELETE <entity_set>(<id>)``; DataverseNotFound when it is not there."""
        headers = {"If-Match": if_match} if if_match is not None else {}
        # Not repeated after a lost answer: the repeat would find the row gone and say 404.
        await self.client.request("DELETE", f"{entity_set}({checked_guid(row_id)})", headers=headers, idempotent=False)

    async def create_note(
        self, entity_set: str, row_id: str, subject: str, text: str, *, logical_name: str | None = None
    ) -> str:
        """An ``annotation`` (note) on a row; returns its id. ``logical_name``: the row's table,
        needed only for sets not known here (``objectid_<logical name>@odata.bind``)."""
        logical = logical_name or _LOGICAL_NAMES.get(entity_set)
        if logical is None:
            raise ValueError(f"the logical name of {entity_set!r} is needed for a note")
        values = {"subject": subject, "notetext": text, **bind(f"objectid_{logical}", entity_set, row_id)}
        return (await self.create("annotations", values)).id

    # -- reads ----------------------------------------------------------------------------------

    def _headers(self, page_size: int | None) -> dict[str, str]:
        prefer = [LOOKUP_ANNOTATIONS]
        size = page_size or self.client.page_size
        if size:
            prefer.append(f"odata.maxpagesize={size}")
        return {"Prefer": ",".join(prefer)}

    async def find(self, entity_set: str, row_id: str, select: Sequence[str] = ()) -> dict[str, Any] | None:
        """One row by id, or None when there is none."""
        try:
            return await self.client.get_row(entity_set, row_id, list(select) or None)
        except DataverseNotFound:
            return None

    async def pages(self, query: Query, *, page_size: int | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """The answer page by page (``Prefer: odata.maxpagesize``), following ``@odata.nextLink``."""
        path: str | None = query.path()
        while path is not None:
            _status, _headers, data = await self.client.request("GET", path, headers=self._headers(page_size))
            if not isinstance(data, dict) or not isinstance(data.get("value"), list):
                raise DataverseError(200, "bad_response", f"GET {query.entity_set} did not answer a collection")
            yield data["value"]
            next_link = data.get("@odata.nextLink")
            path = next_link if isinstance(next_link, str) and next_link else None

    async def rows(self, query: Query, *, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every row of the query, page after page."""
        async for page in self.pages(query, page_size=page_size):
            for row in page:
                yield row

    async def all_rows(self, query: Query, *, page_size: int | None = None) -> list[dict[str, Any]]:
        return [row async for row in self.rows(query, page_size=page_size)]

    async def first(self, query: Query) -> dict[str, Any] | None:
        """The query's first row (``$top=1``), or None."""
        probe = Query(query.entity_set, query.select, query.filter, query.orderby, 1)
        async for row in self.rows(probe):
            return row
        return None

    async def has_rows(self, query: Query) -> bool:
        """Whether the query has any row: the ``$top=1`` probe a job makes each interval."""
        key = entity_set_key(query.entity_set)
        select = (key,) if key else query.select
        return await self.first(Query(query.entity_set, select, query.filter, (), 1)) is not None

    async def integration_user_id(self) -> str:
        """The ``systemuserid`` this client writes as (``WhoAmI``): ``modifiedby`` of its writes."""
        if self._integration_user is None:
            _status, _headers, data = await self.client.request("GET", "WhoAmI")
            user = data.get("UserId") if isinstance(data, dict) else None
            if not isinstance(user, str):
                raise DataverseError(200, "bad_response", "WhoAmI answered no UserId")
            self._integration_user = checked_guid(user)
        return self._integration_user

    # -- $batch ---------------------------------------------------------------------------------

    async def batch(self, items: Sequence[BatchItem], *, continue_on_error: bool = False) -> list[OperationResult]:
        """Send the items as ``$batch`` requests of at most 1000 operations each; one result per
        operation, in order. Without ``continue_on_error`` the first failure stops everything after
        it, later batches included (their results have ``status`` None)."""
        numbered = _numbered(items)
        results: list[OperationResult] = []
        stopped = False
        for group in chunks(numbered):
            if stopped:
                results += [OperationResult(op, None) for item in group for op in _ops(item)]
                continue
            answer = await self._send_batch(group, continue_on_error)
            results += answer
            if not continue_on_error and any(r.error is not None for r in answer):
                stopped = True
        return results

    async def _send_batch(self, items: Sequence[BatchItem], continue_on_error: bool) -> list[OperationResult]:
        content_type, data = build_batch(items, self.client.base_url)
        headers = {"Content-Type": content_type}
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        reads_only = all(isinstance(item, Operation) and item.method == "GET" for item in items)
        status, answer, text = await self.client.request_raw("POST", "$batch", data, headers, idempotent=reads_only)
        answer_type = _header(answer, "Content-Type") or ""
        if "multipart" not in answer_type:
            raise DataverseError(status, "bad_response", "the $batch answer is not multipart", "POST $batch")
        return parse_batch(items, answer_type, text)
