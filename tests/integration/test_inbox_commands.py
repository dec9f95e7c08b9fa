"""A person's commands (orders.inbox_commands): BC's "Create in Business Central" for a Sales order
and "Process in Business Central" for a quote (docs/reference/bc-rules.md §4.10, §5.5). They
convert now whatever the automatic setting, report BC's own message when a rule refuses, say when
the document is coupled already, and refuse a row a worker holds.

The gateway here runs without its worker (the ``receiver_only`` harness): deliveries are stored,
and nothing but the command acts on them.
"""

from __future__ import annotations

from typing import Any

import pytest

from orders import inbox
from orders.inbox_commands import CommandError, create_sales_order_now, process_sales_quote_now
from orders.process_bc_sales_quote import MSG_ALREADY_PROCESSED
from tests.support.db_fixtures import COMPANY
from tests.support.order_harness import Harness

pytestmark = pytest.mark.usefixtures("demo")

NOT_COUPLED = "The sales order cannot be created. The Dataverse product Not in BC is not coupled to an item."


async def _submitted(h: Harness, **order: Any) -> str:
    order_id = await h.order(**order)
    await h.sim.submit_order(order_id)
    await h.sim.flush()
    return order_id


async def _manual(h: Harness) -> None:
    await h.setup(auto_create_sales_orders=False, auto_process_sales_quotes=False)


# --- Create in Business Central ------------------------------------------------------------------


async def test_create_makes_the_order_now_with_automatic_creation_off(receiver_only: Harness) -> None:
    h = receiver_only
    await _manual(h)
    order_id = await _submitted(h)
    (waiting,) = await h.inbox_rows(order_id)
    assert waiting.state == "received"  # stored by the receiver; no worker took it
    done = await create_sales_order_now(h.engine, h.settings, order_id)
    assert (done.result.state, done.result.document_no, done.write_back) == ("created", "SO000001", True)
    (header,) = await h.documents("Order")
    assert (header.no, header.sales_id) == ("SO000001", order_id)
    (row,) = await h.inbox_rows(order_id)
    assert (row.id, row.state, row.writeback_state, row.source) == (waiting.id, "created", "done", "webhook")
    assert h.sim.row("salesorders", order_id)["lastbackofficesubmit"] is not None


async def test_create_without_a_delivery_queues_the_order_itself(receiver_only: Harness) -> None:
    h = receiver_only
    h.sim.drop_next_delivery()  # the webhook never arrived
    order_id = await _submitted(h)
    assert await h.inbox_rows(order_id) == []
    done = await create_sales_order_now(h.engine, h.settings, order_id)
    assert done.result.state == "created"
    (row,) = await h.inbox_rows(order_id)
    assert (row.event, row.source, row.state) == ("submit", "manual", "created")


async def test_create_reports_bcs_message_and_creates_nothing(receiver_only: Harness) -> None:
    h = receiver_only
    await _manual(h)
    uncoupled = h.sim.add_product("9999-X", "Not in BC")
    order_id = await _submitted(h, lines=[{"product": uncoupled, "quantity": 1, "priceperunit": 5}])
    failed = await create_sales_order_now(h.engine, h.settings, order_id)
    assert (failed.result.state, failed.result.message, failed.write_back) == ("failed", NOT_COUPLED, None)
    assert not failed.result.will_retry  # a rule failure waits for a person
    (row,) = await h.inbox_rows(order_id)
    assert (row.state, row.failure, row.last_error, row.next_attempt_at) == ("failed", "rule", NOT_COUPLED, None)
    assert await h.documents("Order") == []
    assert h.sim.row("salesorders", order_id)["lastbackofficesubmit"] is None


async def test_create_of_a_coupled_order_says_so(receiver_only: Harness) -> None:
    h = receiver_only
    order_id = await _submitted(h)
    await create_sales_order_now(h.engine, h.settings, order_id)
    patches = len(h.sim.api_requests("PATCH"))
    again = await create_sales_order_now(h.engine, h.settings, order_id)
    assert (again.result.state, again.result.document_no, again.write_back) == ("ignored", "SO000001", None)
    assert again.result.message == "This Dataverse order is already coupled to sales order SO000001."
    assert len(await h.documents("Order")) == 1
    assert len(h.sim.api_requests("PATCH")) == patches  # nothing written to Sales again
    (row,) = await h.inbox_rows(order_id)
    assert row.state == "created"  # the message changes nothing in the inbox


