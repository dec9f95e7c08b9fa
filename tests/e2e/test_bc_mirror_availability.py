"""api mode end to end, over real HTTP on loopback: the BC simulator is the system of record, the
gateway mirrors it inside `serve` and answers Sales' availability requests from the mirror."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from gateway.app import GATEWAY, create_app
from schemas import tables as t
from tests.support.bc_mirror import link_to, mirror_for, wait_for
from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.demo import demo_id
from tests.support.helpers import Api, q

pytest_plugins = ["tests.support.bc_simulator.fixtures"]

ATHENS_DESK = "5a1e5000-0000-4000-8000-000000001896"  # the demo coupling of item 1896-S
PIA = f"/ODataV4/Company('CRONUS')/ProductItemAvailability?$filter={q(f'CRM_ID eq {ATHENS_DESK}')}"
POLL = 0.3


async def _serve(settings: Any, engine: Any, aiohttp_server: Any, **options: Any) -> Any:
    settings = dataclasses.replace(settings, bc_poll_interval=POLL, **options)
    return await aiohttp_server(create_app(settings, engine=engine, worker=False))


async def _inventory(api: Api) -> Any:
    status, _h, body = await api.get(PIA)
    return body["value"][0]["Inventory"] if status == 200 and body["value"] else None


async def test_a_ledger_entry_posted_in_bc_shows_within_the_poll_interval(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    await link_to(engine, settings, bc_simulator)
    server = await _serve(settings, engine, aiohttp_server)
    gateway = server.app[GATEWAY]
    async with Api(server, demo["user"], demo["key"]) as api:
        await wait_for(lambda: _ready(gateway), within=60)
        # The demo's coupling survived the switch: it points at BC's id for 1896-S now.
        status, _h, body = await api.get(PIA)
        assert status == 200, body
        (row,) = body["value"]
        assert row["ItemNo"] == "1896-S" and row["Inventory"] == 51
        assert row["Integration_ID"] == demo_id("CRONUS", "items", "1896-S")
        assert await _inventory(api) == 51  # now from the answer cache
        mirror = gateway.mirror
        assert mirror is not None and mirror.options.poll_interval == POLL
        bc_simulator.post_stock("1896-S", 5, "BLUE")
        # The next poll applies it (no delta, webhook or reconciliation runs here): once a cycle
        # begun after the posting has ended, the total is in our table...
        posted_at = mirror.cycles
        await wait_for(lambda: _cycles_since(mirror, posted_at, 2), within=30, every=0.01)
        assert await _stored_inventory(engine, "1896-S") == 56
        # ... and Sales' answer shows it (the answer cache dropped that item through the change feed).
        await wait_for(lambda: _is(api, 56), within=30, every=0.02)
        bc_simulator.post_stock("1896-S", -6, "RED")
        await wait_for(lambda: _is(api, 50), within=30, every=0.02)


async def _cycles_since(mirror: Any, before: int, cycles: int) -> bool:
    return bool(mirror.cycles >= before + cycles)


async def _stored_inventory(engine: Any, item_no: str) -> int | None:
    async with engine.connect() as conn:
        inv = t.item_inventory
        value = await conn.scalar(select(inv.c.inventory).where(inv.c.company == "CRONUS", inv.c.item_no == item_no))
    return None if value is None else int(value)


async def _is(api: Api, expected: int) -> bool:
    return await _inventory(api) == expected


async def _ready(gateway: Any) -> bool:
    return bool(gateway.mirror_ready)


async def _cycles_done(gateway: Any, n: int) -> bool:
    return gateway.mirror is not None and gateway.mirror.cycles >= n


async def test_availability_waits_for_the_initial_load_and_names_unpublished_pages(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    await link_to(engine, settings, bc_simulator)
    # The mirror runs elsewhere (bc-gateway mirror): this gateway only answers.
    settings = dataclasses.replace(settings, bc_poll_interval=POLL)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=False, mirror=False))
    async with Api(server, demo["user"], demo["key"]) as api:
        status, headers, body = await api.get(PIA)
        assert status == 503 and headers["Retry-After"] == "30"
        assert body["error"]["code"] == "Internal_ServiceUnavailable"
        assert "still loading" in body["error"]["message"]
        mirror = mirror_for(engine, settings, bc_simulator)
        try:
            assert (await mirror.cycle()).status == "ran"
        finally:
            await mirror.link.aclose()
        await wait_for(lambda: _is(api, 51), within=30)
        # The standard API has no location on ledger entries, no item units, no resources.
        for name, page, flag in (
            ("ItemAvailabilityByLocation", 'page 38 "Item Ledger Entries"', "--bc-ledger-entries-service"),
            ("ItemUnitsOfMeasure", 'page 5404 "Item Units of Measure"', "--bc-item-units-service"),
            ("Resources", 'page 77 "Resources"', "--bc-resources-service"),
        ):
            status, _h, body = await api.get(f"/ODataV4/{name}")
            assert status == 404, body
            message = body["error"]["message"]
            assert page in message and flag in message, message
        status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=No%20eq%20'1896-S'")
        assert status == 200 and body["value"][0]["Inventory"] == 51
        status, _h, body = await api.get("/ODataV4/Customers('10000')")
        assert status == 200 and body["Name"] == "Adatum Corporation"


async def test_with_the_pages_published_stock_per_location_units_and_resources(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    for page in ("ItemLedgerEntries", "ItemUnitsOfMeasure", "Resources"):
        bc_simulator.publish(page)
    await link_to(
        engine,
        settings,
        bc_simulator,
        bc_ledger_entries_service="ItemLedgerEntries",
        bc_item_units_service="ItemUnitsOfMeasure",
        bc_resources_service="Resources",
    )
    server = await _serve(settings, engine, aiohttp_server)
    gateway = server.app[GATEWAY]
    async with Api(server, demo["user"], demo["key"]) as api:
        await wait_for(lambda: _ready(gateway), within=60)
        status, _h, body = await api.get("/ODataV4/ItemAvailabilityByLocation?$filter=No%20eq%20'1896-S'")
        assert status == 200, body
        by_location = {r["Location_Code"]: r["Inventory"] for r in body["value"]}
        expected: dict[str, int] = {}
        for entry in bc_simulator.records("itemLedgerEntries"):
            if entry["itemNumber"] == "1896-S":
                expected[entry["_location"]] = expected.get(entry["_location"], 0) + int(entry["quantity"])
        assert by_location == expected and sum(expected.values()) == 51
        bc_simulator.post_stock("1896-S", 4, "YELLOW")

        async def yellow() -> bool:
            status, _h, body = await api.get("/ODataV4/ItemAvailabilityByLocation(No='1896-S',Location_Code='YELLOW')")
            return status == 200 and body["Inventory"] == expected["YELLOW"] + 4

        await wait_for(yellow, within=30)
        status, _h, body = await api.get("/ODataV4/ItemUnitsOfMeasure?$filter=Item_No%20eq%20'1900-S'")
        assert {(r["Code"], r["Qty_per_Unit_of_Measure"]) for r in body["value"]} == {("PCS", 1), ("BOX", 6)}
        status, _h, body = await api.get("/ODataV4/Resources('LINA')")
        assert status == 200 and body["Name"] == "Lina Townsend"
        # The demo's coupling of LINA survived, re-pointed at the id the mirror gives resources.
        assert body["CRM_ID"] == "5e000000-0000-4000-8000-000000000002"


async def test_availability_is_answered_from_the_mirror_while_bc_is_down(
    settings: Any, engine: Any, demo: dict[str, Any], aiohttp_server: Any, bc_simulator: BcSimulator
) -> None:
    await link_to(engine, settings, bc_simulator)
    server = await _serve(settings, engine, aiohttp_server, cache_ttl=0.0)  # every answer read afresh
    gateway = server.app[GATEWAY]
    async with Api(server, demo["user"], demo["key"]) as api:
        await wait_for(lambda: _ready(gateway), within=60)
        # The mirror's first cycle after the load also reads the master-data deltas (/items...):
        # let it end, so that what reaches BC below can only be the ledger poll.
        await wait_for(lambda: _cycles_done(gateway, 2), within=60)
        bc_simulator.add_fault("status", path="*", status=503, times=None)  # BC answers nothing now
        seen = len(bc_simulator.request_log)
        for _ in range(3):
            assert await _inventory(api) == 51
        status, _h, body = await api.get("/ODataV4/ItemAvailability('1896-S')")
        assert status == 200 and body["Inventory"] == 51
        # Answered without asking BC: whatever reached BC meanwhile was the mirror's own poll.
        assert all("/items" not in r.path for r in list(bc_simulator.request_log)[seen:])
