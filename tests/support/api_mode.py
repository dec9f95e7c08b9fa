"""The order flow with a real BC (the BC simulator) as the system of record, for tests (a pytest
plugin: ``pytest_plugins = ["tests.support.bc_simulator.fixtures", "tests.support.api_mode"]``).

``api_harness``: the gateway with its worker and its mirror, the Sales simulator and the BC
simulator over loopback, the setup in api mode pointing at the BC simulator (with BC's published
pages) — so the worker picks BC's API writer and the mirror fills our BC tables, as in production.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from orders.bc_link import BcLimits
from orders.bc_link.from_setup import BcLink
from orders.bc_link.writer_json import document_key
from tests.support.bc_link import FakeTime
from tests.support.bc_mirror import link_to
from tests.support.bc_simulator import BcSimulator
from tests.support.order_harness import Harness, start_harness
from tests.support.sales_simulator import SalesSimulator

# Long enough that a POST the simulator is still sleeping on (a slow answer) lands before the
# writer would POST again; short enough for a test.
SETTLE = 4.0
# Answers time out after 1 s; backoff and Retry-After cost no real time (FakeTime).
PAGES = {
    "bc_ledger_entries_service": "ItemLedgerEntries",
    "bc_item_units_service": "ItemUnitsOfMeasure",
    "bc_resources_service": "Resources",
}
LIMITS = BcLimits(base_delay=0.5, max_delay=8.0, timeout=1.0, connect_timeout=2.0)


def quick_link(sim: BcSimulator, session: aiohttp.ClientSession, **limits: Any) -> BcLink:
    time = FakeTime(sim)
    options = {"sleep": time.sleep, "clock": time.clock, "wall_clock": lambda: 1_800_000_000.0, "rand": lambda: 1.0}
    return BcLink(limits=dataclasses.replace(LIMITS, **limits), session=session, client_options=options)


async def _api_harness(
    settings: Any,
    engine: Any,
    aiohttp_server: Any,
    sales_sim: SalesSimulator,
    bc_simulator: BcSimulator,
    bc_session: aiohttp.ClientSession,
) -> tuple[Harness, BcLink]:
    from gateway.app import create_app

    settings = dataclasses.replace(settings, bc_settle_seconds=SETTLE, bc_poll_interval=0.2)
    server = await aiohttp_server(create_app(settings, engine=engine, worker=True, mirror=True))
    h = await start_harness(sales_sim, server, engine, settings)
    # One client for the process, as in production: the mirror's and the writer's.
    link = quick_link(bc_simulator, bc_session)
    worker = h.gateway.worker
    assert worker is not None
    h.gateway.bc_link = worker.bc_link = link
    # The harness's local currency (the Sales simulator's base currency) is BC's too.
    bc_simulator.configure(lcy_code="EUR")
    # What the API lacks, BC's published pages give the mirror (bc-api §9).
    for page in PAGES.values():
        bc_simulator.publish(page)
    await link_to(engine, settings, bc_simulator, **PAGES)
    await h.gateway.reload_setup()
    return h, link


@pytest.fixture
async def api_harness(
    settings: Any,
    engine: Any,
    demo: dict[str, Any],
    aiohttp_server: Any,
    sales_sim: SalesSimulator,
    bc_simulator: BcSimulator,
    bc_session: aiohttp.ClientSession,
) -> AsyncIterator[Harness]:
    """api mode: the gateway's worker writes to the BC simulator, its mirror reads from it (loaded
    before the test starts)."""
    h, link = await _api_harness(settings, engine, aiohttp_server, sales_sim, bc_simulator, bc_session)

    async def ready() -> bool:
        return h.gateway.mirror_ready

    assert await h.wait_for(ready, within=30), "the mirror never finished its initial load"
    yield h
    await link.aclose()


def bc_documents(sim: BcSimulator, sales_id: str, entity_set: str = "salesOrders") -> list[dict[str, Any]]:
    """The simulator's documents that carry the key of the Sales row ``sales_id``."""
    key = document_key(sales_id)
    return [d for d in sim.records(entity_set) if d["externalDocumentNumber"] == key]


def bc_lines(sim: BcSimulator, document: dict[str, Any], lines_set: str = "salesOrderLines") -> list[dict[str, Any]]:
    lines = [ln for ln in sim.records(lines_set) if ln["documentId"] == document["id"]]
    return sorted(lines, key=lambda ln: ln["sequence"])


def posts(sim: BcSimulator, contains: str) -> int:
    """How many POSTs whose path contains ``contains`` reached the simulator."""
    return len([r for r in sim.request_log if r.method == "POST" and contains in r.path])
