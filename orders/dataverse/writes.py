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

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote as urlquote

from orders.dataverse.webapi import (
    LOOKUP_ANNOTATIONS,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseUnavailable,
    WebApiSession,
    _json_default,
    _loads,
    checked_guid,
    dataverse_error_text,
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

# Dataverse takes at most 1000 requests in one $batch.
MAX_BATCH_OPERATIONS = 1000
# The codes of a 412 (DataversePreconditionFailed): If-Match named an older version of the row;
# a row with the same unique key (a product number, an ISO currency code) exists already.
STALE_ROW_VERSION = "0x80060882"
DUPLICATE_RECORD = "0x80040237"
_FILTER_SAFE = "'(),:"  # readable in logs; everything else percent-encoded
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$")
# A note's objectid navigation property is objectid_<logical name>.
_LOGICAL_NAMES = {
    "accounts": "account",
    "contacts": "contact",
    "products": "product",
    "salesorders": "salesorder",
    "quotes": "quote",
    "invoices": "invoice",
    "opportunities": "opportunity",
}

Method = Literal["GET", "POST", "PATCH", "DELETE"]


# -- pure helpers -----------------------------------------------------------------------------


def bind_path(entity_set: str, row_id: str) -> str:
    """``/<entity_set>(<id>)``: the value of an ``@odata.bind``."""
    return f"/{entity_set}({checked_guid(row_id)})"


def bind(navigation_property: str, entity_set: str, row_id: str) -> dict[str, str]:
    """A lookup to write: ``bind("parentcustomerid_account", "accounts", id)`` gives
    ``{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}``. The navigation property is
    the lookup's name for a single-table lookup (``defaultuomid``), or ``<lookup>_<table>`` for a
    polymorphic one (customer, regarding, owner)."""
    return {f"{navigation_property}@odata.bind": bind_path(entity_set, row_id)}


# Lookups whose navigation property is not the column's name. None of the tables the jobs write
# has one: their navigation properties are the lookup's logical name (``defaultuomid``, ``uomid``,
# ``pricelevelid``, ``transactioncurrencyid`` — lower case, as the tables' metadata has them; the
# schema names like ``DefaultUoMId`` are refused). Kept as the place to add one.
NAVIGATION_PROPERTIES: dict[tuple[str, str], str] = {}
# Lookups into more than one table: the navigation property names the target's table.
_POLYMORPHIC = {
    ("contacts", "parentcustomerid"),
    ("salesorders", "customerid"),
    ("quotes", "customerid"),
    ("annotations", "objectid"),
    ("posts", "regardingobjectid"),
}


def navigation_property(entity_set: str, column: str, target_set: str) -> str:
    """The navigation property that sets ``column`` of a row in ``entity_set`` to a row of
    ``target_set``: ``parentcustomerid_account`` for a contact's parent account, ``objectid_product``
    for a note on a product, else the column's name (``defaultuomid``)."""
    known = NAVIGATION_PROPERTIES.get((entity_set, column))
    if known is not None:
        return known
    if (entity_set, column) in _POLYMORPHIC:
        return f"{column}_{logical_name(target_set)}"
    return column


def logical_name(entity_set: str) -> str:
    """A table's logical name from its entity set (``accounts`` → ``account``)."""
    key = entity_set_key(entity_set)
    if key is None:
        raise ValueError(f"the logical name of {entity_set!r} is not known")
    return key.removesuffix("id")


def bind_lookup(entity_set: str, column: str, target_set: str, row_id: str) -> dict[str, str]:
    """``bind`` by column: ``bind_lookup("contacts", "parentcustomerid", "accounts", id)`` gives
    ``{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}``."""
    return bind(navigation_property(entity_set, column, target_set), target_set, row_id)


def unbind(navigation_property: str) -> dict[str, None]:
    """Empty a lookup in a PATCH: ``{"<navigation property>@odata.bind": null}``."""
    return {f"{navigation_property}@odata.bind": None}


def entity_id(header: str | None) -> str | None:
    """The row id at the end of an ``OData-EntityId`` (or ``Location``) header, lower-case."""
    match = _ENTITY_ID.search(header or "")
    return match.group(1).lower() if match else None


def etag_of(row: Mapping[str, Any]) -> str | None:
    """The row's version as read (``@odata.etag``, e.g. ``W/"1234"``): the value for ``If-Match``."""
    value = row.get("@odata.etag")
    return value if isinstance(value, str) and value else None


def odata_datetime(moment: datetime) -> str:
    """A DateTimeOffset literal for ``$filter``, in UTC: ``2024-05-30T12:00:00Z``, with
    milliseconds when there are any (``…T11:59:59.001Z``). A naive datetime is refused: a mark
    without a zone would be read in the server's."""
    if moment.tzinfo is None:
        raise ValueError("a $filter time needs a time zone (aware datetime)")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def all_of(*clauses: str | None) -> str | None:
    """Clauses joined by ``and`` (each in parentheses when it has an ``or``); None when none."""
    parts = [c.strip() for c in clauses if c and c.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


@dataclass(frozen=True, slots=True)
class Query:
    """A collection query. ``filter`` is OData ``$filter`` text (use :func:`odata_string`,
    :func:`odata_datetime` and plain GUIDs for literals); ``orderby`` items like
    ``"modifiedon asc"``; ``top`` caps the rows (``1``: the probe)."""

    entity_set: str
    select: tuple[str, ...] = ()
    filter: str | None = None
    orderby: tuple[str, ...] = ()
    top: int | None = None

    def path(self) -> str:
        """The request path relative to ``/api/data/v9.2/``, percent-encoded."""
        options = []
        if self.select:
            options.append("$select=" + ",".join(self.select))
        if self.filter:
            options.append("$filter=" + urlquote(self.filter, safe=_FILTER_SAFE))
        if self.orderby:
            options.append("$orderby=" + urlquote(",".join(self.orderby), safe=_FILTER_SAFE))
        if self.top is not None:
            if self.top < 1:
                raise ValueError("$top must be at least 1")
            options.append(f"$top={self.top}")
        return self.entity_set + ("?" + "&".join(options) if options else "")


def changes_query(
    entity_set: str,
    since: datetime | None,
    *,
    filter: str | None = None,
    not_modified_by: str | None = None,
    select: Iterable[str] = (),
    top: int | None = None,
) -> Query:
    """Rows changed after ``since`` (``modifiedon gt <since>``; every row when None), within
    ``filter``, leaving out those last modified by ``not_modified_by`` (a systemuserid: the
    integration user), oldest change first (then by key, so pages are stable)."""
    clauses = [filter]
    if since is not None:
        clauses.append(f"modifiedon gt {odata_datetime(since)}")
    if not_modified_by is not None:
        clauses.append(f"_modifiedby_value ne {checked_guid(not_modified_by)}")
    return Query(entity_set, tuple(select), all_of(*clauses), ("modifiedon asc",), top)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """What a create or update gave back: the row's id, and the row itself when it was asked for
    (``return_row=True``)."""

    id: str
    row: dict[str, Any] | None = None

    @property
    def etag(self) -> str | None:
        return etag_of(self.row) if self.row is not None else None


# -- $batch -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One request inside a ``$batch``. ``path`` is relative to ``/api/data/v9.2/``
    (``products``, ``products(<id>)``), or ``$<content id>`` to refer to a row created earlier in
    the same change set. ``content_id`` names the operation inside its change set (given
    automatically when left empty); give one to refer to it from a later operation, e.g. a bind
    value ``"$1"``."""

    method: Method
    path: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None

    @classmethod
    def create(
        cls, entity_set: str, values: Mapping[str, Any], *, content_id: str | None = None, return_row: bool = False
    ) -> Operation:
        headers = {"Prefer": "return=representation"} if return_row else {}
        return cls("POST", entity_set, dict(values), headers, content_id)

    @classmethod
    def update(
        cls,
        entity_set: str,
        row_id: str,
        values: Mapping[str, Any],
        *,
        if_match: str | None = "*",
        content_id: str | None = None,
    ) -> Operation:
        headers = {"If-Match": if_match} if if_match is not None else {}
        return cls("PATCH", f"{entity_set}({checked_guid(row_id)})", dict(values), headers, content_id)

    @classmethod
    def delete(
        cls, entity_set: str, row_id: str, *, if_match: str | None = None, content_id: str | None = None
    ) -> Operation:
        headers = {"If-Match": if_match} if if_match is not None else {}
        return cls("DELETE", f"{entity_set}({checked_guid(row_id)})", None, headers, content_id)

    @classmethod
    def get(cls, query: Query | str) -> Operation:
        """A read (never inside a change set)."""
        return cls("GET", query.path() if isinstance(query, Query) else query, None, {"Prefer": LOOKUP_ANNOTATIONS})

    def describe(self) -> str:
        return f"{self.method} {self.path.split('?', 1)[0]}"


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Writes carried out in one transaction: if one fails, Dataverse keeps none of them."""

    operations: tuple[Operation, ...]

    def __init__(self, operations: Iterable[Operation]) -> None:
        ops = tuple(operations)
        if not ops:
            raise ValueError("a change set needs at least one operation")
        if any(op.method == "GET" for op in ops):
            raise ValueError("a change set holds writes only (no GET)")
        if len(ops) > MAX_BATCH_OPERATIONS:
            raise ValueError(f"a change set holds at most {MAX_BATCH_OPERATIONS} operations")
        object.__setattr__(self, "operations", ops)


BatchItem = Operation | ChangeSet


@dataclass(frozen=True, slots=True)
class OperationResult:
    """Dataverse's answer to one operation of a ``$batch``.

    ``status`` None: not carried out (the batch stopped at an earlier failure). ``rolled_back``:
    it was in a change set that failed, so nothing of it was kept — ``error`` is the change set's
    error, and ``status`` that of the failing operation (the one whose ``failed`` is true when
    Dataverse named it by its Content-ID)."""

    operation: Operation
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    error: DataverseError | None = None
    rolled_back: bool = False
    failed: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 300 and not self.rolled_back

    @property
    def id(self) -> str | None:
        """The id of the row written (from ``OData-EntityId``), if any."""
        return entity_id(_header(self.headers, "OData-EntityId") or _header(self.headers, "Location"))

    @property
    def etag(self) -> str | None:
        if isinstance(self.body, dict) and etag_of(self.body):
            return etag_of(self.body)
        return _header(self.headers, "ETag")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def _operation_count(item: BatchItem) -> int:
    return len(item.operations) if isinstance(item, ChangeSet) else 1


def build_batch(items: Sequence[BatchItem], base_url: str, boundary: str | None = None) -> tuple[str, bytes]:
    """The ``Content-Type`` and body of a ``$batch`` request (OData 4.0 multipart/mixed, as
    Dataverse takes it: each request an ``application/http`` part with an absolute URL; each change
    set a nested multipart with a ``Content-ID`` per operation). ``base_url`` ends with
    ``/api/data/v9.2/``."""
    boundary = boundary or f"batch_{uuid.uuid4()}"
    lines: list[str] = []

    def request_part(op: Operation, content_id: str | None) -> list[str]:
        part = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
        if content_id is not None:
            part.append(f"Content-ID: {content_id}")
        url = op.path if op.path.startswith("$") else base_url + op.path
        part += ["", f"{op.method} {url} HTTP/1.1"]
        if op.body is not None:
            part.append("Content-Type: application/json; type=entry")
        part.append("Accept: application/json")
        part += [f"{k}: {v}" for k, v in op.headers.items()]
        part.append("")
        part.append(json.dumps(op.body, default=_json_default) if op.body is not None else "")
        return part

    next_id = 0
    for item in items:
        lines.append(f"--{boundary}")
        if isinstance(item, ChangeSet):
            changeset = f"changeset_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={changeset}", ""]
            for op in item.operations:
                next_id += 1
                lines.append(f"--{changeset}")
                lines += request_part(op, op.content_id or str(next_id))
            lines.append(f"--{changeset}--")
            lines.append("")
        else:
            lines += request_part(item, None)
    lines.append(f"--{boundary}--")
    lines.append("")
    return f"multipart/mixed; boundary={boundary}", "\r\n".join(lines).encode()


@dataclass(frozen=True, slots=True)
class _Part:
    headers: dict[str, str]  # lower-case names
    content: str


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None


def _boundary(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    return match.group(1).strip() if match else None


def _split_head(text: str) -> tuple[list[str], str]:
    """Header lines and the rest, split at the first blank line (CRLF or LF)."""
    match = re.search(r"\r?\n\r?\n", text)
    if match is None:
        return [line for line in text.splitlines() if line], ""
    return [line for line in text[: match.start()].splitlines() if line], text[match.end() :]


def _header_dict(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _parts(text: str, boundary: str) -> list[_Part]:
    delimiter = "--" + boundary
    parts = []
    for segment in text.split(delimiter)[1:]:
        if segment.startswith("--"):
            break
        segment = re.sub(r"^[ \t]*\r?\n", "", segment)
        segment = re.sub(r"\r?\n$", "", segment)
        head, content = _split_head(segment)
        parts.append(_Part(_header_dict(head), content))
    return parts


def _http_response(part: _Part) -> _Response:
    head, body_text = _split_head(part.content.lstrip("\r\n"))
    if not head or not head[0].startswith("HTTP/"):
        raise DataverseError(None, "bad_response", "a $batch answer part holds no HTTP response")
    try:
        status = int(head[0].split()[1])
    except (IndexError, ValueError):
        raise DataverseError(None, "bad_response", f"a $batch answer has a bad status line {head[0]!r}") from None
    headers = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    body_text = body_text.strip()
    body: Any = None
    if body_text:
        try:
            body = _loads(body_text)
        except ValueError:
            body = body_text
    return _Response(status, headers, body, part.headers.get("content-id"))


def _error_of(response: _Response, call: str) -> DataverseError:
    text = json.dumps(response.body, default=str) if isinstance(response.body, dict) else str(response.body or "")
    code, message = dataverse_error_text(text, response.status)
    kind: type[DataverseError] = DataverseError
    if response.status == 404:
        kind = DataverseNotFound
    elif response.status == 412:
        kind = DataversePreconditionFailed
    elif response.status in (429, 502, 503, 504):
        return DataverseUnavailable(response.status, code, message, call=call)
    return kind(response.status, code, message, call)


def parse_batch(items: Sequence[BatchItem], content_type: str, text: str) -> list[OperationResult]:
    """Dataverse's ``$batch`` answer, as one result per operation of ``items`` (in order).

    A committed change set answers a nested multipart with one response per operation; a failed
    one a single error response (Dataverse rolled the change set back). Parts missing at the end
    are operations Dataverse did not run (it stopped at a failure)."""
    boundary = _boundary(content_type)
    if boundary is None:
        raise DataverseError(None, "bad_response", "the $batch answer is not multipart")
    parts = _parts(text, boundary)
    results: list[OperationResult] = []
    for index, item in enumerate(items):
        part = parts[index] if index < len(parts) else None
        ops = item.operations if isinstance(item, ChangeSet) else (item,)
        if part is None:
            results += [OperationResult(op, None) for op in ops]
            continue
        inner_boundary = _boundary(part.headers.get("content-type", ""))
        if (
            isinstance(item, ChangeSet)
            and inner_boundary is not None
            and "multipart" in part.headers.get("content-type", "")
        ):
            responses = [_http_response(p) for p in _parts(part.content, inner_boundary)]
            by_id = {r.content_id: r for r in responses if r.content_id is not None}
            for position, op in enumerate(ops):
                wanted = op.content_id
                response = by_id.get(wanted) if wanted is not None else None
                if response is None and position < len(responses):
                    response = responses[position]
                if response is None:
                    results.append(OperationResult(op, None))
                    continue
                error = _error_of(response, f"$batch {op.describe()}") if response.status >= 300 else None
                results.append(OperationResult(op, response.status, response.headers, response.body, error))
            continue
        response = _http_response(part)
        if isinstance(item, ChangeSet):
            # The change set failed as a whole: Dataverse kept none of it.
            failing = _failing_operation(item, response.content_id)
            error = _error_of(response, f"$batch {(failing or ops[0]).describe()}")
            for op in ops:
                results.append(
                    OperationResult(
                        op,
                        response.status,
                        response.headers,
                        response.body,
                        error,
                        rolled_back=True,
                        failed=op is failing,
                    )
                )
            continue
        op = ops[0]
        error = _error_of(response, f"$batch {op.describe()}") if response.status >= 300 else None
        results.append(OperationResult(op, response.status, response.headers, response.body, error))
    return results


def _failing_operation(changeset: ChangeSet, content_id: str | None) -> Operation | None:
    if content_id is None:
        return None
    for op in changeset.operations:
        if op.content_id == content_id:
            return op
    return None


def _numbered(items: Sequence[BatchItem]) -> list[BatchItem]:
    """The items with every change-set operation's Content-ID filled in (1, 2, … through the
    batch), so that answers can be matched to operations."""
    numbered: list[BatchItem] = []
    next_id = 0
    for item in items:
        if isinstance(item, ChangeSet):
            ops = []
            for op in item.operations:
                next_id += 1
                ops.append(op if op.content_id else _with_content_id(op, str(next_id)))
            numbered.append(ChangeSet(ops))
        else:
            numbered.append(item)
    return numbered


def _with_content_id(op: Operation, content_id: str) -> Operation:
    return Operation(op.method, op.path, op.body, op.headers, content_id)


def chunks(items: Sequence[BatchItem], limit: int = MAX_BATCH_OPERATIONS) -> list[list[BatchItem]]:
    """Items in groups of at most ``limit`` operations, in order; a change set stays whole."""
    groups: list[list[BatchItem]] = []
    current: list[BatchItem] = []
    count = 0
    for item in items:
        size = _operation_count(item)
        if size > limit:
            raise ValueError(f"a change set of {size} operations exceeds the batch limit of {limit}")
        if current and count + size > limit:
            groups.append(current)
            current, count = [], 0
        current.append(item)
        count += size
    if current:
        groups.append(current)
    return groups


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


def _ops(item: BatchItem) -> tuple[Operation, ...]:
    return item.operations if isinstance(item, ChangeSet) else (item,)


def entity_set_key(entity_set: str) -> str | None:
    """The key column of a set this module knows (``products`` → ``productid``), else None."""
    special = {"transactioncurrencies": "transactioncurrencyid", "opportunities": "opportunityid"}
    if entity_set in special:
        return special[entity_set]
    return entity_set[:-1] + "id" if entity_set.endswith("s") else None
