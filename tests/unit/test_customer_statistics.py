"""A customer's figures as BC's FlowFields compute them (orders/sync/statistics.py), and what of
them goes to Sales."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orders.sync import statistics as s

D = Decimal
TODAY = dt.date(2026, 12, 1)

money = st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2, allow_nan=False, allow_infinity=False)
quantity = st.integers(min_value=1, max_value=50).map(D)
day = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31))


def _figures(**kw: object) -> s.CustomerFigures:
    values: dict[str, object] = {"detailed": (), "ledger": (), "order_lines": (), "credit_limit_lcy": D(0)}
    values.update(kw)
    return s.figures(work_date=TODAY, **values)  # type: ignore[arg-type]


def test_an_invoice_and_a_part_payment_give_the_balance_and_overdue_as_bc() -> None:
    invoice = s.DetailedEntry(D("2000"), dt.date(2026, 11, 1), dt.date(2026, 11, 15))  # due: overdue now
    payment = s.DetailedEntry(D("-500"), dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    # The application moves nothing between the two (equal and opposite), only what is open of each.
    applied_invoice = s.DetailedEntry(D("-500"), dt.date(2026, 11, 20), dt.date(2026, 11, 15))
    applied_payment = s.DetailedEntry(D("500"), dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    later = s.DetailedEntry(D("700"), dt.date(2026, 12, 1), dt.date(2026, 12, 31))  # not due yet
    f = _figures(
        detailed=(invoice, payment, applied_invoice, applied_payment, later),
        ledger=(s.LedgerEntry(dt.date(2026, 11, 1), D("2000")), s.LedgerEntry(dt.date(2025, 6, 1), D("999"))),
        credit_limit_lcy=D("10000"),
    )
    assert f.balance_lcy == D("2200")
    assert f.overdue_amounts_lcy == D("1500")  # the invoice's open 1500; the payment is used up
    assert f.overdue_amounts_as_of == TODAY
    assert f.total_sales_lcy == D("2000")  # last year's sale is not this fiscal year's
    assert f.total_lcy == D("2200") and f.credit_limit_lcy == D("10000")


def test_order_lines_give_outstanding_orders_and_shipped_not_invoiced() -> None:
    line = s.OrderLine(quantity=D(3), amount=D("3000"), outstanding_quantity=D(1), quantity_shipped=D(2))
    f = _figures(order_lines=(line,))
    assert (f.outstanding_orders_lcy, f.shipped_not_invoiced_lcy) == (D("1000.00"), D("2000.00"))
    assert f.total_lcy == D("3000.00")
    invoiced = s.OrderLine(
        quantity=D(3), amount=D("3000"), outstanding_quantity=D(1), quantity_shipped=D(2), quantity_invoiced=D(2)
    )
    assert _figures(order_lines=(invoiced,)).shipped_not_invoiced_lcy == 0


def test_outstanding_amounts_round_as_bc() -> None:
    line = s.OrderLine(quantity=D(3), amount=D("100"), outstanding_quantity=D(1))
    assert s.outstanding_amount(line) == D("33.33")
    assert s.outstanding_amount(s.OrderLine(quantity=D(0), amount=D(5), outstanding_quantity=D(0))) == 0


@given(st.lists(st.tuples(money, day, st.one_of(st.none(), day)), max_size=20))
def test_the_balance_is_the_sum_of_the_detailed_entries_and_overdue_only_counts_entries_due_before_today(
    entries: list[tuple[Decimal, dt.date, dt.date | None]],
) -> None:
    detailed = [s.DetailedEntry(a, p, d) for a, p, d in entries]
    f = _figures(detailed=detailed)
    assert f.balance_lcy == sum((a for a, _p, _d in entries), D(0))
    assert f.overdue_amounts_lcy == sum((a for a, _p, d in entries if d is not None and d < TODAY), D(0))


@given(
    st.lists(
        st.tuples(quantity, money.filter(lambda m: m >= 0), st.integers(0, 50), st.integers(0, 50)),
        max_size=10,
    )
)
def test_total_is_balance_plus_outstanding_orders_plus_shipped_not_invoiced(
    raw: list[tuple[Decimal, Decimal, int, int]],
) -> None:
    lines = []
    for qty, amount, a, b in raw:
        shipped = D(min(a, int(qty)))
        invoiced = D(min(b, int(shipped)))
        lines.append(
            s.OrderLine(
                quantity=qty,
                amount=amount,
                outstanding_quantity=qty - shipped,
                quantity_shipped=shipped,
                quantity_invoiced=invoiced,
            )
        )
    f = _figures(order_lines=lines, detailed=[s.DetailedEntry(D("12.34"), TODAY)])
    assert f.total_lcy == f.balance_lcy + f.outstanding_orders_lcy + f.shipped_not_invoiced_lcy
    # Nothing is outstanding and shipped-not-invoiced at once beyond the line's amount.
    for line in lines:
        assert s.outstanding_amount(line) + s.shipped_not_invoiced(line) <= line.amount + D("0.01")


@given(money.filter(lambda m: m >= 0), st.lists(money.filter(lambda m: m >= 0), max_size=8))
def test_the_invoice_discount_spreads_over_the_lines_and_adds_up(discount: Decimal, amounts: list[Decimal]) -> None:
    shares = s.allocate_invoice_discount(discount, amounts)
    assert len(shares) == len(amounts)
    if sum(amounts) and discount:
        assert sum(shares) == discount
    else:
        assert all(share == 0 for share in shares)
    assert all(share == 0 for share, amount in zip(shares, amounts, strict=True) if amount == 0)


def test_the_fiscal_year_is_the_calendar_year_of_the_work_date() -> None:
    assert s.fiscal_year(TODAY) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_the_statistics_row_has_bcs_columns_and_only_changed_ones_are_written() -> None:
    f = _figures(detailed=[s.DetailedEntry(D("10"), TODAY)], credit_limit_lcy=D("5"))
    row = s.statistics_row("10000", "Adatum", f)
    assert row["nav_customerno"] == "10000" and row["nav_name"] == "Adatum"
    assert row["nav_balancelcy"] == D("10") and row["nav_creditlimitlcy"] == D("5")
    assert row["nav_outstandingserviceorderslcy"] == 0  # no Service module here
    assert row["nav_overdueamountsasof"] == TODAY
    placeholder = s.placeholder_row("10000", "Adatum")
    assert all(placeholder[column] == 1 for column in s.MONEY_COLUMNS)  # BC's 1s: Sales shows a number
    current = {**row, "nav_balancelcy": 10.0, "nav_overdueamountsasof": "2026-12-01"}
    assert s.changed_columns(row, current) == {}
    assert s.changed_columns(row, {**current, "nav_totallcy": 3}) == {"nav_totallcy": row["nav_totallcy"]}
