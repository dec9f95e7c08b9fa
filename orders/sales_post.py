"""BC's rules for releasing, reopening and posting a sales order (pure).

Codeunit 414 "Release Sales Document" and codeunit 80 "Sales-Post", as far as the embedded BC
posts: what may be released and posted, which quantities move, the order's new status and
quantities, the item ledger entries of the shipment and the lines of the posted invoice. No I/O:
``schemas/sales_posting_store.py`` reads the order and writes the result in one transaction.

The rules, in BC's terms:

- **Release** sets Status Released. It needs a Sell-to Customer No. and at least one line with a
  Type and a Quantity; a released order is left as it is. **Reopen** sets Status Open.
- **Post** ships and/or invoices (BC's Ship / Invoice / Ship and Invoice). An Open order is released
  first (with the release checks), and stays Released. A blocked customer, item or resource stops
  it. Each line ships its Qty. to Ship and invoices its Qty. to Invoice; ``--quantity LINE=QTY``
  sets them for that posting (shipping: Qty. to Ship, and with invoicing Qty. to Invoice too;
  invoicing alone: Qty. to Invoice). Without a quantity given, invoicing alone invoices what was
  shipped and not yet invoiced. Nothing to ship and nothing to invoice: "There is nothing to post."
- **Shipping** raises Quantity Shipped and lowers Outstanding Quantity; each item line makes an item
  ledger entry of type Sale for the shipped base quantity, negative, at the line's location.
- **Invoicing** raises Quantity Invoiced and makes a Sales Invoice Line per invoiced line (text
  lines attached to it come along; text lines attached to nothing come with every invoice). The
  amounts are the invoiced share of the line's; the last invoice of a line takes what is left, so
  that a line's invoices add up to it exactly. The header's Invoice Discount Amount is spread over
  the lines by their Line Amount (the remainder on the last), as BC's invoice discount calculation
  does.
- Afterwards, as BC's InitOutstanding / InitQtyToShip / InitQtyToInvoice: Qty. to Ship =
  Outstanding Quantity, Qty. to Invoice = Quantity − Quantity Invoiced.
- When every line with a Type is completely invoiced, the order is **deleted** (with its coupling).

Where BC's messages are BC's own they are quoted verbatim; the one for a quantity of the wrong
sign is ours, in the form of BC's field errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from schemas.sales_posting import (
    InvoiceLine,
    LineUpdate,
    OrderForPosting,
    OrderLineForPosting,
    SalesPosting,
    ShipmentEntry,
)

ZERO = Decimal(0)
CENT = Decimal("0.01")
QTY = Decimal("0.00001")
OPEN, RELEASED = "Open", "Released"

NOTHING_TO_POST = "There is nothing to post."
SHIP_OR_INVOICE = 'Please enter "Yes" in Ship and/or Invoice.'


class PostingRefused(ValueError):
    """BC refuses the release or posting; the message is BC's."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _round_amount(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _round_qty(value: Decimal) -> Decimal:
    return value.quantize(QTY, rounding=ROUND_HALF_UP)


def _line_key(order: OrderForPosting, line_no: int) -> str:
    return f"Document Type=Order, Document No.={order.no}, Line No.={line_no}"


# --- Release / Reopen (codeunit 414) -------------------------------------------------------------


def check_release(order: OrderForPosting) -> None:
    """BC's checks before Status may be Released."""
    if not order.sell_to_customer_no:
        raise PostingRefused(
            f"Sell-to Customer No. must have a value in Sales Header: Document Type=Order, No.={order.no}. "
            "It cannot be zero or empty.",
            code="no_customer",
        )
    if not any(line.type and line.quantity != 0 for line in order.lines):
        raise PostingRefused(
            f"There is nothing to release for the document of type Order with the number {order.no}.",
            code="nothing_to_release",
        )


def release(order: OrderForPosting) -> str:
    """The status after "Release": Released (an order released already stays so)."""
    if order.status != RELEASED:
        check_release(order)
    return RELEASED


def reopen(order: OrderForPosting) -> str:
    """The status after "Reopen": Open."""
    return OPEN


# --- Post (codeunit 80) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LineQuantities:
    ship: Decimal
    invoice: Decimal


