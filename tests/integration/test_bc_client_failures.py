"""BcApiClient when BC throttles, fails or refuses, against the simulator's faults: retries on the
shared Backoff never sooner than Retry-After, a Retry-After beyond the cap, POSTs that are never
repeated blindly (commit-then-drop, 5xx), a stale ETag, and BC's codes and messages."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from orders.bc_link import (
    BcApiClient,
    BcConflict,
    BcFailure,
    BcIndeterminate,
    BcNotFound,
    BcProtocolError,
    BcRejected,
    BcUnavailable,
    entity_path,
    etag_of,
    query,
)
from orders.bc_link.odata import eq
from tests.support.bc_link import FakeTime, api_requests, client_for, connection_for
from tests.support.bc_simulator import BcSimulator

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


def _order(key: str, customer: str = "20000") -> dict[str, Any]:
    return {
        "customerNumber": customer,
        "externalDocumentNumber": key,
        "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2}],
    }


def _orders_with(sim: BcSimulator, key: str) -> list[dict[str, Any]]:
    return [o for o in sim.records("salesOrders") if o["externalDocumentNumber"] == key]


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_and_unavailability_are_retried_after_retry_after(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession, status: int
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("status", path="*/items", status=status, retry_after=7, times=2)
    page = await bc.get("items")
    assert len(page["value"]) == 17
    # Backoff alone would wait 0.5 s then 1 s; BC asked for 7 s each time.
    assert time.sleeps == [7.0, 7.0]
    metrics = bc.metrics()
    assert metrics.retries == 2 and metrics.throttled == (2 if status == 429 else 0)


async def test_backoff_doubles_without_retry_after_and_gives_up(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time, max_attempts=4)
    await bc.company()
    bc_simulator.add_fault("status", path="*/items", status=504, times=None)
    with pytest.raises(BcUnavailable) as caught:
        await bc.get("items")
    assert time.sleeps == [0.5, 1.0, 2.0]  # orders.retry.Backoff, jitter at its top
    error = caught.value
    assert error.status == 504 and error.code == "Internal_GatewayTimeout"
    assert error.kind is BcFailure.TRANSIENT and error.transient and error.retry_after is None
    assert len(api_requests(bc_simulator, contains="/items")) == 4


async def test_a_500_on_a_read_is_unavailable_without_retrying_at_once(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("status", path="*/items", status=500, times=None)
    with pytest.raises(BcUnavailable) as caught:
        await bc.get("items")
    assert caught.value.status == 500 and caught.value.code == "Internal_ServerError"
    assert time.sleeps == [] and len(api_requests(bc_simulator, contains="/items")) == 1


async def test_a_retry_after_beyond_the_cap_is_raised_with_retry_after(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time, max_retry_after=120)
    await bc.company()
    bc_simulator.add_fault("status", path="*/items", status=503, retry_after=600, times=1)
    with pytest.raises(BcUnavailable) as caught:
        await bc.get("items")
    assert caught.value.retry_after == 600 and caught.value.status == 503
    assert time.sleeps == []  # the caller reschedules; no worker sleeps ten minutes
    assert len(api_requests(bc_simulator, contains="/items")) == 1


async def test_a_get_that_times_out_is_retried(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    bc = client_for(bc_simulator, bc_session, timeout=0.2)
    await bc.company()
    bc_simulator.add_fault("delay", path="*/items", delay=1.0, times=1)
    page = await bc.get("items")
    assert page["value"] and bc.metrics().retries == 1


async def test_a_post_whose_connection_drops_after_commit_is_indeterminate(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("drop_after_commit", path="*/salesOrders", method="POST")
    with pytest.raises(BcIndeterminate) as caught:
        await bc.post("salesOrders", _order("GW-000123"))
    error = caught.value
    assert error.kind is BcFailure.INDETERMINATE and not error.transient
    assert error.code == "connection_lost" and "look it up before trying again" in error.message
    # Sent once, never again; BC holds exactly one order, which the caller finds by its key.
    assert len(api_requests(bc_simulator, "POST")) == 1 and time.sleeps == []
    assert len(_orders_with(bc_simulator, "GW-000123")) == 1
    found = await bc.first("salesOrders", query(filter=eq("externalDocumentNumber", "GW-000123")))
    assert found is not None and found["number"] == _orders_with(bc_simulator, "GW-000123")[0]["number"]
    assert bc.metrics().indeterminate == 1


async def test_a_post_that_times_out_is_indeterminate(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session, timeout=0.2)
    await bc.company()
    bc_simulator.add_fault("delay", path="*/salesOrders", method="POST", delay=0.5)
    with pytest.raises(BcIndeterminate) as caught:
        await bc.post("salesOrders", _order("GW-000124"))
    assert caught.value.code == "timeout"
    assert len(api_requests(bc_simulator, "POST")) == 1
    await asyncio.sleep(0.6)
    # We hung up while BC was slow at it; BC carried it out all the same: that is why a POST that
    # timed out is looked up by its key before it is ever sent again.
    assert len(_orders_with(bc_simulator, "GW-000124")) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_post_answered_5xx_is_indeterminate(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession, status: int
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("status", path="*/salesOrders", method="POST", status=status, times=None)
    with pytest.raises(BcIndeterminate) as caught:
        await bc.post("salesOrders", _order("GW-000125"))
    assert caught.value.status == status
    assert len(api_requests(bc_simulator, "POST")) == 1 and time.sleeps == []


@pytest.mark.parametrize("status", [429, 503])
async def test_a_post_refused_before_processing_is_retried(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession, status: int
) -> None:
    # BC throttles (429) or gives up queueing (503) before doing anything: repeating is safe.
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("status", path="*/salesOrders", method="POST", status=status, retry_after=2, times=1)
    order = await bc.post("salesOrders", _order("GW-000126"))
    assert order["externalDocumentNumber"] == "GW-000126" and order["number"].startswith("S-ORD")
    assert time.sleeps == [2.0]
    assert len(_orders_with(bc_simulator, "GW-000126")) == 1


async def test_a_post_that_cannot_connect_is_retried_then_unavailable(bc_session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Not started: only its URLs and credentials are used. Basic auth and the company's id, so the
    # POST is the first request (no token, no company lookup).
    sim = BcSimulator(seed_demo=True, deployment="onprem")
    sim.port = port
    time = FakeTime()
    bc = BcApiClient(
        connection_for(sim, company=sim.company_id), bc_session, sleep=time.sleep, clock=time.clock, rand=lambda: 1.0
    )
    with pytest.raises(BcUnavailable) as caught:
        await bc.post("salesOrders", _order("GW-000127"))
    error = caught.value
    assert error.code == "connect" and f"127.0.0.1:{port}" in error.message
    assert error.method == "POST" and error.path.endswith("/salesOrders")
    assert time.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]  # nothing was sent: safe to try again


async def test_a_stale_etag_is_a_conflict(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    bc = client_for(bc_simulator, bc_session)
    customer = await bc.first("customers", query(filter=eq("number", "10000")))
    assert customer is not None
    path = entity_path("customers", customer["id"])
    changed = await bc.patch(path, {"phoneNumber": "555-0100"}, etag=etag_of(customer))
    assert changed["phoneNumber"] == "555-0100" and etag_of(changed) != etag_of(customer)
    with pytest.raises(BcConflict) as caught:
        await bc.patch(path, {"phoneNumber": "555-0199"}, etag=etag_of(customer))
    assert caught.value.status == 409 and caught.value.code == "Request_EntityChanged"
    assert caught.value.message == "Another user has already changed the record."
    assert caught.value.kind is BcFailure.CONFLICT
    forced = await bc.patch(path, {"phoneNumber": "555-0199"}, etag="*")
    assert forced["phoneNumber"] == "555-0199"
    with pytest.raises(ValueError):
        await bc.patch(path, {"phoneNumber": "1"}, etag="")


async def test_bc_s_rule_failure_keeps_its_code_and_message(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc_simulator.block_customer("10000", "All")
    bc = client_for(bc_simulator, bc_session)
    with pytest.raises(BcRejected) as caught:
        await bc.post("salesOrders", _order("GW-000128", customer="10000"))
    error = caught.value
    assert type(error) is BcRejected and error.kind is BcFailure.RULE
    assert error.status == 400 and error.code == "Application_DialogException"
    assert error.message == "You cannot create this type of document when Customer 10000 is blocked with type All"
    assert error.correlation_id and len(error.correlation_id) == 36
    assert str(error).startswith("BC 400 Application_DialogException: You cannot create")
    assert _orders_with(bc_simulator, "GW-000128") == []


async def test_delete_and_a_bound_action(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    bc = client_for(bc_simulator, bc_session)
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}]
    quote = await bc.post(
        "salesQuotes", {"customerNumber": "20000", "externalDocumentNumber": "GW-Q1", "salesQuoteLines": lines}
    )
    result = await bc.action(entity_path("salesQuotes", quote["id"]), "makeOrder")
    assert result.status == 204
    assert [o["externalDocumentNumber"] for o in bc_simulator.records("salesOrders")] == ["GW-Q1"]
    order = bc_simulator.records("salesOrders")[0]
    assert await bc.delete(entity_path("salesOrders", order["id"])) is True
    assert bc_simulator.records("salesOrders") == []
    with pytest.raises(BcNotFound):
        await bc.delete(entity_path("salesOrders", order["id"]))
    assert await bc.delete(entity_path("salesOrders", order["id"]), missing_ok=True) is False


async def test_a_delete_repeated_after_a_lost_answer_can_take_gone_as_done(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    order = await bc.post("salesOrders", _order("GW-000129"))
    bc_simulator.add_fault("drop_after_commit", path="*/salesOrders(*)", method="DELETE")
    deleted = await bc.delete(entity_path("salesOrders", order["id"]), etag=etag_of(order), missing_ok=True)
    assert deleted is False  # the first attempt deleted it; the repeat found it gone
    assert _orders_with(bc_simulator, "GW-000129") == []
    assert [e.status for e in bc_simulator.request_log if e.method == "DELETE"] == [204, 404]


async def test_answers_that_are_not_bc_s(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time, max_attempts=2)
    await bc.company()
    proxy_page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    bc_simulator.add_fault("status", path="*/items", status=502, body=proxy_page, times=None)
    with pytest.raises(BcUnavailable) as caught:
        await bc.get("items")
    assert caught.value.status == 502 and caught.value.code == "" and caught.value.message == "502 Bad Gateway"
    bc_simulator.faults.clear()

    sign_in = "<html><head><title>Sign in to your account</title></head><body>...</body></html>"
    bc_simulator.add_fault("status", path="*/customers", status=200, body=sign_in)
    with pytest.raises(BcProtocolError) as page:
        await bc.get("customers")
    assert "Sign in to your account" in page.value.message and page.value.kind is BcFailure.RULE

    bc_simulator.add_fault(
        "status", path="*/currencies", status=400, body="plain words\nof a proxy", content_type="text/plain"
    )
    with pytest.raises(BcRejected) as plain:
        await bc.get("currencies")
    assert plain.value.message == "plain words of a proxy"
