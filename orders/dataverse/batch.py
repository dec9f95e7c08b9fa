"""Dataverse `$batch`: operations, change sets, the multipart body we send and the answer we
read, split at Dataverse's 1000 operations. Used through `orders/dataverse/writes.py`."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orders.dataverse.requests import (
    MAX_BATCH_OPERATIONS,
    Method,
    Query,
    entity_id,
    etag_of,
)
from orders.dataverse.webapi import (
    LOOKUP_ANNOTATIONS,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseUnavailable,
    _json_default,
    _loads,
    checked_guid,
    dataverse_error_text,
)

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


def _ops(item: BatchItem) -> tuple[Operation, ...]:
    return item.operations if isinstance(item, ChangeSet) else (item,)
