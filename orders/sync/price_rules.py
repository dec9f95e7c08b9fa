"""BC's rules for the price mappings (bc-sync.md §6 CUSTPRCGRP-PRICE, §7 SALESPRC-PRODPRICE). Pure.

- SALESPRC-PRODPRICE reads the Sales Prices whose Sales Type is Customer Price Group and whose
  Sales Code is not blank; Starting and Ending Date and Minimum Quantity are neither filtered nor
  mapped, so every such price of a group goes to its price list, whatever its dates.
- A price list's currency is the one currency of its group's prices (blank: the LCY); prices in
  two currencies fail the group with BC's field check; an existing list cannot change currency.
- A price list item's unit is the price's Unit of Measure Code, or the item's base unit when blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from orders.sync import filters
from schemas.sales_prices import BLANK_DATE, PriceKey

CUSTOMER_PRICE_GROUP = "Customer Price Group"
# The stored table filter of SALESPRC-PRODPRICE (orders/sync/defaults.py), in orders/sync/filters.py's form.
SALES_PRICE_FILTER = "sales_type=Customer Price Group,sales_code<>"


class PriceRuleError(ValueError):
    """A group or price BC refuses to synchronise; the message is BC's."""


def synchronised(price: Mapping[str, Any], table_filter: str = SALES_PRICE_FILTER) -> bool:
    """Whether SALESPRC-PRODPRICE takes this Sales Price (its table filter)."""
    return filters.accepts(table_filter, price)


def prices_of_group(prices: Iterable[Mapping[str, Any]], code: str) -> list[Mapping[str, Any]]:
    """The group's prices that its price list carries (the mapping's filter, Sales Code = code)."""
    return [p for p in prices if synchronised(p) and str(p.get("sales_code") or "").upper() == code.upper()]


def describe_price(price: Mapping[str, Any]) -> str:
    """BC's record text of a Sales Price, its key fields and values."""
    starting = price.get("starting_date")
    return PriceKey(
        item_no=str(price.get("item_no") or ""),
        sales_type=str(price.get("sales_type") or ""),
        sales_code=str(price.get("sales_code") or ""),
        starting_date=None if starting == BLANK_DATE else starting,
        currency_code=str(price.get("currency_code") or ""),
        variant_code=str(price.get("variant_code") or ""),
        unit_of_measure_code=str(price.get("unit_of_measure_code") or ""),
        minimum_quantity=Decimal(str(price.get("minimum_quantity") or 0)),
    ).describe()


def group_currency(prices: Sequence[Mapping[str, Any]]) -> str:
    """The currency code of a group's price list: the one its prices share ("" = the LCY, also for
    a group without prices). Two currencies: BC's TestField error on the first price that differs."""
    if not prices:
        return ""
    first = str(prices[0].get("currency_code") or "")
    for price in prices[1:]:
        code = str(price.get("currency_code") or "")
        if code != first:
            raise PriceRuleError(
                f"Currency Code must be equal to '{first}'  in Sales Price: {describe_price(price)}. "
                f"Current value is '{code}'."
            )
    return first


def unchanged_currency(list_name: str, current_id: str | None, wanted_id: str | None) -> None:
    """An existing price list keeps its currency: Dataverse cannot change it."""
    if current_id and wanted_id and current_id.lower() != wanted_id.lower():
        raise PriceRuleError(
            f"The currency of the price list {list_name} in Dynamics 365 Sales cannot be changed: its sales prices "
            "are now in another currency. Move them back, or give them a new customer price group."
        )


def not_synchronised_item(item_no: str) -> str:
    return f"Cannot find a synchronized product for {item_no}."


def item_sync_failed(item_no: str) -> str:
    return f"Cannot synchronize the product {item_no}."


def price_unit_code(price: Mapping[str, Any], item_base_unit: str) -> str:
    """The unit of a price list item: the price's Unit of Measure Code, or the item's base unit."""
    return str(price.get("unit_of_measure_code") or "") or item_base_unit


def items_to_check(prices: Iterable[Mapping[str, Any]]) -> list[str]:
    """The item numbers of a group's prices, once each, in order."""
    return list(dict.fromkeys(str(p.get("item_no") or "") for p in prices if p.get("item_no")))
