"""Sales quotes become sales quotes in a real BC (the BC simulator) through its API: activation, a
revision that replaces the lines of the same BC quote, and a win that BC turns into the order with
Microsoft.NAV.makeOrder — over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from orders.bc_link.writer_json import document_key
from schemas import tables as t
from tests.support.api_mode import bc_documents, bc_lines, posts
from tests.support.bc_simulator import BcSimulator

pytest_plugins = ["tests.support.bc_simulator.fixtures", "tests.support.api_mode"]


async def _quote(h: Any, quantity: int = 2) -> str:
    return await h.sim.create_quote(
        ("account", h.accounts["10000"]),
        [
            {"product": h.products["1896-S"], "quantity": quantity, "priceperunit": 1000},
            {"product": h.products["1900-S"], "quantity": 1, "uom": h.uoms["BOX"], "priceperunit": 1100},
        ],
        effectiveto=dt.date(2027, 1, 31),
    )


def _quote_lines(h: Any, quote_id: str) -> list[dict[str, Any]]:
    return [r for r in h.sim.rows("quotedetails") if r["quoteid"].id == quote_id.lower()]


async def _row(h: Any, sales_id: str, event: str, *states: str) -> Any:
    for row in await h.inbox_rows(sales_id):
        if row.event == event and row.state in states:
            return row
    return None


def _items(sim: BcSimulator, document: dict[str, Any], lines_set: str) -> list[tuple[str, Decimal]]:
    return [
        (ln["lineObjectNumber"], ln["quantity"])
        for ln in bc_lines(sim, document, lines_set)
        if ln["lineType"] == "Item"
    ]


async def _archives(h: Any, no: str) -> list[Any]:
    async with h.engine.connect() as conn:
        ha = t.sales_header_archive
        return list((await conn.execute(select(ha).where(ha.c.no == no).order_by(ha.c.version_no))).all())


async def test_activated_quote_and_a_revision_are_one_bc_quote_whose_lines_are_replaced(
    api_harness: Any, bc_simulator: BcSimulator
) -> None:
    h, sim = api_harness, bc_simulator
    rev0 = await _quote(h, quantity=2)
    await h.sim.activate_quote(rev0)
    row0 = await h.wait_state(rev0, "created", within=10)
    (quote,) = bc_documents(sim, rev0, "salesQuotes")
    assert row0.document_no == quote["number"] == "S-QUO1001"
    assert quote["validUntilDate"] == "2027-01-31"
    assert _items(sim, quote, "salesQuoteLines") == [("1896-S", 2), ("1900-S", 1)]

    rev1 = await h.sim.revise_quote(rev0)
    await h.sim.update("quotedetails", _quote_lines(h, rev1)[0]["quotedetailid"], quantity=Decimal(5))
    await h.sim.activate_quote(rev1)
    row1 = await h.wait_state(rev1, "created", within=10)
    assert row1.document_no == "S-QUO1001"

    # Still the one BC quote, with the same number and key, and the new revision's lines.
    (bc_quote,) = sim.records("salesQuotes")
    assert bc_quote["id"] == quote["id"] and bc_quote["externalDocumentNumber"] == document_key(rev0)
    assert _items(sim, bc_quote, "salesQuoteLines") == [("1896-S", 5), ("1900-S", 1)]
    assert bc_quote["totalAmountExcludingTax"] == 5 * 1000 + 1100
    assert posts(sim, "$batch") == 1  # header, old lines out, new lines in: one snapshot batch
    # The gateway's copy shows it; BC cannot archive through the API, the gateway keeps version 1.
    (header,) = await h.documents("Quote")
    assert header.sales_id == rev1 and header.sales_revision == 1 and header.amount == 6100
    assert [ln.quantity for ln in await h.lines("Quote", "S-QUO1001") if ln.no == "1896-S"] == [5]
    assert [a.sales_revision for a in await _archives(h, "S-QUO1001")] == [0]
    # The row's message says so (a created row keeps its outcome's message).
    assert "cannot archive" in row1.last_error


async def test_won_quote_becomes_the_bc_order_by_make_order_exactly_once(
    api_harness: Any, bc_simulator: BcSimulator
) -> None:
    h, sim = api_harness, bc_simulator
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created", within=10)
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    assert order_id
    assert await h.wait_for(lambda: _row(h, quote_id, "win", "created", "ignored"), within=10)
    await h.wait_state(order_id, "created", "ignored", within=10)
    # Sales repeats everything: nothing more happens.
    for delivery in list(h.sim.deliveries):
        await h.sim.deliver_raw(delivery.body, delivery.headers)
    await asyncio.sleep(0.5)

    assert sim.records("salesQuotes") == []  # makeOrder removes the quote
    (order,) = sim.records("salesOrders")
    assert order["externalDocumentNumber"] == document_key(quote_id)  # the quote's header, key too
    assert _items(sim, order, "salesOrderLines") == [("1896-S", 2), ("1900-S", 1)]
    assert posts(sim, "makeOrder") == 1 and posts(sim, "/salesOrders") == 0

    (header,) = await h.documents("Order")
    assert header.no == order["number"] and header.quote_no == "S-QUO1001" and header.sales_id == order_id
    assert await h.documents("Quote") == []
    chairs = next(ln for ln in await h.lines("Order", header.no) if ln.no == "1900-S")
    assert chairs.qty_per_unit_of_measure == 6 and chairs.outstanding_qty_base == 6
    async with h.engine.connect() as conn:
        wins = (await conn.execute(select(t.quote_win))).all()
    assert len(wins) == 1 and wins[0].order_no == header.no
    await h.wait_written_back(order_id)


async def test_won_quote_whose_order_is_submitted_later(api_harness: Any, bc_simulator: BcSimulator) -> None:
    """No release action in BC's API: the quote stays open; the order, submitted later, is made from it."""
    h, sim = api_harness, bc_simulator
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created", within=10)
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=False)
    win = await h.wait_for(lambda: _row(h, quote_id, "win", "created"), within=10)
    assert win is not None and "no release action" in win.last_error
    (bc_quote,) = sim.records("salesQuotes")
    assert bc_quote["status"] == "Draft"
    await h.sim.submit_order(order_id)
    row = await h.wait_state(order_id, "created", within=10)
    assert sim.records("salesQuotes") == []
    (order,) = sim.records("salesOrders")
    assert row.document_no == order["number"]
    (header,) = await h.documents("Order")
    assert header.quote_no == "S-QUO1001"


