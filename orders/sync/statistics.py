"""A customer's statistics as BC computes them (pure): the Customer table's FlowFields that codeunit
5350 "CRM Statistics Job" sends to Sales as the account's ``nav_accountstatistics`` row
(bc-sync.md §9).

The figures, in BC's terms (all in LCY):

- **Balance (LCY)** = Σ Amount (LCY) of the customer's Detailed Cust. Ledg. Entries.
- **Outstanding Orders (LCY)** = Σ Outstanding Amount (LCY) of order lines billed to the customer:
  a line's amount (after its share of the invoice discount) × Outstanding Quantity / Quantity.
- **Shipped Not Invoiced (LCY)** = the same × (Quantity Shipped − Quantity Invoiced) / Quantity.
- **Outstanding Invoices (LCY)** = Σ Outstanding Amount (LCY) of unposted sales invoice lines (this
  BC model has orders and quotes only: 0).
- **Total (LCY)** = balance + outstanding orders + shipped not invoiced + outstanding invoices −
  invoices made from shipments − invoiced prepayments − return receipts not invoiced (the last
  three are 0 here: no Get Shipment Lines invoices, prepayments or returns).
- **Overdue Amounts (LCY)** = Σ Amount (LCY) of detailed entries whose Initial Entry Due Date is
  before the work date (BC's CalcOverdueBalance: what is still open of entries due before today).
- **Sales (LCY)** = Σ Sales (LCY) of ledger entries posted in the fiscal year of the work date
  (the calendar year: BC's default accounting periods).
- **Credit Limit (LCY)** as on the customer card.

No VAT is computed in this BC model: Amount Including VAT = Amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ZERO = Decimal(0)
CENT = Decimal("0.01")

STATISTICS_MESSAGE = "Updated account statistics. "
PAYMENT_STATUS_MESSAGE = "Updated payment status of sales invoices."
NOT_FOUND = "{table} {id} was not found."


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class DetailedEntry:
    """A Detailed Cust. Ledg. Entry, as the FlowFields read it."""

    amount_lcy: Decimal
    posting_date: dt.date
    initial_entry_due_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A Cust. Ledger Entry, as Sales (LCY) reads it."""

    posting_date: dt.date
    sales_lcy: Decimal


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A Sales Line of an order (Document Type Order) billed to the customer. ``amount``: the line
    amount after its share of the header's invoice discount (BC's Amount Including VAT, no VAT)."""

    quantity: Decimal
    amount: Decimal
    outstanding_quantity: Decimal
    quantity_shipped: Decimal = ZERO
    quantity_invoiced: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CustomerFigures:
    balance_lcy: Decimal
    outstanding_orders_lcy: Decimal
    shipped_not_invoiced_lcy: Decimal
    outstanding_invoices_lcy: Decimal
    total_lcy: Decimal
    credit_limit_lcy: Decimal
    overdue_amounts_lcy: Decimal
    overdue_amounts_as_of: dt.date
    total_sales_lcy: Decimal
    invoiced_prepayment_amount_lcy: Decimal = ZERO


def fiscal_year(work_date: dt.date) -> tuple[dt.date, dt.date]:
    """The fiscal year of the work date: BC's default accounting periods are calendar years."""
    return dt.date(work_date.year, 1, 1), dt.date(work_date.year, 12, 31)


def outstanding_amount(line: OrderLine) -> Decimal:
    """BC's Outstanding Amount: Round(Amount Including VAT × Outstanding Quantity / Quantity)."""
    if line.quantity == 0:
        return ZERO
    return _round(line.amount * line.outstanding_quantity / line.quantity)


def shipped_not_invoiced(line: OrderLine) -> Decimal:
    """BC's Shipped Not Invoiced: Round(Amount Including VAT × Qty. Shipped Not Invoiced / Quantity)."""
    if line.quantity == 0:
        return ZERO
    return _round(line.amount * (line.quantity_shipped - line.quantity_invoiced) / line.quantity)


