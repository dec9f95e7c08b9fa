"""Sales quotes become BC sales quotes: activation, revisions, wins — over real HTTP with the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from schemas import tables as t
from tests.support.helpers import Api, cli, q


async def _quote(h: Any, quantity: int = 2, **columns: Any) -> str:
    return await h.sim.create_quote(
        ("account", h.accounts["10000"]),
        [
            {"product": h.products["1896-S"], "quantity": quantity, "priceperunit": 1000},
            {"product": h.products["1900-S"], "quantity": 1, "uom": h.uoms["BOX"], "priceperunit": 1100},
        ],
        notes=[{"subject": "Terms", "notetext": "<p>Valid for <i>30</i> days</p>"}],
        effectiveto=dt.date(2027, 1, 31),
        **columns,
    )


async def _archives(h: Any, no: str) -> list[Any]:
    async with h.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(t.sales_header_archive)
                    .where(t.sales_header_archive.c.no == no)
                    .order_by(t.sales_header_archive.c.version_no)
                )
            ).all()
        )


async def _archived_lines(h: Any, no: str, version: int) -> list[Any]:
    async with h.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(t.sales_line_archive).where(
                        t.sales_line_archive.c.document_no == no, t.sales_line_archive.c.version_no == version
                    )
                )
            ).all()
        )


def _quote_lines(h: Any, quote_id: str) -> list[dict[str, Any]]:
    return [r for r in h.sim.rows("quotedetails") if r["quoteid"].id == quote_id.lower()]


async def test_activated_quote_becomes_a_bc_quote(harness: Any, demo: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    row = await h.wait_state(quote_id, "created")
    assert row.event == "activate" and row.document_no == "SQ000001"
    (header,) = await h.documents("Quote")
    assert header.your_reference == h.sim.row("quotes", quote_id)["quotenumber"]
    assert header.quote_valid_until_date == dt.date(2027, 1, 31)
    assert header.payment_discount_pct == 0
    assert header.sales_revision == 0
    lines = await h.lines("Quote", "SQ000001")
    assert [(ln.type, ln.no, ln.quantity) for ln in lines if ln.type] == [("Item", "1896-S", 2), ("Item", "1900-S", 1)]
    assert all(ln.outstanding_qty_base == 0 for ln in lines)  # a quote promises nothing yet
    async with Api(h.server, demo["user"], demo["key"]) as api:
        _s, _h, body = await api.get("/ODataV4/SalesQuotes('SQ000001')")
        assert body["Quote_Valid_Until_Date"] == "2027-01-31" and body["Revision"] == 0
        _s, _h, body = await api.get("/ODataV4/SalesLines?$filter=" + q("Document_Type eq 'Quote'"))
        assert {ln["No"] for ln in body["value"]} >= {"1896-S", "1900-S"}
        _s, _h, body = await api.get("/ODataV4/ItemAvailability('1896-S')")
        assert body["Qty_on_Sales_Order"] == 0


async def test_two_revisions_rebuild_one_bc_quote_with_two_archive_versions(harness: Any, demo: Any) -> None:
    h = harness
    rev0 = await _quote(h, quantity=2)
    await h.sim.activate_quote(rev0)
    await h.wait_state(rev0, "created")

    rev1 = await h.sim.revise_quote(rev0)
    await h.sim.update("quotedetails", _quote_lines(h, rev1)[0]["quotedetailid"], quantity=Decimal(5))
    await h.sim.activate_quote(rev1)
    row1 = await h.wait_state(rev1, "created")
    assert row1.document_no == "SQ000001"

    rev2 = await h.sim.revise_quote(rev1)
    await h.sim.update("quotedetails", _quote_lines(h, rev2)[0]["quotedetailid"], quantity=Decimal(7))
    await h.sim.activate_quote(rev2)
    row2 = await h.wait_state(rev2, "created")
    assert row2.document_no == "SQ000001"

    (header,) = await h.documents("Quote")
    assert header.sales_id == rev2 and header.sales_revision == 2
    lines = await h.lines("Quote", "SQ000001")
    assert [ln.quantity for ln in lines if ln.no == "1896-S"] == [7]
    archives = await _archives(h, "SQ000001")
    assert [a.version_no for a in archives] == [1, 2]
    assert [a.sales_revision for a in archives] == [0, 1]
    assert [ln.quantity for ln in await _archived_lines(h, "SQ000001", 1) if ln.no == "1896-S"] == [2]
    assert [ln.quantity for ln in await _archived_lines(h, "SQ000001", 2) if ln.no == "1896-S"] == [5]
    # The Closed/Revised deliveries were acknowledged and ignored.
    async with h.engine.connect() as conn:
        ignored = (
            await conn.execute(select(t.webhook_delivery).where(t.webhook_delivery.c.outcome == "ignored"))
        ).all()
    assert any("revised" in d.reason.lower() or "closed" in d.reason.lower() for d in ignored)
    async with Api(h.server, demo["user"], demo["key"]) as api:
        _s, _h, body = await api.get("/ODataV4/SalesQuoteArchives?$filter=" + q("No eq 'SQ000001'"))
        assert [a["Version_No"] for a in body["value"]] == [1, 2]
        _s, _h, body = await api.get(
            "/ODataV4/SalesQuoteArchiveLines?$filter=" + q("Version_No eq 1 and No eq '1896-S'")
        )
        assert body["value"][0]["Quantity"] == 2


async def test_win_with_a_submitted_order_gives_one_order_with_quote_no_exactly_once(harness: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created")
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    assert order_id
    win = await h.wait_for(lambda: _row(h, quote_id, "win", "created", "ignored"), within=8)
    assert win is not None
    await h.wait_state(order_id, "created", "ignored")
    # Sales repeats everything: nothing more happens.
    for delivery in list(h.sim.deliveries):
        await h.sim.deliver_raw(delivery.body, delivery.headers)
    await asyncio.sleep(0.5)
    (order,) = await h.documents("Order")
    assert order.quote_no == "SQ000001"
    assert order.sales_id == order_id
    archives = await _archives(h, "SQ000001")
    assert len(archives) == 1, [a.reason for a in archives]
    await h.wait_written_back(order_id)
    async with h.engine.connect() as conn:
        wins = (await conn.execute(select(t.quote_win))).all()
    assert len(wins) == 1 and wins[0].order_no == order.no


async def _row(h: Any, sales_id: str, event: str, *states: str) -> Any:
    for row in await h.inbox_rows(sales_id):
        if row.event == event and row.state in states:
            return row
    return None


async def test_win_without_submitted_order_releases_the_quote(harness: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created")
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=False)
    assert await h.wait_for(lambda: _row(h, quote_id, "win", "created"), within=8)
    (quote,) = await h.documents("Quote")
    assert quote.status == "Released"
    assert await h.documents("Order") == []
    # Later the salesperson submits the order: it is created, linked to the quote, which is archived.
    await h.sim.submit_order(order_id)
    await h.wait_state(order_id, "created")
    (order,) = await h.documents("Order")
    assert order.quote_no == "SQ000001"
    assert len(await _archives(h, "SQ000001")) == 1


async def test_win_of_a_quote_never_activated_creates_the_bc_quote_first(harness: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    h.sim.drop_next_delivery()  # the activation is lost
    await h.sim.activate_quote(quote_id)
    await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    assert await h.wait_for(lambda: _row(h, quote_id, "win", "created"), within=8)
    assert [d.no for d in await h.documents("Quote")] == ["SQ000001"]
    (order,) = await h.documents("Order")
    assert order.quote_no == "SQ000001"


async def test_lost_quote_is_ignored(harness: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created")
    await h.sim.lose_quote(quote_id)
    await h.sim.flush()
    async with h.engine.connect() as conn:
        logged = (await conn.execute(select(t.webhook_delivery).where(t.webhook_delivery.c.sales_id == quote_id))).all()
    assert logged[-1].outcome == "ignored"
    assert [r.event for r in await h.inbox_rows(quote_id)] == ["activate"]
    (quote,) = await h.documents("Quote")
    assert quote.status == "Open"


async def test_duplicate_activations_give_one_quote(harness: Any) -> None:
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    delivery = h.sim.deliveries[-1]
    await asyncio.gather(*(h.sim.deliver_raw(delivery.body, delivery.headers) for _ in range(8)))
    await h.wait_state(quote_id, "created")
    await asyncio.sleep(0.2)
    assert len(await h.documents("Quote")) == 1


async def test_auto_process_off_and_manual_process(harness: Any, settings: Any) -> None:
    h = harness
    await h.setup(auto_process_sales_quotes=False)
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    row = await h.wait_state(quote_id, "waiting")
    assert "Automatically Process Sales Quotes is off" in row.last_error
    code, out, _e = await cli(settings, "quotes", "list", "--state", "waiting")
    assert code == 0 and quote_id in out
    code, out, err = await cli(settings, "quotes", "process", quote_id)
    assert code == 0, out + err
    assert "Created sales quote SQ000001" in out
    code, out, _e = await cli(settings, "quotes", "process", quote_id)
    assert code == 1 and "The current record has already been processed in Business Central." in out
    code, out, _e = await cli(settings, "quotes", "show", quote_id)
    assert code == 0 and "BC quote SQ000001" in out


async def test_quote_rule_failure_has_the_quote_prefix(harness: Any, settings: Any) -> None:
    h = harness
    stranger = h.sim.add_account("Stranger Ltd", accountnumber="X1")
    quote_id = await h.sim.create_quote(
        ("account", stranger), [{"product": h.products["1896-S"], "quantity": 1, "priceperunit": 10}]
    )
    await h.sim.activate_quote(quote_id)
    row = await h.wait_state(quote_id, "failed")
    assert row.last_error == (
        "The sales quote cannot be created. There is no customer coupled to Dataverse account Stranger Ltd."
    )
    code, out, _e = await cli(settings, "quotes", "show", quote_id)
    assert code == 0 and row.last_error in out


async def test_win_delivered_after_its_orders_submission(harness: Any) -> None:
    """Sales does not promise order: the order's submission may come first; still one archive."""
    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created")
    h.sim.hold_deliveries()
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    h.sim.release_deliveries(reverse=True)
    assert await h.wait_for(lambda: _row(h, quote_id, "win", "created", "ignored"), within=8)
    await h.wait_state(order_id, "created", "ignored")
    (order,) = await h.documents("Order")
    assert order.quote_no == "SQ000001" and order.sales_id == order_id
    assert len(await _archives(h, "SQ000001")) == 1


