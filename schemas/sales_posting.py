"""What posting a BC sales order reads and what it writes, as data (no I/O).

The rules that decide a posting (BC's codeunits 414 "Release Sales Document" and 80 "Sales-Post")
are in ``orders/sales_post.py``; they take an :class:`OrderForPosting` and return a
:class:`SalesPosting`, which ``schemas/sales_posting_store.py`` writes in one transaction. Names
follow BC's fields ("Qty. to Ship" is ``qty_to_ship``, "Quantity Shipped" ``quantity_shipped``);
quantities are in the line's unit of measure unless the name ends in ``_base``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLineForPosting:
    """A Sales Line of an order as posting reads it. ``invoiced_*``: what the posted invoice
    lines made from this line so far add up to (the last invoice of a line takes the remainder,
    so that the invoices add up to the line exactly)."""

    line_no: int
    type: str  # "" is a text line
    no: str = ""
    description: str = ""
    location_code: str = ""
    quantity: Decimal = ZERO
    unit_of_measure_code: str = ""
    qty_per_unit_of_measure: Decimal = Decimal(1)
    unit_price: Decimal = ZERO
    line_discount_amount: Decimal = ZERO
    amount: Decimal = ZERO  # BC's Line Amount (before the invoice discount)
    attached_to_line_no: int = 0
    outstanding_quantity: Decimal = ZERO
    qty_to_ship: Decimal = ZERO
    quantity_shipped: Decimal = ZERO
    qty_to_invoice: Decimal = ZERO
    quantity_invoiced: Decimal = ZERO
    invoiced_line_amount: Decimal = ZERO
    invoiced_line_discount: Decimal = ZERO
    invoiced_inv_discount: Decimal = ZERO
    blocked: bool = False  # the item or resource is blocked
    inventory: bool = True  # an item of Type Inventory: its shipment makes an item ledger entry


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderForPosting:
    """A Sales Header (Document Type Order) with its lines, as posting reads it."""

    no: str
    status: str  # Open | Released
    sell_to_customer_no: str
    customer_blocked: bool = False
    invoice_discount_amount: Decimal = ZERO
    lines: tuple[OrderLineForPosting, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class LineUpdate:
    """A Sales Line's posting fields after the posting."""

    line_no: int
    outstanding_quantity: Decimal
    outstanding_qty_base: Decimal
    qty_to_ship: Decimal
    quantity_shipped: Decimal
    qty_to_invoice: Decimal
    quantity_invoiced: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class ShipmentEntry:
    """What an item line ships: an item ledger entry of type Sale (``quantity_base`` negative)
    when the item is of Type Inventory, and always less Qty. on Sales Order."""

    line_no: int
    item_no: str
    location_code: str
    quantity_base: Decimal
    description: str
    qty_on_sales_order_base: Decimal  # what leaves Qty. on Sales Order (negative)
    ledger: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceLine:
    """A Sales Invoice Line (it keeps the order line's Line No.)."""

    line_no: int
    type: str
    no: str = ""
    description: str = ""
    location_code: str = ""
    quantity: Decimal = ZERO
    unit_of_measure_code: str = ""
    qty_per_unit_of_measure: Decimal = Decimal(1)
    quantity_base: Decimal = ZERO
    unit_price: Decimal = ZERO
    line_discount_amount: Decimal = ZERO
    inv_discount_amount: Decimal = ZERO
    amount: Decimal = ZERO  # Line Amount less Inv. Discount Amount
    attached_to_line_no: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesPosting:
    """What one posting of an order does: its new status, the lines' new quantities, the item
    ledger entries of the shipment and the lines of the invoice, and whether the order is then
    completely invoiced (BC deletes it, with its coupling)."""

    order_no: str
    ship: bool
    invoice: bool
    status: str
    line_updates: tuple[LineUpdate, ...] = ()
    shipment_entries: tuple[ShipmentEntry, ...] = ()
    invoice_lines: tuple[InvoiceLine, ...] = ()
    shipped: bool = False  # some line ships something: a posted shipment is numbered
    fully_invoiced: bool = False

    @property
    def invoice_amount(self) -> Decimal:
        return sum((line.amount for line in self.invoice_lines), ZERO)

    @property
    def invoice_discount(self) -> Decimal:
        return sum((line.inv_discount_amount for line in self.invoice_lines), ZERO)


@dataclass(frozen=True, slots=True)
class PostedDocuments:
    """What a posting made: the shipment's number (the ledger entries' Document No.), the posted
    invoice's number, the item ledger entry numbers, and whether the order was deleted."""

    order_no: str
    shipment_no: str = ""
    invoice_no: str = ""
    entry_nos: tuple[int, ...] = ()
    order_deleted: bool = False
    posting_date: dt.date | None = None
    invoice_amount: Decimal = ZERO
    items: tuple[str, ...] = field(default=())
