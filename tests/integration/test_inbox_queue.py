"""The order inbox (orders.inbox) on a real database, SQLite and PostgreSQL: deliveries collapsing
onto one row, claiming due rows with a lease (SKIP LOCKED on PostgreSQL), lease expiry and
take-over, finishing, write-backs with backoff and their attempt cap, a person's retry, counts and
pruning. No worker runs here: each test puts rows in the state it is about."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.inbox import Delivery, InboxRow
from schemas import tables as t
from schemas.db import write_transaction
from tests.support.builders import inbox_row

COMPANY = "CRONUS"
NOW = dt.datetime(2024, 5, 30, 12, 0, tzinfo=dt.UTC)


def _delivery(sales_id: str, event: str | None = "submit", **fields: Any) -> Delivery:
    values: dict[str, Any] = {
        "table_name": "salesorder",
        "sales_id": sales_id,
        "message_name": "Update",
        "event": event,
        "revision": None,
        "reason": "submitted" if event else "not submitted",
        **fields,
    }
    return Delivery(**values)


async def _get(engine: AsyncEngine, row_id: int) -> InboxRow:
    async with engine.connect() as conn:
        return InboxRow.from_row((await conn.execute(select(t.order_inbox).where(t.order_inbox.c.id == row_id))).one())


async def _raw(engine: AsyncEngine, row_id: int) -> Any:
    """The whole stored row, lease and write-back columns included."""
    async with engine.connect() as conn:
        return (await conn.execute(select(t.order_inbox).where(t.order_inbox.c.id == row_id))).one()


async def _inbox_changes(engine: AsyncEngine) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.change_log.c.company, t.change_log.c.key)
                .where(t.change_log.c.topic == "inbox")
                .order_by(t.change_log.c.seq)
            )
        ).all()
    return [(r.company, r.key) for r in rows]


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


# --- deliveries and events into the inbox --------------------------------------------------------


async def test_record_delivery_collapses_repeats_onto_one_row_and_logs_each(engine: AsyncEngine) -> None:
    sales_id = str(uuid.uuid4()).upper()  # Sales' spelling varies; the key is lower-case
    first = await inbox.record_delivery(engine, COMPANY, _delivery(sales_id, correlation_id="c1"))
    again = await inbox.record_delivery(engine, COMPANY, _delivery(sales_id.lower(), correlation_id="c2"))
    assert (first.outcome, first.state) == ("queued", "received")
    assert (again.outcome, again.inbox_id, again.state) == ("duplicate", first.inbox_id, "received")
    (row,) = await inbox.find(engine, COMPANY, sales_id)
    assert (row.sales_id, row.deliveries, row.revision, row.source) == (sales_id.lower(), 2, -1, "webhook")
    log = await inbox.deliveries(engine, row.id)
    assert [(d["outcome"], d["correlation_id"]) for d in log] == [("queued", "c1"), ("duplicate", "c2")]
    # The change feed hears of the row in the same transaction (workers elsewhere wake up).
    assert await _inbox_changes(engine) == [(COMPANY, str(row.id)), (COMPANY, str(row.id))]


async def test_a_delivery_with_nothing_to_do_is_logged_only(engine: AsyncEngine) -> None:
    outcome = await inbox.record_delivery(engine, COMPANY, _delivery(str(uuid.uuid4()), event=None))
    assert (outcome.outcome, outcome.inbox_id, outcome.state) == ("ignored", None, None)
    assert await _count(engine, t.order_inbox) == 0
    async with engine.connect() as conn:
        (logged,) = (await conn.execute(select(t.webhook_delivery))).all()
    assert (logged.outcome, logged.inbox_id, logged.reason) == ("ignored", None, "not submitted")
    assert await _inbox_changes(engine) == []


async def test_a_new_delivery_gives_ignored_and_failed_rows_another_chance(engine: AsyncEngine) -> None:
    ignored = await inbox_row(engine, state="ignored", last_error="not submitted yet")
    failed = await inbox_row(engine, state="failed", failure="transient", attempts=5, next_attempt_at=None)
    held = await inbox_row(engine, state="processing", lease_owner="w1", lease_until=NOW)
    outcomes = [
        await inbox.record_delivery(engine, COMPANY, _delivery(row.sales_id)) for row in (ignored, failed, held)
    ]
    assert [o.state for o in outcomes] == ["received", "failed", "processing"]
    again = await _get(engine, ignored.id)
    assert (again.state, again.last_error) == ("received", "")
    retried = await _get(engine, failed.id)
    assert retried.attempts == 0 and retried.next_attempt_at is not None  # due at once
    assert (await _raw(engine, held.id)).redelivered is True  # looked at again when the worker is done


async def test_enqueue_collapses_duplicates_and_keys_by_revision(engine: AsyncEngine) -> None:
    quote_id = str(uuid.uuid4())
    row, created = await inbox.enqueue(engine, COMPANY, "quote", quote_id, "activate", 0, source="reconcile")
    same, again = await inbox.enqueue(engine, COMPANY, "quote", quote_id.upper(), "activate", 0)
    revised, third = await inbox.enqueue(engine, COMPANY, "quote", quote_id, "activate", 1)
    unrevised, fourth = await inbox.enqueue(engine, COMPANY, "quote", quote_id, "check")
    assert (created, again, third, fourth) == (True, False, True, True)
    assert same.id == row.id and same.deliveries == 2 and same.source == "reconcile"
    assert len({row.id, revised.id, unrevised.id}) == 3
    assert (revised.revision, unrevised.revision) == (1, inbox.NO_REVISION)
    # Only a new row is announced on the change feed.
    assert [key for _c, key in await _inbox_changes(engine)] == [str(row.id), str(revised.id), str(unrevised.id)]


# --- claiming ------------------------------------------------------------------------------------


async def test_claim_takes_due_rows_only(engine: AsyncEngine) -> None:
    due = [
        await inbox_row(engine),  # received
        await inbox_row(engine, state="failed", next_attempt_at=NOW - dt.timedelta(seconds=1)),
        await inbox_row(engine, state="processing", lease_owner="dead", lease_until=NOW - dt.timedelta(seconds=1)),
    ]
    not_due = [
        await inbox_row(engine, state="failed", next_attempt_at=NOW + dt.timedelta(seconds=30)),
        await inbox_row(engine, state="failed", failure="rule", next_attempt_at=None),  # waits for a person
        await inbox_row(engine, state="processing", lease_owner="alive", lease_until=NOW + dt.timedelta(seconds=30)),
        await inbox_row(engine, state="created"),
        await inbox_row(engine, state="ignored"),
        await inbox_row(engine, state="waiting"),  # automatic processing of orders is off
        await inbox_row(engine, table="quote", event="check", state="waiting"),
        await inbox_row(engine, company="OTHER"),
    ]
    claimed = await inbox.claim(engine, "w1", 120, now=NOW, company=COMPANY)
    assert [r.id for r in claimed] == [r.id for r in due]  # in id order
    for row in claimed:
        assert (row.state, row.attempts) == ("processing", 1)
        stored = await _raw(engine, row.id)
        assert (stored.lease_owner, stored.lease_until) == ("w1", NOW + dt.timedelta(seconds=120))
    for row in not_due:
        assert await _get(engine, row.id) == row  # untouched
    # With automatic processing of quotes on, the waiting quote is due too.
    (quote,) = await inbox.claim(engine, "w1", 120, auto_tables=("quote",), now=NOW, company=COMPANY)
    assert quote.id == not_due[6].id


async def test_claim_respects_its_limit(engine: AsyncEngine) -> None:
    rows = [await inbox_row(engine) for _ in range(5)]
    first = await inbox.claim(engine, "w1", 120, limit=2, now=NOW)
    second = await inbox.claim(engine, "w2", 120, limit=10, now=NOW)
    assert [r.id for r in first] == [r.id for r in rows[:2]]
    assert [r.id for r in second] == [r.id for r in rows[2:]]


async def test_concurrent_claimers_never_get_the_same_row(engine: AsyncEngine) -> None:
    rows = [await inbox_row(engine) for _ in range(30)]

    async def worker(owner: str) -> list[int]:
        taken: list[int] = []
        while batch := await inbox.claim(engine, owner, 120, limit=3):
            taken += [r.id for r in batch]
        return taken

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
    everything = [row_id for taken in results for row_id in taken]
    assert sorted(everything) == sorted(r.id for r in rows)  # each row once, none twice
    assert [(await _get(engine, r.id)).attempts for r in rows] == [1] * len(rows)


async def test_claim_skips_a_row_another_transaction_has_locked(engine: AsyncEngine, db_kind: str) -> None:
    if db_kind == "sqlite":
        pytest.skip("SQLite has one writer at a time: there is no row lock to skip")
    locked, free = await inbox_row(engine), await inbox_row(engine)
    async with engine.connect() as conn, conn.begin():
        # Another worker's claim in progress: it holds the row lock until it commits.
        await conn.execute(select(t.order_inbox.c.id).where(t.order_inbox.c.id == locked.id).with_for_update())
        claimed = await asyncio.wait_for(inbox.claim(engine, "w2", 120), timeout=5)  # skips, never waits
        assert [r.id for r in claimed] == [free.id]
    assert [r.id for r in await inbox.claim(engine, "w3", 120)] == [locked.id]


# --- leases ------------------------------------------------------------------------------------------


async def test_an_expired_lease_is_taken_over_and_the_old_owner_changes_nothing(engine: AsyncEngine) -> None:
    row = await inbox_row(engine)
    (mine,) = await inbox.claim(engine, "w1", 60, now=NOW)
    assert await inbox.claim(engine, "w2", 60, now=NOW + dt.timedelta(seconds=59)) == []
    (theirs,) = await inbox.claim(engine, "w2", 60, now=NOW + dt.timedelta(seconds=61))
    assert theirs.id == mine.id == row.id and theirs.attempts == 2
    assert (await _raw(engine, row.id)).lease_owner == "w2"
    async with write_transaction(engine) as conn:
        assert await inbox.finish(conn, row.id, "w1", "created", document_no="SO000001") is False
    assert (await _get(engine, row.id)).state == "processing"  # w1's late result is dropped
    async with write_transaction(engine) as conn:
        assert await inbox.finish(conn, row.id, "w2", "created", document_type="Order", document_no="SO000001")
    done = await _get(engine, row.id)
    assert (done.state, done.document_no) == ("created", "SO000001")


async def test_renew_lease_keeps_the_row_for_its_owner_only(engine: AsyncEngine) -> None:
    row = await inbox_row(engine)
    await inbox.claim(engine, "w1", 1, now=inbox.utcnow())
    before = (await _raw(engine, row.id)).lease_until
    assert await inbox.renew_lease(engine, row.id, "w1", 300) is True
    after = (await _raw(engine, row.id)).lease_until
    assert after > before + dt.timedelta(seconds=200)
    assert await inbox.renew_lease(engine, row.id, "w2", 300) is False
    assert (await _raw(engine, row.id)).lease_until == after
    # Renewed: another worker cannot take it although the first lease (1 s) is long over.
    assert await inbox.claim(engine, "w2", 60, now=inbox.utcnow() + dt.timedelta(seconds=10)) == []


# --- finishing -------------------------------------------------------------------------------------


async def test_finish_records_the_outcome_and_frees_the_row(engine: AsyncEngine) -> None:
    rows = [await inbox_row(engine) for _ in range(3)]
    await inbox.claim(engine, "w1", 120)
    retry_at = inbox.utcnow() + dt.timedelta(minutes=1)
    async with write_transaction(engine) as conn:
        assert await inbox.finish(conn, rows[0].id, "w1", "created", document_type="Order", document_no="SO000001")
        assert await inbox.finish(
            conn, rows[1].id, "w1", "failed", error="away", failure="transient", next_attempt_at=retry_at
        )
        assert await inbox.finish(conn, rows[2].id, "w1", "waiting", error="off", failure="transient")
    created, failed, waiting = [await _raw(engine, r.id) for r in rows]
    assert (created.state, created.document_no, created.failure) == ("created", "SO000001", "")
    assert created.processed_at is not None and created.lease_owner is None and created.lease_until is None
    assert (failed.state, failed.last_error, failed.failure, failed.next_attempt_at) == (
        "failed",
        "away",
        "transient",
        retry_at,
    )
    assert failed.processed_at is None
    # The failure kind belongs to failed rows only.
    assert (waiting.state, waiting.last_error, waiting.failure) == ("waiting", "off", "")


async def test_a_redelivered_row_found_ignored_is_queued_again(engine: AsyncEngine) -> None:
    row = await inbox_row(engine)
    (claimed,) = await inbox.claim(engine, "w1", 120)
    await inbox.record_delivery(engine, COMPANY, _delivery(row.sales_id))  # arrives while in hand
    async with write_transaction(engine) as conn:
        assert await inbox.finish(conn, claimed.id, "w1", "ignored", error="not submitted (read too early)")
    stored = await _raw(engine, row.id)
    assert (stored.state, stored.last_error, stored.redelivered, stored.processed_at) == ("received", "", False, None)


async def test_a_redelivered_row_ignored_as_already_coupled_stays_ignored(engine: AsyncEngine) -> None:
    row = await inbox_row(engine)
    (claimed,) = await inbox.claim(engine, "w1", 120)
    await inbox.record_delivery(engine, COMPANY, _delivery(row.sales_id))
    async with write_transaction(engine) as conn:
        message = "This Dataverse order is already coupled to sales order SO000001."
        await inbox.finish(conn, claimed.id, "w1", "ignored", error=message, document_no="SO000001")
    stored = await _raw(engine, row.id)
    assert (stored.state, stored.document_no, stored.redelivered) == ("ignored", "SO000001", False)


async def test_claim_one_takes_a_row_for_a_person_unless_a_worker_holds_it(engine: AsyncEngine) -> None:
    rows = {
        state: await inbox_row(engine, state=state) for state in ("received", "waiting", "failed", "ignored", "created")
    }
    for state in ("received", "waiting", "failed", "ignored"):
        taken = await inbox.claim_one(engine, rows[state].id, "cli:1", 120)
        assert taken is not None and (taken.state, taken.attempts) == ("processing", 1)
    assert await inbox.claim_one(engine, rows["created"].id, "cli:1", 120) is None
    held = await inbox_row(engine)
    await inbox.claim(engine, "w1", 60, now=NOW)
    assert await inbox.claim_one(engine, held.id, "cli:2", 120, now=NOW + dt.timedelta(seconds=30)) is None
    later = await inbox.claim_one(engine, held.id, "cli:2", 120, now=NOW + dt.timedelta(seconds=61))
    assert later is not None and (await _raw(engine, held.id)).lease_owner == "cli:2"


# --- write-backs -------------------------------------------------------------------------------------


async def _created(engine: AsyncEngine, **columns: Any) -> InboxRow:
    values = {"state": "created", "document_type": "Order", "document_no": "SO000001", "writeback_state": "pending"}
    return await inbox_row(engine, **{**values, **columns})


async def test_claim_writebacks_takes_created_rows_whose_write_back_is_due(engine: AsyncEngine) -> None:
    due = await _created(engine)
    due_now = await _created(engine, writeback_next_at=NOW)
    later = await _created(engine, writeback_next_at=NOW + dt.timedelta(minutes=5))
    done = await _created(engine, writeback_state="done")
    held = await _created(engine, lease_owner="w9", lease_until=NOW + dt.timedelta(minutes=1))
    not_created = await inbox_row(engine, writeback_state="pending")
    assert [r.id for r in await inbox.claim_writebacks(engine, "w1", 120, now=NOW, row_id=due_now.id)] == [due_now.id]
    assert [r.id for r in await inbox.claim_writebacks(engine, "w1", 120, now=NOW)] == [due.id]
    for row in (later, done, held, not_created):
        assert await _get(engine, row.id) == row
    # A write-back claim leases the row but leaves its state alone: the BC order exists.
    stored = await _raw(engine, due.id)
    assert (stored.state, stored.lease_owner, stored.attempts) == ("created", "w1", 0)


async def test_finish_writeback_backs_off_and_gives_up_at_the_cap(engine: AsyncEngine) -> None:
    row = await _created(engine)
    base = 30.0
    for attempt in (1, 2):
        (claimed,) = await inbox.claim_writebacks(engine, "w1", 120, now=inbox.utcnow() + dt.timedelta(hours=2))
        before = inbox.utcnow()
        await inbox.finish_writeback(engine, claimed.id, "w1", ok=False, error="503", max_attempts=3, base_delay=base)
        stored = await _raw(engine, row.id)
        assert (stored.writeback_state, stored.writeback_attempts, stored.writeback_error) == (
            "pending",
            attempt,
            "503",
        )
        assert stored.lease_owner is None
        # Exponential with equal jitter: between half and all of base * 2^(attempt-1).
        nominal = base * 2 ** (attempt - 1)
        wait = (stored.writeback_next_at - before).total_seconds()
        assert nominal / 2 - 1 <= wait <= nominal + 1
    (claimed,) = await inbox.claim_writebacks(engine, "w1", 120, now=inbox.utcnow() + dt.timedelta(hours=2))
    await inbox.finish_writeback(engine, claimed.id, "w1", ok=False, error="503", max_attempts=3, base_delay=base)
    stored = await _raw(engine, row.id)
    assert (stored.writeback_state, stored.writeback_attempts, stored.writeback_next_at) == ("failed", 3, None)
    assert await inbox.claim_writebacks(engine, "w1", 120, now=inbox.utcnow() + dt.timedelta(days=1)) == []


async def test_finish_writeback_success_and_a_lost_lease(engine: AsyncEngine) -> None:
    row = await _created(engine, writeback_attempts=2, writeback_error="503")
    (claimed,) = await inbox.claim_writebacks(engine, "w1", 120)
    await inbox.finish_writeback(engine, claimed.id, "someone-else", ok=True)
    assert (await _raw(engine, row.id)).writeback_state == "pending"  # not theirs to finish
    await inbox.finish_writeback(engine, claimed.id, "w1", ok=True)
    stored = await _raw(engine, row.id)
    assert (stored.writeback_state, stored.writeback_error, stored.writeback_next_at, stored.lease_owner) == (
        "done",
        "",
        None,
        None,
    )


# --- a person's retry, counts, pruning ---------------------------------------------------------


async def test_retry_given_rows_and_all_failed(engine: AsyncEngine) -> None:
    failed = await inbox_row(engine, state="failed", failure="rule", attempts=3, last_error="not coupled")
    waiting = await inbox_row(engine, state="waiting")
    ignored = await inbox_row(engine, state="ignored")
    created = await inbox_row(engine, state="created")
    held = await inbox_row(engine, state="processing", lease_owner="w1", lease_until=NOW)
    quote = await inbox_row(engine, table="quote", event="check", state="failed")
    ids = [failed.id, waiting.id, ignored.id, created.id, held.id]
    assert await inbox.retry(engine, COMPANY, "salesorder", ids) == 3
    for row in (failed, waiting, ignored):
        again = await _get(engine, row.id)
        assert (again.state, again.attempts, again.last_error, again.failure) == ("received", 0, "", "")
    assert (await _get(engine, created.id)).state == "created"
    assert (await _get(engine, held.id)).state == "processing"
    # --all-failed: the failed rows of that table only.
    await inbox_row(engine, state="failed")
    assert await inbox.retry(engine, COMPANY, "salesorder") == 1
    assert (await _get(engine, quote.id)).state == "failed"
    assert (COMPANY, None) in await _inbox_changes(engine)


async def test_retry_rearms_a_failed_write_back(engine: AsyncEngine) -> None:
    row = await _created(engine, writeback_state="failed", writeback_attempts=5)
    assert await inbox.retry(engine, COMPANY, "salesorder", [row.id]) == 1
    stored = await _raw(engine, row.id)
    assert (stored.state, stored.writeback_state, stored.writeback_attempts) == ("created", "pending", 0)
    assert [r.id for r in await inbox.claim_writebacks(engine, "w1", 120)] == [row.id]


async def test_counts_by_state_and_submitted_orders_waiting(engine: AsyncEngine) -> None:
    for state in ("received", "received", "processing", "waiting", "failed", "created", "ignored"):
        await inbox_row(engine, state=state)
    await inbox_row(engine, table="quote", event="activate", state="received")
    await inbox_row(engine, event="check", state="received")  # an order event other than a submission
    assert await inbox.counts_by_state(engine) == {
        "received": 4,
        "processing": 1,
        "waiting": 1,
        "failed": 1,
        "created": 1,
        "ignored": 1,
    }
    async with engine.connect() as conn:
        # Submitted orders not yet in BC: received (2), processing, waiting and failed.
        assert await inbox.submitted_orders_waiting(conn) == 5


async def test_prune_drops_old_finished_rows_and_deliveries_only(engine: AsyncEngine) -> None:
    old = inbox.utcnow() - dt.timedelta(days=40)
    recent = inbox.utcnow() - dt.timedelta(days=5)
    gone = [
        await inbox_row(engine, state="ignored", processed_at=old),
        await _created(engine, writeback_state="done", processed_at=old),
        await _created(engine, writeback_state="", processed_at=old),  # a quote's row: nothing to write back
    ]
    kept = [
        await inbox_row(engine, state="failed", processed_at=old),
        await inbox_row(engine, state="waiting", processed_at=old),
        await _created(engine, writeback_state="pending", processed_at=old),
        await _created(engine, writeback_state="failed", processed_at=old),
        await inbox_row(engine, state="ignored", processed_at=recent),
    ]
    await inbox.record_delivery(engine, COMPANY, _delivery(str(uuid.uuid4()), event=None))
    async with engine.begin() as conn:
        await conn.execute(t.webhook_delivery.update().values(received_at=old))
    await inbox.record_delivery(engine, COMPANY, _delivery(str(uuid.uuid4()), event=None))  # a recent one
    assert await inbox.prune(engine, 0) == 0  # 0 keeps everything
    assert await inbox.prune(engine, 30) == len(gone) + 1
    async with engine.connect() as conn:
        left = set((await conn.execute(select(t.order_inbox.c.id))).scalars())
    assert left == {r.id for r in kept}
    assert await _count(engine, t.webhook_delivery) == 1
