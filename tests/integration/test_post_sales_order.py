"""Posting in the embedded BC on SQLite and PostgreSQL (orders/post_sales_order.py over
schemas/sales_posting_store.py): item ledger entries of type Sale and the running totals, the lines'
quantities, the posted invoice and its numbers, the deletion of a completely invoiced order with its
coupling, partial postings, concurrency, and the refusal in api mode; the CLI's answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.post_sales_order import (
    PostingNotAllowed,
    PostingRefused,
    post_sales_order,
    release_sales_order,
    reopen_sales_order,
)
from schemas import master_data as md
from schemas import sales_document_store as store
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument, BcSalesHeader, BcSalesLine
from schemas.db import write_transaction
from schemas.inventory import LedgerLine, add_to_totals, post_ledger_entries
from schemas.sales_posting_store import posted_invoice_for_sales_order, posted_invoices_of_order
from tests.support.helpers import cli

COMPANY = "CRONUS"
TODAY = dt.date(2024, 6, 3)
D = Decimal


@pytest.fixture
async def order(engine: AsyncEngine) -> AsyncIterator[dict[str, str]]:
    """SO000001 for customer 10000, coupled to a Sales order: line 10000 is 10 PCS of 1896-S at
    BLUE (stock 25 there), line 20000 is 2 BOX (12 PCS each) of 1900-S, line 30000 a text line."""
    sales_id = str(uuid.uuid4())
    async with write_transaction(engine) as conn:
        await md.ensure_company(conn, COMPANY)
        for code in ("PCS", "BOX"):
            await md.ensure_unit(conn, COMPANY, code)
        await md.upsert_customer(conn, COMPANY, "10000", name="Adatum Corporation")
        await md.upsert_item(conn, COMPANY, "1896-S", base_unit_of_measure="PCS")
        await md.upsert_item(conn, COMPANY, "1900-S", base_unit_of_measure="PCS")
        await md.set_item_unit(conn, COMPANY, "1900-S", "BOX", D(12))
        await md.ensure_location(conn, COMPANY, "BLUE", "Blue Warehouse")
        await post_ledger_entries(conn, COMPANY, [LedgerLine("1896-S", D(25), "BLUE")], TODAY)
        await post_ledger_entries(conn, COMPANY, [LedgerLine("1900-S", D(100))], TODAY)
        lines = (
            BcSalesLine(
                line_no=10000, type="Item", no="1896-S", description="ATHENS Desk", quantity=D(10),
                unit_of_measure_code="PCS", qty_per_unit_of_measure=D(1), quantity_base=D(10),
                unit_price=D("33.33"), line_discount_amount=D(3), amount=D("330.30"),
            ),
            BcSalesLine(
                line_no=20000, type="Item", no="1900-S", description="PARIS Guest Chair", quantity=D(2),
                unit_of_measure_code="BOX", qty_per_unit_of_measure=D(12), quantity_base=D(24),
                unit_price=D(100), amount=D(200),
            ),
            BcSalesLine(line_no=30000, type="", description="Deliver to the back door"),
        )  # fmt: skip
        header = BcSalesHeader(
            document_type="Order",
            sell_to_customer_no="10000",
            your_reference="ORD-01001",
            invoice_discount_amount=D("10.30"),
            sales_id=sales_id,
        )
        no = await store.next_number(conn, COMPANY, store.ORDER_SERIES)
        system_id = await store.insert_document(conn, COMPANY, BcSalesDocument(header=header, lines=lines), no, TODAY)
        await conn.execute(
            update(t.sales_line)
            .where(t.sales_line.c.document_no == no, t.sales_line.c.line_no == 10000)
            .values(location_code="BLUE")
        )
        # insert_document put line 10000's outstanding quantity on location "": move it to BLUE.
        await add_to_totals(conn, COMPANY, "1896-S", "", qty_on_sales_order=D(-10))
        await add_to_totals(conn, COMPANY, "1896-S", "BLUE", qty_on_sales_order=D(10))
        await store.couple(conn, COMPANY, sales_id, system_id)
    yield {"no": no, "sales_id": sales_id, "system_id": system_id}


async def _totals(engine: AsyncEngine, item: str, location: str | None = None) -> tuple[Decimal, Decimal]:
    tbl = t.item_inventory if location is None else t.item_location_inventory
    where = [tbl.c.company == COMPANY, tbl.c.item_no == item]
    if location is not None:
        where.append(t.item_location_inventory.c.location_code == location)
    async with engine.connect() as conn:
        row = (await conn.execute(select(tbl.c.inventory, tbl.c.qty_on_sales_order).where(*where))).one()
    return Decimal(row.inventory), Decimal(row.qty_on_sales_order)


async def _lines(engine: AsyncEngine, no: str) -> dict[int, Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.sales_line).where(t.sales_line.c.document_no == no))).all()
    return {r.line_no: r for r in rows}


async def _header(engine: AsyncEngine, no: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(t.sales_header).where(t.sales_header.c.no == no))).first()


async def test_a_new_order_line_has_all_to_ship_and_invoice(engine: AsyncEngine, order: dict[str, str]) -> None:
    line = (await _lines(engine, order["no"]))[20000]
    assert (line.outstanding_quantity, line.qty_to_ship, line.qty_to_invoice) == (2, 2, 2)
    assert (line.quantity_shipped, line.quantity_invoiced, line.outstanding_qty_base) == (0, 0, 24)


async def test_release_and_reopen(engine: AsyncEngine, order: dict[str, str]) -> None:
    change = await release_sales_order(engine, COMPANY, order["no"].lower())
    assert (change.status, change.changed) == ("Released", True)
    assert (await _header(engine, order["no"])).status == "Released"
    assert not (await release_sales_order(engine, COMPANY, order["no"])).changed
    assert (await reopen_sales_order(engine, COMPANY, order["no"])).status == "Open"
    assert (await _header(engine, order["no"])).status == "Open"


async def test_partial_shipment_lowers_inventory_through_sale_entries_at_the_location(
    engine: AsyncEngine, order: dict[str, str]
) -> None:
    posted = await post_sales_order(
        engine, COMPANY, order["no"], ship=True, invoice=False, quantities={10000: D(4), 20000: D(1)}, today=TODAY
    )
    assert posted.shipment_no == "PSS000001" and not posted.invoice_no and not posted.order_deleted
    async with engine.connect() as conn:
        entries = (
            await conn.execute(select(t.item_ledger_entry).where(t.item_ledger_entry.c.entry_no.in_(posted.entry_nos)))
        ).all()
    assert sorted((e.item_no, e.location_code, e.entry_type, e.quantity, e.document_no) for e in entries) == [
        ("1896-S", "BLUE", "Sale", -4, "PSS000001"),
        ("1900-S", "", "Sale", -12, "PSS000001"),
    ]
    assert await _totals(engine, "1896-S", "BLUE") == (21, 6)
    assert await _totals(engine, "1896-S") == (21, 6)
    assert await _totals(engine, "1900-S") == (88, 12)
    lines = await _lines(engine, order["no"])
    assert (lines[10000].quantity_shipped, lines[10000].outstanding_quantity, lines[10000].qty_to_ship) == (4, 6, 6)
    assert (lines[20000].outstanding_qty_base, lines[20000].qty_to_invoice) == (12, 2)
    header = await _header(engine, order["no"])
    assert (header.status, header.last_shipping_no) == ("Released", "PSS000001")
    async with engine.connect() as conn:
        topics = (await conn.execute(select(t.change_log.c.key).where(t.change_log.c.topic == "item"))).scalars()
        assert {"1896-S", "1900-S"} <= set(topics)


async def test_invoicing_what_was_shipped_then_the_rest_deletes_the_order_and_its_coupling(
    engine: AsyncEngine, order: dict[str, str]
) -> None:
    no = order["no"]
    await post_sales_order(engine, COMPANY, no, ship=True, invoice=False, quantities={10000: D(4)}, today=TODAY)
    first = await post_sales_order(engine, COMPANY, no, ship=False, invoice=True, today=TODAY)
    assert first.invoice_no == "PSI000001" and not first.shipment_no and not first.order_deleted
    # Line 10000: 4 of 10 invoiced, line 20000 shipped completely (2 BOX) and invoiced.
    lines = await _lines(engine, no)
    assert (lines[10000].quantity_invoiced, lines[10000].qty_to_invoice) == (4, 6)
    assert (lines[20000].quantity_invoiced, lines[20000].outstanding_quantity) == (2, 0)

    last = await post_sales_order(engine, COMPANY, no, ship=True, invoice=True, today=TODAY)
    assert (last.shipment_no, last.invoice_no, last.order_deleted) == ("PSS000002", "PSI000002", True)
    assert await _header(engine, no) is None and await _lines(engine, no) == {}
    async with engine.connect() as conn:
        assert await store.coupled_document(conn, COMPANY, order["sales_id"]) is None
        assert await posted_invoice_for_sales_order(conn, COMPANY, order["sales_id"]) == "PSI000002"
        invoices = await posted_invoices_of_order(conn, COMPANY, no)
    assert [i["no"] for i in invoices] == ["PSI000001", "PSI000002"]
    # The invoices add up to the order: 330.30 + 200 less the invoice discount of 10.30.
    assert sum(i["amount"] for i in invoices) == D(520)
    assert sum(i["invoice_discount_amount"] for i in invoices) == D("10.30")
    by_line: dict[int, Decimal] = {}
    for inv in invoices:
        for ln in inv["lines"]:
            by_line[ln["line_no"]] = by_line.get(ln["line_no"], D(0)) + ln["quantity"]
            assert ln["order_no"] == no
    assert by_line == {10000: 10, 20000: 2, 30000: 0}  # the text line came along on each invoice
    first_invoice = invoices[0]
    assert (first_invoice["your_reference"], first_invoice["sell_to_customer_no"]) == ("ORD-01001", "10000")
    assert await _totals(engine, "1896-S", "BLUE") == (15, 0)
    assert await _totals(engine, "1900-S") == (76, 0)


async def test_refusals_write_nothing(engine: AsyncEngine, order: dict[str, str]) -> None:
    no = order["no"]
    with pytest.raises(PostingRefused, match=r"You cannot ship more than 10 units\."):
        await post_sales_order(engine, COMPANY, no, ship=True, invoice=False, quantities={10000: D(11)})
    with pytest.raises(PostingRefused, match=r"There is nothing to post\."):
        await post_sales_order(engine, COMPANY, no, ship=False, invoice=True)
    with pytest.raises(PostingRefused, match="The Sales Header does not exist"):
        await post_sales_order(engine, COMPANY, "SO999999", ship=True, invoice=False)
    async with write_transaction(engine) as conn:
        await conn.execute(update(t.item).where(t.item.c.no == "1900-S").values(blocked=True))
    with pytest.raises(PostingRefused, match=r"Blocked must be equal to 'No'  in Item: No.=1900-S"):
        await post_sales_order(engine, COMPANY, no, ship=True, invoice=False)
    assert (await _header(engine, no)).status == "Open"
    async with engine.connect() as conn:
        sales = (
            await conn.execute(
                select(func.count()).select_from(t.item_ledger_entry).where(t.item_ledger_entry.c.entry_type == "Sale")
            )
        ).scalar_one()
    assert sales == 0


async def test_two_postings_of_one_order_at_once_ship_it_once(engine: AsyncEngine, order: dict[str, str]) -> None:
    results = await asyncio.gather(
        *(post_sales_order(engine, COMPANY, order["no"], ship=True, invoice=False) for _ in range(2)),
        return_exceptions=True,
    )
    posted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, PostingRefused)]
    assert len(posted) == 1 and len(refused) == 1 and refused[0].message == "There is nothing to post."
    assert await _totals(engine, "1896-S", "BLUE") == (15, 0)


async def test_api_mode_refuses_posting(engine: AsyncEngine, order: dict[str, str]) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(t.connection_setup.insert().values(id=1, bc_mode="api"))
    with pytest.raises(PostingNotAllowed, match="Business Central is the system of record"):
        await post_sales_order(engine, COMPANY, order["no"], ship=True, invoice=False)
    with pytest.raises(PostingNotAllowed):
        await release_sales_order(engine, COMPANY, order["no"])


async def test_cli_post_release_and_their_messages(settings: Any, engine: AsyncEngine, order: dict[str, str]) -> None:
    no = order["no"]
    code, out, err = await cli(settings, "orders", "release", no)
    assert code == 0, err
    assert f"Sales order {no} is now Released." in out and f"bc-gateway orders post {no} --ship" in out
    code, out, err = await cli(settings, "orders", "post", no, "--ship", "--quantity", "10000=4")
    assert code == 0, err
    assert f"Posted sales order {no}" in out and "Shipment PSS000001: item ledger entries" in out
    assert f"bc-gateway orders post {no} --invoice" in out
    code, out, err = await cli(settings, "orders", "post", no, "--quantity", "10000=1")
    assert code == 1 and 'Please enter "Yes" in Ship and/or Invoice.' in err
    code, out, err = await cli(settings, "orders", "post", no, "--ship", "--quantity", "10000=x")
    assert code == 2 and "'10000=x' is not LINE=QTY" in err
    code, out, err = await cli(settings, "orders", "post", no, "--ship", "--invoice")
    assert code == 0, err
    assert "Posted sales invoice PSI000001, amount 520.00." in out
    assert "completely invoiced" in out and "deleted" in out
    code, out, err = await cli(settings, "orders", "reopen", no)
    assert (
        code == 1
        and f"The Sales Header does not exist. Identification fields and values: Document Type='Order',No.='{no}'"
        in err
    )
