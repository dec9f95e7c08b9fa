"""Posted invoices and customer statistics back in Sales (issue 12, items 5 and 7; bc-sync.md §8,
§9) over real HTTP with the Sales simulator, on SQLite and PostgreSQL: a submitted order posted in
part and then in full becomes two Sales invoices with their lines, each once; a payment moves the
invoice's payment status and the account's statistics; after each posting the statistics row holds
BC's figures."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from orders.customer_payments import statistics as bc_statistics
from orders.dataverse.client import DataverseClient
from orders.sync import api
from orders.sync.defaults import INTEGRATION_SYNCH_JOB_RUNNER, POSTED_SALES_INVOICE, STATISTICS_JOB
from orders.sync.ports import SalesPort
from orders.sync.statistics_job import run_statistics
from schemas import tables as t
from schemas.db import write_transaction
from schemas.sales_document_store import next_number
from tests.conftest import COMPANY
from tests.support.helpers import cli

CUSTOMER = "10000"
D = Decimal


@pytest.fixture
async def sales(sales_sim: Any) -> AsyncIterator[SalesPort]:
    sim = sales_sim
    async with aiohttp.ClientSession() as session:
        yield api.dataverse_sales(
            DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)
        )


@pytest.fixture
async def jobs(harness: Any, sales: SalesPort) -> AsyncIterator[api.SyncScheduler]:
    """The worker's scheduler with only POSTEDSALESINV-INV and Customer Statistics active (the
    other jobs are put On Hold: they are not what this test is about)."""

    async def factory() -> SalesPort:
        return sales

    scheduler = api.SyncScheduler(harness.engine, COMPANY, factory, tick=0.05, wake_delay=0.0)
    await scheduler.run_once()
    jqe = t.job_queue_entry
    mine = (
        (jqe.c.object_id_to_run == INTEGRATION_SYNCH_JOB_RUNNER) & (jqe.c.record_id_to_process == POSTED_SALES_INVOICE)
    ) | (jqe.c.object_id_to_run == STATISTICS_JOB)
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(jqe).where(~mine).values(status="On Hold"))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _invoices(sim: Any) -> list[dict[str, Any]]:
    return sorted(sim.rows("invoices"), key=lambda r: r["invoicenumber"])


def _details(sim: Any, invoice_id: str) -> list[dict[str, Any]]:
    return sorted(
        (d for d in sim.rows("invoicedetails") if d["invoiceid"].id == invoice_id), key=lambda d: d["lineitemnumber"]
    )


def _statistics(sim: Any, account_id: str) -> dict[str, Any] | None:
    account = next(a for a in sim.rows("accounts") if a["accountid"] == account_id)
    link = account.get("nav_accountstatisticsid")
    if link is None:
        return None
    return next((r for r in sim.rows("nav_accountstatisticses") if r["nav_accountstatisticsid"] == link.id), None)


MONEY = {
    "nav_balancelcy": "balance_lcy",
    "nav_outstandingorderslcy": "outstanding_orders_lcy",
    "nav_shippednotinvoicedlcy": "shipped_not_invoiced_lcy",
    "nav_outstandinginvoiceslcy": "outstanding_invoices_lcy",
    "nav_totallcy": "total_lcy",
    "nav_creditlimitlcy": "credit_limit_lcy",
    "nav_overdueamountslcy": "overdue_amounts_lcy",
    "nav_totalsaleslcy": "total_sales_lcy",
}


async def _statistics_match_bc(harness: Any, account_id: str) -> dict[str, Any] | None:
    """The account's statistics row when it holds BC's figures now (else None)."""
    row = _statistics(harness.sim, account_id)
    if row is None:
        return None
    _name, figures = await bc_statistics(harness.engine, COMPANY, CUSTOMER)
    for column, attribute in MONEY.items():
        if Decimal(str(row[column])) != getattr(figures, attribute):
            return None
    return row


class _Forgetful:
    """Sales that answers once that an invoice's lines are not there: as when another run made
    them between this run's read and its create."""

    def __init__(self, sales: SalesPort) -> None:
        self.sales = sales
        self.hidden = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sales, name)

    async def rows_by_id(self, entity_set: str, ids: Any) -> dict[str, dict[str, Any]]:
        if entity_set == "invoicedetails" and self.hidden:
            self.hidden = False
            return {}
        return await self.sales.rows_by_id(entity_set, ids)


