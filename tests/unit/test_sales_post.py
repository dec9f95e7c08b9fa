"""BC's release and posting rules (orders/sales_post.py), pure: what may be released and posted,
which quantities move, the invoiced amounts, and BC's messages."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from orders.sales_post import (
    NOTHING_TO_POST,
    SHIP_OR_INVOICE,
    PostingRefused,
    allocate_invoice_discount,
    post,
    release,
    reopen,
)
from schemas.sales_posting import OrderForPosting, OrderLineForPosting

D = Decimal


def line(line_no: int = 10000, quantity: str = "10", price: str = "5", **values: Any) -> OrderLineForPosting:
    q = D(quantity)
    base: dict[str, Any] = {
        "line_no": line_no,
        "type": "Item",
        "no": "1896-S",
        "description": "ATHENS Desk",
        "location_code": "BLUE",
        "quantity": q,
        "unit_of_measure_code": "PCS",
        "unit_price": D(price),
        "amount": q * D(price),
        "outstanding_quantity": q,
        "qty_to_ship": q,
        "qty_to_invoice": q,
    }
    return OrderLineForPosting(**{**base, **values})


def order(*lines: OrderLineForPosting, **values: Any) -> OrderForPosting:
    base: dict[str, Any] = {"no": "SO000001", "status": "Open", "sell_to_customer_no": "10000"}
    return OrderForPosting(**{**base, **values}, lines=lines or (line(),))


def refused(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(PostingRefused) as caught:
        fn(*args, **kwargs)
    return caught.value.message


def after(o: OrderForPosting, **kwargs: Any) -> OrderForPosting:
    """The order as it is after a posting (the lines' new quantities, what was invoiced)."""
    p = post(o, **kwargs)
    updates = {u.line_no: u for u in p.line_updates}
    invoiced = {i.line_no: i for i in p.invoice_lines}
    lines = []
    for ln in o.lines:
        u = updates.get(ln.line_no)
        if u is None:
            lines.append(ln)
            continue
        inv = invoiced.get(ln.line_no)
        lines.append(
            dataclasses.replace(
                ln,
                outstanding_quantity=u.outstanding_quantity,
                qty_to_ship=u.qty_to_ship,
                quantity_shipped=u.quantity_shipped,
                qty_to_invoice=u.qty_to_invoice,
                quantity_invoiced=u.quantity_invoiced,
                invoiced_line_amount=ln.invoiced_line_amount + (inv.amount + inv.inv_discount_amount if inv else 0),
                invoiced_line_discount=ln.invoiced_line_discount + (inv.line_discount_amount if inv else 0),
                invoiced_inv_discount=ln.invoiced_inv_discount + (inv.inv_discount_amount if inv else 0),
            )
        )
    return dataclasses.replace(o, status=p.status, lines=tuple(lines))


# --- release / reopen ----------------------------------------------------------------------------


def test_release_sets_released_and_a_released_order_stays_so() -> None:
    assert release(order()) == "Released"
    assert release(order(status="Released")) == "Released"
    assert reopen(order(status="Released")) == "Open"


def test_release_needs_a_line_with_a_type_and_a_quantity() -> None:
    text_only = order(line(type="", no="", quantity="0"), line(20000, quantity="0"))
    assert refused(release, text_only) == (
        "There is nothing to release for the document of type Order with the number SO000001."
    )


def test_release_needs_a_customer() -> None:
    message = refused(release, order(sell_to_customer_no=""))
    assert message.startswith(
        "Sell-to Customer No. must have a value in Sales Header: Document Type=Order, No.=SO000001."
    )


# --- post: what may be posted ----------------------------------------------------------------


def test_post_needs_ship_or_invoice() -> None:
    assert refused(post, order(), ship=False, invoice=False) == SHIP_OR_INVOICE


def test_an_open_order_is_released_by_posting_with_the_release_checks() -> None:
    assert post(order(), ship=True, invoice=False).status == "Released"
    empty = order(line(quantity="0"))
    assert refused(post, empty, ship=True, invoice=False).startswith("There is nothing to release")


def test_nothing_to_post_when_all_is_shipped_and_invoicing_alone_has_nothing_shipped() -> None:
    shipped = after(order(), ship=True, invoice=False)
    assert refused(post, shipped, ship=True, invoice=False) == NOTHING_TO_POST
    assert refused(post, order(), ship=False, invoice=True) == NOTHING_TO_POST


def test_blocked_customer_item_and_unknown_line_are_refused_in_bcs_words() -> None:
    assert refused(post, order(customer_blocked=True), ship=True, invoice=False) == (
        "You cannot post this type of document when Customer 10000 is blocked with type All"
    )
    assert refused(post, order(line(blocked=True)), ship=True, invoice=False) == (
        "Blocked must be equal to 'No'  in Item: No.=1896-S. Current value is 'Yes'."
    )
    assert refused(post, order(), ship=True, invoice=False, quantities={30000: D(1)}) == (
        "The Sales Line does not exist. Identification fields and values: "
        "Document Type='Order',Document No.='SO000001',Line No.='30000'"
    )


def test_quantities_beyond_what_is_left_are_refused() -> None:
    assert refused(post, order(), ship=True, invoice=False, quantities={10000: D(11)}) == (
        "You cannot ship more than 10 units."
    )
    part = after(order(), ship=True, invoice=False, quantities={10000: D(4)})
    assert refused(post, part, ship=False, invoice=True, quantities={10000: D(5)}) == (
        "You cannot invoice more than 4 units."
    )
    assert "must have the same sign as Quantity" in refused(
        post, order(), ship=True, invoice=False, quantities={10000: D(-1)}
    )


def test_a_text_line_takes_no_quantity() -> None:
    o = order(line(), line(20000, type="", no="", quantity="0"))
    assert refused(post, o, ship=True, invoice=False, quantities={20000: D(1)}).startswith(
        "Type must have a value in Sales Line: Document Type=Order, Document No.=SO000001, Line No.=20000."
    )


# --- post: shipping ----------------------------------------------------------------------------


def test_shipment_is_a_negative_sale_in_base_units_at_the_lines_location() -> None:
    o = order(line(quantity="3", qty_per_unit_of_measure=D(12), unit_of_measure_code="BOX"))
    p = post(o, ship=True, invoice=False)
    (entry,) = p.shipment_entries
    assert (entry.item_no, entry.location_code, entry.quantity_base) == ("1896-S", "BLUE", D(-36))
    assert entry.qty_on_sales_order_base == D(-36)
    (u,) = p.line_updates
    assert (u.quantity_shipped, u.outstanding_quantity, u.outstanding_qty_base, u.qty_to_ship) == (3, 0, 0, 0)
    assert u.qty_to_invoice == 3 and u.quantity_invoiced == 0
    assert p.shipped and not p.invoice_lines and not p.fully_invoiced


def test_partial_shipment_keeps_the_rest_outstanding() -> None:
    p = post(order(), ship=True, invoice=False, quantities={10000: D(4)})
    (u,) = p.line_updates
    assert (u.quantity_shipped, u.outstanding_quantity, u.qty_to_ship, u.qty_to_invoice) == (4, 6, 6, 10)
    assert p.shipment_entries[0].quantity_base == D(-4)


def test_resources_and_gl_lines_ship_without_ledger_entries_and_a_non_inventory_item_without_one() -> None:
    o = order(
        line(10000, type="Resource", no="LIFT", quantity="2"),
        line(20000, type="G/L Account", no="6810", quantity="1"),
        line(30000, no="1900-S", quantity="1", inventory=False),
    )
    p = post(o, ship=True, invoice=False)
    assert [u.quantity_shipped for u in p.line_updates] == [2, 1, 1]
    (entry,) = p.shipment_entries
    assert entry.item_no == "1900-S" and not entry.ledger  # Qty. on Sales Order still falls


# --- post: invoicing ---------------------------------------------------------------------------


def test_ship_and_invoice_all_invoices_every_line_and_the_order_is_done() -> None:
    o = order(line(), line(20000, no="1900-S", quantity="1", price="100"))
    p = post(o, ship=True, invoice=True)
    assert [(i.line_no, i.quantity, i.amount) for i in p.invoice_lines] == [(10000, 10, 50), (20000, 1, 100)]
    assert p.invoice_amount == 150 and p.fully_invoiced


def test_invoicing_alone_invoices_what_was_shipped() -> None:
    part = after(order(), ship=True, invoice=False, quantities={10000: D(4)})
    p = post(part, ship=False, invoice=True)
    (inv,) = p.invoice_lines
    assert inv.quantity == 4 and inv.amount == 20 and not p.shipment_entries
    assert not p.fully_invoiced
    (u,) = p.line_updates
    assert (u.quantity_invoiced, u.qty_to_invoice, u.outstanding_quantity) == (4, 6, 6)


def test_partial_invoices_add_up_to_the_line_exactly() -> None:
    # 3 x 33.33 less a discount of 1.00: thirds do not divide evenly; the last takes the rest.
    o = order(
        line(quantity="3", price="33.33", line_discount_amount=D(1), amount=D("98.99")),
        invoice_discount_amount=D("9.99"),
    )
    amounts, discounts, inv_discounts = [], [], []
    for _ in range(3):
        p = post(o, ship=True, invoice=True, quantities={10000: D(1)})
        (inv,) = p.invoice_lines
        amounts.append(inv.amount + inv.inv_discount_amount)
        discounts.append(inv.line_discount_amount)
        inv_discounts.append(inv.inv_discount_amount)
        o = after(o, ship=True, invoice=True, quantities={10000: D(1)})
    assert sum(amounts) == D("98.99") and sum(discounts) == D(1) and sum(inv_discounts) == D("9.99")
    assert amounts == [D("33.00"), D("33.00"), D("32.99")]
    assert p.fully_invoiced


def test_invoice_discount_is_spread_by_line_amount_with_the_remainder_on_the_last_line() -> None:
    o = order(line(10000, quantity="1", price="1"), line(20000, quantity="1", price="2"), invoice_discount_amount=D(1))
    shares = allocate_invoice_discount(o)
    assert shares == {10000: D("0.33"), 20000: D("0.67")}
    p = post(o, ship=True, invoice=True)
    assert [i.amount for i in p.invoice_lines] == [D("0.67"), D("1.33")]
    assert p.invoice_discount == 1


def test_text_lines_come_with_the_lines_they_belong_to() -> None:
    o = order(
        line(10000),
        line(20000, type="", no="", quantity="0", description="continued", attached_to_line_no=10000),
        line(30000, no="1900-S", quantity="1"),
        line(40000, type="", no="", quantity="0", description="of line 30000", attached_to_line_no=30000),
        line(50000, type="", no="", quantity="0", description="a comment on the order"),
    )
    p = post(o, ship=True, invoice=True, quantities={30000: D(0)})
    assert [i.line_no for i in p.invoice_lines] == [10000, 20000, 50000]
    assert not p.fully_invoiced  # line 30000 is still open
