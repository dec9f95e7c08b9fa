"""BC's "Customer Statistics - Dynamics 365 Sales synchronization job" (codeunit 5350 "CRM Statistics
Job", bc-sync.md §9): each coupled customer's figures to its account's ``nav_accountstatistics``
row, and the payment status of coupled posted invoices.

The figures are computed in orders/sync/statistics.py (pure) from the BC records read here. The
scheduler runs the job every 30 minutes and within seconds of each posting or payment (the change
feed's ``cust_statistics`` topic) or order change (``item``). A run:

1. **Which customers**: coupled, non-skipped customers whose statistics were never uploaded; and,
   after the first run, those with a customer ledger entry changed, a posting or payment named in
   the change feed, or an order made since the last run's start (CRM Synch Status "Cust. Statistics
   Synch. Time").
2. **Per customer**: the account is read; one without a statistics row gets BC's placeholder row
   (every money field 1), linked from the account (the coupling's Sales time moves with that write
   when the account had no change waiting, so the link is not read back as a Sales change); then
   the columns that differ are written. A missing account: "Dataverse Account {id} was not
   found.", the coupling Failure and Skipped at once, as BC.
3. **Payment status**: the detailed ledger entries after "Last Update Invoice Entry No." name the
   invoices whose remaining amount moved; each coupled Sales invoice gets its status
   (orders/sync/posted_invoice.py). The number moves on only when nothing unexpected failed.

Two job rows per run with work, mapping name ``5350``: "Updated account statistics. " and "Updated
payment status of sales invoices.".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.sync import statistics as stats
from orders.sync import store
from orders.sync.context import parse_sales_time
from orders.sync.customer_figures import changed_customers, coupled_customers, customer_figures, synch_status
from orders.sync.defaults import STATISTICS_JOB
from orders.sync.invoice_hooks import INVOICES, ledger_status, write_payment_status
from orders.sync.model import Counters, Coupling, Direction, SynchResult
from orders.sync.ports import SalesPort, SalesRefused
from orders.sync.transfer import Bind, lookup_column
from schemas import tables as t
from schemas.db import insert_ignore, write_transaction

log = logging.getLogger("bcgw.sync.statistics")

JOB_NAME = str(STATISTICS_JOB)
ACCOUNTS, STATISTICS = "accounts", "nav_accountstatisticses"
LINK = "nav_accountstatisticsid"


@dataclass(frozen=True, slots=True)
class StatisticsRun:
    customers: int
    counters: Counters
    invoices: int  # payment statuses written
    invoice_failures: int = 0

    @property
    def activity(self) -> int:
        return self.counters.activity() + self.invoices + self.invoice_failures


# -- one run ----------------------------------------------------------------------------------


async def run_statistics(
    engine: AsyncEngine,
    company: str,
    sales: SalesPort,
    job_queue_entry_id: str | None = None,
    *,
    work_date: dt.date | None = None,
    customer_nos: Iterable[str] | None = None,
) -> StatisticsRun:
    """One run. ``customer_nos``: only these customers, uploaded or not (the manual action on a
    customer); the synch time and the invoice entry number are then left as they are."""
    started = store.now()
    work_date = work_date or dt.date.today()
    async with engine.connect() as conn:
        mode = (await conn.execute(select(t.connection_setup.c.bc_mode))).scalar()
        if mode == "api":  # a real BC keeps its ledger and runs its own statistics job
            return StatisticsRun(0, Counters(), 0)
        synch_time, last_entry_no = await synch_status(conn, company)
        coupled = await coupled_customers(conn, company)
        if customer_nos is not None:
            wanted = {no.upper() for no in customer_nos}
            targets = [(c, no) for c, no, _up in coupled if no.upper() in wanted]
        else:
            changed = await changed_customers(conn, company, synch_time) if synch_time is not None else set()
            targets = [(c, no) for c, no, uploaded in coupled if not uploaded or no in changed]
    counters = Counters()
    if targets:
        job_id = await _start_job(engine, company, started, job_queue_entry_id)
        await _upload(engine, company, sales, targets, counters, job_id, work_date)
        async with write_transaction(engine) as conn:
            await store.finish_job(conn, job_id, counters, stats.STATISTICS_MESSAGE)
    invoices = failures = 0
    new_last = last_entry_no
    if customer_nos is None:
        invoices, failures, new_last = await _payment_status(engine, company, sales, last_entry_no, job_queue_entry_id)
        async with write_transaction(engine) as conn:
            css = t.crm_synch_status
            await conn.execute(insert_ignore(conn, css, ["company"]).values(company=company))
            await conn.execute(
                update(css)
                .where(css.c.company == company)
                .values(cust_statistics_synch_time=started, last_update_invoice_entry_no=new_last)
            )
    return StatisticsRun(len(targets), counters, invoices, failures)


async def _start_job(engine: AsyncEngine, company: str, started: dt.datetime, entry_id: str | None) -> str:
    async with write_transaction(engine) as conn:
        return await store.start_job(conn, company, JOB_NAME, Direction.TO.value, started, entry_id)


async def _upload(
    engine: AsyncEngine,
    company: str,
    sales: SalesPort,
    targets: list[tuple[Coupling, str]],
    counters: Counters,
    job_id: str,
    work_date: dt.date,
) -> None:
    accounts = await sales.rows_by_id(ACCOUNTS, [c.crm_id for c, _no in targets])
    linked = [str(a.get(lookup_column(LINK))).lower() for a in accounts.values() if a.get(lookup_column(LINK))]
    rows = await sales.rows_by_id(STATISTICS, linked)
    currency: str | None = None
    for coupling, customer_no in targets:
        account = accounts.get(coupling.crm_id.lower())
        if account is None:
            await _fail(engine, company, job_id, coupling, customer_no, counters)
            continue
        async with engine.connect() as conn:
            name, figures = await customer_figures(conn, company, customer_no, work_date)
            if currency is None:
                currency = await _lcy_currency(conn, company, sales)
        try:
            current, inserted = await _statistics_row(
                engine, sales, coupling, account, rows, customer_no, name, currency
            )
            wanted = stats.statistics_row(customer_no, name, figures)
            change = stats.changed_columns(wanted, current)
            if change:
                await sales.update_row(STATISTICS, str(current["nav_accountstatisticsid"]), change)
            if inserted:
                counters.inserted += 1
            elif change:
                counters.modified += 1
            else:
                counters.unchanged += 1
        except SalesRefused as exc:
            counters.failed += 1
            async with write_transaction(engine) as conn:
                await store.log_error(
                    conn, company, job_id, f"Customer: {customer_no}", f"account: {{{coupling.crm_id}}}", str(exc)
                )
            continue
        async with write_transaction(engine) as conn:
            await conn.execute(
                update(t.crm_integration_record)
                .where(t.crm_integration_record.c.id == coupling.id)
                .values(statistics_uploaded=True)
            )


async def _statistics_row(
    engine: AsyncEngine,
    sales: SalesPort,
    coupling: Coupling,
    account: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    customer_no: str,
    name: str,
    currency: str | None,
) -> tuple[dict[str, Any], bool]:
    """The account's statistics row, created (BC's placeholder) and linked when it has none."""
    linked = account.get(lookup_column(LINK))
    if linked and str(linked).lower() in rows:
        return rows[str(linked).lower()], False
    values: dict[str, Any] = stats.placeholder_row(customer_no, name)
    if currency:
        values["transactioncurrencyid"] = Bind("transactioncurrencies", currency)
    row = await sales.create_row(STATISTICS, values)
    before = parse_sales_time(account.get("modifiedon"))
    after = await sales.update_row(ACCOUNTS, coupling.crm_id, {LINK: Bind(STATISTICS, str(row[STATISTICS_KEY]))})
    waiting = coupling.last_synch_crm_modified_on is None or (
        before is not None and before > coupling.last_synch_crm_modified_on
    )
    if not waiting:  # BC: its own link write is not a Sales change to read back
        async with write_transaction(engine) as conn:
            await store.update_coupling(
                conn, coupling.id, last_synch_crm_modified_on=parse_sales_time(after.get("modifiedon"))
            )
    return row, True


STATISTICS_KEY = "nav_accountstatisticsid"


async def _fail(
    engine: AsyncEngine, company: str, job_id: str, coupling: Coupling, customer_no: str, counters: Counters
) -> None:
    """A coupled account Sales lacks: logged, and the coupling skipped at once (BC)."""
    counters.failed += 1
    message = stats.NOT_FOUND.format(table="Dataverse Account", id=f"{{{coupling.crm_id}}}")
    async with write_transaction(engine) as conn:
        await store.log_error(
            conn, company, job_id, f"Customer: {customer_no}", f"account: {{{coupling.crm_id}}}", message
        )
        await store.update_coupling(
            conn,
            coupling.id,
            last_synch_crm_result=SynchResult.FAILURE.value,
            last_synch_crm_error=message,
            last_synch_crm_job_id=job_id,
            skipped=True,
        )


async def _lcy_currency(conn: AsyncConnection, company: str, sales: SalesPort) -> str | None:
    code = await store.lcy_code(conn, company)
    if not code:
        return None
    rows = await sales.find_rows("transactioncurrencies", f"isocurrencycode eq '{code.replace(chr(39), chr(39) * 2)}'")
    return str(rows[0]["transactioncurrencyid"]).lower() if rows else None


async def _payment_status(
    engine: AsyncEngine, company: str, sales: SalesPort, last_entry_no: int, entry_id: str | None
) -> tuple[int, int, int]:
    """Part two: (statuses written, failures, the new Last Update Invoice Entry No.)."""
    dle, cle, ih, cir = (
        t.detailed_cust_ledg_entry,
        t.cust_ledger_entry,
        t.sales_invoice_header,
        t.crm_integration_record,
    )
    async with engine.connect() as conn:
        newest = (
            await conn.execute(select(func.coalesce(func.max(dle.c.entry_no), 0)).where(dle.c.company == company))
        ).scalar_one()
        if newest <= last_entry_no:
            return 0, 0, last_entry_no
        rows = (
            await conn.execute(
                select(cle.c.document_no, cir.c.crm_id)
                .select_from(
                    dle.join(cle, cle.c.entry_no == dle.c.cust_ledger_entry_no)
                    .join(ih, (ih.c.company == cle.c.company) & (ih.c.no == cle.c.document_no))
                    .join(cir, (cir.c.company == ih.c.company) & (cir.c.integration_id == ih.c.system_id))
                )
                .where(
                    dle.c.company == company,
                    dle.c.entry_no > last_entry_no,
                    dle.c.entry_no <= newest,
                    cle.c.document_type == "Invoice",
                    cir.c.table_id == t.TABLE_SALES_INVOICE_HEADER,
                    cir.c.skipped.is_(False),
                )
                .distinct()
            )
        ).all()
    written = failed = 0
    if rows:
        found = await sales.rows_by_id(INVOICES, [str(r.crm_id) for r in rows])
        job_id = None
        for r in rows:
            current = found.get(str(r.crm_id).lower())
            if current is None:
                continue  # POSTEDSALESINV-INV notices a deleted invoice (a deletion conflict)
            async with engine.connect() as conn:
                wanted = await ledger_status(conn, company, r.document_no)
            if wanted is None:
                continue
            try:
                if await write_payment_status(sales, str(r.crm_id), current, wanted) is not None:
                    written += 1
            except SalesRefused as exc:
                failed += 1
                log.warning("payment status of invoice %s: %s", r.document_no, exc)
                if job_id is None:
                    job_id = await _start_job(engine, company, store.now(), entry_id)
                async with write_transaction(engine) as conn:
                    await store.log_error(
                        conn,
                        company,
                        job_id,
                        f"Sales Invoice Header: {r.document_no}",
                        f"invoice: {{{r.crm_id}}}",
                        str(exc),
                    )
        if written or job_id is not None:
            if job_id is None:
                job_id = await _start_job(engine, company, store.now(), entry_id)
            async with write_transaction(engine) as conn:
                await store.finish_job(
                    conn, job_id, Counters(modified=written, failed=failed), stats.PAYMENT_STATUS_MESSAGE
                )
    # A refusal is Sales' answer about one invoice (logged); anything unexpected raised before here.
    return written, failed, int(newest)
