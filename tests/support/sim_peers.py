"""Peers for testing the Sales simulator itself (a pytest plugin, loaded by tests/conftest.py): a
webhook endpoint that records what Sales delivers and answers the statuses a test queues, and a
raw Web API caller that sees every status, header and body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orders.dataverse.webhook_context import classify, parse_context
from tests.support.sales_simulator import SalesSimulator


@dataclass
class Received:
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes

    def context(self) -> Any:
        return parse_context(self.body)

    def classification(self) -> Any:
        return classify(self.context(), "x-ms-dynamics-msg-size-exceeded" in self.headers)


class Receiver:
    """A webhook endpoint that records what it gets and answers the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), dict(request.query), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


class WebApiCaller:
    """Calls the simulator's Web API with a token of its own; returns (status, headers, JSON)."""

    def __init__(self, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http
        self.token = ""

    async def get_token(self, **overrides: str) -> tuple[int, dict[str, Any]]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.sim.client_id,
            "client_secret": self.sim.client_secret,
            "scope": f"{self.sim.org_url}/.default",
            **overrides,
        }
        async with self.http.post(self.sim.token_url, data=form) as resp:
            return resp.status, await resp.json()

    async def __call__(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, token: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        if not self.token:
            _status, answer = await self.get_token()
            self.token = answer["access_token"]
        all_headers = {"Authorization": f"Bearer {token if token is not None else self.token}", **(headers or {})}
        url = path if path.startswith("http") else self.sim.api_url + path
        async with self.http.request(method, url, json=body, headers=all_headers) as resp:
            text = await resp.text()
            return resp.status, dict(resp.headers), json.loads(text) if text else None


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/dataverse", hook.handle)
    server = await aiohttp_server(app)
    hook.url = str(server.make_url("/webhooks/dataverse"))
    return hook


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