def _quantities(
    order: OrderForPosting, line: OrderLineForPosting, ship: bool, invoice: bool, given: Decimal | None
) -> _LineQuantities:
    """How much of a line this posting ships and invoices (BC's Qty. to Ship / Qty. to Invoice)."""
    if not line.type:
        if given is not None:
            raise PostingRefused(
                f"Type must have a value in Sales Line: {_line_key(order, line.line_no)}. It cannot be zero or empty.",
                code="text_line",
            )
        return _LineQuantities(ZERO, ZERO)
    if given is not None and given != 0 and (given < 0) != (line.quantity < 0):
        raise PostingRefused(
            f"{'Qty. to Ship' if ship else 'Qty. to Invoice'} must have the same sign as Quantity in Sales Line: "
            f"{_line_key(order, line.line_no)}.",
            code="sign",
        )
    to_ship = ZERO
    if ship:
        to_ship = line.qty_to_ship if given is None else given
        if abs(to_ship) > abs(line.outstanding_quantity):
            raise PostingRefused(
                f"You cannot ship more than {_show(line.outstanding_quantity)} units.", code="ship_more"
            )
    to_invoice = ZERO
    if invoice:
        # BC's MaxQtyToInvoice: what was shipped and not invoiced, and what this posting ships.
        most = line.quantity_shipped + to_ship - line.quantity_invoiced
        if ship:
            to_invoice = most if given is not None else min(line.qty_to_invoice, most, key=abs)
        elif given is None:
            to_invoice = most
        else:
            to_invoice = given
            if abs(to_invoice) > abs(most):
                raise PostingRefused(f"You cannot invoice more than {_show(most)} units.", code="invoice_more")
    return _LineQuantities(to_ship, to_invoice)


def _show(quantity: Decimal) -> str:
    """A quantity as BC shows it in a message (no trailing zeros)."""
    text = format(quantity.normalize(), "f")
    return text


def allocate_invoice_discount(order: OrderForPosting) -> dict[int, Decimal]:
    """The header's Invoice Discount Amount spread over the lines by Line Amount (the rounding
    remainder on the last line), as BC's invoice discount calculation does."""
    lines = [line for line in order.lines if line.type and line.amount != 0]
    total = sum((line.amount for line in lines), ZERO)
    if not lines or order.invoice_discount_amount == 0 or total == 0:
        return {}
    shares: dict[int, Decimal] = {}
    left = order.invoice_discount_amount
    for line in lines[:-1]:
        share = _round_amount(order.invoice_discount_amount * line.amount / total)
        shares[line.line_no] = share
        left -= share
    shares[lines[-1].line_no] = left
    return shares


def _portion(whole: Decimal, already: Decimal, qty: Decimal, line: OrderLineForPosting, completes: bool) -> Decimal:
    """The invoiced share of one of a line's amounts; the invoice that completes the line takes
    what is left."""
    if completes:
        return whole - already
    return _round_amount(whole * qty / line.quantity) if line.quantity else ZERO


