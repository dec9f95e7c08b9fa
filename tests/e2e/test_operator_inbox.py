"""A person's view of the inbox and their ways out of it: the message that blocks switching the
integration off names the waiting orders; `orders ignore` and `orders discard` (and the quotes'
own) set rows aside, recorded with who, when and why; lists have headers, say when they are empty
and show a row the worker tries again as "retrying (next at ..., attempt n of m)"."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

from sqlalchemy import update

from orders import inbox
from orders.change_setup import SetupService
from orders.setup import SetupChange, SetupError
from orders.setup_rules import MSG_SUBMITTED_ORDERS
from schemas import tables as t
from tests.support.helpers import cli
from tests.support.order_harness import Harness

ME = f"cli:{getpass.getuser()}"


async def _waiting_order(h: Harness) -> tuple[str, inbox.InboxRow]:
    await h.setup(auto_create_sales_orders=False)
    order_id = await h.order()
    await h.sim.submit_order(order_id)
    return order_id, await h.wait_state(order_id, "waiting")


async def test_switching_off_names_the_waiting_orders_and_ignore_unblocks_it(harness: Harness, settings: Any) -> None:
    order_id, row = await _waiting_order(harness)
    number = harness.sim.row("salesorders", order_id)["ordernumber"]
    assert row.sales_number == number  # the delivery told it
    service = SetupService(harness.engine, settings)
    try:
        await service.change(SetupChange.parse({"sales_order_integration_enabled": False}), "test")
        raise AssertionError("switching off must be refused")
    except SetupError as exc:
        message = str(exc)
    assert message.startswith(MSG_SUBMITTED_ORDERS + " Waiting: ")
    assert f"{number} (inbox {row.id})" in message
    assert f"bc-gateway orders ignore {row.id} --reason" in message

    code, _o, err = await cli(settings, "orders", "ignore", str(row.id))
    assert code == 2 and "--reason" in err  # the reason is required
    code, _o, err = await cli(settings, "orders", "ignore", str(row.id), "--reason", "  ")
    assert code == 1 and "Say why" in err
    code, out, err = await cli(settings, "orders", "ignore", str(row.id), "--reason", "test order, not a sale")
    assert code == 0, err
    assert f"Ignored inbox row {row.id} ({number}, submit, was waiting)" in out
    assert f"bc-gateway orders retry {row.id}" in out

    (ignored,) = await harness.inbox_rows(order_id)
    assert ignored.state == "ignored" and ignored.ignored_by == ME
    assert ignored.ignored_reason == "test order, not a sale" and ignored.ignored_at is not None
    code, out, _e = await cli(settings, "orders", "show", order_id)
    assert f"ignored by {ME} at " in out and "test order, not a sale" in out
    assert f"Inbox row {row.id} (submit, was waiting) ignored by {ME}" in out
    code, out, _e = await cli(settings, "orders", "list")
    assert f"ignored by {ME}" in out

    result = await service.change(SetupChange.parse({"sales_order_integration_enabled": False}), "test")
    assert not result.setup.sales_order_integration_enabled


async def test_an_ignored_row_stays_ignored_until_a_person_retries_it(harness: Harness, settings: Any) -> None:
    order_id, row = await _waiting_order(harness)
    code, _o, err = await cli(settings, "orders", "ignore", order_id, "--reason", "customer called: hold it")
    assert code == 0, err
    await harness.setup(auto_create_sales_orders=True)  # automatic processing on: still not taken
    # Sales delivers it again; reconciliation finds it submitted and without lastbackofficesubmit.
    delivery = harness.sim.deliveries[-1]
    await harness.sim.deliver_raw(delivery.body, delivery.headers)
    code, out, err = await cli(settings, "orders", "reconcile")
    assert code == 0, err
    (still,) = await harness.inbox_rows(order_id)
    assert still.state == "ignored" and still.ignored_by
    assert await harness.documents("Order") == []
    # The person changes their mind.
    code, out, err = await cli(settings, "orders", "retry", str(row.id))
    assert code == 0 and "1 inbox row(s) will be tried again." in out
    done = await harness.wait_state(order_id, "created")
    assert done.ignored_by == "" and done.ignored_reason == ""
    assert len(await harness.documents("Order")) == 1


async def test_discard_drops_the_row_and_keeps_the_trace(harness: Harness, settings: Any) -> None:
    order_id, row = await _waiting_order(harness)
    code, out, err = await cli(settings, "orders", "discard", str(row.id), "--reason", "duplicate of ORD-9")
    assert code == 0, err
    assert f"Discarded inbox row {row.id}" in out and "comes back as a new row" in out
    assert await harness.inbox_rows(order_id) == []
    code, out, _e = await cli(settings, "orders", "show", order_id)
    assert code == 0
    assert f"Inbox row {row.id} (submit, was waiting) discarded by {ME}" in out and "duplicate of ORD-9" in out
    code, out, _e = await cli(settings, "orders", "list")
    assert "No orders in the inbox yet." in out
    # Switching off is no longer refused.
    await SetupService(harness.engine, settings).change(
        SetupChange.parse({"sales_order_integration_enabled": False}), "test"
    )
    # The deliveries are kept in the delivery log.
    assert len(await inbox.deliveries(harness.engine, row.id)) >= 1


async def test_discarded_rows_come_back_when_sales_still_waits(harness: Harness, settings: Any) -> None:
    order_id, row = await _waiting_order(harness)
    await cli(settings, "orders", "discard", order_id, "--reason", "try again from scratch")
    _code, out, _e = await cli(settings, "orders", "reconcile")
    assert "1 inbox row" in out
    (again,) = await harness.inbox_rows(order_id)
    assert again.id != row.id and again.source == "reconcile"
    assert again.sales_number == row.sales_number  # reconciliation knows the number too


async def test_what_cannot_be_set_aside(harness: Harness, settings: Any) -> None:
    order_id = await harness.order()
    await harness.sim.submit_order(order_id)
    created = await harness.wait_state(order_id, "created")
    code, _o, err = await cli(settings, "orders", "ignore", str(created.id), "--reason", "x")
    assert code == 1 and f"Inbox row {created.id} made BC order {created.document_no}" in err
    code, _o, err = await cli(settings, "orders", "discard", "99999", "--reason", "x")
    assert code == 1 and "There is no inbox row 99999 for Sales orders" in err
    code, _o, err = await cli(settings, "orders", "ignore", "not-an-id", "--reason", "x")
    assert code == 2 and "neither an inbox row id" in err
    # A row a worker holds right now.
    await harness.setup(auto_create_sales_orders=False)
    waiting = await harness.order()
    await harness.sim.submit_order(waiting)
    row = await harness.wait_state(waiting, "waiting")
    held = await inbox.claim_one(harness.engine, row.id, "someone-else", 60)
    assert held is not None
    code, _o, err = await cli(settings, "orders", "ignore", str(row.id), "--reason", "x")
    assert code == 1 and f"A worker is processing inbox row {row.id} right now" in err


async def test_quotes_can_be_ignored_and_discarded(harness: Harness, settings: Any) -> None:
    await harness.setup(auto_process_sales_quotes=False)
    quote_id = await harness.sim.create_quote(
        ("account", harness.accounts["10000"]), [{"product": harness.products["1896-S"], "quantity": 1}]
    )
    await harness.sim.activate_quote(quote_id)
    row = await harness.wait_state(quote_id, "waiting")
    code, out, err = await cli(settings, "quotes", "ignore", quote_id, "--reason", "quote for a test")
    assert code == 0, err
    assert "Ignored inbox row" in out
    (ignored,) = await harness.inbox_rows(quote_id)
    assert ignored.state == "ignored" and ignored.ignored_reason == "quote for a test"
    code, out, _e = await cli(settings, "orders", "reconcile")
    assert [r.state for r in await harness.inbox_rows(quote_id)] == ["ignored"]  # not queued again
    code, out, err = await cli(settings, "quotes", "discard", str(row.id), "--reason", "gone")
    assert code == 0, err
    code, out, _e = await cli(settings, "quotes", "show", quote_id)
    assert "ignored by" in out and "discarded by" in out


async def test_orders_list_has_a_header_says_retrying_and_when_empty(harness: Harness, settings: Any) -> None:
    code, out, _e = await cli(settings, "orders", "list")
    assert code == 0
    assert out.strip() == (
        "No orders in the inbox yet. Orders arrive when Sales submits them; see 'bc-gateway setup' to connect "
        "Sales, and 'bc-gateway orders reconcile' to ask Sales now."
    )
    code, out, _e = await cli(settings, "orders", "list", "--state", "failed")
    assert out.strip() == "No orders in the inbox are failed. 'bc-gateway orders list' shows them all."
    code, out, _e = await cli(settings, "quotes", "list")
    assert out.startswith("No quotes in the inbox yet.")

    order_id, row = await _waiting_order(harness)
    when = dt.datetime(2030, 1, 2, 14, 3, 7, tzinfo=dt.UTC)
    async with harness.engine.begin() as conn:
        await conn.execute(
            update(t.order_inbox)
            .where(t.order_inbox.c.id == row.id)
            .values(state="failed", failure="transient", attempts=1, next_attempt_at=when, last_error="Sales away")
        )
    code, out, _e = await cli(settings, "orders", "list")
    header, line = out.splitlines()
    assert header.startswith("ID  SALES NO.") and header.endswith("BC DOCUMENT  WRITE-BACK  MESSAGE")
    assert "retrying (next at 14:03:07, attempt 2 of 5)" in line and "failed" not in line
    assert row.sales_number in line and "Sales away" in line
    code, out, _e = await cli(settings, "orders", "show", order_id)
    assert "state retrying (next at 14:03:07, attempt 2 of 5)" in out
    async with harness.engine.begin() as conn:
        await conn.execute(
            update(t.order_inbox).where(t.order_inbox.c.id == row.id).values(failure="rule", next_attempt_at=None)
        )
    code, out, _e = await cli(settings, "orders", "list", "--json")
    assert '"status": "failed (waits for a person)"' in out