async def test_create_refuses_a_row_a_worker_holds(receiver_only: Harness) -> None:
    h = receiver_only
    order_id = await _submitted(h)
    (held,) = await inbox.claim(h.engine, "worker-1", 120, company=COMPANY)
    with pytest.raises(CommandError) as refused:
        await create_sales_order_now(h.engine, h.settings, order_id)
    assert str(refused.value) == "A worker is processing this right now; look again in a moment."
    (row,) = await h.inbox_rows(order_id)
    assert (row.id, row.state, row.attempts) == (held.id, "processing", 1)
    assert await h.documents("Order") == []


# --- Process in Business Central ---------------------------------------------------------------


async def test_process_makes_the_quote_now_and_then_says_it_is_done(receiver_only: Harness) -> None:
    h = receiver_only
    await _manual(h)
    quote_id = await h.quote()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    done = await process_sales_quote_now(h.engine, h.settings, quote_id)
    assert (done.result.state, done.result.document_no) == ("created", "SQ000001")
    (header,) = await h.documents("Quote")
    assert (header.no, header.sales_id, header.status) == ("SQ000001", quote_id, "Open")
    again = await process_sales_quote_now(h.engine, h.settings, quote_id)
    assert (again.result.state, again.result.message, again.result.document_no) == (
        "ignored",
        MSG_ALREADY_PROCESSED,
        "SQ000001",
    )
    assert len(await h.documents("Quote")) == 1


async def test_process_of_a_quote_without_a_delivery_checks_it(receiver_only: Harness) -> None:
    h = receiver_only
    quote_id = await h.quote()
    h.sim.drop_next_delivery()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    done = await process_sales_quote_now(h.engine, h.settings, quote_id)
    assert done.result.state == "created"
    (row,) = await h.inbox_rows(quote_id)
    assert (row.event, row.source) == ("check", "manual")


async def test_process_handles_a_waiting_win_of_a_coupled_quote(receiver_only: Harness) -> None:
    h = receiver_only
    await _manual(h)
    quote_id = await h.quote()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    await process_sales_quote_now(h.engine, h.settings, quote_id)
    order_id = await h.sim.win_quote(quote_id, create_order=True, submit_order=True)
    await h.sim.flush()
    assert order_id is not None
    # The quote is coupled, but its win waits: the command handles the win, and the order with it.
    won = await process_sales_quote_now(h.engine, h.settings, quote_id)
    assert won.result.state == "created", won.result.message
    (order,) = await h.documents("Order")
    assert (order.sales_id, order.quote_no) == (order_id, "SQ000001")
    (order_row,) = await h.inbox_rows(order_id)
    assert (order_row.state, order_row.writeback_state) == ("created", "done")  # written back by the command


async def test_process_refuses_a_quote_row_a_worker_holds(receiver_only: Harness) -> None:
    h = receiver_only
    quote_id = await h.quote()
    h.sim.drop_next_delivery()
    await h.sim.activate_quote(quote_id)
    await h.sim.flush()
    # Reconciliation queued a check of the quote, and a worker has just taken it.
    (check, _created) = await inbox.enqueue(h.engine, COMPANY, "quote", quote_id, "check", source="reconcile")
    (held,) = await inbox.claim(h.engine, "worker-1", 120, auto_tables=("quote",), company=COMPANY)
    assert held.id == check.id
    with pytest.raises(CommandError) as refused:
        await process_sales_quote_now(h.engine, h.settings, quote_id)
    assert str(refused.value) == "A worker is processing this quote right now; look again in a moment."
    (row,) = await h.inbox_rows(quote_id)
    assert (row.id, row.state) == (check.id, "processing")
    assert await h.documents("Quote") == []