def post(
    order: OrderForPosting,
    *,
    ship: bool,
    invoice: bool,
    quantities: Mapping[int, Decimal] | None = None,
) -> SalesPosting:
    """What posting the order does; PostingRefused with BC's message when BC would refuse."""
    if not ship and not invoice:
        raise PostingRefused(SHIP_OR_INVOICE, code="ship_or_invoice")
    given = dict(quantities or {})
    known = {line.line_no for line in order.lines}
    for line_no in sorted(set(given) - known):
        raise PostingRefused(
            "The Sales Line does not exist. Identification fields and values: "
            f"Document Type='Order',Document No.='{order.no}',Line No.='{line_no}'",
            code="no_line",
        )
    status = release(order)  # an Open order is released first, with the release checks
    if order.customer_blocked:
        raise PostingRefused(
            f"You cannot post this type of document when Customer {order.sell_to_customer_no} is blocked with type All",
            code="customer_blocked",
        )
    moves = {line.line_no: _quantities(order, line, ship, invoice, given.get(line.line_no)) for line in order.lines}
    if all(m.ship == 0 and m.invoice == 0 for m in moves.values()):
        raise PostingRefused(NOTHING_TO_POST, code="nothing_to_post")
    for line in order.lines:
        move = moves[line.line_no]
        if line.blocked and (move.ship or move.invoice):
            table = "Item" if line.type == "Item" else line.type
            raise PostingRefused(
                f"Blocked must be equal to 'No'  in {table}: No.={line.no}. Current value is 'Yes'.",
                code="blocked",
            )

    discounts = allocate_invoice_discount(order)
    updates: list[LineUpdate] = []
    entries: list[ShipmentEntry] = []
    invoiced: list[InvoiceLine] = []
    invoiced_nos: set[int] = set()
    for line in order.lines:
        if not line.type:
            continue
        move = moves[line.line_no]
        shipped = line.quantity_shipped + move.ship
        outstanding = line.quantity - shipped
        done = line.quantity_invoiced + move.invoice
        updates.append(
            LineUpdate(
                line_no=line.line_no,
                outstanding_quantity=outstanding,
                outstanding_qty_base=_round_qty(outstanding * line.qty_per_unit_of_measure),
                qty_to_ship=outstanding,
                quantity_shipped=shipped,
                qty_to_invoice=line.quantity - done,
                quantity_invoiced=done,
            )
        )
        if move.ship and line.type == "Item":
            base = _round_qty(move.ship * line.qty_per_unit_of_measure)
            entries.append(
                ShipmentEntry(
                    line_no=line.line_no,
                    item_no=line.no,
                    location_code=line.location_code,
                    quantity_base=-base,
                    description=line.description,
                    qty_on_sales_order_base=-base,
                    ledger=line.inventory,
                )
            )
        if move.invoice:
            completes = done == line.quantity
            line_amount = _portion(line.amount, line.invoiced_line_amount, move.invoice, line, completes)
            inv_discount = _portion(
                discounts.get(line.line_no, ZERO), line.invoiced_inv_discount, move.invoice, line, completes
            )
            invoiced.append(
                InvoiceLine(
                    line_no=line.line_no,
                    type=line.type,
                    no=line.no,
                    description=line.description,
                    location_code=line.location_code,
                    quantity=move.invoice,
                    unit_of_measure_code=line.unit_of_measure_code,
                    qty_per_unit_of_measure=line.qty_per_unit_of_measure,
                    quantity_base=_round_qty(move.invoice * line.qty_per_unit_of_measure),
                    unit_price=line.unit_price,
                    line_discount_amount=_portion(
                        line.line_discount_amount, line.invoiced_line_discount, move.invoice, line, completes
                    ),
                    inv_discount_amount=inv_discount,
                    amount=line_amount - inv_discount,
                )
            )
            invoiced_nos.add(line.line_no)
    if invoiced:
        invoiced = _with_text_lines(order, invoiced, invoiced_nos)
    fully = all(u.quantity_invoiced == line.quantity for u, line in zip(updates, _typed(order), strict=True))
    return SalesPosting(
        order_no=order.no,
        ship=ship,
        invoice=invoice,
        status=status,
        line_updates=tuple(updates),
        shipment_entries=tuple(entries),
        invoice_lines=tuple(invoiced),
        shipped=any(m.ship != 0 for m in moves.values()),
        fully_invoiced=fully and bool(updates),
    )


def _typed(order: OrderForPosting) -> list[OrderLineForPosting]:
    return [line for line in order.lines if line.type]


def _with_text_lines(order: OrderForPosting, invoiced: list[InvoiceLine], invoiced_nos: set[int]) -> list[InvoiceLine]:
    """The invoice's lines in the order's line order, with the text lines that belong to them."""
    by_no = {line.line_no: line for line in invoiced}
    out: list[InvoiceLine] = []
    for line in order.lines:
        if line.type:
            if line.line_no in by_no:
                out.append(by_no[line.line_no])
        elif line.attached_to_line_no == 0 or line.attached_to_line_no in invoiced_nos:
            out.append(
                InvoiceLine(
                    line_no=line.line_no,
                    type="",
                    description=line.description,
                    attached_to_line_no=line.attached_to_line_no,
                )
            )
    return out


__all__ = [
    "NOTHING_TO_POST",
    "SHIP_OR_INVOICE",
    "PostingRefused",
    "allocate_invoice_discount",
    "check_release",
    "post",
    "release",
    "reopen",
]
