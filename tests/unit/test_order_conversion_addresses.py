"""BC's rules for turning a submitted Sales order into a BC sales order: the bill-to and ship-to
addresses (docs/reference/bc-rules.md §4.4)."""

from __future__ import annotations

import pytest

from tests.support.builders import (
    convert,
    order,
    order_input,
)

# ---- addresses ------------------------------------------------------------------------------

FULL_ADDRESS = {
    "name": "N" * 250,
    "line1": "A" * 250,
    "line2": "B" * 250,
    "line3": "dropped",
    "city": "C" * 80,
    "stateorprovince": "S" * 50,
    "postalcode": "98052-6399-abcdefghijk",
    "country": "United States of America",
    "contactname": "K" * 150,
    "telephone": "555-0100",
}


@pytest.mark.parametrize(("side", "prefix"), [("billto", "bill_to"), ("shipto", "ship_to")])
def test_address_copied_and_cut_to_bc_lengths(side: str, prefix: str) -> None:
    doc = order(**{f"{side}_{part}": value for part, value in FULL_ADDRESS.items()})
    h = convert(order_input(doc)).header
    got = {part: getattr(h, f"{prefix}_{part}") for part in ("name", "address", "address_2", "city", "county")}
    assert got == {"name": "N" * 100, "address": "A" * 100, "address_2": "B" * 50, "city": "C" * 30, "county": "S" * 30}
    assert getattr(h, f"{prefix}_post_code") == "98052-6399-ABCDEFGHI"[:20]
    assert getattr(h, f"{prefix}_country_region_code") == "UNITED STA"
    assert getattr(h, f"{prefix}_contact") == "K" * 100


@pytest.mark.parametrize("part", ["line1", "line2", "city", "postalcode", "country", "stateorprovince"])
def test_any_address_part_makes_the_address_copied(part: str) -> None:
    h = convert(order_input(order(**{f"shipto_{part}": "x", "shipto_name": "Warehouse"}))).header
    assert h.has_ship_to_address
    assert h.ship_to_name == "Warehouse"


@pytest.mark.parametrize("part", ["name", "line3", "contactname", "telephone", "fax"])
def test_address_without_bcs_parts_is_not_copied(part: str) -> None:
    h = convert(order_input(order(**{f"billto_{part}": "something"}))).header
    assert not h.has_bill_to_address
    assert (h.bill_to_name, h.bill_to_contact) == ("", "")
