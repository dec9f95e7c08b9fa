"""Submitted Sales orders become BC orders: the whole flow over real HTTP with the Sales simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from schemas import tables as t
from tests.support.helpers import Api, cli


async def test_submitted_order_becomes_one_bc_order_within_a_second(harness: Any, demo: Any) -> None:
    sim = harness.sim
    order_id = await sim.create_order(
        ("account", harness.accounts["10000"]),
        [
            {
                "product": harness.products["1900-S"],
                "quantity": 2,
                "uom": harness.uoms["BOX"],
                "priceperunit": 1100,
                "manualdiscountamount": 50,
                "volumediscountamount": 10,
            },
            {"product": harness.products["LINA"], "quantity": 3, "priceperunit": 95},
            {"productdescription": "Gift wrapping, " + "very careful " * 12, "quantity": 1, "priceperunit": 15},
            {"product": harness.products["1896-S"], "quantity": 1, "priceperunit": 1000.8},
        ],
        notes=[{"subject": "Delivery", "notetext": "<div>Please call <b>before</b> delivery &amp; ring twice</div>"}],
        freightamount=Decimal("45.50"),
        description="Rush order for the new office",
        name="PO-4711",
    )
    # How fast is a benchmark's question (make bench, case P4 in bench/cases/orders.py); here: that it happens.
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")

    (header,) = await harness.documents("Order")
    assert header.no == row.document_no == "SO000001"
    assert header.sell_to_customer_no == "10000"
    assert header.your_reference == sim.row("salesorders", order_id)["ordernumber"]
    assert header.external_document_no == "PO-4711"
    assert header.work_description == "Rush order for the new office"
    assert header.status == "Open"
    lines = await harness.lines("Order", header.no)
    by_no = {(ln.type, ln.no): ln for ln in lines}
    chairs = by_no[("Item", "1900-S")]
    assert chairs.unit_of_measure_code == "BOX" and chairs.qty_per_unit_of_measure == 6
    assert chairs.quantity == 2 and chairs.quantity_base == 12 and chairs.outstanding_qty_base == 12
    assert chairs.line_discount_amount == Decimal("70")  # 2 x 10 + 50
    assert chairs.amount == Decimal("2130")
    assert by_no[("Resource", "LINA")].quantity == 3
    assert by_no[("G/L Account", "6710")].unit_price == Decimal("45.5")
    write_in = [
        ln
        for ln in lines
        if ln.sales_line_id and ln.type == "Item" and ln.no == "1896-S" and ln.description.startswith("Gift")
    ]
    assert len(write_in) == 1
    attached = [ln for ln in lines if ln.attached_to_line_no == write_in[0].line_no]
    assert attached and all(ln.type == "" for ln in attached)
    assert [ln.line_no for ln in lines] == [10000 * (i + 1) for i in range(len(lines))]
    async with harness.engine.connect() as conn:
        (note,) = (await conn.execute(select(t.sales_note).where(t.sales_note.c.document_no == header.no))).all()
    assert note.description == "Delivery"
    assert note.note == "Please call before delivery & ring twice"

    # Sales shows the write-back: the date, and the order Submitted again.
    await harness.wait_written_back(order_id)
    sales_row = sim.row("salesorders", order_id)
    assert sales_row["lastbackofficesubmit"] is not None
    assert sales_row["statecode"] == 1

    # ItemAvailability shows the outstanding quantity.
    async with Api(harness.server, demo["user"], demo["key"]) as api:

        async def on_order() -> bool:
            _s, _h, body = await api.get("/ODataV4/ItemAvailability('1900-S')")
            return body["Qty_on_Sales_Order"] == 12 and body["Projected_Available"] == body["Inventory"] - 12

        assert await harness.wait_for(on_order)
        status, _h, body = await api.get(f"/ODataV4/SalesOrders('{header.no}')")
        assert status == 200 and body["Sales_Id"] == order_id
        status, _h, body = await api.get(
            f"/ODataV4/SalesLines?$filter=Document_No eq '{header.no}'".replace(" ", "%20")
        )
        assert status == 200 and len(body["value"]) == len(lines)
        status, _h, body = await api.get("/ODataV4/SalesInbox")
        assert status == 200 and body["value"][0]["State"] == "created"
        assert body["value"][0]["Writeback_State"] == "done"


async def test_ten_concurrent_deliveries_give_one_bc_order(harness: Any) -> None:
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    delivery = harness.sim.deliveries[-1]
    statuses = await asyncio.gather(*(harness.sim.deliver_raw(delivery.body, delivery.headers) for _ in range(10)))
    assert all(d.succeeded for d in statuses)
    await harness.wait_state(order_id, "created")
    await asyncio.sleep(0.3)
    assert len(await harness.documents("Order")) == 1
    rows = await harness.inbox_rows(order_id)
    assert len(rows) == 1 and rows[0].deliveries >= 11


async def test_double_update_of_a_state_change_collapses(harness: Any) -> None:
    order_id = await harness.order()
    await harness.sim.submit_order(order_id, also_change={"description": "changed with the state"})
    await harness.wait_state(order_id, "created")
    await harness.sim.flush()
    rows = await harness.inbox_rows(order_id)
    assert len(rows) == 1
    assert len(await harness.documents("Order")) == 1


async def test_rule_failure_shows_bc_message_in_inbox_and_show(harness: Any, settings: Any, demo: Any) -> None:
    uncoupled = harness.sim.add_product("9999-X", "Not in BC")
    order_id = await harness.order([{"product": uncoupled, "quantity": 1, "priceperunit": 5}])
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "failed")
    message = "The sales order cannot be created. The Dataverse product Not in BC is not coupled to an item."
    assert row.last_error == message
    assert row.next_attempt_at is None  # a rule failure waits for a person
    code, out, _err = await cli(settings, "orders", "show", order_id)
    assert code == 0 and message in out
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        _s, _h, body = await api.get("/ODataV4/SalesInbox")
        assert body["value"][0]["Last_Error"] == message
    assert await harness.documents("Order") == []


async def test_auto_create_off_waits_for_manual_create(harness: Any, settings: Any) -> None:
    await harness.setup(auto_create_sales_orders=False)
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "waiting")
    assert "Automatically Create Sales Orders is off" in row.last_error
    assert await harness.documents("Order") == []
    code, out, _e = await cli(settings, "orders", "list", "--state", "waiting")
    assert code == 0 and order_id in out
    code, out, err = await cli(settings, "orders", "create", order_id)
    assert code == 0, out + err
    assert "Created sales order SO000001" in out
    # The command writes back itself, unless the gateway's worker took the write-back first.
    assert "Wrote the date back" in out or "A running worker writes the date back" in out
    await harness.wait_written_back(order_id)
    assert harness.sim.row("salesorders", order_id)["lastbackofficesubmit"] is not None
    code, out, _e = await cli(settings, "orders", "create", order_id)
    assert code == 1 and "This Dataverse order is already coupled to sales order SO000001." in out


async def test_turning_auto_create_on_processes_waiting_orders(harness: Any) -> None:
    await harness.setup(auto_create_sales_orders=False)
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    await harness.wait_state(order_id, "waiting")
    await harness.setup(auto_create_sales_orders=True)
    harness.gateway.wake_worker()
    await harness.wait_state(order_id, "created")


async def test_manual_create_shows_the_error(harness: Any, settings: Any) -> None:
    await harness.setup(auto_create_sales_orders=False)
    order_id = await harness.order(account="40000")  # coupled in the demo, but let's break the coupling
    await cli(settings, "uncouple", "customer", "40000")
    await harness.sim.submit_order(order_id)
    await harness.wait_state(order_id, "waiting")
    code, out, _e = await cli(settings, "orders", "create", order_id)
    assert code == 1
    assert "There is no customer coupled to Dataverse account Alpine Ski House." in out


async def test_reconciliation_after_a_dropped_webhook(harness: Any, settings: Any) -> None:
    order_id = await harness.order()
    harness.sim.drop_next_delivery()
    await harness.sim.submit_order(order_id)
    await harness.sim.flush()
    await asyncio.sleep(0.2)
    assert await harness.inbox_rows(order_id) == []
    code, out, err = await cli(settings, "orders", "reconcile")
    assert code == 0, err
    assert "1 inbox row" in out
    await harness.wait_state(order_id, "created")
    await harness.wait_written_back(order_id)
    # Nothing left for the next reconciliation: Sales now has the date.
    code, out, _e = await cli(settings, "orders", "reconcile")
    assert "0 inbox row" in out


async def test_sales_throttling_and_outages_are_retried(harness: Any) -> None:
    harness.sim.fail_next("GET", r"salesorderdetails", count=2, status=429, retry_after="0")
    harness.sim.fail_next("GET", r"products\(", count=1, status=503)
    harness.sim.fail_next("GET", r"annotations", count=1, status="disconnect")
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    await harness.wait_state(order_id, "created")
    assert len(await harness.documents("Order")) == 1


async def test_write_back_failure_is_retried_on_its_own(harness: Any) -> None:
    harness.sim.fail_next("PATCH", r"salesorders\(", count=8, status=503)
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    assert row.writeback_state in ("pending", "done")
    await harness.wait_written_back(order_id, within=10)
    assert len(await harness.documents("Order")) == 1
    assert harness.sim.row("salesorders", order_id)["lastbackofficesubmit"] is not None


async def test_integration_cannot_be_switched_off_while_submitted_orders_wait(harness: Any, settings: Any) -> None:
    import pytest

    from orders.change_setup import SetupService
    from orders.setup import SetupChange, SetupError
    from orders.setup_rules import MSG_SUBMITTED_ORDERS

    await harness.setup(auto_create_sales_orders=False)
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    await harness.wait_state(order_id, "waiting")
    service = SetupService(harness.engine, settings)
    with pytest.raises(SetupError) as exc:
        await service.change(SetupChange.parse({"sales_order_integration_enabled": False}), "test")
    assert str(exc.value).startswith(MSG_SUBMITTED_ORDERS)  # then which orders wait (test_operator_inbox)
    code, _o, err = await cli(settings, "setup", "--disable-sales-order-integration")
    assert code == 1 and MSG_SUBMITTED_ORDERS in err
    code, out, _e = await cli(settings, "orders", "create", order_id)
    assert code == 0, out
    result = await service.change(SetupChange.parse({"sales_order_integration_enabled": False}), "test")
    assert not result.setup.sales_order_integration_enabled
    assert not result.setup.auto_create_sales_orders and not result.setup.auto_process_sales_quotes
