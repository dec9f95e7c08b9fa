"""The salesperson as the owner of a posted invoice in Sales (issue 12 item 5; bc-sync.md §8, §1.4)
over real HTTP with the Sales simulator, on SQLite and PostgreSQL: a customer's Salesperson Code
goes onto its new BC order and, at posting, onto the posted invoice; POSTEDSALESINV-INV then
makes the salesperson's Sales user the Sales invoice's owner. A salesperson coupled to no Sales
user fails the invoice with BC's message until it is coupled; a customer without one keeps the
Sales order's owner (tests/e2e/test_invoices_and_statistics.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import select, update

from orders.dataverse.client import DataverseClient
from orders.sync import api
from orders.sync.defaults import INTEGRATION_SYNCH_JOB_RUNNER, POSTED_SALES_INVOICE
from orders.sync.ports import SalesPort
from schemas import salespeople
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.helpers import Api, cli


@pytest.fixture
async def sales(sales_sim: Any) -> AsyncIterator[SalesPort]:
    sim = sales_sim
    async with aiohttp.ClientSession() as session:
        yield api.dataverse_sales(
            DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)
        )


@pytest.fixture
async def invoice_job(harness: Any, sales: SalesPort) -> AsyncIterator[api.SyncScheduler]:
    """The worker's scheduler with only POSTEDSALESINV-INV active (the others On Hold)."""

    async def factory() -> SalesPort:
        return sales

    scheduler = api.SyncScheduler(harness.engine, COMPANY, factory, tick=0.05, wake_delay=0.0)
    await scheduler.run_once()
    jqe = t.job_queue_entry
    mine = (jqe.c.object_id_to_run == INTEGRATION_SYNCH_JOB_RUNNER) & (
        jqe.c.record_id_to_process == POSTED_SALES_INVOICE
    )
    async with write_transaction(harness.engine) as conn:
        await conn.execute(update(jqe).where(~mine).values(status="On Hold"))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _invoice(sim: Any, number: str) -> dict[str, Any] | None:
    return next((r for r in sim.rows("invoices") if r["invoicenumber"] == number), None)


async def _header(harness: Any, table: Any, no: str) -> Any:
    async with harness.engine.connect() as conn:
        return (await conn.execute(select(table).where(table.c.company == COMPANY, table.c.no == no))).first()


async def _errors(harness: Any) -> list[str]:
    e = t.integration_synch_job_errors
    async with harness.engine.connect() as conn:
        return list((await conn.execute(select(e.c.message).order_by(e.c.date_time))).scalars())


async def _post_order(harness: Any, settings: Any, account: str) -> str:
    """A Sales order for ``account`` made into a BC order and posted (shipped and invoiced)."""
    order_id = await harness.order(
        [{"product": harness.products["1896-S"], "quantity": 1, "priceperunit": 1000}], account=account
    )
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    header = await _header(harness, t.sales_header, row.document_no)
    assert header is not None
    code, _out, err = await cli(settings, "orders", "post", row.document_no, "--ship", "--invoice")
    assert code == 0, err
    return str(header.salesperson_code)


async def test_the_invoice_of_a_customer_with_a_coupled_salesperson_is_owned_by_that_user(
    harness: Any, settings: Any, demo: dict[str, Any], sales: SalesPort, invoice_job: api.SyncScheduler
) -> None:
    sim = harness.sim
    alicia = sim.add_user("Alicia Ortiz", "alicia@contoso.example")
    async with write_transaction(harness.engine) as conn:
        await salespeople.save_salesperson(conn, COMPANY, "AO", name="Alicia", e_mail="alicia@contoso.example")

    # BC's TableRelation: a code that is no salesperson is refused, in BC's words.
    code, _out, err = await cli(settings, "customers", "salesperson", "10000", "ZZ")
    assert code != 0
    assert "The Salesperson/Purchaser does not exist. Identification fields and values: Code='ZZ'" in err
    code, out, err = await cli(settings, "customers", "salesperson", "10000", "ao")
    assert code == 0, err
    assert "Salesperson Code of customer 10000 is now AO." in out
    code, _out, err = await cli(settings, "couple", "salesperson", "AO", alicia)
    assert code == 0, err

    # The order takes the customer's salesperson, the posted invoice the order's; in Sales the
    # invoice is Alicia's, not the Sales order's owner (Nancy, who made the order).
    assert await _post_order(harness, settings, "10000") == "AO"
    posted = await _header(harness, t.sales_invoice_header, "PSI000001")
    assert posted is not None and posted.salesperson_code == "AO"

    async def owned() -> dict[str, Any] | None:
        found = _invoice(sim, "PSI000001")
        return found if found and found.get("ownerid") is not None else None

    invoice = await harness.wait_for(owned, within=20)
    assert invoice is not None, await _errors(harness)
    assert invoice["ownerid"].id == alicia != sim.user_id
    assert invoice["salesorderid"] is not None  # still the Sales order's invoice

    # The OData sets show it: the posted invoice's and (before posting) the order's.
    async with Api(harness.server, demo["user"], demo["key"]) as odata:
        status, _h, body = await odata.get(
            "/ODataV4/PostedSalesInvoices?$select=No,Salesperson_Code&$filter=" + quote("No eq 'PSI000001'")
        )
        assert status == 200, body
        assert [(r["No"], r["Salesperson_Code"]) for r in body["value"]] == [("PSI000001", "AO")]

        # A quote for the customer: its BC quote takes the salesperson too, and SalesQuotes shows it.
        quote_id = await harness.quote()
        await sim.activate_quote(quote_id)
        row = await harness.wait_state(quote_id, "created")
        status, _h, body = await odata.get(
            "/ODataV4/SalesQuotes?$select=No,Salesperson_Code&$filter=" + quote(f"No eq '{row.document_no}'")
        )
        assert status == 200, body
        assert [r["Salesperson_Code"] for r in body["value"]] == ["AO"]


async def test_a_salesperson_coupled_to_no_user_fails_the_invoice_until_it_is_coupled(
    harness: Any, settings: Any, sales: SalesPort, invoice_job: api.SyncScheduler
) -> None:
    sim = harness.sim
    async with write_transaction(harness.engine) as conn:
        await salespeople.save_salesperson(conn, COMPANY, "PS", name="Pat Sims", e_mail="pat@contoso.example")
    code, _out, err = await cli(settings, "customers", "salesperson", "20000", "PS")
    assert code == 0, err

    assert await _post_order(harness, settings, "20000") == "PS"
    message = "Salesperson Code PS must be coupled to a record in Dataverse."

    async def failed() -> bool:
        return message in await _errors(harness)

    assert await harness.wait_for(failed, within=20), await _errors(harness)
    assert _invoice(sim, "PSI000001") is None  # BC's lookup rule: no invoice with a wrong owner

    # Coupled now: the next run sends it, owned by Pat's user.
    pat = sim.add_user("Pat Sims", "pat@contoso.example")
    code, _out, err = await cli(settings, "couple", "salesperson", "PS", pat)
    assert code == 0, err
    code, out, err = await cli(settings, "sync", "now", POSTED_SALES_INVOICE, "--record", "PSI000001")
    assert code == 0, (out, err, await _errors(harness))
    invoice = _invoice(sim, "PSI000001")
    assert invoice is not None and invoice["ownerid"].id == pat

    # A customer without a salesperson: the Sales order's owner, as before.
    assert await _post_order(harness, settings, "40000") == ""

    async def second() -> dict[str, Any] | None:
        return _invoice(sim, "PSI000002")

    other = await harness.wait_for(second, within=20)
    assert other is not None, await _errors(harness)
    assert other["ownerid"].id == sim.user_id