def figures(
    *,
    detailed: Sequence[DetailedEntry],
    ledger: Sequence[LedgerEntry],
    order_lines: Sequence[OrderLine],
    credit_limit_lcy: Decimal,
    work_date: dt.date,
    invoice_lines: Sequence[OrderLine] = (),
) -> CustomerFigures:
    balance = sum((e.amount_lcy for e in detailed), ZERO)
    orders = sum((outstanding_amount(line) for line in order_lines), ZERO)
    shipped = sum((shipped_not_invoiced(line) for line in order_lines), ZERO)
    invoices = sum((outstanding_amount(line) for line in invoice_lines), ZERO)
    overdue = sum(
        (
            e.amount_lcy
            for e in detailed
            if e.initial_entry_due_date is not None and e.initial_entry_due_date < work_date
        ),
        ZERO,
    )
    start, end = fiscal_year(work_date)
    sales = sum((e.sales_lcy for e in ledger if start <= e.posting_date <= end), ZERO)
    return CustomerFigures(
        balance_lcy=balance,
        outstanding_orders_lcy=orders,
        shipped_not_invoiced_lcy=shipped,
        outstanding_invoices_lcy=invoices,
        total_lcy=balance + orders + shipped + invoices,
        credit_limit_lcy=credit_limit_lcy,
        overdue_amounts_lcy=overdue,
        overdue_amounts_as_of=work_date,
        total_sales_lcy=sales,
    )


def allocate_invoice_discount(discount: Decimal, amounts: Sequence[Decimal]) -> list[Decimal]:
    """The header's Invoice Discount Amount over the lines by Line Amount (the rounding remainder on
    the last line with an amount), as BC's invoice discount calculation and our posting do."""
    total = sum(amounts, ZERO)
    shares = [ZERO] * len(amounts)
    with_amount = [i for i, a in enumerate(amounts) if a != 0]
    if discount == 0 or total == 0 or not with_amount:
        return shares
    left = discount
    for i in with_amount[:-1]:
        shares[i] = _round(discount * amounts[i] / total)
        left -= shares[i]
    shares[with_amount[-1]] = left
    return shares


# -- the nav_accountstatistics row ------------------------------------------------------------

MONEY_COLUMNS: Mapping[str, str] = {
    "nav_balancelcy": "balance_lcy",
    "nav_outstandingorderslcy": "outstanding_orders_lcy",
    "nav_shippednotinvoicedlcy": "shipped_not_invoiced_lcy",
    "nav_outstandinginvoiceslcy": "outstanding_invoices_lcy",
    "nav_totallcy": "total_lcy",
    "nav_creditlimitlcy": "credit_limit_lcy",
    "nav_overdueamountslcy": "overdue_amounts_lcy",
    "nav_totalsaleslcy": "total_sales_lcy",
    "nav_invoicedprepaymentamountlcy": "invoiced_prepayment_amount_lcy",
    # The Service module's FlowFields: no service documents in this BC model.
    "nav_outstandingserviceorderslcy": "",
    "nav_servshippednotinvoicedlcy": "",
    "nav_outstandingservinvoiceslcy": "",
}


def placeholder_row(customer_no: str, name: str) -> dict[str, Any]:
    """The row BC creates first: every money field 1, so that Sales shows a figure, not "--"."""
    return {"nav_name": name, "nav_customerno": customer_no, **dict.fromkeys(MONEY_COLUMNS, Decimal(1))}


def statistics_row(customer_no: str, name: str, figures_: CustomerFigures) -> dict[str, Any]:
    """The ``nav_accountstatistics`` columns (the currency is bound by the caller)."""
    row: dict[str, Any] = {"nav_name": name, "nav_customerno": customer_no}
    for column, attribute in MONEY_COLUMNS.items():
        row[column] = getattr(figures_, attribute) if attribute else ZERO
    row["nav_overdueamountsasof"] = figures_.overdue_amounts_as_of
    return row


def changed_columns(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Only the columns whose value differs from the Sales row (money compared as numbers)."""
    out = {}
    for column, value in wanted.items():
        have = current.get(column)
        if isinstance(value, Decimal):
            try:
                if have is not None and Decimal(str(have)) == value:
                    continue
            except ArithmeticError:
                pass  # Sales holds something that is no number: it differs, so it is sent
        elif isinstance(value, dt.date):
            if have is not None and str(have)[:10] == value.isoformat():
                continue
        elif have == value:
            continue
        out[column] = value
    return out


def figure_names() -> list[str]:
    return [f.name for f in fields(CustomerFigures)]