async def test_win_without_any_order_in_sales_says_so(harness: Any, settings: Any) -> None:
    """BC's message while Sales has no order made from the won quote; tried again meanwhile."""
    from orders.process_bc_sales_quote import MSG_NO_ORDER

    h = harness
    quote_id = await _quote(h)
    await h.sim.activate_quote(quote_id)
    await h.wait_state(quote_id, "created")
    await h.sim.win_quote(quote_id, create_order=False)
    row = await h.wait_for(lambda: _row(h, quote_id, "win", "failed"), within=8)
    assert row.last_error == MSG_NO_ORDER == "Unable to find Dynamics 365 Sales order that corresponds to this quote."
    assert row.failure == "transient"
    code, out, _e = await cli(settings, "quotes", "show", quote_id)
    assert code == 0 and MSG_NO_ORDER in out


async def test_revision_without_a_coupled_earlier_revision_creates_a_quote(harness: Any) -> None:
    h = harness
    rev0 = await _quote(h)
    h.sim.drop_next_delivery()  # revision 0's activation never reached BC
    await h.sim.activate_quote(rev0)
    rev1 = await h.sim.revise_quote(rev0)
    await h.sim.activate_quote(rev1)
    row = await h.wait_state(rev1, "created")
    assert row.document_no == "SQ000001"
    (header,) = await h.documents("Quote")
    assert header.sales_id == rev1 and header.sales_revision == 1
    assert await _archives(h, "SQ000001") == []


async def test_a_revision_keeps_the_notes_in_its_archive(harness: Any) -> None:
    h = harness
    rev0 = await _quote(h)
    await h.sim.activate_quote(rev0)
    await h.wait_state(rev0, "created")
    rev1 = await h.sim.revise_quote(rev0)
    await h.sim.add_note(rev1, "Terms", "<p>Now valid for <b>60</b> days</p>", entity="quote")
    await h.sim.activate_quote(rev1)
    await h.wait_state(rev1, "created")
    async with h.engine.connect() as conn:
        archived = (await conn.execute(select(t.sales_note_archive.c.note))).scalars().all()
        current = (
            (await conn.execute(select(t.sales_note.c.note).where(t.sales_note.c.document_no == "SQ000001")))
            .scalars()
            .all()
        )
    assert archived == ["Valid for 30 days"]
    assert "Now valid for 60 days" in current
