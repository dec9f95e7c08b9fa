"""A request to the API as the handlers see it, the answer they give, and the helpers every handler needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .config import Identity
from .errors import ApiError, entity_changed, invalid_token, query_syntax
from .fields import GUID_RE, etag_for
from .store import Rec

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w.$]*)(?:\((?P<key>[^()]*)\))?$")
_ETAG = re.compile(r'^(W/)?"[^"]*"$')


@dataclass
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    identity: Identity
    root: str
    company_hint: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return None

    def json(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.body or b"{}")
        except orjson.JSONDecodeError:
            raise ApiError(400, "BadRequest_InvalidRequestUrl", "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest_InvalidRequestUrl", "The request body must be a JSON object.")
        return data


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE


@dataclass
class Segment:
    name: str
    key: str | None


def parse_path(path: str) -> list[Segment]:
    out: list[Segment] = []
    for raw in [p for p in path.split("/") if p]:
        match = _SEGMENT.match(raw)
        if match is None:
            raise query_syntax()
        out.append(Segment(match.group("name"), match.group("key")))
    return out


def parse_guid(key: str | None) -> str:
    if key is None or not GUID_RE.match(key.strip()):
        raise query_syntax()
    return key.strip().lower()


def check_etag(req: ApiRequest, rec: Rec, required: bool) -> None:
    value = req.header("if-match")
    if value is None:
        if required:
            raise invalid_token()
        return
    if value.strip() == "*":
        return
    tags = [t.strip() for t in value.split(",")]
    if not all(_ETAG.match(t) for t in tags):
        raise invalid_token()
    if etag_for(rec["_v"]) not in tags:
        raise entity_changed()
