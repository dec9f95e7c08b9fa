"""Payments received from customers in the embedded BC (`bc-gateway customers pay`), a customer's
Credit Limit (LCY) and the figures of its statistics (`bc-gateway customers statistics`).

A payment is BC's Cash Receipt Journal line (Document Type Payment, Account Type Customer), posted:
a customer ledger entry of the negative amount, applied to an open invoice when one is named
(schemas/customer_ledger.py). Balance and the invoice's remaining amount move at once; the
Customer Statistics job sends both to Sales within seconds. In api mode a real BC posts: refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.bc_link.from_setup import local_write_refusal
from orders.change_setup import load_connection_setup
from orders.sync import store
from orders.sync.customer_figures import customer_figures
from orders.sync.defaults import STATISTICS_JOB
from orders.sync.jobs import JobBusy, JobQueue
from orders.sync.ports import SalesPort
from orders.sync.statistics import CustomerFigures
from orders.sync.statistics_job import run_statistics
from schemas import change_log as changes
from schemas import tables as t
from schemas.customer_ledger import LedgerError, PostedPayment, post_payment
from schemas.db import write_transaction

__all__ = ["LedgerError", "PostedPayment", "pay", "send_statistics", "set_credit_limit", "statistics"]

UPDATED = "The customer statistics have been successfully updated in Dataverse."


class NotAllowedHere(Exception):
    """The command cannot run here (api mode: BC posts by itself)."""


async def _refuse_in_api_mode(conn: AsyncConnection, what: str) -> None:
    message = local_write_refusal(await load_connection_setup(conn), what)
    if message:
        raise NotAllowedHere(message)


def _missing(no: str) -> str:
    return f"The Customer does not exist. Identification fields and values: No.='{no}'"


async def pay(
    engine: AsyncEngine,
    company: str,
    customer_no: str,
    amount: Decimal,
    *,
    applies_to: str = "",
    posting_date: dt.date | None = None,
) -> PostedPayment:
    async with write_transaction(engine) as conn:
        await _refuse_in_api_mode(conn, "Post payments")
        return await post_payment(
            conn,
            company,
            customer_no.upper(),
            amount,
            posting_date=posting_date or dt.date.today(),
            applies_to_invoice=applies_to.upper(),
        )


async def set_credit_limit(engine: AsyncEngine, company: str, customer_no: str, amount: Decimal) -> None:
    """The customer's Credit Limit (LCY); BC refuses a negative one."""
    if amount < 0:
        raise LedgerError("Credit Limit (LCY) must not be negative.")
    cust = t.customer
    async with write_transaction(engine) as conn:
        await _refuse_in_api_mode(conn, "Create and change customers")
        result = await conn.execute(
            update(cust)
            .where(cust.c.company == company, cust.c.no == customer_no.upper())
            .values(credit_limit_lcy=amount)
        )
        if not result.rowcount:
            raise LedgerError(_missing(customer_no.upper()))
        await changes.record(conn, changes.MASTER, company=company)
        await changes.record(conn, changes.CUST_STATISTICS, company, customer_no.upper())


async def statistics(
    engine: AsyncEngine, company: str, customer_no: str, work_date: dt.date | None = None
) -> tuple[str, CustomerFigures]:
    """(name, figures) as the Customer Statistics job computes them now."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(t.customer.c.no).where(t.customer.c.company == company, t.customer.c.no == customer_no.upper())
            )
        ).first()
        if found is None:
            raise LedgerError(_missing(customer_no.upper()))
        return await customer_figures(conn, company, customer_no.upper(), work_date or dt.date.today())


async def send_statistics(engine: AsyncEngine, company: str, customer_no: str, sales: SalesPort) -> str:
    """BC's manual "update account statistics" of one customer: the Customer Statistics job for it
    alone, under the job's lock (a run of the job waits, and this waits for one in progress).
    Returns BC's message; LedgerError when the customer is not coupled or Sales refused."""
    no = customer_no.upper()
    await statistics(engine, company, no)  # the customer exists
    async with engine.connect() as conn:
        cust = t.customer
        system_id = (
            await conn.execute(select(cust.c.system_id).where(cust.c.company == company, cust.c.no == no))
        ).scalar_one()
        if not await store.couplings(conn, company, t.TABLE_CUSTOMER, integration_ids=[str(system_id)]):
            raise LedgerError(f"Customer {no} is not coupled to a Dynamics 365 Sales account.")
    await store_defaults(engine, company)
    queue = JobQueue(engine)
    entry = await queue.entry(company, STATISTICS_JOB, "")
    owner = f"manual:{uuid.uuid4().hex[:12]}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 600
    while entry is not None and not await queue.hold(entry.id, owner, 300):
        if loop.time() >= deadline:
            raise JobBusy(f"The job {entry.description} is running; try again when it has finished.")
        await asyncio.sleep(0.2)
    try:
        run = await run_statistics(engine, company, sales, customer_nos=[no])
    finally:
        if entry is not None:
            await queue.release(entry.id, owner)
    if run.counters.failed:
        async with engine.connect() as conn:
            err = t.integration_synch_job_errors
            message = (
                await conn.execute(
                    select(err.c.message).where(err.c.source_record_id == f"Customer: {no}").order_by(err.c.no.desc())
                )
            ).scalar()
        raise LedgerError(message or "The customer statistics could not be updated in Dataverse.")
    return UPDATED


async def store_defaults(engine: AsyncEngine, company: str) -> None:
    async with write_transaction(engine) as conn:
        await store.ensure_defaults(conn, company)
