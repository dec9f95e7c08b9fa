"""POSTEDSALESINV-INV / POSTEDSALESLINE-INV's values and the invoice's payment status
(orders/sync/posted_invoice.py, bc-sync.md §8)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orders.sync import posted_invoice as p

D = Decimal


def test_payment_status_follows_the_remaining_amount() -> None:
    assert p.payment_status(D(100), D(100)) == p.PaymentStatus(0, 4)  # open: Active / Billed
    assert p.payment_status(D(100), D(40)) == p.PaymentStatus(2, 100002)  # partly paid: Paid / Partial
    assert p.payment_status(D(100), D(0)) == p.PaymentStatus(2, 100001)  # Paid / Complete
    assert p.payment_status(D(100), D(100), cancelled=True) == p.PaymentStatus(3, 100003)


@given(st.decimals(min_value=D("0.01"), max_value=D(10**6), places=2), st.data())
def test_any_partial_payment_is_paid_partial(amount: Decimal, data: st.DataObject) -> None:
    remaining = data.draw(st.decimals(min_value=D("0.01"), max_value=amount, places=2))
    status = p.payment_status(amount, remaining)
    assert status == (p.PaymentStatus(0, 4) if remaining == amount else p.PaymentStatus(2, 100002))


def test_a_paid_invoice_is_brought_back_to_active_before_its_status_changes() -> None:
    partial = p.PaymentStatus(2, 100002)
    assert p.status_writes({"statecode": 0, "statuscode": 4}, partial) == [{"statecode": 2, "statuscode": 100002}]
    assert p.status_writes({"statecode": 2, "statuscode": 100002}, p.PaymentStatus(2, 100001)) == [
        {"statecode": 0, "statuscode": 4},
        {"statecode": 2, "statuscode": 100001},
    ]
    assert p.status_writes({"statecode": 2, "statuscode": 100002}, partial) == []
    assert p.status_writes({"statecode": 2, "statuscode": 100001}, p.PaymentStatus(0, 4)) == [
        {"statecode": 0, "statuscode": 4}
    ]


def test_a_line_with_a_coupled_product_and_a_write_in_line() -> None:
    header = {"ship_to_address": "Main St 1", "ship_to_city": "Munich", "shipment_date": dt.date(2026, 12, 1)}
    line = {
        "line_no": 20000,
        "type": "Item",
        "no": "1900-S",
        "description": "PARIS Guest Chair, black",
        "quantity": D(2),
        "unit_price": D(250),
        "line_discount_amount": D(50),
        "inv_discount_amount": D(10),
        "amount": D(440),
        "amount_including_vat": D(440),
    }
    values = p.detail_values(line, header, p.ProductRef("prod", "unit"))
    assert values["_binds"] == {"productid": ("products", "prod"), "uomid": ("uoms", "unit")}
    assert (values["quantity"], values["priceperunit"], values["manualdiscountamount"]) == (2, 250, 50)
    # After the insert BC sets these: base = Amount + Inv. Discount + Line Discount; extended = Incl. + Inv. Discount.
    assert (values["baseamount"], values["extendedamount"], values["tax"]) == (D(500), D(450), D(0))
    assert values["ispriceoverridden"] is True and values["volumediscountamount"] == 0
    assert values["lineitemnumber"] == 20000 and values["actualdeliveryon"] == dt.date(2026, 12, 1)
    assert values["shipto_line1"] == "Main St 1" and values["shipto_city"] == "Munich"
    write_in = p.detail_values(line, header, None)
    assert write_in["isproductoverridden"] is True and "_binds" not in write_in
    assert write_in["productdescription"] == "1900-S PARIS Guest Chair, black."


def test_header_totals_and_only_the_differing_ones() -> None:
    header = {"amount": D(1450), "amount_including_vat": D(1450), "invoice_discount_amount": D(0)}
    lines = [{"line_discount_amount": D(0)}, {"line_discount_amount": D(50)}]
    totals = p.header_totals(lines, header)
    assert totals == {
        "totallineitemdiscountamount": D(50),
        "totalamount": D(1450),
        "totaltax": D(0),
        "totalamountlessfreight": D(1450),
        "totaldiscountamount": D(0),
    }
    assert p.totals_to_write(totals, {**totals, "totalamount": 1450.0}) == {}
    assert p.totals_to_write(totals, {**totals, "totaltax": 5}) == {"totaltax": D(0)}


def test_a_lines_sales_id_is_fixed_by_the_line_and_text_lines_stay_in_bc() -> None:
    a = p.detail_id("8E0D3A8C-0000-4000-8000-000000000001", 10000)
    assert a == p.detail_id("8e0d3a8c-0000-4000-8000-000000000001", 10000)
    assert a != p.detail_id("8e0d3a8c-0000-4000-8000-000000000001", 20000)
    assert p.line_system_id("8e0d3a8c-0000-4000-8000-000000000001", 10000) != a
    assert p.synchronized_lines([{"type": "Item"}, {"type": ""}, {"type": "Resource"}]) == [
        {"type": "Item"},
        {"type": "Resource"},
    ]
