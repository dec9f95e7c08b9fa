"""The order flow with a real BC (the BC simulator) as the system of record: the gateway's worker
writes through the API writer, to the BC simulator, over loopback."""

from __future__ import annotations

from typing import Any

import aiohttp

from orders.bc_link import BcApiClient
from orders.bc_link.writer import ApiWriter
from orders.bc_link.writer_json import document_key
from tests.support.bc_link import FakeTime, client_for
from tests.support.bc_simulator import BcSimulator
from tests.support.order_harness import Harness

# Long enough that a POST the simulator is still sleeping on (slow_post below) lands before the
# writer would POST again; short enough for a test.
SETTLE = 4.0


def bc_client(sim: BcSimulator, session: aiohttp.ClientSession, **limits: Any) -> BcApiClient:
    """A client on the simulator: backoff and Retry-After cost no real time, answers time out in 1 s."""
    return client_for(sim, session, FakeTime(sim), **{"timeout": 1.0, **limits})


def use_api_writer(h: Harness, client: BcApiClient, settle: float = SETTLE) -> ApiWriter:
    """The harness's worker writes to BC through ``client``."""
    writer = ApiWriter(client, settle_seconds=settle)
    assert h.gateway.worker is not None
    h.gateway.worker.bc_writer = writer
    return writer


def bc_documents(sim: BcSimulator, sales_id: str, entity_set: str = "salesOrders") -> list[dict[str, Any]]:
    """The simulator's documents that carry the key of the Sales row ``sales_id``."""
    key = document_key(sales_id)
    return [d for d in sim.records(entity_set) if d["externalDocumentNumber"] == key]


def bc_lines(sim: BcSimulator, document: dict[str, Any], lines_set: str = "salesOrderLines") -> list[dict[str, Any]]:
    lines = [ln for ln in sim.records(lines_set) if ln["documentId"] == document["id"]]
    return sorted(lines, key=lambda ln: ln["sequence"])
