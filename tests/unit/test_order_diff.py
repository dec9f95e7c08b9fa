"""The reconciliation report, pure (orders/order_diff.py): a difference by BC's rule, one changed
since the BC order was made, a posting, lines missing or added on either side."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from orders.dataverse.records import Uom
from orders.order_diff import BcOrderNow, Difference, order_differences
from schemas.bc_sales_document import BcSalesDocument, BcSalesHeader, BcSalesLine
from tests.support.builders import DESK_ID, PIECE_ID, line, order

D = Decimal


def bc_line(n: int, sales_line: str | None, **values: Any) -> BcSalesLine:
    base: dict[str, Any] = {
        "line_no": n * 10000,
        "type": "Item",
        "no": "1896-S",
        "description": "ATHENS Desk",
        "quantity": D(2),
        "unit_of_measure_code": "PCS",
        "unit_price": D(100),
        "amount": D(200),
        "sales_line_id": sales_line,
    }
    return BcSalesLine(**{**base, **values})


def document(*lines: BcSalesLine, **header: Any) -> BcSalesDocument:
    values: dict[str, Any] = {
        "document_type": "Order",
        "sell_to_customer_no": "10000",
        "your_reference": "ORD-01001-B7K2Q9",
        "external_document_no": "Chairs for the Seattle office",
    }
    return BcSalesDocument(header=BcSalesHeader(**{**values, **header}), lines=lines)


def diff(
    expected: BcSalesDocument | None, actual: BcSalesDocument, sales_lines: Any = None, **bc: Any
) -> list[Difference]:
    sales = sales_lines if sales_lines is not None else [line(1)]
    now = BcOrderNow(
        no="SO000001",
        status=bc.pop("status", "Open"),
        document=actual,
        amount=bc.pop("amount", sum((ln.amount for ln in actual.lines), D(0))),
        shipped=bc.pop("shipped", {}),
        invoiced=bc.pop("invoiced", {}),
    )
    return order_differences(
        order=bc.pop("order", order(totalamount=D(200))),
        sales_lines=sales,
        uoms={PIECE_ID: Uom(uomid=PIECE_ID, name="PCS")},
        product_numbers={DESK_ID: "1896-S"},
        currency_code="",
        account_label="10000",
        expected=expected,
        bc=now,
    )


def rows(differences: list[Difference]) -> list[tuple[str, str, str, str, str]]:
    return [(d.line, d.field, d.sales, d.bc, d.kind) for d in differences]


SALES_LINE = line(1).line_id


def test_an_order_as_the_rules_make_it_has_no_differences() -> None:
    same = document(bc_line(1, SALES_LINE))
    assert diff(same, same) == []


def test_a_value_changed_in_bc_is_told_apart_from_one_bcs_rules_make() -> None:
    expected = document(bc_line(1, SALES_LINE))
    actual = document(bc_line(1, SALES_LINE, quantity=D(3), amount=D(300)))
    found = rows(diff(expected, actual))
    assert ("header", "Amount", "200", "300", "changed") in found
    assert ("10000", "Quantity", "2", "3", "changed") in found
    changed = next(d for d in diff(expected, actual) if d.field == "Quantity")
    assert "BC's rules make 2 of the Sales order now" in changed.why


def test_a_volume_discount_is_shown_as_bcs_rule() -> None:
    sales = [line(1, volumediscountamount=D(5), manualdiscountamount=D(10))]
    bc = document(bc_line(1, SALES_LINE, line_discount_amount=D(20), amount=D(180)))
    found = {d.field: d for d in diff(bc, bc, sales, order=order(totalamount=D(180)))}
    assert (found["Line Discount Amount"].sales, found["Line Discount Amount"].kind) == ("2 × 5 + 10 = 20", "rule")
    assert "quantity × volumediscountamount + manualdiscountamount" in found["Line Discount Amount"].why


def test_missing_and_added_lines_and_the_freight_line() -> None:
    freight = bc_line(
        2, None, type="G/L Account", no="6710", description="Freight", quantity=D(1), unit_price=D(45), amount=D(45)
    )
    expected = document(bc_line(1, SALES_LINE), freight)
    added = bc_line(3, None, no="1900-S", description="PARIS Guest Chair")
    actual = document(freight, added)  # the Sales line's BC line was deleted, a line added
    found = diff(expected, actual, order=order(totalamount=D(245), freightamount=D(45)))
    kinds = {(d.line, d.kind) for d in found if d.field == "Line"}
    assert kinds == {("Sales line 1", "missing"), ("20000", "added"), ("30000", "added")}
    freight_row = next(d for d in found if d.line == "20000")
    assert freight_row.sales == "freightamount 45" and "Freight G/L Acc." in freight_row.why


def test_postings_and_the_status_are_reported() -> None:
    bc = document(bc_line(1, SALES_LINE))
    found = rows(diff(bc, bc, status="Released", shipped={10000: D(1)}))
    assert ("10000", "Quantity Shipped", "-", "1", "posted") in found
    assert ("header", "Status", "Submitted", "Released, partly shipped", "posted") in found


def test_when_the_rules_refuse_the_sales_order_now_differences_count_as_bcs() -> None:
    actual = document(bc_line(1, SALES_LINE, unit_price=D(90), amount=D(180)))
    found = {d.field: d for d in diff(None, actual)}
    assert found["Unit Price"].kind == "rule"  # nothing to compare with: not called a change


def test_the_api_key_in_external_document_no_is_explained() -> None:
    bc = document(bc_line(1, SALES_LINE), external_document_no="GW-0123456789abcdef")
    (row,) = diff(bc, dataclasses.replace(bc))
    assert (row.field, row.kind) == ("External Document No.", "rule") and "api mode" in row.why
