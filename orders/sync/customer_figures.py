"""What the Customer Statistics job (orders/sync/statistics_job.py) reads from BC: which customers
to look at, and a customer's ledger and open orders as the pure figures (orders/sync/statistics.py)
take them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orders.sync import statistics as stats
from orders.sync import store
from orders.sync.model import Coupling
from schemas import change_log as changes
from schemas import tables as t

# The change feed's time is taken when the change is written, before its commit: look this far back.
GRACE = dt.timedelta(seconds=2)


async def synch_status(conn: AsyncConnection, company: str) -> tuple[dt.datetime | None, int]:
    css = t.crm_synch_status
    row = (
        await conn.execute(
            select(css.c.cust_statistics_synch_time, css.c.last_update_invoice_entry_no).where(css.c.company == company)
        )
    ).first()
    return (row[0], int(row[1] or 0)) if row else (None, 0)


async def changed_customers(conn: AsyncConnection, company: str, since: dt.datetime) -> set[str]:
    """Customers whose figures may have moved after ``since``: a ledger entry changed, a posting or
    payment in the change feed, an order made."""
    cle, log_, sh = t.cust_ledger_entry, t.change_log, t.sales_header
    since = since - GRACE
    found: set[str] = set()
    for query in (
        select(cle.c.customer_no).where(cle.c.company == company, cle.c.system_modified_at > since),
        select(log_.c.key).where(
            log_.c.company == company, log_.c.topic == changes.CUST_STATISTICS, log_.c.changed_at > since
        ),
        select(sh.c.sell_to_customer_no).where(
            sh.c.company == company, sh.c.document_type == "Order", sh.c.created_at > since
        ),
    ):
        found |= {str(v) for v in (await conn.execute(query.distinct())).scalars() if v}
    return found


async def customer_figures(
    conn: AsyncConnection, company: str, customer_no: str, work_date: dt.date
) -> tuple[str, stats.CustomerFigures]:
    """(name, figures) of one customer, from its ledger and its open orders."""
    cust, dle, cle = t.customer, t.detailed_cust_ledg_entry, t.cust_ledger_entry
    customer = (
        await conn.execute(
            select(cust.c.name, cust.c.credit_limit_lcy).where(cust.c.company == company, cust.c.no == customer_no)
        )
    ).first()
    detailed = [
        stats.DetailedEntry(Decimal(r.amount_lcy), r.posting_date, r.initial_entry_due_date)
        for r in (
            await conn.execute(
                select(dle.c.amount_lcy, dle.c.posting_date, dle.c.initial_entry_due_date).where(
                    dle.c.company == company, dle.c.customer_no == customer_no
                )
            )
        ).all()
    ]
    ledger = [
        stats.LedgerEntry(r.posting_date, Decimal(r.sales_lcy))
        for r in (
            await conn.execute(
                select(cle.c.posting_date, cle.c.sales_lcy).where(
                    cle.c.company == company, cle.c.customer_no == customer_no
                )
            )
        ).all()
    ]
    return (
        customer.name if customer else "",
        stats.figures(
            detailed=detailed,
            ledger=ledger,
            order_lines=await _order_lines(conn, company, customer_no),
            credit_limit_lcy=Decimal(customer.credit_limit_lcy) if customer else Decimal(0),
            work_date=work_date,
        ),
    )


async def _order_lines(conn: AsyncConnection, company: str, customer_no: str) -> list[stats.OrderLine]:
    """The customer's order lines, each with its share of its order's invoice discount."""
    sh, ln = t.sales_header, t.sales_line
    headers = (
        await conn.execute(
            select(sh.c.no, sh.c.invoice_discount_amount).where(
                sh.c.company == company, sh.c.document_type == "Order", sh.c.sell_to_customer_no == customer_no
            )
        )
    ).all()
    out: list[stats.OrderLine] = []
    for header in headers:
        lines = (
            await conn.execute(
                select(ln)
                .where(
                    ln.c.company == company,
                    ln.c.document_type == "Order",
                    ln.c.document_no == header.no,
                    ln.c.type != "",
                )
                .order_by(ln.c.line_no)
            )
        ).all()
        shares = stats.allocate_invoice_discount(
            Decimal(header.invoice_discount_amount), [Decimal(line.amount) for line in lines]
        )
        out += [
            stats.OrderLine(
                quantity=Decimal(line.quantity),
                amount=Decimal(line.amount) - share,
                outstanding_quantity=Decimal(line.outstanding_quantity),
                quantity_shipped=Decimal(line.quantity_shipped),
                quantity_invoiced=Decimal(line.quantity_invoiced),
            )
            for line, share in zip(lines, shares, strict=True)
        ]
    return out


async def coupled_customers(conn: AsyncConnection, company: str) -> list[tuple[Coupling, str, bool]]:
    """(coupling, customer no., statistics uploaded) of each coupled, non-skipped customer."""
    cir, cust = t.crm_integration_record, t.customer
    rows = (
        await conn.execute(
            select(cust.c.system_id, cust.c.no, cir.c.statistics_uploaded)
            .select_from(cir.join(cust, (cust.c.company == cir.c.company) & (cust.c.system_id == cir.c.integration_id)))
            .where(cir.c.company == company, cir.c.table_id == t.TABLE_CUSTOMER, cir.c.skipped.is_(False))
            .order_by(cust.c.no)
        )
    ).all()
    found = await store.couplings(conn, company, t.TABLE_CUSTOMER, integration_ids=[str(r.system_id) for r in rows])
    by_id = {c.integration_id.lower(): c for c in found}
    return [
        (by_id[str(r.system_id).lower()], r.no, bool(r.statistics_uploaded))
        for r in rows
        if str(r.system_id).lower() in by_id
    ]