async def _log(harness: Any) -> list[Any]:
    """The synchronisation log's rows and errors (shown when a wait fails)."""
    async with harness.engine.connect() as conn:
        jobs = (await conn.execute(select(t.integration_synch_job))).all()
        errors = (await conn.execute(select(t.integration_synch_job_errors))).all()
        entries = (await conn.execute(select(t.job_queue_entry))).all()
    return [
        *(
            f"job {j.integration_table_mapping_name} {j.message!r} i={j.inserted} m={j.modified} f={j.failed}"
            for j in jobs
        ),
        *(f"error {e.source_record_id}: {e.message}" for e in errors),
        *(f"entry {e.record_id_to_process or e.object_id_to_run} {e.status} {e.error_message}" for e in entries),
    ]


async def test_a_partly_then_fully_invoiced_order_reaches_sales_once_and_payments_move_its_status(
    harness: Any, settings: Any, sales: SalesPort, jobs: api.SyncScheduler
) -> None:
    sim = harness.sim
    account_id = harness.accounts[CUSTOMER]
    code, _out, err = await cli(settings, "customers", "credit-limit", CUSTOMER, "50000")
    assert code == 0, err
    order_id = await harness.order(
        [
            {"product": harness.products["1896-S"], "quantity": 3, "priceperunit": 1000},
            {"product": harness.products["1900-S"], "quantity": 2, "priceperunit": 250, "manualdiscountamount": 50},
        ]
    )
    await sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    order_no = row.document_no

    # The order alone: outstanding orders 3000 + 450, nothing owed yet; the credit limit is BC's.
    stats_row = await harness.wait_for(lambda: _statistics_match_bc(harness, account_id))
    assert stats_row is not None, _statistics(sim, account_id)
    assert Decimal(str(stats_row["nav_outstandingorderslcy"])) == Decimal("3450")
    assert Decimal(str(stats_row["nav_creditlimitlcy"])) == Decimal("50000")
    assert stats_row["nav_customerno"] == CUSTOMER and stats_row["transactioncurrencyid"] is not None

    # Ship 2 desks, invoice them: one invoice in Sales, its one line, the statistics move.
    code, _out, err = await cli(
        settings, "orders", "post", order_no, "--ship", "--invoice", "--quantity", "10000=2", "--quantity", "20000=0"
    )
    assert code == 0, err

    async def first_invoice() -> list[dict[str, Any]] | None:
        found = _invoices(sim)
        done = len(found) == 1 and _details(sim, found[0]["invoiceid"]) and found[0]["statuscode"] == 4
        return found if done else None  # the lines, then the totals, then the status: all written

    found = await harness.wait_for(first_invoice, within=10)
    assert found is not None, "\n".join(await _log(harness))
    (invoice,) = found
    assert invoice["invoicenumber"] == "PSI000001"
    assert invoice["salesorderid"].id == order_id and invoice["customerid"].id == account_id
    assert invoice["ownerid"].id == sim.user_id  # the Sales order's owner: the salesperson who made it
    assert (invoice["statecode"], invoice["statuscode"]) == (0, 4)  # Billed: nothing paid
    assert Decimal(str(invoice["totalamount"])) == Decimal("2000")
    (detail,) = _details(sim, invoice["invoiceid"])
    assert detail["productid"].id == harness.products["1896-S"] and detail["uomid"] is not None
    assert Decimal(str(detail["quantity"])) == 2 and Decimal(str(detail["extendedamount"])) == Decimal("2000")
    assert await harness.wait_for(lambda: _statistics_match_bc(harness, account_id))
    _name, figures = await bc_statistics(harness.engine, COMPANY, CUSTOMER)
    assert (figures.balance_lcy, figures.outstanding_orders_lcy, figures.total_sales_lcy) == (
        Decimal("2000"),
        Decimal("1450"),
        Decimal("2000"),
    )

    # Ship the rest without invoicing: shipped not invoiced, no new invoice.
    code, _out, err = await cli(settings, "orders", "post", order_no, "--ship")
    assert code == 0, err

    async def shipped_figures() -> dict[str, Any] | None:
        found = await _statistics_match_bc(harness, account_id)
        return found if found and Decimal(str(found["nav_shippednotinvoicedlcy"])) == Decimal("1450") else None

    assert await harness.wait_for(shipped_figures, within=10)

    # Invoice the rest: the order is gone, a second invoice with two lines.
    code, _out, err = await cli(settings, "orders", "post", order_no, "--invoice")
    assert code == 0, err

    async def second_invoice() -> list[dict[str, Any]] | None:
        found = _invoices(sim)
        done = len(found) == 2 and len(_details(sim, found[1]["invoiceid"])) == 2 and found[1]["statuscode"] == 4
        return found if done else None

    invoices = await harness.wait_for(second_invoice, within=10)
    assert invoices is not None, _invoices(sim)
    second = invoices[1]
    assert second["invoicenumber"] == "PSI000002" and Decimal(str(second["totalamount"])) == Decimal("1450")
    lines = _details(sim, second["invoiceid"])
    assert [Decimal(str(d["manualdiscountamount"])) for d in lines] == [Decimal(0), Decimal(50)]
    assert await harness.wait_for(lambda: _statistics_match_bc(harness, account_id))
    _name, figures = await bc_statistics(harness.engine, COMPANY, CUSTOMER)
    assert (figures.balance_lcy, figures.outstanding_orders_lcy, figures.shipped_not_invoiced_lcy) == (
        Decimal("3450"),
        0,
        0,
    )

    # Pay part of the first invoice, then the rest: Partial, then Complete; the balance follows.
    code, out, err = await cli(settings, "customers", "pay", CUSTOMER, "500", "--applies-to", "PSI000001")
    assert code == 0, err
    assert "Applied 500.00 to invoice PSI000001: 1500.00 still open." in out

    async def status(number: str, wanted: tuple[int, int]) -> bool:
        found = next(i for i in _invoices(sim) if i["invoicenumber"] == number)
        return (found["statecode"], found["statuscode"]) == wanted

    assert await harness.wait_for(lambda: status("PSI000001", (2, 100002)), within=10)
    code, out, err = await cli(settings, "customers", "pay", CUSTOMER, "1500", "--applies-to", "PSI000001")
    assert code == 0, err
    assert await harness.wait_for(lambda: status("PSI000001", (2, 100001)), within=10)
    assert await status("PSI000002", (0, 4))

    async def paid_figures() -> dict[str, Any] | None:
        found = await _statistics_match_bc(harness, account_id)
        return found if found and Decimal(str(found["nav_balancelcy"])) == Decimal("1450") else None

    assert await harness.wait_for(paid_figures, within=10)

    # Repeated runs duplicate nothing: two invoices, three lines, one statistics row.
    for _ in range(2):
        result = await api.run_mapping(harness.engine, COMPANY, POSTED_SALES_INVOICE, sales, force=True)
        assert result.counters.inserted == 0 and result.counters.failed == 0
        await run_statistics(harness.engine, COMPANY, sales)
    # A crash between an invoice's create and its coupling: the next run couples the one Sales has.
    cir = t.crm_integration_record
    async with write_transaction(harness.engine) as conn:
        await conn.execute(cir.delete().where(cir.c.crm_id == invoices[0]["invoiceid"]))
    result = await api.run_mapping(harness.engine, COMPANY, POSTED_SALES_INVOICE, sales, force=True)
    assert (result.counters.inserted, result.counters.coupled, result.counters.failed) == (0, 1, 0)
    assert len(_invoices(sim)) == 2 and len(sim.rows("invoicedetails")) == 3
    # Another run made the second invoice's lines meanwhile: Sales refuses them as duplicates, and
    # they are the lines (nothing fails, nothing doubles).
    async with write_transaction(harness.engine) as conn:
        await conn.execute(cir.delete().where(cir.c.crm_id == invoices[1]["invoiceid"]))
    result = await api.run_mapping(harness.engine, COMPANY, POSTED_SALES_INVOICE, _Forgetful(sales), force=True)
    assert (result.counters.coupled, result.counters.failed) == (1, 0), "\n".join(await _log(harness))
    assert len(_invoices(sim)) == 2 and len(sim.rows("invoicedetails")) == 3
    assert len(sim.rows("nav_accountstatisticses")) >= 1
    assert len([r for r in sim.rows("nav_accountstatisticses") if r["nav_customerno"] == CUSTOMER]) == 1
    assert (await status("PSI000001", (2, 100001))) and (await status("PSI000002", (0, 4)))

    # The log: BC's job rows and messages.
    job = t.integration_synch_job
    async with harness.engine.connect() as conn:
        messages = set(
            (
                await conn.execute(
                    select(job.c.message).where(job.c.integration_table_mapping_name == str(STATISTICS_JOB))
                )
            ).scalars()
        )
    assert messages == {"Updated account statistics. ", "Updated payment status of sales invoices."}


