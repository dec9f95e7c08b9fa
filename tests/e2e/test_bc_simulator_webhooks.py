"""Webhook subscriptions and notifications of the simulator, into a small receiver on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.client import BcClient, Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


class Receiver:
    """Echoes handshakes (unless told not to) and records notifications; answers queued statuses."""

    def __init__(self) -> None:
        self.url = ""
        self.handshakes: list[tuple[str, str]] = []
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.answers: list[int] = []
        self.echo = True
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            self.handshakes.append((request.method, token))
            return web.Response(text=token if self.echo else "no", content_type="text/plain")
        self.posts.append((dict(request.headers), orjson.loads(await request.read())))
        self.arrived.set()
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def wait(self, count: int, seconds: float = 3.0) -> None:
        async def until() -> None:
            while len(self.posts) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), seconds)

    def notes(self) -> list[dict[str, Any]]:
        return [n for _, body in self.posts for n in body["value"]]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_route("*", "/hook", recv.handle)
    app.router.add_route("*", "/other", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recv.url = f"http://127.0.0.1:{port}/hook"
    yield recv
    await runner.cleanup()


async def _delivered(sim: BcSimulator, count: int) -> None:
    """Wait until the simulator has handled `count` delivery attempts (answer read, retry scheduled)."""
    for _ in range(300):
        if len(sim.deliveries) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(sim.deliveries)} deliveries")


async def _subscribe(client: BcClient, receiver: Receiver, set_name: str, **extra: Any) -> dict[str, Any]:
    reply = await client.post(
        "subscriptions",
        {
            "notificationUrl": extra.pop("url", receiver.url),
            "resource": f"/api/v2.0/companies({client.sim.company_id})/{set_name}",
            "clientState": "opaque",
            **extra,
        },
    )
    assert reply.status == 201, reply.body
    return dict(reply.body)


async def test_subscription_crud_and_handshake(bc_client: BcClient, receiver: Receiver) -> None:
    sub = await _subscribe(bc_client, receiver, "customers")
    assert receiver.handshakes and receiver.handshakes[0][0] == "POST"
    assert len(sub["subscriptionId"]) == 32 and sub["clientState"] == "opaque"
    assert sub["expirationDateTime"].endswith("Z")
    path = f"subscriptions('{sub['subscriptionId']}')"
    got = await bc_client.get(path)
    assert got.status == 200 and got.body["resource"] == sub["resource"]
    listed = await bc_client.get("subscriptions")
    assert [s["subscriptionId"] for s in listed.value] == [sub["subscriptionId"]]
    no_match = await bc_client.patch(path, {"clientState": "x"}, etag=None)
    assert no_match.status == 400 and no_match.error_code == "BadRequest_InvalidToken"
    bc_client.sim.advance(3600)
    renewed = await bc_client.patch(path, {"clientState": "renewed"}, etag=sub["@odata.etag"])
    assert renewed.status == 200 and renewed.body["expirationDateTime"] > sub["expirationDateTime"]
    assert len(receiver.handshakes) == 2
    assert (await bc_client.delete(path)).status == 204
    assert (await bc_client.get(path)).status == 404


async def test_handshake_failure_creates_nothing(bc_client: BcClient, receiver: Receiver) -> None:
    receiver.echo = False
    reply = await bc_client.post(
        "subscriptions",
        {"notificationUrl": receiver.url, "resource": f"companies({bc_client.sim.company_id})/items"},
    )
    assert reply.status == 400
    unreachable = await bc_client.post(
        "subscriptions",
        {"notificationUrl": "http://127.0.0.1:9/nothing", "resource": f"companies({bc_client.sim.company_id})/items"},
    )
    assert unreachable.status == 400
    assert (await bc_client.get("subscriptions")).value == []
    lines = await bc_client.post(
        "subscriptions",
        {"notificationUrl": receiver.url, "resource": f"companies({bc_client.sim.company_id})/salesOrderLines"},
    )
    assert lines.status == 400  # line entities are never subscribable


async def test_expiry_after_three_days(bc_client: BcClient, receiver: Receiver) -> None:
    await _subscribe(bc_client, receiver, "items")
    bc_client.sim.advance(3 * 24 * 3600 + 1)
    assert (await bc_client.get("subscriptions")).value == []


async def test_notifications_merge_and_headers(bc_client: BcClient, receiver: Receiver) -> None:
    sub = await _subscribe(bc_client, receiver, "customers")
    created = await bc_client.post(bc_client.company("customers"), {"displayName": "Webhook Ltd"})
    path = bc_client.company(f"customers({created.body['id']})")
    await bc_client.patch(path, {"city": "Oslo"})
    await bc_client.patch(path, {"city": "Bergen"})
    await bc_client.patch(path, {"city": "Trondheim"})
    await receiver.wait(1)
    headers, body = receiver.posts[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["clientRequestId"] == headers["x-ms-correlation-id"]
    changes = [(n["changeType"], n["resource"]) for n in body["value"]]
    resource = f"{sub['resource']}({created.body['id']})"
    # created, then the three updates merged into one
    assert changes == [("created", resource), ("updated", resource)]
    note = body["value"][0]
    assert note["subscriptionId"] == sub["subscriptionId"] and note["clientState"] == "opaque"
    assert note["expirationDateTime"] == sub["expirationDateTime"]
    await bc_client.delete(path)
    await receiver.wait(2)
    assert receiver.posts[1][1]["value"][0]["changeType"] == "deleted"


async def test_line_change_notifies_header_and_inventory_does_not_notify_items(
    bc_client: BcClient, receiver: Receiver
) -> None:
    order = await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    orders = await _subscribe(bc_client, receiver, "salesOrders")
    await _subscribe(bc_client, receiver, "items")
    await bc_client.post(
        bc_client.company(f"salesOrders({order.body['id']})/salesOrderLines"),
        {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1},
    )
    bc_client.sim.post_stock("1896-S", 10, location="RED")
    item = bc_client.sim.get("items", "1900-S")
    assert item is not None
    await bc_client.patch(bc_client.company(f"items({item['id']})"), {"inventory": 500})
    await bc_client.sim.flush_webhooks()
    notes = receiver.notes()
    assert [(n["changeType"], n["resource"]) for n in notes] == [
        ("updated", f"{orders['resource']}({order.body['id']})")
    ]


async def test_ledger_entry_subscription(bc_client: BcClient, receiver: Receiver) -> None:
    sub = await _subscribe(bc_client, receiver, "itemLedgerEntries")
    entry = bc_client.sim.post_stock("1928-S", 5, location="YELLOW")
    await receiver.wait(1)
    assert receiver.notes() == [
        {**receiver.notes()[0], "changeType": "created", "resource": f"{sub['resource']}({entry['id']})"}
    ]


async def test_collection_when_too_many(bc_simulator_factory: Factory, bc_session: Any, receiver: Receiver) -> None:
    sim = await bc_simulator_factory(webhook_max_notifications=3, webhook_delay=60)
    client = BcClient(sim, bc_session)
    sub = await _subscribe(client, receiver, "locations")
    sim.advance(1)  # the seeded locations are older than the 50 ms margin
    first = await client.post(client.company("locations"), {"code": "L1"})
    for code in ("L2", "L3", "L4"):
        await client.post(client.company("locations"), {"code": code})
    sim.advance(61)
    await receiver.wait(1)
    [note] = receiver.notes()
    assert note["changeType"] == "collection"
    assert note["resource"].startswith(f"{sub['resource']}?$filter=lastModifiedDateTime%20gt%20")
    since = note["resource"].rsplit("%20", 1)[1]
    assert since < first.body["lastModifiedDateTime"]
    listed = await client.get(client.company("locations"), params={"$filter": f"lastModifiedDateTime gt {since}"})
    assert {loc["code"] for loc in listed.value} == {"L1", "L2", "L3", "L4"}


async def test_one_post_for_subscriptions_sharing_a_url(bc_client: BcClient, receiver: Receiver) -> None:
    await _subscribe(bc_client, receiver, "items")
    await _subscribe(bc_client, receiver, "currencies")
    await bc_client.post(bc_client.company("items"), {"number": "HOOK-1"})
    await bc_client.post(bc_client.company("currencies"), {"code": "NOK", "displayName": "Krone"})
    await bc_client.sim.flush_webhooks()
    assert len(receiver.posts) == 1
    assert sorted(n["resource"].split("/")[-1].split("(")[0] for n in receiver.notes()) == ["currencies", "items"]


async def test_retries_then_deletion(bc_client: BcClient, receiver: Receiver) -> None:
    sim = bc_client.sim
    await _subscribe(bc_client, receiver, "items")
    receiver.answers = [503, 429, 500, 408, 502, 503]
    await bc_client.post(bc_client.company("items"), {"number": "RETRY-1"})
    for attempt in range(1, 7):
        await _delivered(sim, attempt)
        sim.advance(60)  # past any retry delay at this scale (1,000 minutes × 0.0005 = 30 s)
    assert len(receiver.posts) == 6
    assert all(body == receiver.posts[0][1] for _, body in receiver.posts)
    await asyncio.sleep(0.1)
    assert (await bc_client.get("subscriptions")).value == []  # deleted after more than 5 failures
    assert [d.status for d in sim.deliveries] == [503, 429, 500, 408, 502, 503]


async def test_retry_succeeds_and_other_status_deletes(bc_client: BcClient, receiver: Receiver) -> None:
    await _subscribe(bc_client, receiver, "items")
    receiver.answers = [500]
    await bc_client.post(bc_client.company("items"), {"number": "RETRY-2"})
    await receiver.wait(2)
    assert receiver.posts[0][1] == receiver.posts[1][1]
    assert len((await bc_client.get("subscriptions")).value) == 1
    receiver.answers = [404]
    await bc_client.post(bc_client.company("items"), {"number": "RETRY-3"})
    await receiver.wait(3)
    await asyncio.sleep(0.05)
    assert (await bc_client.get("subscriptions")).value == []


async def test_retry_schedule_uses_al_delays(
    bc_simulator_factory: Factory, bc_session: Any, receiver: Receiver
) -> None:
    sim = await bc_simulator_factory(webhook_retry_scale=1.0)
    client = BcClient(sim, bc_session)
    await _subscribe(client, receiver, "items")
    receiver.answers = [503, 503, 503]
    await client.post(client.company("items"), {"number": "SLOW-1"})
    await _delivered(sim, 1)
    sim.advance(59)
    await asyncio.sleep(0.05)
    assert len(receiver.posts) == 1
    sim.advance(2)  # one minute after the first failure
    await _delivered(sim, 2)
    sim.advance(61)  # again one minute
    await _delivered(sim, 3)
    sim.advance(9 * 60)  # third failure: ten minutes, not yet
    await asyncio.sleep(0.05)
    assert len(receiver.posts) == 3
    sim.advance(61)
    await _delivered(sim, 4)


async def test_rolled_back_changes_are_never_announced(bc_client: BcClient, receiver: Receiver) -> None:
    await _subscribe(bc_client, receiver, "items")
    cid = bc_client.sim.company_id
    reply = await bc_client.post(
        "$batch",
        {
            "requests": [
                {"method": "POST", "id": "1", "url": f"companies({cid})/items", "body": {"number": "GHOST"}},
                {"method": "POST", "id": "2", "url": f"companies({cid})/items", "body": {"number": "X" * 30}},
            ]
        },
        headers={"Isolation": "snapshot"},
    )
    assert [a["status"] for a in reply.body["responses"]] == [201, 400]
    failed_deep = await bc_client.post(
        bc_client.company("salesOrders"),
        {"customerNumber": "10000", "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "NOPE"}]},
    )
    assert failed_deep.status == 400
    await bc_client.sim.flush_webhooks()
    assert receiver.posts == []


async def test_handshake_by_get_when_configured(
    bc_simulator_factory: Factory, bc_session: Any, receiver: Receiver
) -> None:
    sim = await bc_simulator_factory(handshake_method="GET")
    await _subscribe(BcClient(sim, bc_session), receiver, "contacts")
    assert [method for method, _ in receiver.handshakes] == ["GET"]
