"""Races between workers and deliveries, leases, reconciliation and pruning, through the
gateway's receiver and the Sales simulator: each test here once showed a defect (found in review)
and now guards against it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from orders import inbox
from orders.worker import OrderWorker
from schemas import tables as t


async def test_win_is_lost_when_it_races_the_activation(receiver_only: Any, settings: Any, monkeypatch: Any) -> None:
    """Worker 1 processes the activation (read the quote while Active); meanwhile the quote is won
    (order not submitted yet) and worker 2 takes the win. BC: the win is handled once — the BC
    quote is Released and the win recorded. Here the win row ends 'ignored' and nothing happens."""
    import asyncio

    import orders.process_bc_sales_quote as pq

    h = receiver_only
    quote_id = await h.quote()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    w1 = OrderWorker(h.engine, settings, owner="w1")
    w2 = OrderWorker(h.engine, settings, owner="w2")
    for w in (w1, w2):
        w.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    real = pq._quote_document
    a_reading, a_go = asyncio.Event(), asyncio.Event()
    a_task: Any = None

    async def gated(engine: Any, company: str, client: Any, qid: str) -> Any:
        if not a_reading.is_set():  # worker 1, activation: still reading Sales
            a_reading.set()
            await a_go.wait()
            return await real(engine, company, client, qid)
        a_go.set()  # worker 2, win: by now worker 1 commits the activation
        await a_task
        return await real(engine, company, client, qid)

    monkeypatch.setattr(pq, "_quote_document", gated)
    try:
        (a_row,) = await inbox.claim(h.engine, "w1", 120, auto_tables=("quote",))
        a_task = asyncio.create_task(w1.process(a_row))
        await a_reading.wait()
        await h.sim.win_quote(quote_id, create_order=True, submit_order=False)
        await h.sim.flush()
        (w_row,) = await inbox.claim(h.engine, "w2", 120, auto_tables=("quote",))
        assert w_row.event == "win"
        result = await w2.process(w_row)
        assert result.state == "created", result.message
    finally:
        await w1.close()
        await w2.close()
    rows = {r.event: r for r in await h.inbox_rows(quote_id)}
    assert rows["win"].state == "created" and rows["activate"].state in ("created", "ignored")
    (header,) = await h.documents("Quote")
    async with h.engine.connect() as conn:
        wins = (await conn.execute(select(t.quote_win))).all()
    assert header.status == "Released" and len(wins) == 1, "the win was swallowed as 'ignored'"


async def _created_row(h: Any, settings: Any) -> Any:
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    await h.sim.flush()
    worker = OrderWorker(h.engine, settings, owner="w1")
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        rows = await inbox.claim(h.engine, "w1", 120, auto_tables=("salesorder",))
        await worker.process(rows[0])  # created; write-back pending, not yet done
    finally:
        await worker.close()
    (row,) = await h.inbox_rows(order_id)
    assert row.state == "created" and row.writeback_state == "pending"
    return row


async def test_claim_one_must_not_take_a_created_row(receiver_only: Any, settings: Any) -> None:
    """`orders create` (or a won quote's create_order) checked "not coupled" a moment before a
    worker created the order; its claim_one then takes the *created* row (and any write-back lease)."""
    h = receiver_only
    row = await _created_row(h, settings)
    claimed = await inbox.claim_one(h.engine, row.id, "cli:1", 120)
    (after,) = await h.inbox_rows(row.sales_id)
    assert claimed is None, "claim_one took a row that is already created"
    assert after.state == "created"


async def test_a_write_back_never_takes_a_row_in_hand_and_no_row_is_stranded(receiver_only: Any, settings: Any) -> None:
    """A write-back claim takes only created rows and finishes only under its own lease; a row
    left 'processing' without a lease (by whatever path) is taken up again by the next claim."""
    h = receiver_only
    row = await _created_row(h, settings)
    # A person's command cannot take a created row, whatever the time.
    past = inbox.utcnow() - dt.timedelta(seconds=300)
    assert await inbox.claim_one(h.engine, row.id, "cli:1", 120, now=past) is None
    # A write-back finished by someone whose lease is gone changes nothing.
    (wb,) = await inbox.claim_writebacks(h.engine, "w2", 120)
    await inbox.finish_writeback(h.engine, wb.id, "someone-else", ok=False, error="late")
    (after,) = await h.inbox_rows(row.sales_id)
    assert after.writeback_state == "pending" and after.writeback_attempts == 0
    # The safety net: 'processing' with no lease is due again.
    async with h.engine.begin() as conn:
        await conn.execute(
            update(t.order_inbox)
            .where(t.order_inbox.c.id == row.id)
            .values(state="processing", lease_owner=None, lease_until=None)
        )
    again = await inbox.claim(h.engine, "w3", 120, auto_tables=("salesorder",))
    assert [r.id for r in again] == [row.id]


async def test_concurrent_setup_changes_lose_an_update(receiver_only: Any, settings: Any, monkeypatch: Any) -> None:
    import asyncio as _a

    from orders.change_setup import SetupService
    from orders.setup import SetupChange

    h = receiver_only
    real_read_facts = SetupService._read_facts

    async def slow_read_facts(self: Any, conn: Any, old: Any, change: Any) -> Any:
        await _a.sleep(0.3)  # both transactions have read the setup before either writes
        return await real_read_facts(self, conn, old, change)

    monkeypatch.setattr(SetupService, "_read_facts", slow_read_facts)
    a, b = SetupService(h.engine, settings), SetupService(h.engine, settings)
    ra, _rb = await _a.gather(
        a.change(SetupChange.parse({"rotate_webhook_secret": True}), "admin-a"),
        b.change(SetupChange.parse({"sdk_version": "9.1"}), "admin-b"),
    )
    ok = await a.webhook_secret_matches(ra.webhook_secret)
    setup = await a.get()
    assert ok, "the secret printed to admin A does not work: B's change wrote the old hash back"
    assert setup.sdk_version == "9.1", "admin A's change undid admin B's"


async def test_revision_rebuilt_and_archived_twice_by_two_rows(receiver_only: Any, settings: Any) -> None:
    """Two inbox rows for the same activated revision (e.g. 'activate' with and without a revision
    number, or 'activate' + a size-exceeded 'check') in one batch: BC archives the old quote once."""
    h = receiver_only
    q0 = await h.quote()
    await h.sim.activate_quote(q0)
    await h.sim.flush()
    worker = OrderWorker(h.engine, settings, owner="w1")
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        await worker.run_once()
        q1 = await h.sim.revise_quote(q0)
        await h.sim.activate_quote(q1)
        await h.sim.flush()
        await inbox.enqueue(h.engine, settings.company, "quote", q1, "check", source="webhook")
        for _ in range(3):
            await worker.run_once()
    finally:
        await worker.close()
    async with h.engine.connect() as conn:
        versions = (
            await conn.execute(select(t.sales_header_archive.c.version_no, t.sales_header_archive.c.reason))
        ).all()
    rows = [(r.event, r.state, r.last_error) for r in await h.inbox_rows(q1)]
    assert len(versions) == 1, (versions, rows)


async def test_won_revision_creates_a_second_bc_quote(receiver_only: Any, settings: Any) -> None:
    """Revision 1 is activated and won before the worker runs: the activation row reads the quote
    as Won, so both rows take the win path, which ignores revisions: a second BC quote appears and
    the first (coupled to revision 0) is neither rebuilt nor archived."""
    h = receiver_only
    q0 = await h.quote()
    await h.sim.activate_quote(q0)
    await h.sim.flush()
    worker = OrderWorker(h.engine, settings, owner="w1")
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        await worker.run_once()
        q1 = await h.sim.revise_quote(q0)
        await h.sim.activate_quote(q1)
        await h.sim.win_quote(q1, create_order=True, submit_order=False)
        await h.sim.flush()
        for _ in range(3):
            await worker.run_once()
    finally:
        await worker.close()
    docs = await h.documents("Quote")
    assert len(docs) == 1, "a second BC quote for the same Sales quote number"


async def test_quotes_are_reconciled_and_exhausted_failures_rearmed(receiver_only: Any, settings: Any) -> None:
    """A lost activation and a lost win are found by reconciliation, as BC's job would find them."""
    h = receiver_only
    quote_id = await h.quote()
    h.sim.drop_next_delivery()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    assert await h.inbox_rows(quote_id) == []
    worker = OrderWorker(h.engine, settings, owner="w1")
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        assert await worker.reconcile() == 1
        await worker.run_once()
        assert [d.no for d in await h.documents("Quote")] == ["SQ000001"]
        h.sim.drop_next_delivery(1)
        await h.sim.win_quote(quote_id, create_order=True, submit_order=False)
        await h.sim.flush()
        assert await worker.reconcile() >= 1
        await worker.run_once()
        (quote,) = await h.documents("Quote")
        assert quote.status == "Released"
        assert await worker.reconcile() == 0  # nothing left to find
        # A passing failure that used up its attempts gets another round.
        order_id = await h.order()
        await h.sim.submit_order(order_id)
        await h.sim.flush()
        (row,) = await h.inbox_rows(order_id)
        async with h.engine.begin() as conn:
            await conn.execute(
                update(t.order_inbox)
                .where(t.order_inbox.c.id == row.id)
                .values(state="failed", failure="transient", next_attempt_at=None, attempts=5, last_error="timeout")
            )
        await worker.reconcile()
        await worker.run_once()
        (row,) = await h.inbox_rows(order_id)
        assert row.state == "created"
    finally:
        await worker.close()


async def test_retry_all_failed_touches_failed_rows_of_its_table_only(receiver_only: Any, settings: Any) -> None:
    h = receiver_only
    ids = {}
    for name, table, state in (
        ("a", "salesorder", "failed"),
        ("b", "salesorder", "waiting"),
        ("c", "quote", "failed"),
        ("d", "salesorder", "ignored"),
    ):
        row, _ = await inbox.enqueue(
            h.engine,
            settings.company,
            table,
            f"00000000-0000-4000-8000-00000000000{len(ids)}",
            "submit" if table == "salesorder" else "check",
        )
        ids[name] = row.id
        async with h.engine.begin() as conn:
            await conn.execute(update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(state=state))
    assert await inbox.retry(h.engine, settings.company, inbox.SALESORDER) == 1
    async with h.engine.connect() as conn:
        states = dict((await conn.execute(select(t.order_inbox.c.id, t.order_inbox.c.state))).all())
    assert states[ids["a"]] == "received"
    assert (states[ids["b"]], states[ids["c"]], states[ids["d"]]) == ("waiting", "failed", "ignored")


async def test_a_delivery_during_processing_is_looked_at_again(receiver_only: Any, settings: Any) -> None:
    """Processing read the order while still Active (ignored); the submission arrived meanwhile:
    the row is queued again rather than left ignored."""
    h = receiver_only
    order_id = await h.order()
    await inbox.enqueue(h.engine, settings.company, "salesorder", order_id, "submit", source="webhook")
    (claimed,) = await inbox.claim(h.engine, "w1", 120, auto_tables=("salesorder",))
    await h.sim.submit_order(order_id)  # the real submission: a duplicate of the row in hand
    await h.sim.flush()
    async with h.engine.begin() as conn:
        assert await inbox.finish(conn, claimed.id, "w1", "ignored", error="not submitted (read too early)")
    (after,) = await h.inbox_rows(order_id)
    assert after.state == "received"


async def test_old_log_and_finished_rows_are_pruned(receiver_only: Any, settings: Any) -> None:
    h = receiver_only
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    await h.sim.flush()
    worker = OrderWorker(h.engine, settings, owner="w1")
    worker.client_options = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}
    try:
        for _ in range(3):
            await worker.run_once()
    finally:
        await worker.close()
    (row,) = await h.inbox_rows(order_id)
    assert row.state == "created" and row.writeback_state == "done"
    assert await inbox.prune(h.engine, 30) == 0
    removed = await inbox.prune(h.engine, 30, now=inbox.utcnow() + dt.timedelta(days=31))
    assert removed >= 2
    assert await h.inbox_rows(order_id) == []
    assert len(await h.documents("Order")) == 1  # the BC order and its coupling stay
