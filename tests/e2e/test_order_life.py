"""The order's life after it became a BC order, over real HTTP with the Sales simulator: posting it
in the embedded BC moves the availability answers Sales asks for; PostedSalesInvoices shows what was
invoiced."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, update

from schemas import tables as t
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
        code, out, err = await cli(settings, "orders", "show", order_id)
        assert code == 0, err
        assert "BC sales order SO000001 was completely invoiced and deleted" in out and "PSI000001" in out
        code, out, err = await cli(settings, "orders", "create", order_id)
        assert code == 1
        assert "This Dataverse order is already coupled, posted and turned into posted sales invoice PSI000001." in out
        assert await harness.documents("Order") == []


# --- errors visible in Sales ---------------------------------------------------------------------


def _notes_on(sim: Any, sales_id: str) -> list[dict[str, Any]]:
    return [n for n in sim.rows("annotations") if n["objectid"].id == sales_id]


async def test_a_rule_failure_and_the_later_success_each_leave_one_note_in_sales(
    harness: Any, settings: Any, tmp_path: Path
) -> None:
    sim = harness.sim
    product = sim.add_product("9999-X", "Standing desk", producttypecode=1, uom=harness.uoms["PCS"])
    order_id = await harness.order([{"product": product, "quantity": 1, "priceperunit": 500}])
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "failed")
    message = "The sales order cannot be created. The Dataverse product Standing desk is not coupled to an item."

    async def noted(count: int) -> list[dict[str, Any]] | None:
        notes = _notes_on(sim, order_id)
        return notes if len(notes) >= count else None

    (failure,) = await harness.wait_for(lambda: noted(1))
    assert failure["subject"] == "Business Central could not create the sales order"
    assert failure["notetext"].startswith(message + "\n\nWhat to do:")
    assert f"bc-gateway orders retry {row.id}" in failure["notetext"]

    # The same failure again (a person retries before fixing it), a worker that sends the note
    # again after losing the answer, two workers at once: still one note.
    code, _out, err = await cli(settings, "orders", "retry", str(row.id))
    assert code == 0, err
    await harness.wait_for(lambda: _failed_again(harness, order_id, row.attempts))
    worker = harness.gateway.worker
    await _owe_again(harness, row.id, "failure")
    await asyncio.gather(worker.send_notes(), worker.send_notes())
    assert len(_notes_on(sim, order_id)) == 1
    assert (await harness.inbox_rows(order_id))[0].note_pending == ""

    # Fixed in BC (the product coupled to a new item), tried again: created, and Sales hears it.
    items = tmp_path / "items.csv"
    items.write_text(f"No,Description,Type,Base_Unit_of_Measure,CRM_ID\n9999-X,Standing desk,Inventory,PCS,{product}\n")
    code, _o, err = await cli(settings, "import", "items", str(items), "--quiet")
    assert code == 0, err
    code, _o, err = await cli(settings, "orders", "retry", order_id)
    assert code == 0, err
    created = await harness.wait_state(order_id, "created")
    notes = await harness.wait_for(lambda: noted(2))
    assert notes is not None and len(notes) == 2
    success = next(n for n in notes if n["annotationid"] != failure["annotationid"])
    assert success["subject"] == f"Created in Business Central: sales order {created.document_no}"
    assert success["notetext"] == f"This sales order is now Business Central sales order {created.document_no}."
    await _owe_again(harness, row.id, "success")
    await worker.send_notes()
    assert len(_notes_on(sim, order_id)) == 2
    # The failure note was on the Sales order when BC created the order: it is not a BC note.
    nt = t.sales_note
    async with harness.engine.connect() as conn:
        bc_notes = (await conn.execute(select(nt.c.description).where(nt.c.document_no == created.document_no))).all()
    assert bc_notes == []


async def test_error_notes_switched_off_leave_sales_alone(harness: Any, settings: Any) -> None:
    code, _o, err = await cli(settings, "setup", "--error-notes", "off", "--yes")
    assert code == 0, err
    product = harness.sim.add_product("9998-X", "Not in BC", producttypecode=1, uom=harness.uoms["PCS"])
    order_id = await harness.order([{"product": product, "quantity": 1, "priceperunit": 5}])
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "failed")
    await harness.gateway.worker.send_notes()
    assert row.note_pending == "" and _notes_on(harness.sim, order_id) == []


async def _failed_again(harness: Any, order_id: str, attempts: int) -> bool:
    (row,) = await harness.inbox_rows(order_id)
    return bool(row.state == "failed" and row.attempts > attempts)


async def _owe_again(harness: Any, row_id: int, kind: str) -> None:
    """As if a worker had sent the note and died before recording it."""
    async with harness.engine.begin() as conn:
        await conn.execute(update(t.order_inbox).where(t.order_inbox.c.id == row_id).values(note_pending=kind))


# --- orders diff ---------------------------------------------------------------------------------


async def test_orders_diff_shows_where_bc_differs_from_sales_and_why(harness: Any, settings: Any) -> None:
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
            {"product": harness.products["1896-S"], "quantity": 1, "priceperunit": 1000},
        ],
        freightamount=Decimal("45.50"),
        name="PO-4711",
    )
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    no = row.document_no

    code, out, err = await cli(settings, "orders", "diff", order_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split() == ["LINE", "FIELD", "SALES", "BC", "WHY"]
    assert "Line Discount Amount" in out and "Line Discount Amount = quantity × volumediscountamount" in out
    code, out, err = await cli(settings, "orders", "diff", order_id, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["bc_order_no"] == no and report["refusal"] == ""
    by_field = {(d["line"], d["field"]): d for d in report["differences"]}
    discount = by_field[("10000", "Line Discount Amount")]
    assert (discount["sales"], discount["bc"], discount["kind"]) == ("2 × 10 + 50 = 70", "70", "rule")
    currency = by_field[("header", "Currency Code")]
    assert (currency["sales"], currency["bc"], currency["kind"]) == ("EUR", "-", "rule")
    freight = next(d for d in report["differences"] if d["field"] == "Line" and d["kind"] == "added")
    assert freight["sales"] == "freightamount 45.5" and "Freight G/L Acc." in freight["why"]
    assert not [d for d in report["differences"] if d["kind"] == "changed"]

    # Changed in BC after it was created, and shipped in part.
    async with harness.engine.begin() as conn:
        await conn.execute(
            update(t.sales_line)
            .where(t.sales_line.c.document_no == no, t.sales_line.c.line_no == 20000)
            .values(unit_price=Decimal(950))
        )
    code, _o, err = await cli(settings, "orders", "post", no, "--ship", "--quantity", "10000=1")
    assert code == 0, err
    code, out, err = await cli(settings, "orders", "diff", order_id, "--json")
    assert code == 0, err
    by_field = {(d["line"], d["field"]): d for d in json.loads(out)["differences"]}
    price = by_field[("20000", "Unit Price")]
    assert (price["sales"], price["bc"], price["kind"]) == ("1000", "950", "changed")
    assert "BC's rules make 1000 of the Sales order now" in price["why"]
    assert by_field[("10000", "Quantity Shipped")]["bc"] == "1"
    assert by_field[("header", "Status")]["bc"] == "Released, partly shipped"

    code, out, err = await cli(settings, "orders", "diff", "not-a-guid")
    assert code == 2 and "is not a Sales order id" in err
    other = await harness.order()
    code, out, err = await cli(settings, "orders", "diff", other)
    assert code == 1 and "is not coupled to a BC order" in err and f"bc-gateway orders show {other}" in err
