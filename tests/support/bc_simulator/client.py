"""A thin HTTP client for tests that talk to the simulator: absolute URLs, auth headers, parsed replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict

from .simulator import BcSimulator

# What the bc_simulator_factory fixture is: SimConfig fields in, a running simulator out.
Factory = Callable[..., Awaitable[BcSimulator]]


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None

    @property
    def error_message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return ""

    @property
    def value(self) -> list[dict[str, Any]]:
        return list(self.body["value"])


class BcClient:
    def __init__(self, sim: BcSimulator, session: aiohttp.ClientSession, identity: str = "DEMO") -> None:
        self.sim = sim
        self.session = session
        self.identity = identity

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return f"{self.sim.base_url}/{path.lstrip('/')}"

    def company(self, path: str = "") -> str:
        """A path under the first company: company("items") -> companies({id})/items."""
        suffix = f"/{path.lstrip('/')}" if path else ""
        return f"companies({self.sim.company_id}){suffix}"

    def auth(self) -> dict[str, str]:
        """Fresh credentials each time: a test may have moved the clock past a token's lifetime."""
        return self.sim.auth_headers(self.identity)

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        all_headers = {**(self.auth() if auth else {}), **(headers or {})}
        data = orjson.dumps(json) if json is not None else None
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.url(path), data=data, headers=all_headers, params=params) as resp:
            raw = await resp.read()
            body: Any = raw.decode()
            if resp.content_type == "application/json" and raw:
                body = orjson.loads(raw)
            return Reply(resp.status, body, CIMultiDict(resp.headers))

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any, etag: str | None = "*", **kw: Any) -> Reply:
        headers = dict(kw.pop("headers", None) or {})
        if etag is not None:
            headers["If-Match"] = etag
        return await self.request("PATCH", path, json=json, headers=headers, **kw)

    async def delete(self, path: str, etag: str | None = None, **kw: Any) -> Reply:
        headers = dict(kw.pop("headers", None) or {})
        if etag is not None:
            headers["If-Match"] = etag
        return await self.request("DELETE", path, headers=headers, **kw)

    async def all_pages(self, path: str, **kw: Any) -> list[dict[str, Any]]:
        """Follow @odata.nextLink to the end."""
        rows: list[dict[str, Any]] = []
        reply = await self.get(path, **kw)
        while True:
            assert reply.status == 200, reply.body
            rows.extend(reply.value)
            link = reply.body.get("@odata.nextLink")
            if not link:
                return rows
            kw.pop("params", None)
            reply = await self.get(link, **kw)
