"""The reconciliation report: where a BC order differs from the Sales order it came from, and why
(pure; no BC version does this — issue 12, item 9; `bc-gateway orders diff SALES_ORDER_ID`).

Three versions of the order are compared: the Sales order as it is now, the BC order as it is now,
and what BC's rules (the conversion, ``orders/sales_order_to_bc_order.py``) make of the Sales order
now — the *expected* BC order. A value where BC differs from Sales is reported:

- with the **rule** that makes it so, when BC holds what the rules make of the Sales order (Line
  Discount Amount = quantity × volumediscountamount + manualdiscountamount, a freight line, a blank
  Currency Code for the local currency, the write-in product, ...);
- as **changed** when BC holds something else: the BC order or the Sales order changed after the
  BC order was created (BC's rules would now make the expected value, shown too);
- as **posted** for what was shipped or invoiced in BC (Sales hears of it through BC's status job).

Header fields, lines (matched by the Sales line id each BC line keeps), quantities, units, prices,
discounts, amounts and the status are compared; lines missing on either side are reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders.dataverse.codes import SalesOrderState
from orders.dataverse.records import SalesOrder, SalesOrderLine, Uom
from schemas.bc_sales_document import BcSalesDocument, BcSalesLine

ZERO = Decimal(0)

RULE_CUSTOMER = "BC's customer is the one coupled to the order's account (bc-rules.md §4.2)"
RULE_YOUR_REFERENCE = "Your Reference is the Sales order number (bc-rules.md §4.4)"
RULE_EXTERNAL = "External Document No. is the Sales order's name (bc-rules.md §4.4)"
RULE_API_KEY = "api mode: External Document No. holds the gateway's key for exactly-once (README, api mode)"
RULE_CURRENCY = "Currency Code is blank when it is the local currency (bc-rules.md §4.4)"
RULE_INVOICE_DISCOUNT = "a discount on the Sales header becomes BC's invoice discount (bc-rules.md §4.6)"
RULE_AMOUNT = "BC's Amount is the lines' amounts less the invoice discount, without tax; freight is a line"
RULE_LINE_DISCOUNT = "Line Discount Amount = quantity × volumediscountamount + manualdiscountamount (bc-rules.md §4.5)"
RULE_LINE_AMOUNT = "BC's Line Amount = quantity × unit price − line discount, without tax (bc-rules.md §4.5)"
RULE_UNIT = "the Sales unit's coupled BC unit of measure (bc-rules.md §4.2 C14)"
RULE_NO = "the item or resource coupled to the Sales product (bc-rules.md §4.5)"
RULE_WRITE_IN = "a write-in line takes the Write-in Product of Sales & Receivables Setup (bc-rules.md §4.5)"
RULE_FREIGHT = "freightamount > 0 adds a G/L Account line on the Freight G/L Acc. (bc-rules.md §4.6)"
RULE_TEXT = "the text beyond 100 characters goes on attached text lines (bc-rules.md §4.5)"
POSTED = "posted in BC (orders post); Sales hears of it from BC's Sales Order Status job"
RELEASED = "released in BC; Sales hears of it from BC's Sales Order Status job"


@dataclass(frozen=True, slots=True)
class Difference:
    """One value where the BC order differs from the Sales order: ``line`` is "header" or the BC
    line (its Line No., or the Sales line's number when BC has none)."""

    line: str
    field: str
    sales: str
    bc: str
    why: str
    kind: str  # rule | changed | posted | missing | added

    def as_dict(self) -> dict[str, str]:
        return {
            "line": self.line,
            "field": self.field,
            "sales": self.sales,
            "bc": self.bc,
            "why": self.why,
            "kind": self.kind,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class BcOrderNow:
    """The BC order as it is: the document, its status, and per line what was posted."""

    no: str
    status: str
    document: BcSalesDocument
    amount: Decimal
    shipped: Mapping[int, Decimal]
    invoiced: Mapping[int, Decimal]


def text(value: Any) -> str:
    """A value as the report shows it (numbers without trailing zeros, nothing as '-')."""
    if value is None or value == "":
        return "-"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return Decimal(str(a or 0)) == Decimal(str(b or 0))
        except ArithmeticError:
            return False
    return (a or "") == (b or "")


class _Report:
    def __init__(self) -> None:
        self.rows: list[Difference] = []

    def field(
        self, line: str, caption: str, sales: Any, bc: Any, expected: Any, rule: str, *, has_expected: bool
    ) -> None:
        """Report BC's value where it differs from Sales': by the rule when it is what the rules
        make of the Sales order, as changed otherwise."""
        if _same(sales, bc):
            return
        if has_expected and not _same(bc, expected):
            why = f"changed after the BC order was created (BC's rules make {text(expected)} of the Sales order now)"
            self.rows.append(Difference(line, caption, text(sales), text(bc), why, "changed"))
        else:
            self.rows.append(Difference(line, caption, text(sales), text(bc), rule, "rule"))


def _sales_line_label(line: SalesOrderLine, index: int) -> str:
    return f"Sales line {line.lineitemnumber or line.sequencenumber or index}"


def _sales_discount(line: SalesOrderLine) -> Decimal:
    return (line.quantity or ZERO) * (line.volumediscountamount or ZERO) + (line.manualdiscountamount or ZERO)


def _sales_discount_text(line: SalesOrderLine) -> Any:
    """Sales' discounts as Sales shows them: a volume discount is per unit, so BC's one Line
    Discount Amount differs from each of Sales' fields even when the total agrees."""
    if not line.volumediscountamount:
        return _sales_discount(line)
    return (
        f"{text(line.quantity)} × {text(line.volumediscountamount)} + {text(line.manualdiscountamount or ZERO)}"
        f" = {text(_sales_discount(line))}"
    )


def _sales_line_amount(line: SalesOrderLine) -> Decimal:
    """What Sales shows as the line's amount before tax."""
    base = line.baseamount if line.baseamount is not None else (line.quantity or ZERO) * (line.priceperunit or ZERO)
    return base - _sales_discount(line)


def order_differences(
    *,
    order: SalesOrder,
    sales_lines: Sequence[SalesOrderLine],
    uoms: Mapping[str, Uom],
    product_numbers: Mapping[str, str],
    currency_code: str,
    account_label: str,
    expected: BcSalesDocument | None,
    bc: BcOrderNow,
) -> list[Difference]:
    """Every difference between the Sales order and the BC order, header first, then by line."""
    report = _Report()
    has = expected is not None
    eh = expected.header if expected is not None else None
    h = bc.document.header

    def head(caption: str, sales: Any, bc_value: Any, expected_value: Any, rule: str) -> None:
        report.field("header", caption, sales, bc_value, expected_value, rule, has_expected=has)

    head("Sell-to Customer No.", account_label, h.sell_to_customer_no, eh and eh.sell_to_customer_no, RULE_CUSTOMER)
    head("Your Reference", order.ordernumber, h.your_reference, eh and eh.your_reference, RULE_YOUR_REFERENCE)
    if h.external_document_no.startswith("GW-"):
        if not _same(order.name, h.external_document_no):
            report.rows.append(
                Difference(
                    "header", "External Document No.", text(order.name), h.external_document_no, RULE_API_KEY, "rule"
                )
            )
    else:
        head("External Document No.", order.name, h.external_document_no, eh and eh.external_document_no, RULE_EXTERNAL)
    head("Currency Code", currency_code, h.currency_code, eh and eh.currency_code, RULE_CURRENCY)
    head(
        "Requested Delivery Date",
        order.requestdeliveryby,
        h.requested_delivery_date,
        eh and eh.requested_delivery_date,
        "Requested Delivery Date is requestdeliveryby (bc-rules.md §4.4)",
    )
    sales_discount = order.discountamount or ZERO
    head(
        "Invoice Discount Amount",
        sales_discount,
        h.invoice_discount_amount,
        eh.invoice_discount_amount if eh else None,
        RULE_INVOICE_DISCOUNT,
    )
    expected_amount = (
        sum((ln.amount for ln in expected.lines), ZERO) - expected.header.invoice_discount_amount
        if expected is not None
        else None
    )
    head("Amount", order.totalamount, bc.amount, expected_amount, RULE_AMOUNT)
    _status(report, order, bc)

    actual_by_sales = {ln.sales_line_id: ln for ln in bc.document.lines if ln.sales_line_id}
    expected_by_sales = {ln.sales_line_id: ln for ln in (expected.lines if expected else ()) if ln.sales_line_id}
    seen: set[int] = set()
    for index, sl in enumerate(sorted(sales_lines, key=lambda x: (x.sequencenumber or 0, x.lineitemnumber or 0)), 1):
        actual = actual_by_sales.get(sl.line_id)
        exp = expected_by_sales.get(sl.line_id)
        product = product_numbers.get(sl.productid or "", sl.productdescription or "")
        if actual is None:
            report.rows.append(
                Difference(
                    _sales_line_label(sl, index),
                    "Line",
                    f"{text(sl.quantity)} × {product or '(write-in)'}",
                    "(none)",
                    "missing in BC: the line was deleted from the BC order after it was created",
                    "missing",
                )
            )
            continue
        seen.add(actual.line_no)
        label = str(actual.line_no)

        write_in = sl.is_write_in
        unit = uoms.get(sl.uomid or "")
        checks: list[tuple[str, Any, Any, Any, str]] = [
            (
                "No.",
                product if not write_in else "(write-in)",
                actual.no,
                exp and exp.no,
                RULE_WRITE_IN if write_in else RULE_NO,
            ),
            ("Quantity", sl.quantity, actual.quantity, exp and exp.quantity, "Quantity is quantity (bc-rules.md §4.5)"),
            (
                "Unit of Measure Code",
                unit.name if unit else None,
                actual.unit_of_measure_code,
                exp and exp.unit_of_measure_code,
                RULE_UNIT,
            ),
            (
                "Unit Price",
                sl.priceperunit,
                actual.unit_price,
                exp and exp.unit_price,
                "Unit Price is priceperunit (bc-rules.md §4.5)",
            ),
            (
                "Line Discount Amount",
                _sales_discount_text(sl),
                actual.line_discount_amount,
                exp and exp.line_discount_amount,
                RULE_LINE_DISCOUNT,
            ),
            ("Line Amount", _sales_line_amount(sl), actual.amount, exp and exp.amount, RULE_LINE_AMOUNT),
        ]
        for caption, sales, bc_value, expected_value, rule in checks:
            report.field(label, caption, sales, bc_value, expected_value, rule, has_expected=exp is not None)
        _posted(report, label, bc, actual)

    _other_lines(report, order, bc, expected, seen)
    return report.rows


def _status(report: _Report, order: SalesOrder, bc: BcOrderNow) -> None:
    state = {
        SalesOrderState.ACTIVE: "Active",
        SalesOrderState.SUBMITTED: "Submitted",
        2: "Canceled",
        3: "Fulfilled",
        4: "Invoiced",
    }.get(order.statecode or 0, str(order.statecode))
    shipped = any(q for q in bc.shipped.values())
    invoiced = any(q for q in bc.invoiced.values())
    bc_status = bc.status + (", partly invoiced" if invoiced else ", partly shipped" if shipped else "")
    if bc.status == "Released" or shipped or invoiced:
        report.rows.append(
            Difference("header", "Status", state, bc_status, POSTED if shipped or invoiced else RELEASED, "posted")
        )


def _posted(report: _Report, label: str, bc: BcOrderNow, line: BcSalesLine) -> None:
    for caption, done in (("Quantity Shipped", bc.shipped), ("Quantity Invoiced", bc.invoiced)):
        qty = done.get(line.line_no, ZERO)
        if qty:
            report.rows.append(Difference(label, caption, "-", text(qty), POSTED, "posted"))


def _line_text(line: BcSalesLine) -> str:
    if not line.type:
        return f"text: {line.description[:40]}"
    return f"{line.type} {line.no} {text(line.quantity)} × {text(line.unit_price)}"


def _other_lines(
    report: _Report, order: SalesOrder, bc: BcOrderNow, expected: BcSalesDocument | None, seen: set[int]
) -> None:
    """BC lines that stand for no Sales line (freight, text lines), and such lines the rules make
    that the BC order lacks."""
    expected_extra = [ln for ln in (expected.lines if expected else ()) if not ln.sales_line_id]
    matched: set[int] = set()
    for line in bc.document.lines:
        if line.line_no in seen or (line.sales_line_id and line.sales_line_id in _ids(expected)):
            continue
        twin = next(
            (
                e
                for e in expected_extra
                if e.line_no not in matched and (e.type, e.no, e.description) == (line.type, line.no, line.description)
            ),
            None,
        )
        if twin is not None:
            matched.add(twin.line_no)
            if not line.type:
                continue  # the rest of a long text: not a difference
            freight = line.type == "G/L Account"
            report.rows.append(
                Difference(
                    str(line.line_no),
                    "Line",
                    f"freightamount {text(order.freightamount)}" if freight else "-",
                    _line_text(line),
                    RULE_FREIGHT if freight else RULE_TEXT,
                    "added",
                )
            )
            continue
        report.rows.append(
            Difference(
                str(line.line_no),
                "Line",
                "(none)",
                _line_text(line),
                "added in BC after the order was created"
                if line.type
                else "a text line BC's rules do not make (added in BC, or a comment line of BC's API)",
                "added",
            )
        )
    for e in expected_extra:
        if e.line_no not in matched and e.type:
            report.rows.append(
                Difference(
                    "-",
                    "Line",
                    f"freightamount {text(order.freightamount)}" if e.type == "G/L Account" else "-",
                    "(none)",
                    f"missing in BC: BC's rules add {_line_text(e)}; removed after the order was created",
                    "missing",
                )
            )


def _ids(expected: BcSalesDocument | None) -> set[str]:
    return {ln.sales_line_id for ln in (expected.lines if expected else ()) if ln.sales_line_id}


__all__ = ["BcOrderNow", "Difference", "order_differences"]
