"""BC's rules for turning a submitted Sales order into a BC sales order: quantities, prices and line
discounts, freight, the invoice discount (docs/reference/bc-rules.md §4.5, §4.6)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.conversion_rules import bc_decimal, bc_guid
from orders.dataverse.records import (
    SalesOrderLine,
)
from tests.support.builders import (
    CRATE_ID,
    DESK_ID,
    PIECE_ID,
    SETUP,
    convert,
    error,
    line,
    only_line,
    order,
    order_input,
)

# ---- quantities and amounts -----------------------------------------------------------------


def test_amounts() -> None:
    sales_line = line(
        1,
        quantity=Decimal("3"),
        priceperunit=Decimal("19.99"),
        volumediscountamount=Decimal("1.10"),
        manualdiscountamount=Decimal("2.00"),
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity == Decimal("3")
    assert bc_line.unit_price == Decimal("19.99")
    assert bc_line.line_discount_amount == Decimal("5.30")  # 3 x 1.10 + 2.00
    assert bc_line.amount == Decimal("54.67")  # 59.97 - 5.30


def test_rounding_as_bc() -> None:
    sales_line = line(
        1,
        quantity=Decimal("1.234565"),
        priceperunit=Decimal("0.1234567"),
        manualdiscountamount=Decimal("0.005"),
        uomid=CRATE_ID,
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity == Decimal("1.23457")  # 5 decimals, half away from zero
    assert bc_line.unit_price == Decimal("0.12346")
    assert bc_line.quantity_base == Decimal("14.81484")  # 1.23457 x 12
    assert bc_line.line_discount_amount == Decimal("0.01")
    assert bc_line.amount == Decimal("0.14")  # round(1.23457 x 0.12346) = 0.15, less 0.01
    assert bc_line.amount.as_tuple().exponent == -2


def test_missing_numbers_count_as_zero() -> None:
    sales_line = line(1, quantity=None, priceperunit=None, manualdiscountamount=None, volumediscountamount=None)
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert (bc_line.quantity, bc_line.unit_price, bc_line.line_discount_amount, bc_line.amount) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("quantity", "price", "manual", "volume"),
    [
        pytest.param("1", "10", "10.01", "0", id="more-than-the-amount"),
        pytest.param("2", "10", "0", "10.01", id="volume-more-than-the-amount"),
        pytest.param("1", "10", "-1", "0", id="negative"),
        pytest.param("1", "0", "1", "0", id="discount-on-nothing"),
    ],
)
def test_line_discount_outside_0_to_100_percent(quantity: str, price: str, manual: str, volume: str) -> None:
    sales_line = line(
        1,
        quantity=Decimal(quantity),
        priceperunit=Decimal(price),
        manualdiscountamount=Decimal(manual),
        volumediscountamount=Decimal(volume),
    )
    assert (
        error(order_input(lines=(sales_line,))) == "The value in the Line Discount % field must be between 0 and 100."
    )


def test_full_discount_is_allowed() -> None:
    sales_line = line(1, quantity=Decimal(1), priceperunit=Decimal(10), manualdiscountamount=Decimal(10))
    assert only_line(convert(order_input(lines=(sales_line,)))).amount == 0


# ---- freight --------------------------------------------------------------------------------


def test_freight_line_comes_last() -> None:
    doc = convert(order_input(order(freightamount=Decimal("12.345")), lines=(line(1, description="more"),)))
    freight = doc.lines[-1]
    assert (freight.line_no, freight.type, freight.no, freight.description) == (
        30000,
        "G/L Account",
        "6810",
        "Freight Amount",
    )
    assert (freight.quantity, freight.unit_price, freight.amount) == (1, Decimal("12.345"), Decimal("12.35"))
    assert freight.sales_line_id is None


def test_freight_on_an_order_without_lines() -> None:
    (freight,) = convert(order_input(order(freightamount=Decimal(5)), lines=())).lines
    assert freight.line_no == 10000


@pytest.mark.parametrize("freight", [None, Decimal(0), Decimal("-3")])
def test_no_freight_line_without_freight(freight: Decimal | None) -> None:
    doc = convert(order_input(order(freightamount=freight)))
    assert [bc.type for bc in doc.lines] == ["Item"]


def test_freight_without_a_freight_account() -> None:
    setup = dataclasses.replace(SETUP, freight_gl_account="")
    assert error(order_input(order(freightamount=Decimal(5)), setup=setup)) == (
        "Freight G/L Acc. No. must have a value in Sales & Receivables Setup: Primary Key=. It cannot be zero or empty."
    )


# ---- invoice discount -----------------------------------------------------------------------


def test_invoice_discount_from_sales_totals() -> None:
    doc = order(
        discountamount=Decimal(5),
        totallineitemamount=Decimal("200.00"),
        totalamountlessfreight=Decimal("185.00"),
    )
    assert convert(order_input(doc)).header.invoice_discount_amount == Decimal("15.00")


def test_invoice_discount_computed_without_totals() -> None:
    # 2 lines of 200.00: 400.00; 10.00 + 2.5 % of 400.00 = 20.00; the freight line does not count.
    doc = order(discountamount=Decimal(10), discountpercentage=Decimal("2.5"), freightamount=Decimal(50))
    h = convert(order_input(doc, lines=(line(1), line(2)))).header
    assert h.invoice_discount_amount == Decimal("20.00")
    assert h.payment_discount_pct == Decimal("2.5")  # BC sets both


def test_no_invoice_discount_when_sales_has_none() -> None:
    doc = order(discountamount=Decimal(0), totallineitemamount=Decimal(200), totalamountlessfreight=Decimal(150))
    assert convert(order_input(doc)).header.invoice_discount_amount == 0


@pytest.mark.parametrize(
    ("changes", "lines", "message"),
    [
        pytest.param(
            {"discountamount": Decimal(1), "totallineitemamount": Decimal(100), "totalamountlessfreight": Decimal(101)},
            (line(1),),
            "Invoice Discount Amount must not be negative.",
            id="negative",
        ),
        pytest.param(
            {"discountamount": Decimal(1)},
            (),
            "There is no amount that you can apply an invoice discount to.",
            id="no-lines",
        ),
        pytest.param(
            {"discountamount": Decimal("1234.56")},
            (line(1, quantity=Decimal(5), priceperunit=Decimal("200.1")),),
            "The maximum Invoice Discount Amount that you can apply is 1,000.5.",
            id="too-big",
        ),
    ],
)
def test_invoice_discount_bc_cannot_apply(
    changes: dict[str, Any], lines: tuple[SalesOrderLine, ...], message: str
) -> None:
    assert error(order_input(order(**changes), lines=lines)) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [("1000.50", "1,000.5"), ("100.00", "100"), ("0", "0"), ("0.00", "0"), ("1234567.891", "1,234,567.891")],
)
def test_bc_decimal_format(value: str, text: str) -> None:
    assert bc_decimal(Decimal(value)) == text


def test_bc_guid_format() -> None:
    assert bc_guid(DESK_ID) == "{B1000001-0000-EF11-A671-000D3A4B5C6D}"


# ---- properties -----------------------------------------------------------------------------

_decimal = st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False, allow_infinity=False)


@given(
    _decimal,
    st.decimals(min_value=0, max_value=10**4, places=5, allow_nan=False, allow_infinity=False),
    st.sampled_from([PIECE_ID, CRATE_ID, None]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_quantities_and_amounts(
    quantity: Decimal, price: Decimal, uomid: str | None, volume_share: float, manual_share: float
) -> None:
    base = (quantity * price).quantize(Decimal("0.01"))
    # Discounts within the line amount (a larger one is BC's error, tested above).
    volume = (base * Decimal(str(volume_share)) / quantity).quantize(Decimal("0.01"), "ROUND_DOWN") if quantity else 0
    rest = base - (quantity * volume).quantize(Decimal("0.01"))
    manual = max(Decimal(0), (rest * Decimal(str(manual_share))).quantize(Decimal("0.01"), "ROUND_DOWN"))
    sales_line = line(
        1,
        quantity=quantity,
        priceperunit=price,
        uomid=uomid,
        volumediscountamount=Decimal(volume),
        manualdiscountamount=manual,
    )
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert bc_line.quantity_base == (bc_line.quantity * bc_line.qty_per_unit_of_measure).quantize(Decimal("0.00001"))
    assert bc_line.amount >= 0
    assert bc_line.line_discount_amount >= 0
    # BC's Round: half away from zero (Decimal's default would round half to even).
    assert bc_line.amount == (bc_line.quantity * bc_line.unit_price).quantize(Decimal("0.01"), "ROUND_HALF_UP") - (
        bc_line.line_discount_amount
    )