async def test_an_invoice_for_a_customer_whose_account_is_gone_fails_with_bc_message(
    harness: Any, settings: Any, sales: SalesPort
) -> None:
    """A statistics upload for an account Sales lacks: BC's message, the coupling skipped at once."""
    sim = harness.sim
    await run_statistics(harness.engine, COMPANY, sales, work_date=dt.date.today())
    account_id = harness.accounts["20000"]
    sim.store.rows["accounts"].pop(account_id)
    cir = t.crm_integration_record
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(cir).where(cir.c.crm_id == account_id).values(statistics_uploaded=False))
    result = await run_statistics(harness.engine, COMPANY, sales)
    assert result.counters.failed == 1
    async with harness.engine.connect() as conn:
        coupling = (await conn.execute(select(cir).where(cir.c.crm_id == account_id))).one()
        errors = (await conn.execute(select(t.integration_synch_job_errors.c.message))).scalars().all()
    assert coupling.skipped and coupling.last_synch_crm_result == "Failure"
    assert f"Dataverse Account {{{account_id}}} was not found." in errors
    # Restored, it is sent again (its statistics are uploaded anew), and fails again: the account is gone.
    assert await api.restore_skipped(harness.engine, COMPANY, ids=[account_id]) == 1
    async with harness.engine.connect() as conn:
        assert not (await conn.execute(select(cir.c.statistics_uploaded).where(cir.c.crm_id == account_id))).scalar()
    assert (await run_statistics(harness.engine, COMPANY, sales)).counters.failed == 1


