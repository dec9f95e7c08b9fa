"""JSON ``$batch``: many operations in one HTTP request, each with its own answer.

``docs/reference/bc-api.md §1.6``: ``POST {api}/$batch`` with ``{"requests": [...]}``; each inner
``url`` is relative to the API route's root; the answer is a 200 whose ``responses`` carry one
status, headers and body per operation. At most 100 operations per call online (§5): a longer list
is sent as several calls, in order. ``Isolation: snapshot`` runs all inner requests in one
transaction, where one failure rolls back the others *although their answers still say
200/201/204*; so a snapshot batch cannot be split, and its reply says ``rolled_back``.

This module holds the types and the wire format; :meth:`BcApiClient.batch` sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orders.bc_link.errors import BcError, BcProtocolError, error_for_status

__all__ = ["BatchOperation", "BatchReply", "BatchResult"]

_METHODS = frozenset({"GET", "POST", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class BatchOperation:
    """One operation of a batch.

    ``path`` is relative to the company (``"items"``, ``"salesOrders(<id>)/salesOrderLines"``),
    or to the API root with ``root=True``; ``params`` its query options. A PATCH needs ``etag``
    (the entity's ``@odata.etag`` or ``"*"``, bc-api §1.5). ``id`` names the operation in the
    reply; by default its position (``"1"``, ``"2"``, ... over the whole list).
    """

    method: str
    path: str
    body: Any = None
    params: Mapping[str, str] | None = None
    etag: str | None = None
    id: str | None = None
    root: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        method = self.method.upper()
        object.__setattr__(self, "method", method)
        if method not in _METHODS:
            raise ValueError(f"a batch operation is GET, POST, PATCH or DELETE, not {self.method}")
        if method == "PATCH" and not self.etag:
            raise ValueError("a PATCH needs If-Match: give the entity's @odata.etag or '*'")
        if any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("credentials belong to the batch request, not to an operation")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answer to one operation: its ``status``, ``headers``, ``body``, and for a failure
    (status 400 and up) the same classified :class:`BcError` a single call would have raised."""

    id: str
    status: int
    body: Any
    headers: Mapping[str, str]
    error: BcError | None

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass(frozen=True, slots=True)
class BatchReply(Sequence[BatchResult]):
    """The results in the order of the operations. ``rolled_back``: a snapshot batch in which some
    operation failed, so that nothing of it was kept whatever the other results say."""

    results: tuple[BatchResult, ...]
    rolled_back: bool = False

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> BatchResult:  # type: ignore[override]
        return self.results[index]

    def __iter__(self) -> Iterator[BatchResult]:
        return iter(self.results)

    def by_id(self, op_id: str) -> BatchResult:
        for result in self.results:
            if result.id == op_id:
                return result
        raise KeyError(op_id)

    @property
    def failed(self) -> tuple[BatchResult, ...]:
        return tuple(r for r in self.results if not r.ok)


def assign_ids(operations: Sequence[BatchOperation]) -> list[str]:
    ids = [op.id if op.id is not None else str(n) for n, op in enumerate(operations, 1)]
    if len(set(ids)) != len(ids):
        raise ValueError("batch operation ids must be unique")
    return ids


def request_item(op: BatchOperation, op_id: str, url: str) -> dict[str, Any]:
    headers = dict(op.headers)
    if op.body is not None:
        headers.setdefault("Content-Type", "application/json")
    if op.etag:
        headers["If-Match"] = op.etag
    item: dict[str, Any] = {"method": op.method, "id": op_id, "url": url, "headers": headers}
    if op.body is not None:
        item["body"] = op.body
    return item


def parse_reply(body: Any, ids: Sequence[str], operations: Sequence[BatchOperation]) -> list[BatchResult]:
    """The inner answers of one batch call, in the order of ``ids``."""
    responses = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(responses, list):
        raise BcProtocolError(200, "bad_batch", "the $batch answer has no 'responses'", method="POST", path="$batch")
    by_id = {str(r.get("id")): r for r in responses if isinstance(r, dict)}
    results = []
    for op_id, op in zip(ids, operations, strict=True):
        answer = by_id.get(op_id)
        if answer is None:
            raise BcProtocolError(200, "bad_batch", f"the $batch answer lacks operation {op_id}", path="$batch")
        try:
            status = int(answer.get("status", 0))
        except (TypeError, ValueError):
            status = 0
        inner_body = answer.get("body")
        raw_headers = answer.get("headers")
        headers: dict[str, Any] = raw_headers if isinstance(raw_headers, dict) else {}
        error = None
        if status >= 400 or status < 100:
            text = inner_body if isinstance(inner_body, str) else json.dumps(inner_body, default=str)
            error = error_for_status(status, text, method=op.method, path=op.path)
        results.append(BatchResult(op_id, status, inner_body, {str(k): str(v) for k, v in headers.items()}, error))
    return results
