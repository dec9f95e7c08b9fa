"""The order's life after it became a BC order, over real HTTP with the Sales simulator: posting it
in the embedded BC moves the availability answers Sales asks for; PostedSalesInvoices shows what was
invoiced."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from schemas.demo_company import product_id
from tests.support.helpers import Api, cli

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"


async def test_shipping_a_bc_order_lowers_the_availability_answer_at_once(
    harness: Any, settings: Any, demo: Any
) -> None:
    order_id = await harness.order([{"product": harness.products["1896-S"], "quantity": 3, "priceperunit": 1000}])
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    desk = product_id("1896-S")
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        url = f"{PIA}?$filter={quote(f'CRM_ID eq {desk}')}"
        status, _h, body = await api.get(url)
        assert status == 200
        before = body["value"][0]["Inventory"]
        status, _h, body = await api.get("/ODataV4/ItemAvailability('1896-S')")
        on_order_before = body["Qty_on_Sales_Order"]
        assert on_order_before >= 3

        code, out, err = await cli(settings, "orders", "post", row.document_no, "--ship", "--quantity", "10000=2")
        assert code == 0, err
        assert "Shipment PSS000001" in out

        async def shipped() -> bool:
            # The same questions again: their cached answers go as soon as the change feed is read.
            _s, _h, answer = await api.get(url)
            _s, _h, item = await api.get("/ODataV4/ItemAvailability('1896-S')")
            return bool(
                answer["value"][0]["Inventory"] == before - 2 and item["Qty_on_Sales_Order"] == on_order_before - 2
            )

        assert await harness.wait_for(shipped)

        code, out, err = await cli(settings, "orders", "post", row.document_no, "--ship", "--invoice")
        assert code == 0, err
        assert "Posted sales invoice PSI000001, amount 3000.00." in out
        status, _h, body = await api.get("/ODataV4/PostedSalesInvoices?$filter=" + quote("Order_No eq 'SO000001'"))
        assert status == 200
        (invoice,) = body["value"]
        assert invoice["No"] == "PSI000001" and invoice["Amount"] == 3000 and invoice["Sales_Id"] == order_id
        status, _h, body = await api.get(
            "/ODataV4/PostedSalesInvoiceLines?$filter=" + quote("Document_No eq 'PSI000001'")
        )
        assert status == 200 and [(ln["No"], ln["Quantity"]) for ln in body["value"]] == [("1896-S", 3)]
        status, _h, _b = await api.get("/ODataV4/SalesOrders('SO000001')")
        assert status == 404  # completely invoiced: deleted

        async def all_shipped() -> bool:
            _s, _h, answer = await api.get(url)
            return bool(answer["value"][0]["Inventory"] == before - 3)

        assert await harness.wait_for(all_shipped)

        # The Sales order is coupled to nothing now; made again, BC says where it went (bc-rules.md §4.8).
        code, out, err = await cli(settings, "orders", "create", order_id)
        assert code == 1
        assert "This Dataverse order is already coupled, posted and turned into posted sales invoice PSI000001." in out
        assert await harness.documents("Order") == []