async def _bc_order(harness: Any, lines: list[tuple[str, int, int]]) -> str:
    """A BC order made in BC (no Sales order: Your Reference empty) for customer 10000."""
    h, ln = t.sales_header, t.sales_line
    async with write_transaction(harness.engine) as conn:
        no = await next_number(conn, COMPANY, ("S-ORD", "SO000001"))
        total = sum(q * p for _i, q, p in lines)
        await conn.execute(
            h.insert().values(
                company=COMPANY,
                document_type="Order",
                no=no,
                system_id=str(uuid.uuid4()),
                sell_to_customer_no=CUSTOMER,
                order_date=dt.date.today(),
                amount=D(total),
                amount_including_vat=D(total),
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        for i, (item, qty, price) in enumerate(lines, start=1):
            await conn.execute(
                ln.insert().values(
                    company=COMPANY,
                    document_type="Order",
                    document_no=no,
                    line_no=10000 * i,
                    type="Item",
                    no=item,
                    description=item,
                    quantity=D(qty),
                    quantity_base=D(qty),
                    outstanding_quantity=D(qty),
                    outstanding_qty_base=D(qty),
                    qty_to_ship=D(qty),
                    qty_to_invoice=D(qty),
                    unit_price=D(price),
                    amount=D(qty * price),
                )
            )
    return no


async def test_an_invoice_with_no_sales_order_gets_the_customers_account_and_write_in_lines(
    harness: Any, settings: Any, sales: SalesPort
) -> None:
    sim = harness.sim
    cir, item = t.crm_integration_record, t.item
    async with write_transaction(harness.engine) as conn:  # 1900-S is not coupled to a product
        system_id = (await conn.execute(select(item.c.system_id).where(item.c.no == "1900-S"))).scalar_one()
        await conn.execute(cir.delete().where(cir.c.integration_id == system_id))
    no = await _bc_order(harness, [("1896-S", 1, 1000), ("1900-S", 2, 100)])
    code, _out, err = await cli(settings, "orders", "post", no, "--ship", "--invoice")
    assert code == 0, err

    # A blocked item on a new invoice: BC's refusal, nothing in Sales.
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(item).where(item.c.no == "1896-S").values(blocked=True))
    result = await api.run_mapping(harness.engine, COMPANY, POSTED_SALES_INVOICE, sales)
    assert result.counters.failed == 1 and _invoices(sim) == []
    async with harness.engine.connect() as conn:
        errors = (await conn.execute(select(t.integration_synch_job_errors.c.message))).scalars().all()
    assert "Blocked must be equal to 'No'  in Item: No.=1896-S. Current value is 'Yes'." in errors

    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(item).where(item.c.no == "1896-S").values(blocked=False))
    result = await api.run_mapping(harness.engine, COMPANY, POSTED_SALES_INVOICE, sales, force=True)
    assert (result.counters.inserted, result.counters.failed) == (1, 0), "\n".join(await _log(harness))
    (invoice,) = _invoices(sim)
    assert invoice["name"] == "PSI000001" and invoice["salesorderid"] is None
    assert invoice["customerid"].id == harness.accounts[CUSTOMER]
    price_list = next(p for p in sim.rows("pricelevels") if p["pricelevelid"] == invoice["pricelevelid"].id)
    assert price_list["name"] == "Business Central Default Price List"
    coupled, write_in = _details(sim, invoice["invoiceid"])
    assert coupled["productid"].id == harness.products["1896-S"] and coupled["isproductoverridden"] is False
    assert write_in["productid"] is None and write_in["isproductoverridden"] is True
    assert write_in["productdescription"] == "1900-S 1900-S."  # "<No.> <Description>."
    assert Decimal(str(write_in["extendedamount"])) == Decimal(200)


async def test_one_customers_statistics_sent_by_hand(harness: Any, settings: Any) -> None:
    """BC's manual action on a customer: its statistics now, BC's message; not coupled: said so."""
    code, out, err = await cli(settings, "customers", "statistics", CUSTOMER, "--send")
    assert code == 0, err
    assert "The customer statistics have been successfully updated in Dataverse." in out
    row = _statistics(harness.sim, harness.accounts[CUSTOMER])
    assert row is not None and row["nav_customerno"] == CUSTOMER and Decimal(str(row["nav_balancelcy"])) == 0
    cir, cust = t.crm_integration_record, t.customer
    async with write_transaction(harness.engine) as conn:
        system_id = (await conn.execute(select(cust.c.system_id).where(cust.c.no == "20000"))).scalar_one()
        await conn.execute(cir.delete().where(cir.c.integration_id == system_id))
    code, _out, err = await cli(settings, "customers", "statistics", "20000", "--send")
    assert code == 1 and "Customer 20000 is not coupled to a Dynamics 365 Sales account." in err
