"""What the OData service asks of the application that hosts it, and the shapes it answers with.

The service is generic: the database engine, who may read what, which sets are published, which
companies exist, the answer cache and whether an error means "database unavailable" all come
from the host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.odata import edm
from gateway.odata.answer_cache import ResponseCache
from gateway.odata.errors import ODataError


class RawReader(Protocol):
    """Runs one compiled SELECT on the database driver itself, without SQLAlchemy's execution
    layer (gateway/odata/plans.py); errors come as SQLAlchemy's DBAPIError, as from an engine."""

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]: ...


class ODataHost(Protocol):
    """What the service asks of the application that hosts it."""

    def engine(self) -> AsyncEngine: ...

    def default_company(self) -> str: ...

    def public_base(self) -> str | None: ...

    def max_page_size(self) -> int: ...

    def published(self, entity_set: edm.EntitySet) -> bool: ...

    def refusal(self, entity_set: edm.EntitySet) -> ODataError | None:
        """Why a published set cannot answer now (an error to give instead), or None."""
        ...

    def company_exists(self, name: str) -> Awaitable[bool]: ...

    def may_read(self, request: web.Request, entity_set: edm.EntitySet) -> bool: ...

    def forbidden_message(self, request: web.Request, entity_set: edm.EntitySet) -> str: ...

    def cache(self) -> ResponseCache | None: ...

    def reader(self) -> RawReader | None:
        """A raw reader on the engine's database, or None (reads go through the engine)."""
        ...

    def database_unavailable(self, error: BaseException) -> bool:
        """True when the database itself failed (down, locked, full), not the statement."""
        ...


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Sequence[Any]]
    count: int | None
    next_token: str | None
    next_top: int | None


def error_response(err: ODataError, v3: bool = False) -> web.Response:
    body: dict[str, Any]
    if v3:
        body = {"odata.error": {"code": err.code, "message": {"lang": "en-US", "value": err.message}}}
        ctype = "application/json;odata=minimalmetadata;charset=utf-8"
    else:
        body = err.body()
        ctype = "application/json; odata.metadata=minimal; charset=utf-8"
    return web.Response(
        status=err.status,
        body=orjson.dumps(body),
        content_type=None,
        headers={"Content-Type": ctype, **err.headers},
    )
