"""The simulator's control API, its command line, and its behaviour at load-test scale."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.client import BcClient

pytest_plugins = ["tests.support.bc_simulator.fixtures"]
ROOT = Path(__file__).resolve().parents[2]


async def _control(session: aiohttp.ClientSession, sim: BcSimulator, method: str, path: str, **body: Any) -> Any:
    async with session.request(method, f"{sim.control_url}/{path}", json=body if body else None) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_control_info_reset_and_seed(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    sim = bc_client.sim
    info = await _control(bc_session, sim, "GET", "")
    assert info["base_url"] == sim.base_url and info["token_url"] == sim.token_url
    assert info["identities"][0]["client_secret"] == "demo-client-secret"
    await bc_client.post(bc_client.company("items"), {"number": "TEMP"})
    reset = await _control(bc_session, sim, "POST", "reset")
    assert reset["companies"] == []
    assert (await bc_client.get("companies")).value == []
    seeded = await _control(bc_session, sim, "POST", "seed/demo")
    assert seeded["name"] == "CRONUS"
    assert seeded["id"] == info["companies"][0]["id"]  # demo ids are stable
    assert sim.get("items", "TEMP") is None


async def test_control_ledger_records_and_config(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    sim = bc_client.sim
    posted = await _control(
        bc_session, sim, "POST", "ledger", itemNumber="1900-S", quantity=6, locationCode="RED", variantCode="BLACK"
    )
    assert posted["entryNumber"] == 58 and posted["remainingQuantity"] == 6
    entries = await _control(bc_session, sim, "GET", "records/itemLedgerEntries")
    last = entries["value"][-1]
    assert (last["itemNumber"], last["_location"], last["_variant"], last["quantity"]) == ("1900-S", "RED", "BLACK", 6)
    item = await bc_client.get(bc_client.company(f"items({sim.get('items', '1900-S')['id']})"))  # type: ignore[index]
    assert item.body["inventory"] == 81
    blocked = await _control(bc_session, sim, "PATCH", "records/customers/10000", blocked="All")
    assert blocked["id"]
    refused = await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    assert "blocked with type All" in refused.error_message
    await _control(bc_session, sim, "PATCH", "records/items/1896-S", salesBlocked=True)
    assert sim.get("items", "1896-S")["_salesBlocked"] is True  # type: ignore[index]
    added = await _control(
        bc_session, sim, "POST", "records/resources", number="MARK", name="Mark Hanson", unitPrice=80
    )
    assert added["id"] and sim.get("resources", "MARK") is not None
    config = await _control(bc_session, sim, "PATCH", "config", max_page_size=3, published_pages=["Resources"])
    assert config["max_page_size"] == 3 and config["published_pages"] == ["Resources"]
    page = await bc_client.get(bc_client.company("items"))
    assert len(page.value) == 3
    resources = await bc_client.get(f"{sim.odata_url}/Company('CRONUS')/Resources")
    assert resources.status == 200
    async with bc_session.patch(f"{sim.control_url}/config", json={"nonsense": 1}) as resp:
        assert resp.status == 400
    published = await _control(bc_session, sim, "POST", "publish/ItemLedgerEntries")
    assert published["published"] == ["ItemLedgerEntries", "Resources"]


async def test_control_clock_and_webhook_views(bc_client: BcClient, bc_session: aiohttp.ClientSession) -> None:
    sim = bc_client.sim
    before = (await _control(bc_session, sim, "GET", "clock"))["now"]
    after = (await _control(bc_session, sim, "POST", "clock/advance", seconds=86400))["now"]
    assert after[:10] > before[:10]
    assert (await _control(bc_session, sim, "GET", "webhooks/subscriptions"))["value"] == []
    assert (await _control(bc_session, sim, "POST", "webhooks/flush"))["sent"] == 0
    token = await _control(bc_session, sim, "POST", "tokens")
    reply = await bc_client.get("companies", headers={"Authorization": f"Bearer {token['access_token']}"}, auth=False)
    assert reply.status == 200
    identity = await _control(bc_session, sim, "POST", "identities", name="APP2", client_id="app2", client_secret="s2")
    assert identity["name"] == "APP2" and sim.identity("APP2").client_secret == "s2"
    async with bc_session.get(f"{sim.control_url}/nothing") as resp:
        assert resp.status == 404


async def test_online_url_without_tenant_and_environment_list(bc_client: BcClient) -> None:
    sim = bc_client.sim
    reply = await bc_client.get(f"{sim.server_url}/v2.0/production/api/v2.0/companies")
    assert reply.status == 200 and reply.value[0]["name"] == "CRONUS"
    by_domain = await bc_client.get(f"{sim.server_url}/v2.0/{sim.config.tenant_domain}/production/api/v2.0/companies")
    assert by_domain.status == 200
    wrong_env = await bc_client.get(f"{sim.server_url}/v2.0/{sim.config.tenant_id}/sandbox/api/v2.0/companies")
    assert wrong_env.status == 404
    environments = await bc_client.get(f"{sim.server_url}/environments/v1.2")
    assert environments.body["value"][0]["name"] == "production"


async def test_command_line_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.bc_simulator",
        "--port",
        "0",
        "--seed-demo",
        "--publish-all",
        "--page-size",
        "7",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("  company:") for line in lines):
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        base = re.search(r"API v2\.0:\s+(\S+)", text)
        token_url = re.search(r"token URL: (\S+)", text)
        secret = re.search(r"client_id=(\S+) client_secret=(\S+)", text)
        assert base and token_url and secret, text
        async with aiohttp.ClientSession() as session:
            form = {
                "grant_type": "client_credentials",
                "client_id": secret.group(1),
                "client_secret": secret.group(2),
                "scope": "https://api.businesscentral.dynamics.com/.default",
            }
            async with session.post(token_url.group(1), data=form) as resp:
                token = (await resp.json())["access_token"]
            async with session.get(f"{base.group(1)}/companies", headers={"Authorization": f"Bearer {token}"}) as resp:
                [company] = (await resp.json())["value"]
            async with session.get(
                f"{base.group(1)}/companies({company['id']})/items", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                body = await resp.json()
        assert len(body["value"]) == 7 and "@odata.nextLink" in body
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_scale_100k_items_1m_ledger_entries(bc_simulator_factory: Any, bc_session: aiohttp.ClientSession) -> None:
    sim = await bc_simulator_factory(seed_demo=False)
    sim.add_company("CRONUS")
    # How fast it seeds and serves this is a bench figure (bench/mirror_load.py), not asserted here.
    sim.bulk_seed(items=100_000, ledger_entries=1_000_000)
    client = BcClient(sim, bc_session)
    first = await client.get(client.company("itemLedgerEntries"))
    assert len(first.value) == 20_000 and first.value[-1]["entryNumber"] == 20_000
    second = await client.get(first.body["@odata.nextLink"])
    assert second.value[0]["entryNumber"] == 20_001
    tail = await client.get(client.company("itemLedgerEntries"), params={"$filter": "entryNumber gt 995000"})
    assert len(tail.value) == 5_000 and "@odata.nextLink" not in tail.body
    items = await client.get(client.company("items"), headers={"Prefer": "odata.maxpagesize=5000"})
    assert len(items.value) == 5_000
    one = await client.get(client.company("items"), params={"$filter": "number eq 'BULK099999'"})
    assert one.value[0]["inventory"] == 90  # ten entries of 9 (entries 99998, 199998, ...)
    # An $orderby of the key pages by seeking, as without it (not a sort of 1,000,000 rows per page).
    ordered = await client.get(
        client.company("itemLedgerEntries"),
        params={"$filter": "entryNumber gt 990000", "$orderby": "entryNumber"},
        headers={"Prefer": "odata.maxpagesize=4000"},
    )
    assert [e["entryNumber"] for e in ordered.value] == list(range(990_001, 994_001))
    rest = await client.get(ordered.body["@odata.nextLink"])
    assert rest.value[0]["entryNumber"] == 994_001 and len(rest.value) == 4000
    # A write after a bulk load still applies FIFO against the seeded entries.
    sale = sim.post_stock("BULK000001", -1, location="BLUE")
    assert sale["_remaining"] == 0
