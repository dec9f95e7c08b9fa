"""BcApiClient.batch against the BC simulator: split into calls of at most 100 operations, one
result per operation in the order given (with the classified error of a failed one), Isolation:
snapshot all or nothing, and a batch of GETs retried like a GET while one with writes is not."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from orders.bc_link import (
    BatchOperation,
    BcApiClient,
    BcCall,
    BcConflict,
    BcIndeterminate,
    BcLimits,
    BcNotFound,
    BcRejected,
    entity_path,
    etag_of,
    query,
)
from orders.bc_link.odata import eq
from tests.support.bc_link import FakeTime, api_requests, client_for, connection_for
from tests.support.bc_simulator import BcSimulator

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def test_a_long_batch_is_split_at_100_and_answered_in_order(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    items = await bc.list_collection("items", query(select=["id", "number"]))
    ops = [
        BatchOperation("GET", entity_path("items", items[n % len(items)]["id"]), params=query(select=["number"]))
        for n in range(250)
    ]
    reply = await bc.batch(ops)
    assert len(api_requests(bc_simulator, "POST", "$batch")) == 3  # 100 + 100 + 50
    assert [r.id for r in reply] == [str(n) for n in range(1, 251)]
    assert all(r.ok and r.status == 200 and r.error is None for r in reply)
    assert [r.body["number"] for r in reply] == [items[n % len(items)]["number"] for n in range(250)]
    assert not reply.rolled_back and reply.failed == ()
    assert bc_simulator.stats()["identities"]["DEMO"]["rate_limited"] == 0


async def test_each_operation_has_its_own_result_and_error(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc_simulator.block_customer("30000", "Ship")
    bc = client_for(bc_simulator, bc_session)
    customer = await bc.first("customers", query(filter=eq("number", "10000")))
    assert customer is not None
    stale = customer["@odata.etag"]
    await bc.patch(entity_path("customers", customer["id"]), {"phoneNumber": "1"}, etag=stale)
    ops = [
        BatchOperation("POST", "salesOrders", {"customerNumber": "20000", "externalDocumentNumber": "B-1"}, id="new"),
        BatchOperation("GET", entity_path("items", uuid.uuid4()), id="missing"),
        BatchOperation("PATCH", entity_path("customers", customer["id"]), {"phoneNumber": "2"}, etag=stale, id="stale"),
        BatchOperation("POST", "salesOrders", {"customerNumber": "30000", "externalDocumentNumber": "B-2"}, id="rule"),
        BatchOperation("GET", "companies", root=True, id="root"),
    ]
    reply = await bc.batch(ops)
    assert [r.id for r in reply] == ["new", "missing", "stale", "rule", "root"]
    created = reply.by_id("new")
    assert created.status == 201 and created.body["externalDocumentNumber"] == "B-1"
    assert isinstance(reply.by_id("missing").error, BcNotFound)
    assert isinstance(reply.by_id("stale").error, BcConflict)
    rule = reply.by_id("rule").error
    assert type(rule) is BcRejected and rule.code == "Application_DialogException"
    assert rule.message == "You cannot create this type of document when Customer 30000 is blocked with type Ship"
    assert reply.by_id("root").body["value"][0]["name"] == "CRONUS"
    assert [r.id for r in reply.failed] == ["missing", "stale", "rule"]
    assert not reply.rolled_back  # without Isolation each operation stands alone
    assert [o["externalDocumentNumber"] for o in bc_simulator.records("salesOrders")] == ["B-1"]


async def test_snapshot_isolation_is_all_or_nothing(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    ops = [
        BatchOperation("POST", "salesOrders", {"customerNumber": "20000", "externalDocumentNumber": "S-1"}),
        BatchOperation("POST", "salesOrders", {"customerNumber": "99999", "externalDocumentNumber": "S-2"}),
    ]
    reply = await bc.batch(ops, isolation_snapshot=True)
    assert reply.rolled_back
    assert reply[0].status == 201  # what BC says, although it was rolled back
    assert reply[1].error is not None and "customer" in reply[1].error.message.lower()
    assert bc_simulator.records("salesOrders") == []
    good = await bc.batch(ops[:1], isolation_snapshot=True)
    assert not good.rolled_back and len(bc_simulator.records("salesOrders")) == 1
    with pytest.raises(ValueError, match="at most 100"):
        await bc.batch([BatchOperation("GET", "items")] * 101, isolation_snapshot=True)


async def test_a_batch_of_gets_is_retried_one_with_writes_is_not(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    await bc.company()
    bc_simulator.add_fault("status", path="*/$batch", status=504, times=1)
    reply = await bc.batch([BatchOperation("GET", "items", params=query(top=1))])
    assert reply[0].ok and time.sleeps == [0.5]
    bc_simulator.add_fault("status", path="*/$batch", status=504, times=1)
    with pytest.raises(BcIndeterminate):
        await bc.batch([BatchOperation("POST", "salesOrders", {"customerNumber": "20000"})])
    assert time.sleeps == [0.5]


def test_operations_are_checked_before_sending() -> None:
    with pytest.raises(ValueError, match="If-Match"):
        BatchOperation("PATCH", "items", {"unitPrice": 1})
    with pytest.raises(ValueError):
        BatchOperation("PUT", "items")
    with pytest.raises(ValueError):
        BatchOperation("GET", "items", headers={"Authorization": "Bearer x"})
    assert BatchOperation("patch", "items", {}, etag="*").method == "PATCH"


async def test_duplicate_ids_are_refused(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    bc = client_for(bc_simulator, bc_session)
    with pytest.raises(ValueError, match="unique"):
        await bc.batch([BatchOperation("GET", "items", id="a"), BatchOperation("GET", "customers", id="a")])
    assert etag_of({"@odata.etag": 'W/"x"'}) == 'W/"x"'


async def test_a_split_batch_that_fails_later_reports_what_was_done(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    def fail_the_next_batch(call: BcCall) -> None:
        if call.path.endswith("/$batch") and not bc_simulator.faults.rules:
            bc_simulator.add_fault("status", path="*/$batch", status=504)

    bc = BcApiClient(
        connection_for(bc_simulator), bc_session, limits=BcLimits(max_batch=2), observer=fail_the_next_batch
    )
    orders = [{"customerNumber": "20000", "externalDocumentNumber": f"P-{n}"} for n in range(3)]
    with pytest.raises(BcIndeterminate) as caught:
        await bc.batch([BatchOperation("POST", "salesOrders", body) for body in orders])
    assert [(r.id, r.status) for r in caught.value.completed] == [("1", 201), ("2", 201)]
    assert sorted(o["externalDocumentNumber"] for o in bc_simulator.records("salesOrders")) == ["P-0", "P-1"]
