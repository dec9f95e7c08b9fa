"""Test helpers: a small HTTP client for the gateway (real HTTP, aiohttp)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp


def basic(user: str, key: str) -> str:
    """An Authorization header value for HTTP Basic."""
    return aiohttp.encode_basic_auth(user, key)


def q(text: str) -> str:
    """Percent-encode a query value as an OData client would."""
    return quote(text, safe="$,'()=@")


class Api:
    def __init__(self, server: Any, user: str, key: str) -> None:
        self.server = server
        self.base = str(server.make_url("")).rstrip("/")
        self.auth = basic(user, key)
        self.session: aiohttp.ClientSession

    async def __aenter__(self) -> Api:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    async def get(self, path: str, auth: Any = "default", **kw: Any) -> tuple[int, dict[str, str], Any]:
        """GET; returns (status, headers, JSON body or text). auth: a header value, or None."""
        return await self.request("GET", path, auth=auth, **kw)

    async def request(
        self, method: str, path: str, auth: Any = "default", **kw: Any
    ) -> tuple[int, dict[str, str], Any]:
        auth = self.auth if auth == "default" else auth
        headers = dict(kw.pop("headers", None) or {})
        if auth is not None:
            headers.setdefault("Authorization", auth)
        async with self.session.request(method, self.url(path), headers=headers, **kw) as resp:
            body = await resp.read()
            data: Any = body.decode("utf-8") if body else None
            if body and "json" in resp.headers.get("Content-Type", ""):
                data = await resp.json(content_type=None)
            return resp.status, dict(resp.headers), data
