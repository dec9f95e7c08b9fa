"""BcApiClient's reads against the BC simulator over loopback HTTP: the company, paging with the
nextLink followed as given (and refused when it points elsewhere), $filter literals, published
web-service pages, and the pacing: never more than 5 in flight, the sliding window."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from orders.bc_link import BcApiClient, BcCompanyNotFound, BcNotFound, BcProtocolError, entity_path, query
from orders.bc_link.odata import and_, any_of, eq, gt, startswith
from tests.support.bc_link import FakeTime, api_requests, client_for, connection_for
from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.client import Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def test_the_company_by_name_or_id_resolved_once(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    await asyncio.gather(*(bc.get("items") for _ in range(10)))  # ten callers, one lookup
    company = await bc.company()
    assert company.id == bc_simulator.company_id and company.display_name == "CRONUS USA, Inc."
    await bc.get("customers")
    assert len([p for p in api_requests(bc_simulator) if p.endswith("/api/v2.0/companies")]) == 1
    by_id = BcApiClient(connection_for(bc_simulator, company=bc_simulator.company_id), bc_session)
    assert (await by_id.company()).name == "CRONUS"
    assert (await by_id.url("items")).endswith(f"/companies({bc_simulator.company_id})/items")


async def test_an_unknown_company_lists_those_that_exist(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc_simulator.add_company("FABRIKAM")
    bc = client_for(bc_simulator, bc_session, company="CONTOSO")
    with pytest.raises(BcCompanyNotFound) as caught:
        await bc.get("items")
    assert caught.value.available == ("CRONUS", "FABRIKAM")
    assert "Companies: CRONUS, FABRIKAM." in str(caught.value)


async def test_paging_follows_each_next_link_as_given(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    pages = [page async for page in bc.iter_pages("items", query(select=["number", "inventory"]), page_size=5)]
    assert [len(p.rows) for p in pages] == [5, 5, 5, 2]
    assert pages[-1].next_link is None
    # Each request after the first is exactly the nextLink BC gave (opaque: never rebuilt).
    sent = api_requests(bc_simulator, contains="/items")
    assert sent[1:] == [URL(p.next_link, encoded=True).raw_path_qs for p in pages[:-1] if p.next_link]
    assert all("$skiptoken=" in path for path in sent[1:])
    numbers = [row["number"] async for row in bc.iter_collection("items", page_size=4)]
    assert len(numbers) == 17 == len(set(numbers))
    assert numbers == sorted(numbers)
    assert all(entry.status == 200 for entry in bc_simulator.request_log)
    # BC's answer to Prefer: the page size asked for.
    assert len(await bc.list_collection("items", page_size=20_000)) == 17


async def test_a_next_link_to_another_host_is_refused(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession, aiohttp_server: Any
) -> None:
    seen: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"value": []})

    app = web.Application()
    app.router.add_get("/{tail:.*}", elsewhere)
    other = await aiohttp_server(app)
    link = f"http://127.0.0.1:{other.port}/v2.0/x/production/api/v2.0/items?$skiptoken=abc"
    body = '{"value": [{"number": "1896-S"}], "@odata.nextLink": "' + link + '"}'
    bc_simulator.add_fault("status", path="*/items", status=200, body=body, content_type="application/json")
    bc = client_for(bc_simulator, bc_session)
    rows = []
    with pytest.raises(BcProtocolError) as caught:
        async for row in bc.iter_collection("items"):
            rows.append(row)
    assert rows == [{"number": "1896-S"}]  # the page itself was BC's
    assert caught.value.code == "foreign_next_link"
    assert f"127.0.0.1:{other.port}" in caught.value.message
    assert seen == []  # the other host never saw our token
    with pytest.raises(BcProtocolError):
        await bc.get(link)


async def test_filters_quote_strings_and_leave_guids_numbers_and_dates_bare(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc_simulator.change("customers", "10000", displayName="O'Brien & Co + Sons")
    bc = client_for(bc_simulator, bc_session)
    found = await bc.list_collection("customers", query(filter=eq("displayName", "O'Brien & Co + Sons")))
    assert [c["number"] for c in found] == ["10000"]
    customer = found[0]
    by_id = await bc.first("customers", query(filter=eq("id", uuid.UUID(customer["id"]))))
    assert by_id is not None and by_id["number"] == "10000"
    since = datetime(2000, 1, 1, tzinfo=UTC)
    recent = await bc.list_collection(
        "items", query(filter=and_(gt("lastModifiedDateTime", since), startswith("number", "19")), select=["number"])
    )
    assert recent and all(r["number"].startswith("19") for r in recent)
    pair = await bc.list_collection("items", query(filter=any_of("number", ["1896-S", "1900-S"]), select=["number"]))
    assert sorted(r["number"] for r in pair) == ["1896-S", "1900-S"]
    entries = await bc.list_collection("itemLedgerEntries", query(filter=gt("entryNumber", 3), top=2))
    assert [e["entryNumber"] for e in entries] == [4, 5]
    first = await bc.first("items")
    assert first is not None
    item = await bc.get(entity_path("items", first["id"]))
    assert item["number"] == first["number"] and item["@odata.etag"].startswith('W/"')


async def test_missing_entities_are_not_found(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    bc = client_for(bc_simulator, bc_session)
    with pytest.raises(BcNotFound) as caught:
        await bc.get(entity_path("items", uuid.uuid4()))
    assert caught.value.code == "Internal_RecordNotFound"
    assert caught.value.message.startswith("The Item does not exist.")
    assert caught.value.correlation_id is not None
    assert "CorrelationId" not in caught.value.message
    with pytest.raises(BcNotFound) as unknown_set:
        await bc.get("resources")  # kept missing: v2.0 has no resources entity
    assert unknown_set.value.code == "BadRequest_ResourceNotFound"
    assert await bc.first("customers", query(filter=eq("number", "99999"))) is None


async def test_published_pages_under_the_odata_v4_root(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc_simulator.publish("ItemLedgerEntries")
    bc_simulator.publish("ItemUnitsOfMeasure")
    bc = client_for(bc_simulator, bc_session)
    assert bc.connection.odata_root == bc_simulator.odata_url
    entries = await bc.list_web_service("ItemLedgerEntries", query(filter=eq("Item_No", "1896-S")), page_size=2)
    assert entries and {e["Item_No"] for e in entries} == {"1896-S"}
    assert {"Location_Code", "Remaining_Quantity"} <= set(entries[0])
    box = await bc.get_web_service("ItemUnitsOfMeasure", key={"Item_No": "1900-S", "Code": "BOX"})
    assert box["Qty_per_Unit_of_Measure"] == 6
    one = await bc.get_web_service("ItemLedgerEntries", key=1)
    assert one["Entry_No"] == 1
    with pytest.raises(BcNotFound):
        await bc.get_web_service("Resources")  # not published
    assert all("/ODataV4/Company('CRONUS')/" in p for p in api_requests(bc_simulator, contains="ODataV4"))


async def test_never_more_than_five_in_flight_under_fifty_callers(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    await bc.company()
    bc_simulator.add_fault("delay", path="*/items", times=None, delay=0.02)
    bc_simulator.limiter.reset_stats()
    pages = await asyncio.gather(*(bc.get("items", query(top=1)) for _ in range(50)))
    assert len(pages) == 50
    stats = bc_simulator.stats()["identities"]["DEMO"]
    assert stats["max_in_flight"] == 5  # BC's limit reached, never passed
    assert stats["max_queued"] == 0 and stats["rate_limited"] == 0
    metrics = bc.metrics()
    assert metrics.max_in_flight == 5 and metrics.in_flight == 0
    assert metrics.requests == 51 and metrics.retries == 0


async def test_the_in_flight_limit_is_configurable(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session, max_in_flight=2)
    await bc.company()
    bc_simulator.add_fault("delay", path="*/items", times=None, delay=0.02)
    await asyncio.gather(*(bc.get("items") for _ in range(10)))
    assert bc_simulator.stats()["identities"]["DEMO"]["max_in_flight"] == 2


async def test_the_sliding_window_waits_for_a_slot_instead_of_a_429(
    bc_simulator_factory: Factory, bc_session: aiohttp.ClientSession
) -> None:
    # BC allows 5 requests per 10 s here; so do we. 12 requests: two waits for the window.
    sim = await bc_simulator_factory(rate_limit=5, rate_window=10.0)
    time = FakeTime(sim)
    bc = client_for(sim, bc_session, time, rate_limit=5, rate_window=10.0)
    for _ in range(11):  # + GET companies = 12
        await bc.get("items", query(top=1))
    stats = sim.stats()["identities"]["DEMO"]
    assert stats["rate_limited"] == 0 and stats["requests"] == 12
    assert len(time.sleeps) == 2 and all(9.9 < s <= 10.0 for s in time.sleeps)
    metrics = bc.metrics()
    assert metrics.window_waits == 2 and metrics.throttled == 0
    assert 19.8 < metrics.window_wait_seconds <= 20.0

    # Without our window the simulator's own would answer 429 (and the client would retry it).
    sim.limiter.reset_stats()
    time.advance(10)
    eager = client_for(sim, bc_session, FakeTime(sim), rate_limit=1000)
    for _ in range(6):
        await eager.get("items", query(top=1))
    assert sim.stats()["identities"]["DEMO"]["rate_limited"] >= 1
    assert eager.metrics().throttled >= 1
