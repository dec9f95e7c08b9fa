"""JSON ``$batch``: up to 100 inner requests, each answered on its own inside one HTTP 200.

Inner URLs are relative to the route root (``companies(...)/items``); a ``Company`` header may name
the company. With ``Isolation: snapshot`` all inner requests share one transaction and any inner
failure rolls the others back (their answers still say 200/201/204), except what an AL COMMIT
(posting) already made final. Without it each request stands alone. Every request is run, also
after a failure.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from .api import Api
from .errors import ApiError
from .request import ApiRequest, ApiResponse


class _Rollback(Exception):
    """Raised to undo a snapshot batch after an inner failure."""


def _inner_target(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if "/api/v2.0/" in path:
        path = path.split("/api/v2.0/", 1)[1]
    return path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))


def run_batch(api: Api, req: ApiRequest) -> ApiResponse:
    try:
        return _run(api, req)
    except ApiError as err:
        return ApiResponse(err.status, err.body(api.config.correlation_ids), dict(err.headers))


def _run(api: Api, req: ApiRequest) -> ApiResponse:
    if req.method != "POST":
        raise ApiError(405, "BadRequest_MethodNotAllowed", "Only POST is allowed for $batch.")
    content_type = (req.header("content-type") or "").lower()
    if "application/json" not in content_type:
        raise ApiError(400, "BadRequest", "The simulator supports the JSON $batch format only.")
    try:
        payload = orjson.loads(req.body or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, "BadRequest", "The batch request body is not valid JSON.") from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list):
        raise ApiError(400, "BadRequest", "The batch request must have a 'requests' array.")
    limit = api.config.batch_max_operations
    if len(requests) > limit:
        raise ApiError(
            400,
            "BadRequest",
            f"The number of operations in the batch request ({len(requests)}) exceeds the maximum of {limit}.",
        )
    snapshot = (req.header("isolation") or "").lower() == "snapshot"
    answers: list[dict[str, Any]] = []
    if snapshot:
        try:
            with api.store.atomic():
                answers = [_one(api, req, item) for item in requests]
                if any(a["status"] >= 400 for a in answers):
                    raise _Rollback
        except _Rollback:
            pass
    else:
        answers = [_one(api, req, item) for item in requests]
    return ApiResponse(200, {"responses": answers})


def _one(api: Api, outer: ApiRequest, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return _error("", ApiError(400, "BadRequest", "A batch request item must be an object."))
    item_id = str(item.get("id", ""))
    method = str(item.get("method", "GET")).upper()
    url = str(item.get("url", ""))
    headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
    path, query = _inner_target(url)
    first = path.split("/", 1)[0].split("(", 1)[0]
    if first in ("$batch", "subscriptions"):
        return _error(item_id, ApiError(400, "BadRequest", f"'{first}' cannot be used inside a $batch request."))
    body = item.get("body")
    raw = orjson.dumps(body) if body is not None else b""
    company_hint = next((v for k, v in headers.items() if k.lower() == "company"), None)
    inner = ApiRequest(method, path, query, headers, raw, outer.identity, outer.root, company_hint)
    response = api.handle(inner)
    answer: dict[str, Any] = {"id": item_id, "status": response.status, "headers": dict(response.headers)}
    if "atomicityGroup" in item:
        answer["atomicityGroup"] = item["atomicityGroup"]
    if response.body is not None:
        answer["headers"]["content-type"] = response.content_type
        answer["body"] = response.body
    return answer


def _error(item_id: str, err: ApiError) -> dict[str, Any]:
    return {"id": item_id, "status": err.status, "headers": {}, "body": err.body()}
