"""The lockout and the webhook throttle (issue 9, items 5 and 6), over real HTTP on SQLite and
PostgreSQL. Clients at other addresses are made with X-Forwarded-For from a trusted proxy (the
test client at 127.0.0.1), as nginx would send it (tests/e2e/test_nginx.py does it through nginx)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aiohttp
import pytest

from gateway.app import GATEWAY, create_app
from gateway.auth import ADDRESS_FAILURES, LOCKOUT_FAILURES, LOCKOUT_WINDOW, WEBHOOK_FAILURES
from gateway.config import Settings
from tests.support.dataverse_payloads import build_context
from tests.support.helpers import Api, basic
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER, start_harness

AVAIL = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
SALES, STRANGER = "198.51.100.7", "203.0.113.66"


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
def behind_proxy(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies=("127.0.0.1",))


@pytest.fixture
async def two_processes(behind_proxy: Settings, engine: Any, demo: dict[str, Any], aiohttp_server: Any) -> Any:
    """Two gateway processes (two apps, each its own engine and lockout) on one database."""
    first = await aiohttp_server(create_app(behind_proxy, worker=False, mirror=False))
    second = await aiohttp_server(create_app(behind_proxy, worker=False, mirror=False))
    return first, second


async def test_bad_keys_in_sales_name_do_not_lock_sales_out(two_processes: Any, demo: dict[str, Any]) -> None:
    first, second = two_processes
    async with Api(first, demo["user"], demo["key"]) as api:
        for _ in range(4 * LOCKOUT_FAILURES):
            status, _h, _b = await api.get(AVAIL, auth=basic(demo["user"], "wrong"), headers=at(STRANGER))
            assert status in (401, 429)
        assert status == 429
        # The stranger's address is refused, even with the right key (no oracle for guesses) ...
        status, headers, body = await api.get(AVAIL, headers=at(STRANGER))
        assert status == 429 and int(headers["Retry-After"]) > 0
        assert body["error"]["code"] == "Application_TooManyRequests"
        # ... but Sales, calling from its own address, is not: on this process or the other.
        assert (await api.get(AVAIL, headers=at(SALES)))[0] == 200
    async with Api(second, demo["user"], demo["key"]) as other:
        assert (await other.get(AVAIL, headers=at(SALES)))[0] == 200


async def test_failures_count_across_processes(two_processes: Any, demo: dict[str, Any]) -> None:
    """A guesser cannot spread guesses over the gateway processes: the database holds the counts."""
    first, second = two_processes
    async with Api(first, demo["user"], demo["key"]) as a, Api(second, demo["user"], demo["key"]) as b:
        for i in range(LOCKOUT_FAILURES):
            client = a if i % 2 else b
            assert (await client.get(AVAIL, auth=basic("DEMO", "wrong"), headers=at(STRANGER)))[0] == 401
        for client in (a, b):
            assert (await client.get(AVAIL, headers=at(STRANGER)))[0] == 429
            assert (await client.get(AVAIL, headers=at(SALES)))[0] == 200


async def test_an_address_trying_many_user_names_is_locked_out(two_processes: Any, demo: dict[str, Any]) -> None:
    first, _second = two_processes
    async with Api(first, demo["user"], demo["key"]) as api:
        for i in range(ADDRESS_FAILURES):
            assert (await api.get(AVAIL, auth=basic(f"GUESS{i}", "wrong"), headers=at(STRANGER)))[0] == 401
        assert (await api.get(AVAIL, auth=basic("GUESS-NEW", "wrong"), headers=at(STRANGER)))[0] == 429
        assert (await api.get(AVAIL, headers=at(STRANGER)))[0] == 429
        assert (await api.get(AVAIL, headers=at(SALES)))[0] == 200


async def test_the_lockout_ends_after_its_window(two_processes: Any, demo: dict[str, Any]) -> None:
    first, _second = two_processes
    now = [1_000_000.0]
    first.app[GATEWAY].auth.lockout.clock = lambda: now[0]
    async with Api(first, demo["user"], demo["key"]) as api:
        for _ in range(LOCKOUT_FAILURES):
            assert (await api.get(AVAIL, auth=basic("DEMO", "wrong"), headers=at(STRANGER)))[0] == 401
        assert (await api.get(AVAIL, headers=at(STRANGER)))[0] == 429
        now[0] += LOCKOUT_WINDOW + 1
        assert (await api.get(AVAIL, headers=at(STRANGER)))[0] == 200


# --- the webhook ---------------------------------------------------------------------------


@pytest.fixture
async def webhook(
    behind_proxy: Settings, engine: Any, demo: dict[str, Any], aiohttp_server: Any, sales_sim: Any
) -> Any:
    server = await aiohttp_server(create_app(behind_proxy, engine=engine, worker=False, mirror=False))
    return await start_harness(sales_sim, server, engine, behind_proxy)


async def _deliver(h: Any, secret: str, address: str) -> tuple[int, dict[str, str]]:
    body = build_context("Update", "account", "3842903e-bb56-4bb5-be8f-285fc6977305", target={"name": "x"})
    headers = {WEBHOOK_HEADER: secret, "x-ms-dynamics-organization": ORG_HOST, **at(address)}
    async with aiohttp.ClientSession() as s, s.post(h.webhook_url, data=json.dumps(body), headers=headers) as r:
        return r.status, dict(r.headers)


async def test_guessing_the_webhook_secret_is_throttled_per_address(webhook: Any) -> None:
    statuses = [(await _deliver(webhook, f"guess-{i}", STRANGER))[0] for i in range(40)]
    assert statuses == [401] * WEBHOOK_FAILURES + [429] * (40 - WEBHOOK_FAILURES)
    status, headers = await _deliver(webhook, webhook.secret, STRANGER)
    assert status == 429 and 0 < int(headers["Retry-After"]) <= LOCKOUT_WINDOW + 1
    # Sales, from its own address, delivers with the right secret as before.
    assert (await _deliver(webhook, webhook.secret, SALES))[0] == 200
