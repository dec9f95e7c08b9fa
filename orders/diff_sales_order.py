"""`bc-gateway orders diff SALES_ORDER_ID`: read the Sales order and its BC order, and what BC's
rules make of the Sales order now, then compare (``orders/order_diff.py``, pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.create_bc_sales_order import already_posted_message, convert
from orders.dataverse.client import DataverseClient
from orders.order_diff import BcOrderNow, Difference, order_differences
from orders.read_bc_records import read_for
from orders.read_sales_document import read_sales_order
from orders.sales_order_to_bc_order import ConversionError
from schemas import tables as t
from schemas.bc_sales_document import BcSalesDocument, BcSalesHeader, BcSalesLine
from schemas.sales_document_store import coupled_document
from schemas.sales_posting_store import posted_invoice_for_sales_order


class NoBcOrder(Exception):
    """The Sales order has no BC order to compare with; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class OrderDiff:
    sales_id: str
    sales_number: str
    bc_order_no: str
    refusal: str  # BC's message when its rules refuse the Sales order now ("" when they do not)
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sales_id": self.sales_id,
            "sales_number": self.sales_number,
            "bc_order_no": self.bc_order_no,
            "refusal": self.refusal,
            "differences": [d.as_dict() for d in self.differences],
        }


async def _bc_order(engine: AsyncEngine, company: str, sales_id: str) -> BcOrderNow:
    async with engine.connect() as conn:
        found = await coupled_document(conn, company, sales_id)
        if found is None or found[0] != "Order":
            invoiced = await posted_invoice_for_sales_order(conn, company, sales_id)
            if invoiced:
                raise NoBcOrder(already_posted_message(invoiced) + f" See PostedSalesInvoices('{invoiced}').")
            raise NoBcOrder(
                f"The Sales order {sales_id} is not coupled to a BC order; 'bc-gateway orders show {sales_id}' says "
                "why (its inbox rows and BC's message)."
            )
        no = found[1]
        h, ln = t.sales_header, t.sales_line
        header = (
            await conn.execute(select(h).where(h.c.company == company, h.c.document_type == "Order", h.c.no == no))
        ).one()
        rows = (
            await conn.execute(
                select(ln)
                .where(ln.c.company == company, ln.c.document_type == "Order", ln.c.document_no == no)
                .order_by(ln.c.line_no)
            )
        ).all()
    document = BcSalesDocument(
        header=BcSalesHeader(
            document_type="Order",
            sell_to_customer_no=header.sell_to_customer_no,
            your_reference=header.your_reference,
            external_document_no=header.external_document_no,
            currency_code=header.currency_code,
            requested_delivery_date=header.requested_delivery_date,
            payment_discount_pct=header.payment_discount_pct,
            invoice_discount_amount=header.invoice_discount_amount,
            sales_id=sales_id,
        ),
        lines=tuple(
            BcSalesLine(
                line_no=r.line_no,
                type=r.type,
                no=r.no,
                description=r.description,
                quantity=r.quantity,
                unit_of_measure_code=r.unit_of_measure_code,
                qty_per_unit_of_measure=r.qty_per_unit_of_measure,
                quantity_base=r.quantity_base,
                unit_price=r.unit_price,
                line_discount_amount=r.line_discount_amount,
                amount=r.amount,
                attached_to_line_no=r.attached_to_line_no,
                sales_line_id=r.sales_line_id,
            )
            for r in rows
        ),
    )
    return BcOrderNow(
        no=no,
        status=header.status,
        document=document,
        amount=Decimal(header.amount),
        shipped={r.line_no: Decimal(r.quantity_shipped) for r in rows},
        invoiced={r.line_no: Decimal(r.quantity_invoiced) for r in rows},
    )


async def diff_sales_order(engine: AsyncEngine, company: str, client: DataverseClient, sales_id: str) -> OrderDiff:
    """The differences between a Sales order and its BC order (NoBcOrder when it has none)."""
    sales_id = sales_id.lower()
    bc = await _bc_order(engine, company, sales_id)
    data = await read_sales_order(client, sales_id)
    async with engine.connect() as conn:
        inputs = await read_for(conn, company, data)
    expected: BcSalesDocument | None
    refusal = ""
    try:
        expected = convert(data, inputs)
    except ConversionError as exc:
        expected, refusal = None, exc.message
    order = data.document
    account = data.account
    account_label = (account.accountnumber or account.name or account.accountid) if account else ""
    return OrderDiff(
        sales_id=sales_id,
        sales_number=order.ordernumber or "",
        bc_order_no=bc.no,
        refusal=refusal,
        differences=order_differences(
            order=order,
            sales_lines=data.lines,
            uoms=data.uoms,
            product_numbers={pid: p.productnumber or p.name or pid for pid, p in data.products.items()},
            currency_code=(data.currency.isocurrencycode or "") if data.currency else "",
            account_label=account_label,
            expected=expected,
            bc=bc,
        ),
    )


__all__ = ["NoBcOrder", "OrderDiff", "diff_sales_order"]
