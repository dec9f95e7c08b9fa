"""Sales orders become sales orders in a real BC (the BC simulator) through its API, exactly once:
the gateway's worker, the Sales simulator and the BC simulator over real HTTP on loopback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from orders.bc_link.writer_json import document_key
from schemas.db import write_transaction
from schemas.sales_document_mirror import store_document
from tests.support.api_mode import bc_documents, bc_lines, posts
from tests.support.bc_simulator import BcSimulator
from tests.support.helpers import Api, q

pytest_plugins = ["tests.support.bc_simulator.fixtures", "tests.support.api_mode"]


async def _big_order(h: Any) -> str:
    return await h.sim.create_order(
        ("account", h.accounts["10000"]),
        [
            {
                "product": h.products["1900-S"],
                "quantity": 2,
                "uom": h.uoms["BOX"],
                "priceperunit": 1100,
                "manualdiscountamount": 50,
                "volumediscountamount": 10,
            },
            {"product": h.products["LINA"], "quantity": 3, "priceperunit": 95},
            {"productdescription": "Gift wrapping, " + "very careful " * 12, "quantity": 1, "priceperunit": 15},
        ],
        freightamount=Decimal("45.50"),
        name="PO-4711",
    )


async def test_submitted_order_becomes_one_bc_order_with_the_right_lines(
    api_harness: Any, bc_simulator: BcSimulator, demo: Any
) -> None:
    h, sim = api_harness, bc_simulator
    order_id = await _big_order(h)
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "created", within=10)

    (order,) = bc_documents(sim, order_id)
    assert order["number"] == row.document_no == "S-ORD101001"
    assert order["customerNumber"] == "10000" and order["externalDocumentNumber"] == document_key(order_id)
    assert row.bc_key == document_key(order_id) and row.bc_document_id == order["id"]
    lines = [(ln["lineType"], ln["lineObjectNumber"], ln["description"], ln["quantity"]) for ln in bc_lines(sim, order)]
    ordernumber = h.sim.row("salesorders", order_id)["ordernumber"]
    gift = "Gift wrapping, " + "very careful " * 12
    assert lines == [
        ("Comment", "", f"Your Reference: {ordernumber}", 0),
        ("Comment", "", "External Document No.: PO-4711", 0),
        ("Item", "1900-S", "PARIS Guest Chair, black", 2),
        ("Resource", "LINA", "Lina Townsend", 3),
        # A write-in: the write-in item with the text, its rest on a Comment line (a long description).
        ("Item", "1896-S", gift[:100], 1),
        ("Comment", "", gift[100:], 0),
        ("Account", "6710", "Freight Amount", 1),
    ]
    chairs = next(ln for ln in bc_lines(sim, order) if ln["lineObjectNumber"] == "1900-S")
    assert chairs["unitOfMeasureCode"] == "BOX" and chairs["discountAmount"] == 70
    assert chairs["amountExcludingTax"] == Decimal("2130")
    assert order["totalAmountExcludingTax"] == Decimal("2130") + 285 + 15 + Decimal("45.5")

    # What BC holds shows in the gateway at once: the order, its lines, Qty. on Sales Order.
    (header,) = await h.documents("Order")
    assert (header.no, str(header.system_id), header.status) == ("S-ORD101001", order["id"], "Open")
    assert header.amount == order["totalAmountExcludingTax"] and header.your_reference == ordernumber
    mirrored = await h.lines("Order", header.no)
    assert len(mirrored) == len(bc_lines(sim, order))
    box = next(ln for ln in mirrored if ln.no == "1900-S")
    assert box.quantity_base == 12 and box.outstanding_qty_base == 12 and box.sales_line_id
    async with Api(h.server, demo["user"], demo["key"]) as api:
        _s, _h, body = await api.get("/ODataV4/SalesOrders('S-ORD101001')")
        assert Decimal(str(body["Amount"])) == order["totalAmountExcludingTax"] and body["Id"] == order["id"]
        _s, _h, body = await api.get("/ODataV4/ItemAvailability('1900-S')")
        assert body["Qty_on_Sales_Order"] == 12
        _s, _h, body = await api.get("/ODataV4/SalesInbox?$filter=" + q(f"Sales_Id eq {order_id}"))
        assert body["value"][0]["BC_Key"] == document_key(order_id)
    await h.wait_written_back(order_id)
    # Processing the order again (a late duplicate, a person's retry) creates nothing more.
    assert len(bc_documents(sim, order_id)) == 1


async def test_a_copy_read_from_bc_before_the_writer_committed_keeps_the_sales_links(
    api_harness: Any, bc_simulator: BcSimulator
) -> None:
    """The mirror may read a new order from BC before the writer's transaction commits and store it
    after: its copy (BC knows no Sales ids) must not wipe the Sales order's and lines' links."""
    h = api_harness
    order_id = await _big_order(h)
    await h.sim.submit_order(order_id)
    await h.wait_state(order_id, "created", within=30)
    (header,) = await h.documents("Order")
    written = await h.lines("Order", header.no)
    before = {ln.line_no: ln.sales_line_id for ln in written}
    assert header.sales_id is not None and any(before.values())
    stale_header = {k: v for k, v in header._mapping.items() if k not in ("company", "created_at")}
    stale_header["sales_id"] = None
    stale_lines = [
        {**{k: v for k, v in ln._mapping.items() if k not in ("company", "document_type", "document_no")},
         "sales_line_id": None}
        for ln in written
    ]  # fmt: skip
    async with write_transaction(h.engine) as conn:
        await store_document(conn, h.settings.company, stale_header, stale_lines)
    (after,) = await h.documents("Order")
    assert after.sales_id == header.sales_id
    linked = {ln.line_no: ln.sales_line_id for ln in await h.lines("Order", header.no)}
    assert linked == before


def _faults() -> list[Any]:
    """(the fault on the POST, how many POSTs reach BC in all)."""
    return [
        # Throttled, or queued too long: BC did nothing, the client itself tries again.
        pytest.param({"kind": "status", "status": 429, "retry_after": 3, "times": 2}, 3, id="429"),
        pytest.param({"kind": "status", "status": 503, "retry_after": 2, "times": 2}, 3, id="503"),
        # An unknown outcome: looked up by the key (not there), sent again only after the settling time.
        pytest.param({"kind": "status", "status": 504, "times": 1}, 2, id="504"),
        pytest.param({"kind": "status", "status": 500, "times": 1}, 2, id="500"),
        pytest.param({"kind": "drop", "times": 1}, 2, id="dropped"),
        # Committed, then the connection dropped: found by the key at once, never sent again.
        pytest.param({"kind": "drop_after_commit", "times": 1}, 1, id="committed-then-dropped"),
        # Slower than the client's 1 s timeout: BC creates the order after the writer gave up
        # waiting; the look-up before a new POST waits for it, and finds it: no twin.
        pytest.param({"kind": "delay", "delay": 2.5, "times": 1}, 1, id="slow-answer"),
    ]


@pytest.mark.parametrize(("fault", "expected_posts"), _faults())
async def test_faults_during_the_post_still_end_in_exactly_one_bc_order(
    api_harness: Any, bc_simulator: BcSimulator, fault: dict[str, Any], expected_posts: int
) -> None:
    h, sim = api_harness, bc_simulator
    order_id = await h.order()
    sim.add_fault(path="*/salesOrders", method="POST", **fault)
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "created", within=20)
    (order,) = bc_documents(sim, order_id)
    assert row.document_no == order["number"]
    assert [ln["lineObjectNumber"] for ln in bc_lines(sim, order) if ln["lineType"] == "Item"] == ["1896-S"]
    assert len(await h.documents("Order")) == 1
    assert sim.faults.rules[0].hits == sim.faults.rules[0].times
    assert posts(sim, "/salesOrders") == expected_posts
    await h.wait_written_back(order_id)


async def test_a_crash_between_bcs_answer_and_the_local_commit_adopts_the_order(
    api_harness: Any, bc_simulator: BcSimulator, monkeypatch: Any
) -> None:
    """BC created the order, then our transaction failed (the process could as well have died):
    the key recorded before the POST finds it again; no second POST."""
    import orders.bc_link.writer as writer_module

    h, sim = api_harness, bc_simulator
    real, failures = writer_module.store_document, []

    async def failing_once(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        await real(*args, **kwargs)

    monkeypatch.setattr(writer_module, "store_document", failing_once)
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "created", within=15)
    assert failures and len(bc_documents(sim, order_id)) == 1
    assert posts(sim, "/salesOrders") == 1 and row.attempts >= 2


async def test_bc_rule_failure_shows_bcs_message_in_sales_inbox_and_waits_for_a_person(
    api_harness: Any, bc_simulator: BcSimulator, demo: Any, settings: Any
) -> None:
    """The item is Sales Blocked in BC, a rule only BC knows: BC refuses, in its own words; once
    a person has fixed it in BC, their retry creates the order."""
    from orders import inbox

    h, sim = api_harness, bc_simulator
    sim.change("items", "1896-S", salesBlocked=True)
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "failed", within=10)
    message = "You cannot sell Item 1896-S because the Sales Blocked check box is selected on the Item card."
    assert row.last_error == f"{message} (Application_DialogException)"
    assert row.failure == "rule" and row.next_attempt_at is None
    assert bc_documents(sim, order_id) == [] and await h.documents("Order") == []
    async with Api(h.server, demo["user"], demo["key"]) as api:
        _s, _h, body = await api.get("/ODataV4/SalesInbox?$filter=" + q("State eq 'failed'"))
        (shown,) = body["value"]
        assert shown["Last_Error"] == row.last_error

    sim.change("items", "1896-S", salesBlocked=False)
    assert await inbox.retry(h.engine, settings.company, "salesorder", [row.id]) == 1
    h.gateway.wake_worker()
    await h.wait_state(order_id, "created", within=10)
    assert len(bc_documents(sim, order_id)) == 1


async def test_a_retry_after_beyond_the_clients_cap_reschedules_the_row_for_then(
    api_harness: Any, bc_simulator: BcSimulator, settings: Any
) -> None:
    """BC asks for five minutes: no worker sleeps that long; the row comes back then, and being
    throttled does not use up one of its attempts."""
    from sqlalchemy import update

    from orders.inbox import utcnow
    from schemas import tables as t

    h, sim = api_harness, bc_simulator
    sim.add_fault("status", path="*/salesOrders", method="POST", status=429, retry_after=300)
    order_id = await h.order()
    before = utcnow()
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "failed", within=10)
    assert row.failure == "transient" and row.attempts == 0
    assert row.last_error.startswith("Business Central is not available: Too many requests reached.")
    assert row.next_attempt_at is not None and 295 <= (row.next_attempt_at - before).total_seconds() <= 305
    assert posts(sim, "/salesOrders") == 1 and bc_documents(sim, order_id) == []
    # Five minutes later (here: now), the row is due and BC answers.
    async with h.engine.begin() as conn:
        await conn.execute(update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(next_attempt_at=utcnow()))
    h.gateway.wake_worker()
    await h.wait_state(order_id, "created", within=10)
    assert len(bc_documents(sim, order_id)) == 1
