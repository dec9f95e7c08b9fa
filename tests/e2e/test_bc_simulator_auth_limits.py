"""Authentication, permissions, operational limits and injected faults of the simulator."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import pytest

from tests.support.bc_simulator import BC_SCOPE, Identity
from tests.support.bc_simulator.client import BcClient, Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def _token(session: aiohttp.ClientSession, url: str, **form: str) -> tuple[int, dict[str, Any]]:
    async with session.post(url, data=form) as resp:
        return resp.status, await resp.json()


async def test_client_credentials_token_flow(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    sim = bc_client.sim
    demo = sim.identity()
    assert demo.client_id and demo.client_secret
    status, body = await _token(
        bc_session,
        sim.token_url,
        grant_type="client_credentials",
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        scope=BC_SCOPE,
    )
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    reply = await bc_client.get("companies", headers=headers, auth=False)
    assert reply.status == 200
    wrong_secret = await _token(
        bc_session,
        sim.token_url,
        grant_type="client_credentials",
        client_id=demo.client_id,
        client_secret="nope",
        scope=BC_SCOPE,
    )
    assert wrong_secret[0] == 401 and wrong_secret[1]["error"] == "invalid_client"
    wrong_scope = await _token(
        bc_session,
        sim.token_url,
        grant_type="client_credentials",
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        scope="https://graph.microsoft.com/.default",
    )
    assert wrong_scope[1]["error"] == "invalid_scope"
    unknown_app = await _token(
        bc_session, sim.token_url, grant_type="client_credentials", client_id="x", client_secret="y", scope=BC_SCOPE
    )
    assert unknown_app[1]["error"] == "unauthorized_client"
    other_tenant = await _token(
        bc_session,
        f"{sim.server_url}/other.example/oauth2/v2.0/token",
        grant_type="client_credentials",
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        scope=BC_SCOPE,
    )
    assert other_tenant[0] == 400


async def test_bad_and_expired_tokens(bc_client: BcClient) -> None:
    sim = bc_client.sim
    for header in (
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Basic " + base64.b64encode(b"DEMO:x").decode()},
    ):
        reply = await bc_client.get("companies", headers=header, auth=False)
        assert reply.status == 401
        assert reply.error_code == "Authentication_InvalidCredentials"
        assert reply.error_message.startswith("The server has rejected the client credentials.")
    token = sim.token()
    sim.advance(3600)
    expired = await bc_client.get("companies", headers={"Authorization": f"Bearer {token}"}, auth=False)
    assert expired.status == 401
    short = sim.token(lifetime=10)
    assert (await bc_client.get("companies", headers={"Authorization": f"Bearer {short}"}, auth=False)).status == 200


async def test_app_not_enabled_in_bc(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.add_identity(Identity("DISABLED", client_id="c-disabled", client_secret="s", enabled=False))
    reply = await bc_client.get("companies", headers={"Authorization": f"Bearer {sim.token('DISABLED')}"}, auth=False)
    assert reply.status == 401


async def test_permissions_give_403(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    sim = bc_client.sim
    sim.add_identity(
        Identity("READER", client_id="c-reader", client_secret="s", permissions={"*": "read", "customers": "none"})
    )
    reader = BcClient(sim, bc_session, "READER")
    assert (await reader.get(reader.company("items"))).status == 200
    denied = await reader.get(reader.company("customers"))
    assert denied.status == 403 and denied.error_code.startswith("Authorization_")  # type: ignore[union-attr]
    write = await reader.post(reader.company("locations"), {"code": "X"})
    assert write.status == 403 and "Location Insert" in write.error_message
    sim.add_identity(Identity("OTHER", client_id="c-other", client_secret="s", companies={"Elsewhere"}))
    other = BcClient(sim, bc_session, "OTHER")
    assert (await other.get("companies")).value == []
    assert (await other.get(other.company("items"))).status == 403


async def test_rate_limit_sliding_window(bc_simulator_factory: Factory, bc_session: aiohttp.ClientSession) -> None:
    sim = await bc_simulator_factory(rate_limit=3, rate_window=300)
    client = BcClient(sim, bc_session)
    statuses = [(await client.get("companies")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await client.get("companies")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    sim.advance(301)
    assert (await client.get("companies")).status == 200
    assert sim.stats()["identities"]["DEMO"]["rate_limited"] == 2


async def test_concurrency_queue_and_stats(bc_simulator_factory: Factory, bc_session: aiohttp.ClientSession) -> None:
    sim = await bc_simulator_factory(max_concurrent=5, max_queue=3, queue_timeout=5)
    sim.add_fault("delay", path="*/items", times=None, delay=0.2)
    client = BcClient(sim, bc_session)
    client.auth()
    replies = await asyncio.gather(*(client.get(client.company("items"), params={"$top": "1"}) for _ in range(10)))
    statuses = sorted(r.status for r in replies)
    assert statuses.count(200) == 8 and statuses.count(429) == 2
    stats = sim.stats()["identities"]["DEMO"]
    assert stats["max_in_flight"] == 5
    assert stats["max_queued"] == 3 and stats["queue_full"] == 2
    assert stats["in_flight"] == 0


async def test_queue_timeout_gives_503(bc_simulator_factory: Factory, bc_session: aiohttp.ClientSession) -> None:
    sim = await bc_simulator_factory(max_concurrent=1, queue_timeout=0.05)
    sim.add_fault("delay", path="*/items", times=1, delay=0.3)
    client = BcClient(sim, bc_session)
    client.auth()
    slow, queued = await asyncio.gather(client.get(client.company("items")), client.get("companies"))
    assert slow.status == 200
    assert queued.status == 503 and queued.headers["Retry-After"] == "1"


async def test_status_faults_count_down(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.add_fault("status", path="*/salesOrders", method="POST", times=2, status=503, retry_after=7)
    path = bc_client.company("salesOrders")
    first = await bc_client.post(path, {"customerNumber": "10000"})
    assert first.status == 503 and first.headers["Retry-After"] == "7"
    assert (await bc_client.post(path, {"customerNumber": "10000"})).status == 503
    assert (await bc_client.post(path, {"customerNumber": "10000"})).status == 201
    assert len(sim.company().table("salesOrders")) == 1  # a refused attempt does nothing
    sim.add_fault("status", path="*", times=1, status=504, body="<html>Gateway Timeout</html>")
    proxy = await bc_client.get("companies")
    assert proxy.status == 504 and proxy.body.startswith("<html>")
    assert (await bc_client.get("companies")).status == 200


async def test_commit_then_drop_connection(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.add_fault("drop_after_commit", path="*/salesOrders", method="POST")
    try:
        await bc_client.post(
            bc_client.company("salesOrders"), {"customerNumber": "10000", "externalDocumentNumber": "GW-DROP"}
        )
    except aiohttp.ServerDisconnectedError:
        pass
    else:
        raise AssertionError("the connection should have been dropped")
    found = await bc_client.get(
        bc_client.company("salesOrders"), params={"$filter": "externalDocumentNumber eq 'GW-DROP'"}
    )
    assert len(found.value) == 1  # committed, though the client never heard


async def test_drop_before_processing(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.add_fault("drop", path="*/salesOrders", method="POST")
    with pytest.raises(aiohttp.ClientError):
        await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    assert len(sim.company().table("salesOrders")) == 0


async def test_control_api_faults_and_stats(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    control = bc_client.sim.control_url
    async with bc_session.post(
        f"{control}/faults", json={"kind": "status", "status": 429, "path": "*/companies", "retry_after": 2}
    ) as resp:
        fault = await resp.json()
    assert fault["id"] and fault["times"] == 1
    limited = await bc_client.get("companies")
    assert limited.status == 429 and limited.error_code == "Application_TooManyRequests"
    async with bc_session.get(f"{control}/stats") as resp:
        stats = await resp.json()
    assert stats["identities"]["DEMO"]["requests"] >= 1
    async with bc_session.get(f"{control}/requests") as resp:
        log = await resp.json()
    assert any(r["status"] == 429 for r in log["value"])
