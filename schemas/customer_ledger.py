"""The customer ledger of the embedded BC: "Cust. Ledger Entry" (table 21) and "Detailed Cust.
Ledg. Entry" (table 379), written inside the caller's transaction.

As in BC, an entry's Amount, Remaining Amount and a customer's Balance are sums of the detailed
entries: posting an invoice or a payment writes its ledger entry with one detailed "Initial Entry";
applying a payment to an invoice writes an "Application" detailed entry on each of the two (equal
and opposite, so the balance does not move) and closes what is then fully applied. Nothing here is
a total kept on the side: every figure is summed from the detailed entries when it is asked for.

Each write records a change feed row of topic ``cust_statistics`` with the customer's number, so the
Customer Statistics job and POSTEDSALESINV-INV hear of it within seconds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.sales_document_store import next_number

ZERO = Decimal(0)
INVOICE, PAYMENT = "Invoice", "Payment"
INITIAL, APPLICATION = "Initial Entry", "Application"
# BC's Cash Receipt Journal numbers its documents from the "GJNL-RCPT" series.
PAYMENT_SERIES = ("GJNL-RCPT", "G02001")


class LedgerError(ValueError):
    """BC refuses the posting; the message is BC's (or in the form of BC's)."""


@dataclass(frozen=True, slots=True)
class PostedPayment:
    entry_no: int
    document_no: str
    customer_no: str
    amount: Decimal  # as posted: negative (money received)
    applied_to: str = ""  # the invoice's No.
    applied_amount: Decimal = ZERO
    invoice_remaining: Decimal | None = None


async def _entry(
    conn: AsyncConnection,
    company: str,
    *,
    customer_no: str,
    posting_date: dt.date,
    document_type: str,
    document_no: str,
    description: str,
    amount: Decimal,
    sales_lcy: Decimal,
    due_date: dt.date | None,
    currency_code: str = "",
) -> int:
    cle, dle = t.cust_ledger_entry, t.detailed_cust_ledg_entry
    result = await conn.execute(
        insert(cle)
        .values(
            company=company,
            system_id=str(uuid.uuid4()),
            customer_no=customer_no,
            posting_date=posting_date,
            document_type=document_type,
            document_no=document_no,
            description=description[:100],
            currency_code=currency_code,
            amount=amount,
            amount_lcy=amount,  # no exchange rates are kept here: LCY = the amount
            sales_lcy=sales_lcy,
            due_date=due_date,
            open=amount != 0,
        )
        .returning(cle.c.entry_no)
    )
    entry_no = int(result.scalar_one())
    await conn.execute(
        insert(dle).values(
            company=company,
            cust_ledger_entry_no=entry_no,
            entry_type=INITIAL,
            posting_date=posting_date,
            document_type=document_type,
            document_no=document_no,
            customer_no=customer_no,
            amount=amount,
            amount_lcy=amount,
            initial_entry_due_date=due_date,
        )
    )
    await changes.record(conn, changes.CUST_STATISTICS, company, customer_no)
    return entry_no


async def post_invoice_entry(
    conn: AsyncConnection,
    company: str,
    *,
    customer_no: str,
    invoice_no: str,
    posting_date: dt.date,
    due_date: dt.date,
    amount_including_vat: Decimal,
    amount: Decimal,
    currency_code: str = "",
    description: str = "",
) -> int:
    """The ledger entry of a posted sales invoice (Sales-Post's customer posting): Document Type
    Invoice, the amount including VAT owed, Sales (LCY) = the amount excluding VAT."""
    return await _entry(
        conn,
        company,
        customer_no=customer_no,
        posting_date=posting_date,
        document_type=INVOICE,
        document_no=invoice_no,
        description=description or f"Order {invoice_no}",
        amount=amount_including_vat,
        sales_lcy=amount,
        due_date=due_date,
        currency_code=currency_code,
    )


async def remaining_amount(conn: AsyncConnection, entry_no: int) -> Decimal:
    """BC's Remaining Amount FlowField: the sum of the entry's detailed entries."""
    dle = t.detailed_cust_ledg_entry
    value = (
        await conn.execute(
            select(func.coalesce(func.sum(dle.c.amount), 0)).where(dle.c.cust_ledger_entry_no == entry_no)
        )
    ).scalar_one()
    return Decimal(value)


async def post_payment(
    conn: AsyncConnection,
    company: str,
    customer_no: str,
    amount: Decimal,
    *,
    posting_date: dt.date,
    applies_to_invoice: str = "",
    document_no: str = "",
) -> PostedPayment:
    """A payment received from the customer (a Cash Receipt Journal line of Document Type Payment,
    Account Type Customer, posted): a ledger entry of ``-amount``; with ``applies_to_invoice`` (BC's
    Applies-to Doc. Type Invoice / Applies-to Doc. No.) applied to that open invoice up to what is
    still open of it. Without it the payment stays open on the customer's account, as in BC."""
    if amount <= 0:
        raise LedgerError(
            "Amount must be positive: it is the payment received (posted as a negative amount on the customer)."
        )
    cust = t.customer
    found = (
        await conn.execute(select(cust.c.no).where(cust.c.company == company, cust.c.no == customer_no))
    ).scalar_one_or_none()
    if found is None:
        raise LedgerError(f"The Customer does not exist. Identification fields and values: No.='{customer_no}'")
    cle = t.cust_ledger_entry
    invoice = None
    if applies_to_invoice:
        invoice = (
            await conn.execute(
                select(cle).where(
                    cle.c.company == company,
                    cle.c.customer_no == customer_no,
                    cle.c.document_type == INVOICE,
                    cle.c.document_no == applies_to_invoice,
                )
            )
        ).first()
        if invoice is None or not invoice.open:
            raise LedgerError(
                f"There is no open Cust. Ledger Entry of Customer {customer_no} with Document Type Invoice and "
                f"Document No. {applies_to_invoice} to apply the payment to."
            )
    document_no = document_no or await next_number(conn, company, PAYMENT_SERIES)
    entry_no = await _entry(
        conn,
        company,
        customer_no=customer_no,
        posting_date=posting_date,
        document_type=PAYMENT,
        document_no=document_no,
        description=f"Payment {document_no}",
        amount=-amount,
        sales_lcy=ZERO,
        due_date=posting_date,
    )
    if invoice is None:
        return PostedPayment(entry_no, document_no, customer_no, -amount)
    left = await remaining_amount(conn, invoice.entry_no)
    applied = min(amount, left)
    await _apply(conn, company, invoice, entry_no, document_no, applied, posting_date, customer_no)
    return PostedPayment(entry_no, document_no, customer_no, -amount, applies_to_invoice, applied, left - applied)


async def _apply(
    conn: AsyncConnection,
    company: str,
    invoice: object,
    payment_entry_no: int,
    payment_no: str,
    applied: Decimal,
    posting_date: dt.date,
    customer_no: str,
) -> None:
    """Two Application detailed entries (the invoice's less, the payment's more by the applied
    amount), then Open off on each entry that nothing is left of."""
    dle, cle = t.detailed_cust_ledg_entry, t.cust_ledger_entry
    invoice_no: int = invoice.entry_no  # type: ignore[attr-defined]
    for own, other, value, due in (
        (invoice_no, payment_entry_no, -applied, invoice.due_date),  # type: ignore[attr-defined]
        (payment_entry_no, invoice_no, applied, posting_date),
    ):
        await conn.execute(
            insert(dle).values(
                company=company,
                cust_ledger_entry_no=own,
                entry_type=APPLICATION,
                posting_date=posting_date,
                document_type=PAYMENT,
                document_no=payment_no,
                customer_no=customer_no,
                amount=value,
                amount_lcy=value,
                initial_entry_due_date=due,
                applied_cust_ledger_entry_no=other,
            )
        )
    for own, other in ((invoice_no, payment_entry_no), (payment_entry_no, invoice_no)):
        if await remaining_amount(conn, own) == 0:
            await conn.execute(
                update(cle)
                .where(cle.c.entry_no == own)
                .values(open=False, closed_by_entry_no=other, closed_at_date=posting_date)
            )
        else:  # SystemModifiedAt moves: the entry's Remaining Amount changed
            await conn.execute(update(cle).where(cle.c.entry_no == own).values(open=True))
