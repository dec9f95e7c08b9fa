"""BC's webhooks into the mirror, over real HTTP on loopback (bc-api.md §6): the gateway's
/webhooks/business-central answers the BC simulator's validation handshake, takes its
notifications (clientState checked) and the mirror turns them into refreshes; subscriptions are
renewed before the three-day expiry and made again when BC dropped one. On SQLite and PostgreSQL.

Deltas are set an hour apart here, so whatever reaches our tables sooner came by a notification."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import orjson
from aiohttp import ClientSession

from gateway.app import GATEWAY, create_app
from gateway.bc_webhook import PATH
from orders.bc_link.mirror import Mirror
from orders.bc_link.mirror.entities import WEBHOOK_SETS
from schemas import mirror_state as state
from schemas import tables as t
from tests.support.bc_mirror import link_to, mirror_for, wait_for
from tests.support.bc_simulator import BcSimulator
from tests.support.helpers import Api

pytest_plugins = ["tests.support.bc_simulator.fixtures"]

DAY = 24 * 3600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _customer_name(engine: Any, no: str) -> str | None:
    async with engine.connect() as conn:
        c = t.customer
        return await conn.scalar(c.select().with_only_columns(c.c.name).where(c.c.no == no))


async def _subscriptions(engine: Any, company: str = "CRONUS") -> dict[str, state.SubscriptionRow]:
    async with engine.connect() as conn:
        return await state.read_subscriptions(conn, company)


async def _cycle(mirror: Mirror) -> None:
    result = await mirror.cycle()
    assert result.status == "ran" and not result.failed, result


async def test_inside_serve_bc_subscribes_and_a_notification_refreshes_the_mirror(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    """`serve` with BCGW_PUBLIC_URL: the mirror subscribes (BC's handshake reaches the gateway), a
    change in BC is notified within BC's merge window and shows in the gateway."""
    port = _free_port()
    settings = dataclasses.replace(
        settings, public_url=f"http://127.0.0.1:{port}", bc_poll_interval=0.2, bc_delta_interval=3600.0
    )
    await link_to(engine, settings, bc_simulator)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False), port=port)
    gateway = server.app[GATEWAY]

    async def subscribed() -> bool:
        rows = await _subscriptions(engine)
        return set(rows) == set(WEBHOOK_SETS) and all(r.status == "active" for r in rows.values())

    await wait_for(subscribed, within=60)
    remote = bc_simulator.notifier.subscriptions.values()
    assert {s.url for s in remote} == {f"http://127.0.0.1:{port}{PATH}"}
    assert {s.set_name for s in remote} == set(WEBHOOK_SETS)
    async with Api(server, demo["user"], demo["key"]) as api:
        bc_simulator.change("customers", "10000", displayName="Adatum Corporation (renamed in BC)")

        async def renamed() -> bool:
            _s, _h, body = await api.get("/ODataV4/Customers('10000')")
            return bool(body.get("Name") == "Adatum Corporation (renamed in BC)")

        await wait_for(renamed, within=30)
    delivered = [d for d in bc_simulator.deliveries if any(n["changeType"] == "updated" for n in d.body["value"])]
    assert delivered and delivered[0].status == 202
    # The receiver answered before the refresh and kept nothing once it was done.
    async with engine.connect() as conn:
        assert await state.count_notifications(conn, "CRONUS") == 0
    assert gateway.mirror is not None and gateway.mirror.cycles >= 1


async def test_the_handshake_and_forged_or_foreign_notifications(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False, mirror=False))
    url = str(server.make_url(PATH))
    async with ClientSession() as http:
        for method in ("POST", "GET"):
            async with http.request(method, url, params={"validationToken": "tok-123 ?&"}) as r:
                assert (r.status, await r.text(), r.content_type) == (200, "tok-123 ?&", "text/plain")
        note = {"subscriptionId": "nope", "clientState": "guess", "resource": "/api/v2.0/x", "changeType": "updated"}
        async with http.post(url, data=orjson.dumps({"value": [note]})) as r:
            body = await r.json()
            assert r.status == 401 and body["error"]["message"] == "The notification's clientState was not accepted."
        async with http.post(url, data=b"<xml/>") as r:
            body = await r.json()
            assert r.status == 400 and "Not a Business Central notification" in body["error"]["message"]
        async with http.get(url) as r:
            assert r.status == 400
    async with engine.connect() as conn:
        assert await state.count_notifications(conn, "CRONUS") == 0