async def test_make_order_whose_answer_is_lost_is_found_by_the_key(api_harness: Any, bc_simulator: BcSimulator) -> None:
    h, sim = api_harness, bc_simulator
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created", within=10)
    sim.add_fault("drop_after_commit", path="*Microsoft.NAV.makeOrder", method="POST")
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    assert order_id
    await h.wait_state(order_id, "created", within=15)
    (order,) = sim.records("salesOrders")
    assert sim.faults.rules[0].hits == 1
    assert [d.no for d in await h.documents("Order")] == [order["number"]]


async def test_win_of_a_quote_never_activated_creates_the_bc_quote_then_the_order(
    api_harness: Any, bc_simulator: BcSimulator
) -> None:
    h, sim = api_harness, bc_simulator
    quote_id = await _quote(h)
    h.sim.drop_next_delivery()  # the activation is lost
    await h.sim.activate_quote(quote_id)
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    assert order_id
    # The win waits (retried) while the order's row is at BC; on a busy machine that takes a while.
    # Whichever row gets to the order first makes it from the quote; the other finds the win handled.
    assert await h.wait_for(lambda: _row(h, quote_id, "win", "created", "ignored"), within=30)
    await h.wait_state(order_id, "created", "ignored", within=30)
    assert sim.records("salesQuotes") == []
    (order,) = sim.records("salesOrders")
    assert order["externalDocumentNumber"] == document_key(quote_id)
    (header,) = await h.documents("Order")
    assert header.quote_no == "S-QUO1001" and header.no == order["number"]


async def test_two_rows_of_one_quote_at_once_make_one_bc_quote(api_harness: Any, bc_simulator: BcSimulator) -> None:
    """The activation and a person's "process" of the same quote, taken by the worker side by side:
    the key lets one of them write; the other waits and then finds the quote coupled."""
    from sqlalchemy import update

    from orders import inbox

    h, sim = api_harness, bc_simulator
    quote_id = await _quote(h)
    h.sim.hold_deliveries()
    await h.sim.activate_quote(quote_id)
    await inbox.enqueue(h.engine, "CRONUS", inbox.QUOTE, quote_id, inbox.InboxEvent.CHECK, source=inbox.Source.MANUAL)
    h.sim.release_deliveries()
    await h.sim.flush()

    async def settled() -> bool:
        rows = await h.inbox_rows(quote_id)
        return len(rows) == 2 and all(r.state in ("created", "ignored", "failed") for r in rows)

    assert await h.wait_for(settled, within=10)
    assert len(sim.records("salesQuotes")) == 1 and posts(sim, "/salesQuotes") == 1
    waiting = [r for r in await h.inbox_rows(quote_id) if r.state == "failed"]
    for row in waiting:  # the one that waited for the other: it comes back and finds the quote
        assert "is writing" in row.last_error and row.failure == "transient"
        async with h.engine.begin() as conn:
            await conn.execute(
                update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(next_attempt_at=inbox.utcnow())
            )
    h.gateway.wake_worker()

    async def done() -> bool:
        return all(r.state in ("created", "ignored") for r in await h.inbox_rows(quote_id))

    assert await h.wait_for(done, within=10)
    assert len(sim.records("salesQuotes")) == 1 and len(await h.documents("Quote")) == 1


async def test_a_revision_longer_than_one_batch_is_replaced_call_by_call(
    api_harness: Any, bc_simulator: BcSimulator, bc_session: Any
) -> None:
    """More operations than one $batch takes (here: 5) cannot be one snapshot: the writer replaces
    the lines in order, call after call — a replace done again after a failure converges."""
    from tests.support.api_mode import quick_link

    h, sim = api_harness, bc_simulator
    worker = h.gateway.worker
    worker.bc_link = quick_link(sim, bc_session, max_batch=5)
    try:
        rev0 = await _quote(h, quantity=2)
        await h.sim.activate_quote(rev0)
        await h.wait_state(rev0, "created", within=10)
        rev1 = await h.sim.revise_quote(rev0)
        await h.sim.update("quotedetails", _quote_lines(h, rev1)[0]["quotedetailid"], quantity=Decimal(9))
        await h.sim.activate_quote(rev1)
        await h.wait_state(rev1, "created", within=10)
    finally:
        await worker.bc_link.aclose()
    (bc_quote,) = sim.records("salesQuotes")
    assert _items(sim, bc_quote, "salesQuoteLines") == [("1896-S", 9), ("1900-S", 1)]
    # No batch; the four lines (Your Reference, the Sales name, two items) each POSTed on their own.
    assert posts(sim, "$batch") == 0 and posts(sim, "/salesQuoteLines") == 4
    assert len(bc_lines(sim, bc_quote, "salesQuoteLines")) == 4
