"""BC's rules for the price mappings (orders/sync/price_rules.py, bc-sync.md §6–§7) and their
default rows (orders/sync/defaults.py): pure, no database, no HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from orders.sync import filters, price_rules
from orders.sync.defaults import CUSTPRCGRP_PRICE, JOBS, SALESPRC_PRODPRICE, canonical_name, default_mapping
from orders.sync.model import Direction
from schemas.sales_prices import BLANK_DATE, PriceKey


def _price(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "item_no": "1896-S",
        "sales_type": "Customer Price Group",
        "sales_code": "RETAIL",
        "starting_date": BLANK_DATE,
        "currency_code": "",
        "variant_code": "",
        "unit_of_measure_code": "",
        "minimum_quantity": Decimal(0),
        "unit_price": Decimal(950),
        "ending_date": None,
    }
    return {**base, **values}


def test_the_stored_filter_is_the_one_the_rules_name() -> None:
    mapping = default_mapping(SALESPRC_PRODPRICE)
    assert mapping is not None and mapping.table_filter == price_rules.SALES_PRICE_FILTER


@pytest.mark.parametrize(
    ("values", "taken"),
    [
        ({}, True),
        ({"sales_type": "Customer", "sales_code": "10000"}, False),
        ({"sales_type": "All Customers", "sales_code": ""}, False),
        ({"sales_type": "Campaign", "sales_code": "C1"}, False),
        ({"sales_code": ""}, False),  # Sales Code <> ''
        # Dates and minimum quantity are neither filtered nor mapped: past, future, any quantity.
        ({"starting_date": dt.date(2030, 1, 1), "ending_date": dt.date(2030, 12, 31)}, True),
        ({"starting_date": dt.date(2001, 1, 1), "ending_date": dt.date(2001, 1, 31)}, True),
        ({"minimum_quantity": Decimal(100)}, True),
        ({"currency_code": "CAD", "unit_of_measure_code": "BOX", "variant_code": "RED"}, True),
    ],
)
def test_salesprc_prodprice_takes_customer_price_group_prices_with_a_sales_code(
    values: dict[str, Any], taken: bool
) -> None:
    assert price_rules.synchronised(_price(**values)) is taken
    assert filters.accepts(price_rules.SALES_PRICE_FILTER, _price(**values)) is taken


def test_a_groups_prices_are_its_customer_price_group_prices_only() -> None:
    prices = [
        _price(item_no="A"),
        _price(item_no="B", sales_code="OTHER"),
        _price(item_no="C", sales_type="Customer", sales_code="RETAIL"),  # a customer named like the group
        _price(item_no="D", sales_code="retail"),
    ]
    assert [p["item_no"] for p in price_rules.prices_of_group(prices, "RETAIL")] == ["A", "D"]


def test_a_price_lists_currency_is_the_one_its_prices_share() -> None:
    assert price_rules.group_currency([]) == ""  # no prices: the LCY
    assert price_rules.group_currency([_price(), _price(item_no="X")]) == ""
    assert price_rules.group_currency([_price(currency_code="CAD"), _price(currency_code="CAD")]) == "CAD"
    with pytest.raises(price_rules.PriceRuleError) as caught:
        price_rules.group_currency([_price(currency_code="CAD"), _price(item_no="1906-S", minimum_quantity=Decimal(5))])
    assert str(caught.value) == (
        "Currency Code must be equal to 'CAD'  in Sales Price: Item No.=1906-S, Sales Type=Customer Price Group, "
        "Sales Code=RETAIL, Starting Date=, Currency Code=, Variant Code=, Unit of Measure Code=, "
        "Minimum Quantity=5. Current value is ''."
    )


def test_an_existing_price_list_keeps_its_currency() -> None:
    price_rules.unchanged_currency("RETAIL", "AAA", "aaa")  # the same id, in another case
    price_rules.unchanged_currency("RETAIL", None, "AAA")  # Sales has none yet
    with pytest.raises(price_rules.PriceRuleError, match="The currency of the price list RETAIL"):
        price_rules.unchanged_currency("RETAIL", "AAA", "BBB")


def test_a_price_list_items_unit_is_the_prices_or_the_items_base_unit() -> None:
    assert price_rules.price_unit_code(_price(unit_of_measure_code="BOX"), "PCS") == "BOX"
    assert price_rules.price_unit_code(_price(), "PCS") == "PCS"
    assert price_rules.price_unit_code(_price(), "") == ""


def test_items_to_check_once_each_in_order() -> None:
    prices = [_price(item_no="B"), _price(item_no="A"), _price(item_no="B", unit_of_measure_code="BOX")]
    assert price_rules.items_to_check(prices) == ["B", "A"]


def test_bcs_messages_for_items_that_are_not_synchronised() -> None:
    assert price_rules.not_synchronised_item("1896-S") == "Cannot find a synchronized product for 1896-S."
    assert price_rules.item_sync_failed("1896-S") == "Cannot synchronize the product 1896-S."


def test_the_price_mappings_as_bc_sets_them_up() -> None:
    group = default_mapping(CUSTPRCGRP_PRICE)
    price = default_mapping(SALESPRC_PRODPRICE)
    assert group is not None and price is not None
    assert (group.table_id, group.integration_table, group.direction) == (6, "pricelevel", Direction.TO)
    assert group.dependencies == ("CURRENCY", "ITEM-PRODUCT")
    assert [(f.field_name, f.integration_field) for f in group.fields] == [("code", "name")]
    assert (price.table_id, price.integration_table, price.direction) == (7002, "productpricelevel", Direction.TO)
    assert price.synch_only_coupled_records is False  # BC's default: the job creates the items
    assert price.dependencies == ("CUSTPRCGRP-PRICE", "ITEM-PRODUCT")
    enabled = {
        (f.field_name, f.integration_field, f.lookup_mapping, f.constant_value) for f in price.fields if f.enabled
    }
    assert enabled == {
        ("sales_code", "pricelevelid", "CUSTPRCGRP-PRICE", ""),
        ("item_no", "productid", "ITEM-PRODUCT", ""),
        ("currency_code", "transactioncurrencyid", "CURRENCY", ""),
        ("", "pricingmethodcode", "", "1"),
        ("unit_price", "amount", "", ""),
    }
    jobs = {j.mapping: (j.minutes, j.inactivity) for j in JOBS}
    assert jobs[CUSTPRCGRP_PRICE] == (30, 1440) and jobs[SALESPRC_PRODPRICE] == (30, 1440)
    assert canonical_name("salesprc-productprice") == SALESPRC_PRODPRICE  # Microsoft's article's name


def test_a_price_key_is_kept_as_bc_keeps_it() -> None:
    key = PriceKey(" 1896-S ", "All Customers", "ignored", None, "cad", "", "box", Decimal(0)).normalised()
    assert (key.item_no, key.sales_code, key.currency_code, key.unit_of_measure_code) == ("1896-S", "", "CAD", "BOX")
    assert key.columns()["starting_date"] == BLANK_DATE  # BC's 0D