async def test_notifications_updated_collection_and_deleted_become_refreshes(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    sim.configure(webhook_max_notifications=2, webhook_delay=3600)  # only flush_webhooks sends
    await link_to(engine, settings, sim)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False, mirror=False))
    mirror = mirror_for(engine, settings, sim, notification_url=str(server.make_url(PATH)))
    try:
        await _cycle(mirror)  # loads, subscribes; its deltas are due again in an hour
        assert set(await _subscriptions(engine)) == set(WEBHOOK_SETS)
        sim.advance(1)
        sim.change("customers", "10000", displayName="Renamed once")
        await sim.flush_webhooks()
        async with engine.connect() as conn:
            (queued,) = await state.waiting_notifications(conn, "CRONUS")
        assert (queued.entity_set, queued.change_type) == ("customers", "updated")
        assert await _customer_name(engine, "10000") != "Renamed once"
        await _cycle(mirror)
        assert await _customer_name(engine, "10000") == "Renamed once"

        # More changes than BC sends one by one: one `collection`, answered by a delta read.
        sim.advance(1)
        names = {"10000": "Adatum (c)", "20000": "Trey Research (c)", "30000": "School of Fine Art (c)"}
        for no, name in names.items():
            sim.change("customers", no, displayName=name)
        await sim.flush_webhooks()
        async with engine.connect() as conn:
            kinds = [(n.entity_set, n.change_type) for n in await state.waiting_notifications(conn, "CRONUS")]
        assert kinds == [("customers", "collection")]
        await _cycle(mirror)
        assert {no: await _customer_name(engine, no) for no in names} == names

        # A location deleted in BC goes from ours.
        red = sim.get("locations", "RED")
        assert red is not None
        sim.company().table("locations").delete(red)
        await sim.flush_webhooks()
        async with engine.connect() as conn:
            (gone,) = await state.waiting_notifications(conn, "CRONUS")
        assert (gone.entity_set, gone.change_type, gone.entity_id) == ("locations", "deleted", red["id"])
        await _cycle(mirror)
        async with engine.connect() as conn:
            codes = set((await conn.execute(t.location.select().with_only_columns(t.location.c.code))).scalars())
        assert "RED" not in codes and "BLUE" in codes
    finally:
        await mirror.link.aclose()


async def test_subscriptions_are_renewed_before_expiry_and_made_again_when_bc_dropped_them(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    await link_to(engine, settings, sim)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False, mirror=False))
    # Every cycle looks at the subscriptions; deltas only hourly.
    mirror = mirror_for(engine, settings, sim, notification_url=str(server.make_url(PATH)),
                        subscription_check_interval=0.0)  # fmt: skip
    try:
        await _cycle(mirror)
        made = await _subscriptions(engine)
        first_ids = {name: row.subscription_id for name, row in made.items()}
        expiry = made["items"].expires_at
        assert expiry is not None and all(r.renewed_at is None and r.recreated == 0 for r in made.values())

        # Two days on: more than a day left, nothing to do.
        sim.advance(2 * DAY - 60)
        await _cycle(mirror)
        assert all(r.renewed_at is None for r in (await _subscriptions(engine)).values())

        # Within a day of the expiry: renewed (BC's PATCH, its handshake again), the same subscription.
        sim.advance(2 * 3600)
        await _cycle(mirror)
        renewed = await _subscriptions(engine)
        assert {n: r.subscription_id for n, r in renewed.items()} == first_ids
        assert all(r.renewed_at is not None for r in renewed.values())
        new_expiry = renewed["items"].expires_at
        assert new_expiry is not None and new_expiry > expiry
        assert {s.id for s in sim.notifier.subscriptions.values()} == set(first_ids.values())

        # The gateway was away past the expiry: BC dropped them all, and missed changes meanwhile.
        mirror.options = dataclasses.replace(mirror.options, subscription_check_interval=3600.0)
        sim.advance(3 * DAY + 60)
        await sim.flush_webhooks()
        assert sim.notifier.subscriptions == {}
        sim.change("customers", "20000", displayName="Changed while nobody listened")
        mirror._next_subscriptions = 0.0  # the hourly check falls due
        await _cycle(mirror)
        again = await _subscriptions(engine)
        assert all(r.recreated == 1 and r.status == "active" for r in again.values())
        assert not set(first_ids.values()) & {r.subscription_id for r in again.values()}
        assert {s.id for s in sim.notifier.subscriptions.values()} == {r.subscription_id for r in again.values()}
        # Re-made, its delta read at once: the change missed meanwhile is in (deltas are an hour off).
        assert await _customer_name(engine, "20000") == "Changed while nobody listened"
    finally:
        await mirror.link.aclose()


async def test_a_sales_order_entered_or_deleted_in_bc_comes_by_its_webhook(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator, bc_session: Any
) -> None:
    from tests.support.bc_simulator.client import BcClient

    sim, bc = bc_simulator, BcClient(bc_simulator, bc_session)
    sim.configure(webhook_delay=3600)  # only flush_webhooks sends
    await link_to(engine, settings, sim)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False, mirror=False))
    mirror = mirror_for(engine, settings, sim, notification_url=str(server.make_url(PATH)))
    try:
        await _cycle(mirror)
        made = await bc.post(
            bc.company("salesOrders"),
            {"customerNumber": "20000", "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1900-S",
                                                             "quantity": 2}]},
        )  # fmt: skip
        assert made.status == 201, made.body
        await sim.flush_webhooks()
        await _cycle(mirror)  # deltas are an hour off: only the notification brings it
        async with engine.connect() as conn:
            h = t.sales_header
            no = await conn.scalar(h.select().with_only_columns(h.c.no).where(h.c.system_id == made.body["id"]))
        assert no == made.body["number"]
        order = await bc.get(bc.company(f"salesOrders({made.body['id']})"))
        assert (
            await bc.delete(bc.company(f"salesOrders({made.body['id']})"), etag=order.body["@odata.etag"])
        ).status == 204
        await sim.flush_webhooks()
        async with engine.connect() as conn:
            kinds = [(n.entity_set, n.change_type) for n in await state.waiting_notifications(conn, "CRONUS")]
        assert ("salesOrders", "deleted") in kinds
        await _cycle(mirror)
        async with engine.connect() as conn:
            assert await conn.scalar(h.select().with_only_columns(h.c.no).where(h.c.no == no)) is None
    finally:
        await mirror.link.aclose()
