"""BC's side of a conversion's input: the items, resources and customers a Sales document uses,
and what the coupling table says about its Sales ids (bc-rules.md §4.2, §4.8).

:mod:`orders.read_bc_records` reads them from the database; the conversion
(:mod:`orders.conversion_rules`) only looks them up, so it stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType


@dataclass(frozen=True, kw_only=True, slots=True)
class BcItem:
    """An Item with its "Item Unit of Measure" rows: ``units`` maps Code -> Qty. per Unit of Measure.

    The base unit counts as a unit with quantity 1 even when ``units`` leaves it out.
    """

    no: str
    description: str = ""
    base_unit_of_measure: str = ""
    blocked: bool = False
    type: str = "Inventory"
    units: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class BcResource:
    """A Resource with its "Resource Unit of Measure" rows (Code -> Qty. per Unit of Measure)."""

    no: str
    name: str = ""
    base_unit_of_measure: str = ""
    blocked: bool = False
    units: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class BcCustomer:
    """A Customer; ``blocked`` is BC's Blocked = All (any blocking stops a new document)."""

    no: str
    name: str = ""
    blocked: bool = False
    currency_code: str = ""


def _lower_keys(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({key.strip("{}").lower(): value for key, value in mapping.items()})


@dataclass(frozen=True, kw_only=True, slots=True)
class Couplings:
    """What BC's coupling table ("CRM Integration Record") says, by Sales id.

    Each maps a Sales GUID to the BC record's number or code: accounts to customers, products to
    items, products to resources, Sales units (``uom``) to BC unit codes. Keys are normalised to
    lower-case GUIDs without braces.
    """

    account_to_customer: Mapping[str, str] = field(default_factory=dict)
    product_to_item: Mapping[str, str] = field(default_factory=dict)
    product_to_resource: Mapping[str, str] = field(default_factory=dict)
    uom_to_unit: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("account_to_customer", "product_to_item", "product_to_resource", "uom_to_unit"):
            object.__setattr__(self, name, _lower_keys(getattr(self, name)))
