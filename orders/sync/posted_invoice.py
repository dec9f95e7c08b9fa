"""What a posted sales invoice becomes in Sales (pure): BC's POSTEDSALESINV-INV and
POSTEDSALESLINE-INV (bc-sync.md §8) — the invoice's lines as ``invoicedetail`` rows, the header's
totals after the lines, and the payment status from the invoice's customer ledger entry.

The header's own fields are the mapping's field rows (orders/sync/defaults.py); what BC's table
hooks add around them is here (values) and in orders/sync/invoice_hooks.py (reading and writing).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)

# Dataverse invoice states (statecode / statuscode): Active / Billed, Paid / Complete or Partial,
# Canceled / Canceled.
ACTIVE, PAID, CANCELED = 0, 2, 3
BILLED, COMPLETE, PARTIAL, STATUS_CANCELED = 4, 100001, 100002, 100003

CUSTOMER_CHANGED = (
    "Cannot create the invoice in Dataverse. The customer from the original Dataverse sales order {order} "
    "was changed or is no longer coupled."
)
LINES_SEPARATELY = "Cannot synchronize invoice lines separately."
_NAMESPACE = uuid.UUID("7d1c0e5a-2b8e-4f59-9c0a-112113511350")


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    statecode: int
    statuscode: int


def payment_status(amount: Decimal, remaining: Decimal, *, cancelled: bool = False) -> PaymentStatus:
    """BC's UpdateCRMInvoiceStatus (bc-sync.md §8.3), from the invoice's customer ledger entry:
    cancelled → Canceled; nothing left → Paid / Complete; less left than owed → Paid / Partial;
    all of it left → Active / Billed."""
    if cancelled:
        return PaymentStatus(CANCELED, STATUS_CANCELED)
    if remaining == 0:
        return PaymentStatus(PAID, COMPLETE)
    if abs(remaining) < abs(amount):
        return PaymentStatus(PAID, PARTIAL)
    return PaymentStatus(ACTIVE, BILLED)


def status_writes(current: Mapping[str, Any], wanted: PaymentStatus) -> list[dict[str, int]]:
    """The state changes that bring a Sales invoice to ``wanted``: none when it is there; an invoice
    that is not Active is first brought back to Active / Billed, as BC does."""
    now = (current.get("statecode"), current.get("statuscode"))
    if now == (wanted.statecode, wanted.statuscode):
        return []
    writes = []
    if current.get("statecode") != ACTIVE and wanted.statecode != ACTIVE:
        writes.append({"statecode": ACTIVE, "statuscode": BILLED})
    writes.append({"statecode": wanted.statecode, "statuscode": wanted.statuscode})
    return writes


def detail_id(invoice_system_id: str, line_no: int) -> str:
    """The ``invoicedetail`` id of an invoice line: fixed by the line, so a run repeated after a
    crash finds the line it made and makes it no second time."""
    return str(uuid.uuid5(_NAMESPACE, f"{invoice_system_id.lower()}\n{line_no}"))


def line_system_id(invoice_system_id: str, line_no: int) -> str:
    """The invoice line's SystemId as its coupling records it (our invoice lines carry none)."""
    return str(uuid.uuid5(_NAMESPACE, f"line\n{invoice_system_id.lower()}\n{line_no}"))


@dataclass(frozen=True, slots=True)
class ProductRef:
    """The Sales product an item or resource is coupled to, and its default unit."""

    product_id: str
    uom_id: str | None


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def detail_values(line: Mapping[str, Any], header: Mapping[str, Any], product: ProductRef | None) -> dict[str, Any]:
    """One Sales Invoice Line as ``invoicedetail`` columns (lookups as (entity set, id) pairs in
    ``_binds``): POSTEDSALESLINE-INV's fields, what BC fills in before the insert, and the amounts
    as BC corrects them after it (bc-sync.md §8.2)."""
    amount = _money(line.get("amount"))
    incl = _money(line.get("amount_including_vat"))
    inv_discount = _money(line.get("inv_discount_amount"))
    line_discount = _money(line.get("line_discount_amount"))
    values: dict[str, Any] = {
        "quantity": _money(line.get("quantity")),
        "manualdiscountamount": line_discount,
        "priceperunit": _money(line.get("unit_price")),
        "ispriceoverridden": True,
        "volumediscountamount": ZERO,
        "baseamount": amount + inv_discount + line_discount,
        "extendedamount": incl + inv_discount,
        "tax": incl - amount,
        "lineitemnumber": int(line["line_no"]),
        "shipto_line1": header.get("ship_to_address") or None,
        "shipto_city": header.get("ship_to_city") or None,
        "shipto_postalcode": header.get("ship_to_post_code") or None,
        "shipto_country": header.get("ship_to_country_region_code") or None,
    }
    shipped = header.get("shipment_date")
    if shipped is not None:
        values["actualdeliveryon"] = shipped
    if product is not None:
        values["isproductoverridden"] = False
        values["_binds"] = {"productid": ("products", product.product_id)}
        if product.uom_id:
            values["_binds"]["uomid"] = ("uoms", product.uom_id)
    else:  # no coupled product: a write-in line, "<No.> <Description>."
        values["isproductoverridden"] = True
        values["productdescription"] = f"{line.get('no') or ''} {line.get('description') or ''}.".strip()
    return values


def header_totals(lines: Sequence[Mapping[str, Any]], header: Mapping[str, Any]) -> dict[str, Any]:
    """The header's totals BC writes after the lines (sales order integration on, §8.1)."""
    incl = _money(header.get("amount_including_vat"))
    amount = _money(header.get("amount"))
    tax = incl - amount
    return {
        "totallineitemdiscountamount": sum((_money(line.get("line_discount_amount")) for line in lines), ZERO),
        "totalamount": incl,
        "totaltax": tax,
        "totalamountlessfreight": incl - tax,
        "totaldiscountamount": _money(header.get("invoice_discount_amount")),
    }


def totals_to_write(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Only the totals that differ from the Sales row."""
    return {k: v for k, v in wanted.items() if _money(current.get(k)) != _money(v)}


def synchronized_lines(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines that go to Sales: those with a Type (a text line carries no product, quantity or
    amount; **inference**: BC's line mapping is not seen to send them)."""
    return [line for line in lines if line.get("type")]
