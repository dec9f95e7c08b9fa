"""BC's rules for turning a submitted Sales order into a BC sales order: item, resource and write-in
lines, their text lines, order and numbers (docs/reference/bc-rules.md §4.2 C6–C12, §4.5)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.conversion_inputs import BcItem, BcResource, Couplings
from tests.support.builders import (
    COUPLINGS,
    DESK_ID,
    FEE_ID,
    HOUR_ID,
    ITEMS,
    LINDA_ID,
    PRODUCTS,
    RESOURCES,
    SETUP,
    P,
    convert,
    error,
    line,
    only_line,
    order,
    order_input,
    write_in,
)

# ---- products -------------------------------------------------------------------------------


def test_item_line() -> None:
    bc_line = only_line(convert(order_input()))
    assert (bc_line.type, bc_line.no, bc_line.description) == ("Item", "1896-S", "ATHENS Desk")
    assert bc_line.sales_line_id == line(1).line_id


def test_resource_line() -> None:
    bc_line = only_line(convert(order_input(lines=(line(1, productid=LINDA_ID, uomid=HOUR_ID),))))
    assert (bc_line.type, bc_line.no, bc_line.description, bc_line.unit_of_measure_code) == (
        "Resource",
        "LINDA",
        "Linda Martin",
        "HOUR",
    )


def test_product_not_read() -> None:
    assert error(order_input(products={})) == (
        f"The CRM Product does not exist. Identification fields and values: Product='{{{DESK_ID.upper()}}}'"
    )


@pytest.mark.parametrize(
    ("statecode", "caption"), [(1, "Retired"), (2, "Draft"), (3, "Under Revision"), (None, ""), (7, "")]
)
def test_product_not_active(statecode: int | None, caption: str) -> None:
    products = {DESK_ID: dataclasses.replace(PRODUCTS[DESK_ID], statecode=statecode)}
    assert error(order_input(products=products)) == (
        f"Status must be equal to 'Active'  in CRM Product: Product={{{DESK_ID.upper()}}}. "
        f"Current value is '{caption}'."
    )


@pytest.mark.parametrize(
    ("product_id", "couplings", "items", "resources", "message"),
    [
        pytest.param(
            DESK_ID,
            dataclasses.replace(COUPLINGS, product_to_item={}),
            ITEMS,
            RESOURCES,
            f"{P} The Dataverse product ATHENS Desk is not coupled to an item.",
            id="item-not-coupled",
        ),
        pytest.param(
            DESK_ID,
            COUPLINGS,
            {},
            RESOURCES,
            f"{P} The item 1896-S does not exist.",
            id="item-missing",
        ),
        pytest.param(
            DESK_ID,
            COUPLINGS,
            {"1896-S": dataclasses.replace(ITEMS["1896-S"], blocked=True)},
            RESOURCES,
            "Blocked must be equal to 'No'  in Item: No.=1896-S. Current value is 'Yes'.",
            id="item-blocked",
        ),
        pytest.param(
            LINDA_ID,
            dataclasses.replace(COUPLINGS, product_to_resource={}),
            ITEMS,
            RESOURCES,
            f"{P} The Dataverse resource Linda Martin is not coupled to a resource.",
            id="resource-not-coupled",
        ),
        pytest.param(
            LINDA_ID,
            COUPLINGS,
            ITEMS,
            {},
            f"{P} The resource LINDA does not exist.",
            id="resource-missing",
        ),
        pytest.param(
            LINDA_ID,
            COUPLINGS,
            ITEMS,
            {"LINDA": dataclasses.replace(RESOURCES["LINDA"], blocked=True)},
            "Blocked must be equal to 'No'  in Resource: No.=LINDA. Current value is 'Yes'.",
            id="resource-blocked",
        ),
    ],
)
def test_product_coupling_rules(
    product_id: str, couplings: Couplings, items: dict[str, BcItem], resources: dict[str, BcResource], message: str
) -> None:
    inp = order_input(lines=(line(1, productid=product_id, uomid=None),), couplings=couplings, items=items)
    inp = dataclasses.replace(inp, resources=resources)
    assert error(inp) == message


@pytest.mark.parametrize("producttypecode", [2, 4, None, 99])
def test_unexpected_product_type(producttypecode: int | None) -> None:
    products = {FEE_ID: dataclasses.replace(PRODUCTS[FEE_ID], producttypecode=producttypecode)}
    inp = order_input(lines=(line(1, productid=FEE_ID, uomid=None),), products=products)
    assert error(inp) == (
        f"{P} Unexpected value of product type code for product HANDLING. "
        "The supported values are: sales inventory, services."
    )


def test_first_failing_line_in_sequence_order_is_reported() -> None:
    inp = order_input(
        lines=(line(2, productid=FEE_ID, uomid=None), line(1, productid=LINDA_ID, uomid=None)), resources={}
    )
    assert error(inp) == f"{P} The resource LINDA does not exist."


# ---- write-in lines -------------------------------------------------------------------------


def test_write_in_line_uses_the_write_in_item() -> None:
    bc_line = only_line(convert(order_input(lines=(write_in(1, quantity=Decimal(3), priceperunit=Decimal(7)),))))
    assert (bc_line.type, bc_line.no, bc_line.description) == ("Item", "WRITE-IN", "Installation on site")
    assert (bc_line.unit_of_measure_code, bc_line.quantity, bc_line.amount) == ("PCS", 3, Decimal("21.00"))


def test_overridden_product_is_a_write_in() -> None:
    sales_line = line(1, isproductoverridden=True, productdescription="Custom desk")
    bc_line = only_line(convert(order_input(lines=(sales_line,))))
    assert (bc_line.no, bc_line.description) == ("WRITE-IN", "Custom desk")


@pytest.mark.parametrize("write_in_type", ["Item", ""])
def test_write_in_item(write_in_type: str) -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type=write_in_type)
    assert only_line(convert(order_input(lines=(write_in(),), setup=setup))).type == "Item"


def test_write_in_resource() -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type="Resource", write_in_product_no="CONSULT")
    bc_line = only_line(convert(order_input(lines=(write_in(),), setup=setup)))
    assert (bc_line.type, bc_line.no, bc_line.unit_of_measure_code) == ("Resource", "CONSULT", "HOUR")
    assert bc_line.qty_per_unit_of_measure == 1


def test_write_in_without_a_default_write_in_product() -> None:
    setup = dataclasses.replace(SETUP, write_in_product_no="")
    assert error(order_input(lines=(line(1), write_in(2)), setup=setup)) == (
        "Dataverse Order ORD-01001-B7K2Q9 contains a write-in product. "
        "You must choose the default write-in product in Sales & Receivables Setup window."
    )


@pytest.mark.parametrize(
    ("write_in_type", "message"),
    [
        ("Item", "The Item does not exist. Identification fields and values: No.='GONE'"),
        ("Resource", "The Resource does not exist. Identification fields and values: No.='GONE'"),
    ],
)
def test_write_in_product_missing(write_in_type: str, message: str) -> None:
    setup = dataclasses.replace(SETUP, write_in_product_type=write_in_type, write_in_product_no="GONE")
    assert error(order_input(lines=(write_in(),), setup=setup)) == message


def test_write_in_item_blocked() -> None:
    items = {"WRITE-IN": dataclasses.replace(ITEMS["WRITE-IN"], blocked=True)}
    assert error(order_input(lines=(write_in(),), items=items)) == (
        "Blocked must be equal to 'No'  in Item: No.=WRITE-IN. Current value is 'Yes'."
    )


def test_long_write_in_text_continues_on_attached_text_lines() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(250))
    doc = convert(order_input(lines=(write_in(1, text), line(2))))
    assert [(bc.line_no, bc.type, bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        (10000, "Item", text[:100], 0),
        (20000, "", text[100:200], 10000),
        (30000, "", text[200:], 10000),
        (40000, "Item", "ATHENS Desk", 0),
    ]
    assert all(bc.quantity == 0 and bc.no == "" and bc.sales_line_id is None for bc in doc.lines[1:3])


def test_write_in_without_product_description_takes_the_description() -> None:
    sales_line = write_in(1, "", description="First line\nsecond line")
    doc = convert(order_input(lines=(sales_line,)))
    assert [(bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        ("First line", 0),
        ("second line", 10000),
    ]


def test_write_in_with_both_texts_keeps_both() -> None:
    doc = convert(order_input(lines=(write_in(1, "Widget", description="Blue\n\nlarge"),)))
    assert [bc.description for bc in doc.lines] == ["Widget", "Blue", "large"]


# ---- description text lines -----------------------------------------------------------------


def test_product_line_description_goes_on_attached_text_lines() -> None:
    doc = convert(order_input(lines=(line(1, description="Oak finish\r\n\r\n" + "x" * 150),)))
    assert [(bc.line_no, bc.type, bc.description, bc.attached_to_line_no) for bc in doc.lines] == [
        (10000, "Item", "ATHENS Desk", 0),
        (20000, "", "Oak finish", 10000),
        (30000, "", "x" * 100, 10000),
        (40000, "", "x" * 50, 10000),
    ]


def test_product_line_description_equal_to_the_items_is_not_repeated() -> None:
    assert len(convert(order_input(lines=(line(1, description="ATHENS Desk"),))).lines) == 1


def test_product_line_falls_back_to_product_description() -> None:
    doc = convert(order_input(lines=(line(1, productdescription="Special edition"),)))
    assert [bc.description for bc in doc.lines] == ["ATHENS Desk", "Special edition"]


# ---- line order and numbers -----------------------------------------------------------------


def test_lines_follow_sequence_number_then_line_item_number() -> None:
    lines = (
        line(1, sequencenumber=3, lineitemnumber=1),
        line(2, sequencenumber=None, lineitemnumber=1),
        line(3, sequencenumber=1, lineitemnumber=9),
        line(4, sequencenumber=1, lineitemnumber=2),
        line(5, sequencenumber=2, lineitemnumber=None),
    )
    doc = convert(order_input(lines=lines))
    assert [bc.sales_line_id for bc in doc.lines] == [lines[i].line_id for i in (3, 2, 4, 0, 1)]
    assert [bc.line_no for bc in doc.lines] == [10000, 20000, 30000, 40000, 50000]


def test_order_without_lines() -> None:
    doc = convert(order_input(lines=()))
    assert doc.lines == ()


# ---- properties -----------------------------------------------------------------------------

_amount = st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200)
@given(st.text(max_size=1200))
def test_write_in_text_splits_into_pieces_that_join_back(text: str) -> None:
    doc = convert(order_input(lines=(write_in(1, text),)))
    main, *attached = doc.lines
    assert all(len(bc.description) <= 100 for bc in doc.lines)
    assert all(bc.type == "" and bc.attached_to_line_no == main.line_no for bc in attached)
    assert "".join(bc.description for bc in doc.lines) == text
    assert all(bc.description for bc in attached)


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.text(max_size=300),
            st.integers(min_value=0, max_value=5) | st.none(),
        ),
        max_size=12,
    ),
    _amount,
)
def test_line_numbers_increase_by_10000(specs: list[tuple[bool, str, int | None]], freight: Decimal) -> None:
    lines = tuple(
        write_in(i + 1, text, sequencenumber=seq) if is_write_in else line(i + 1, description=text, sequencenumber=seq)
        for i, (is_write_in, text, seq) in enumerate(specs)
    )
    doc = convert(order_input(order(freightamount=freight), lines=lines))
    assert [bc.line_no for bc in doc.lines] == [10000 * (i + 1) for i in range(len(doc.lines))]
    for bc in doc.lines:
        assert len(bc.description) <= 100
        if bc.type == "":
            # A text line is attached to the nearest product line before it.
            owner = max(o.line_no for o in doc.lines if o.type and o.line_no < bc.line_no)
            assert bc.attached_to_line_no == owner
