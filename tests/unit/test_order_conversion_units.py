"""BC's rules for turning a submitted Sales order into a BC sales order: units of measure of item
and resource lines (docs/reference/bc-rules.md §4.2 C14, §4.5)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from orders.dataverse.records import (
    SalesOrderLine,
    Uom,
)
from tests.support.builders import (
    COUPLINGS,
    CRATE_ID,
    HOUR_ID,
    ITEMS,
    LINDA_ID,
    PIECE_ID,
    UNKNOWN_UOM_ID,
    UOMS,
    P,
    convert,
    error,
    line,
    only_line,
    order_input,
    write_in,
)

# ---- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uomid", "code", "qty_per"),
    [
        pytest.param(PIECE_ID, "PCS", Decimal(1), id="coupled"),
        pytest.param(CRATE_ID, "CRATE", Decimal(12), id="by-name"),
        pytest.param(None, "PCS", Decimal(1), id="no-unit-base"),
    ],
)
def test_item_unit(uomid: str | None, code: str, qty_per: Decimal) -> None:
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=uomid, quantity=Decimal("2.5")),))))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure) == (code, qty_per)
    assert bc_line.quantity_base == Decimal("2.5") * qty_per


def test_coupled_unit_wins_over_the_name() -> None:
    couplings = dataclasses.replace(COUPLINGS, uom_to_unit={CRATE_ID: "crate"})
    uoms = {CRATE_ID: Uom(uomid=CRATE_ID, name="Box of twelve")}
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=CRATE_ID),), couplings=couplings, uoms=uoms)))
    assert bc_line.unit_of_measure_code == "CRATE"


def test_base_unit_counts_even_without_its_unit_row() -> None:
    items = {"1896-S": dataclasses.replace(ITEMS["1896-S"], units={})}
    bc_line = only_line(convert(order_input(lines=(line(1, uomid=PIECE_ID),), items=items)))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure) == ("PCS", 1)


def test_resource_unit_by_name() -> None:
    uoms = {HOUR_ID: Uom(uomid=HOUR_ID, name="Day")}
    couplings = dataclasses.replace(COUPLINGS, uom_to_unit={})
    sales_line = line(1, productid=LINDA_ID, uomid=HOUR_ID, quantity=Decimal(2))
    bc_line = only_line(convert(order_input(lines=(sales_line,), uoms=uoms, couplings=couplings)))
    assert (bc_line.unit_of_measure_code, bc_line.qty_per_unit_of_measure, bc_line.quantity_base) == ("DAY", 8, 16)


@pytest.mark.parametrize(
    ("sales_line", "uoms", "message"),
    [
        pytest.param(
            line(1, uomid=HOUR_ID),
            UOMS,
            "The Item Unit of Measure does not exist. Identification fields and values: Item No.='1896-S',Code='HOUR'",
            id="item",
        ),
        pytest.param(
            line(1, productid=LINDA_ID, uomid=CRATE_ID),
            UOMS,
            "The Resource Unit of Measure does not exist. Identification fields and values: "
            "Resource No.='LINDA',Code='CRATE'",
            id="resource",
        ),
        pytest.param(
            line(1, uomid=CRATE_ID),
            {CRATE_ID: Uom(uomid=CRATE_ID, name="Primary Unit")},
            "The Item Unit of Measure does not exist. Identification fields and values: "
            "Item No.='1896-S',Code='PRIMARY UNIT'",
            id="too-long-for-a-code",
        ),
        pytest.param(
            line(1, uomid=UNKNOWN_UOM_ID),
            UOMS,
            f"{P} The Dataverse unit {{{UNKNOWN_UOM_ID.upper()}}} is not coupled to a unit of measure.",
            id="not-coupled-not-read",
        ),
    ],
)
def test_unit_that_bc_does_not_have(sales_line: SalesOrderLine, uoms: dict[str, Uom], message: str) -> None:
    assert error(order_input(lines=(sales_line,), uoms=uoms)) == message


def test_write_in_ignores_the_sales_unit() -> None:
    bc_line = only_line(convert(order_input(lines=(write_in(1, uomid=UNKNOWN_UOM_ID),))))
    assert bc_line.unit_of_measure_code == "PCS"
