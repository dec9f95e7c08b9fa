"""Reconciliation (orders.reconcile) against the Sales simulator over real HTTP, on a real database:
what Sales shows as waiting for BC and the inbox lacks is queued (docs/reference/bc-rules.md §4.1,
§5.1, §6), ignored rows are reopened, BC orders whose date never reached Sales are written back
again, and rows whose passing failures used up their attempts get another round."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox, reconcile
from orders.dataverse.client import DataverseClient
from orders.inbox import InboxRow
from schemas import tables as t
from schemas.master_data import ensure_company
from tests.support.builders import coupled_bc_document, inbox_row
from tests.support.sales_simulator import SalesSimulator

COMPANY = "CRONUS"


async def _submitted(sim: SalesSimulator, account: str, *, written_back: bool = False) -> str:
    order_id = await sim.create_order(("account", account))
    await sim.submit_order(order_id)
    if written_back:  # BC took it already: Sales has the date
        await sim.set_state("salesorders", order_id, 0, 2)
        await sim.update("salesorders", order_id, lastbackofficesubmit=dt.date(2024, 5, 30))
        await sim.set_state("salesorders", order_id, 1, 3)
    return order_id


async def _quote(sim: SalesSimulator, account: str, *, activate: bool = True, win: bool = False) -> str:
    quote_id = await sim.create_quote(("account", account))
    if activate:
        await sim.activate_quote(quote_id)
    if win:
        await sim.win_quote(quote_id, create_order=False)
    return quote_id


async def _rows(engine: AsyncEngine, sales_id: str) -> list[InboxRow]:
    return await inbox.find(engine, COMPANY, sales_id)


async def _inbox_changes(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return len((await conn.execute(select(t.change_log).where(t.change_log.c.topic == "inbox"))).all())


# --- orders ------------------------------------------------------------------------------------


async def test_lost_submissions_are_queued_once(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    account = sim.add_account()
    lost = [await _submitted(sim, account) for _ in range(3)]
    taken = await _submitted(sim, account, written_back=True)
    active = await sim.create_order(("account", account))
    assert await reconcile.reconcile_orders(engine, COMPANY, client) == 3
    for order_id in lost:
        (row,) = await _rows(engine, order_id)
        assert (row.table_name, row.event, row.state, row.source) == ("salesorder", "submit", "received", "reconcile")
    assert await _rows(engine, taken) == [] and await _rows(engine, active) == []
    # Asking again finds the rows in the inbox: nothing new.
    assert await reconcile.reconcile_orders(engine, COMPANY, client) == 0
    assert [len(await _rows(engine, order_id)) for order_id in lost] == [1, 1, 1]
    # The query is BC's: submitted and no lastbackofficesubmit (bc-rules.md §4.1).
    assert sim.api_requests("GET")[0].query == {"$filter": "statecode eq 1 and lastbackofficesubmit eq null"}


async def test_an_ignored_row_is_reopened_when_sales_says_submitted(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    order_id = await _submitted(sim, sim.add_account())
    row = await inbox_row(engine, order_id, state="ignored", last_error="The order is not submitted.")
    assert await reconcile.reconcile_orders(engine, COMPANY, client) == 1
    (again,) = await _rows(engine, order_id)
    assert (again.id, again.state, again.last_error) == (row.id, "received", "")


async def test_a_done_or_failed_write_back_is_armed_again(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    """BC has the order, Sales still lacks the date (written back, then cleared; or given up)."""
    account = sim.add_account()
    done, given_up, pending = [await _submitted(sim, account) for _ in range(3)]
    created: dict[str, Any] = {"state": "created", "document_type": "Order", "document_no": "SO000001"}
    await inbox_row(engine, done, **created, writeback_state="done")
    await inbox_row(engine, given_up, **created, writeback_state="failed", writeback_attempts=5, writeback_error="x")
    waiting = await inbox_row(engine, pending, **created, writeback_state="pending", writeback_attempts=2)
    assert await reconcile.reconcile_orders(engine, COMPANY, client) == 2
    for order_id in (done, given_up):
        (row,) = await _rows(engine, order_id)
        assert (row.state, row.writeback_state, row.writeback_attempts) == ("created", "pending", 0)
    (still,) = await _rows(engine, pending)
    assert (still.id, still.writeback_state, still.writeback_attempts) == (waiting.id, "pending", 2)  # on its way
    due = await inbox.claim_writebacks(engine, "w1", 120)
    assert sorted(r.sales_id for r in due) == sorted([done, given_up, pending])


async def test_rows_in_hand_or_waiting_for_a_person_are_left_alone(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    account = sim.add_account()
    rows = [
        await inbox_row(engine, await _submitted(sim, account), state=state, last_error="why")
        for state in ("received", "processing", "waiting", "failed")
    ]
    assert await reconcile.reconcile_orders(engine, COMPANY, client) == 0
    after = [(await _rows(engine, r.sales_id))[0] for r in rows]
    assert [(a.id, a.state, a.last_error, a.attempts) for a in after] == [
        (r.id, r.state, r.last_error, r.attempts) for r in rows
    ]


# --- quotes ------------------------------------------------------------------------------------


async def test_active_and_won_quotes_bc_lacks_are_queued(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    async with engine.begin() as conn:
        await ensure_company(conn, COMPANY)
    account = sim.add_account()
    active = await _quote(sim, account)
    won = await _quote(sim, account, win=True)
    draft = await _quote(sim, account, activate=False)
    lost = await _quote(sim, account)
    await sim.lose_quote(lost)
    assert await reconcile.reconcile_quotes(engine, COMPANY, client) == 2
    for quote_id in (active, won):
        (row,) = await _rows(engine, quote_id)
        assert (row.table_name, row.event, row.state, row.source) == ("quote", "check", "received", "reconcile")
    assert await _rows(engine, draft) == [] and await _rows(engine, lost) == []
    # Their rows are open now: not queued twice.
    assert await reconcile.reconcile_quotes(engine, COMPANY, client) == 0
    assert [q["$filter"] for q in (r.query for r in sim.api_requests("GET")[:2])] == [
        "statecode eq 1",
        "statecode eq 2",
    ]


async def test_quotes_bc_has_handled_are_not_queued(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    account = sim.add_account()
    coupled = await _quote(sim, account)
    await coupled_bc_document(engine, coupled, "Quote")
    won = await _quote(sim, account, win=True)
    async with engine.begin() as conn:
        values: dict[str, Any] = {"company": COMPANY, "quote_id": won, "quote_no": "SQ000002", "order_no": ""}
        await conn.execute(insert(t.quote_win).values(**values, processed_at=inbox.utcnow()))
    # A won quote that is coupled but whose win is not recorded still needs its win handled.
    won_unhandled = await _quote(sim, account, win=True)
    await coupled_bc_document(engine, won_unhandled, "Quote")
    assert await reconcile.reconcile_quotes(engine, COMPANY, client) == 1
    assert await _rows(engine, coupled) == [] and await _rows(engine, won) == []
    (row,) = await _rows(engine, won_unhandled)
    assert row.event == "check"


async def test_a_finished_quote_check_is_reopened(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    async with engine.begin() as conn:
        await ensure_company(conn, COMPANY)
    quote_id = await _quote(sim, sim.add_account())
    # Looked at before (ignored: the quote was not active then), yet BC still has no quote.
    row = await inbox_row(engine, quote_id, table="quote", event="check", state="ignored", last_error="Draft")
    assert await reconcile.reconcile_quotes(engine, COMPANY, client) == 1
    (again,) = await _rows(engine, quote_id)
    assert (again.id, again.state, again.last_error) == (row.id, "received", "")


# --- exhausted passing failures, and the whole round ----------------------------------------------


async def test_exhausted_transient_failures_are_armed_again(engine: AsyncEngine) -> None:
    exhausted = await inbox_row(
        engine, state="failed", failure="transient", attempts=5, next_attempt_at=None, last_error="Sales away"
    )
    retrying = await inbox_row(
        engine, state="failed", failure="transient", attempts=2, next_attempt_at=inbox.utcnow() + dt.timedelta(hours=1)
    )
    rule = await inbox_row(engine, state="failed", failure="rule", next_attempt_at=None)
    elsewhere = await inbox_row(engine, company="OTHER", state="failed", failure="transient", next_attempt_at=None)
    changes_before = await _inbox_changes(engine)
    assert await reconcile.rearm_exhausted(engine, COMPANY) == 1
    again = (await _rows(engine, exhausted.sales_id))[0]
    assert (again.state, again.attempts, again.failure) == ("received", 0, "")
    for row in (retrying, rule):
        assert (await _rows(engine, row.sales_id))[0] == row
    assert (await inbox.find(engine, "OTHER", elsewhere.sales_id))[0] == elsewhere
    assert await _inbox_changes(engine) == changes_before + 1  # workers hear of it
    assert await reconcile.rearm_exhausted(engine, COMPANY) == 0


async def test_reconcile_does_all_three_and_counts_them(
    engine: AsyncEngine, sim: SalesSimulator, client: DataverseClient
) -> None:
    async with engine.begin() as conn:
        await ensure_company(conn, COMPANY)
    account = sim.add_account()
    order_id = await _submitted(sim, account)
    quote_id = await _quote(sim, account)
    await inbox_row(engine, str(uuid.uuid4()), state="failed", failure="transient", next_attempt_at=None)
    assert await reconcile.reconcile(engine, COMPANY, client) == 3
    assert [r.event for r in await _rows(engine, order_id)] == ["submit"]
    assert [r.event for r in await _rows(engine, quote_id)] == ["check"]
    assert await reconcile.reconcile(engine, COMPANY, client) == 0
