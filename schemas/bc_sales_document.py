"""What converting a Sales order or quote produces: the BC sales document to store.

Names follow Business Central's fields (``sell_to_customer_no`` is "Sell-to Customer No." and so
on), so that whoever stores a :class:`BcSalesDocument` maps each field to the BC column of the same
caption. Text fields are already cut to BC's field lengths (:data:`FIELD_LENGTHS`) and Code fields
are upper-case, as BC stores them.

A blank text (``""``) means "not given": BC then keeps its own default (for the bill-to and ship-to
address: the customer's; see :attr:`BcSalesHeader.has_bill_to_address`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

DocumentType = Literal["Order", "Quote"]
# "" is a text line (BC's blank Type): it carries only a Description.
LineType = Literal["Item", "Resource", "G/L Account", ""]

# BC's field lengths, by our field name (the caption in parentheses where it is not obvious).
FIELD_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        "sell_to_customer_no": 20,
        "your_reference": 35,
        "external_document_no": 35,
        "currency_code": 10,
        "payment_terms_code": 10,
        "shipment_method_code": 10,
        "shipping_agent_code": 10,
        "name": 100,
        "address": 100,
        "address_2": 50,
        "city": 30,
        "county": 30,
        "post_code": 20,
        "country_region_code": 10,
        "contact": 100,
        "line_no": 20,  # "No." on a sales line
        "line_description": 100,
        "unit_of_measure_code": 10,
        "note_description": 250,  # Record Link "Description"
    }
)

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, kw_only=True, slots=True)
class BcSalesHeader:
    """A "Sales Header" to insert (Document Type Order or Quote, Status Open).

    ``sales_id`` is the Sales row it came from (``salesorderid`` / ``quoteid``): the worker couples
    it to the new header. ``sales_quote_id`` is, for an order, the Sales quote it was made from
    (``quoteid``): the worker finds the BC quote with Your Reference = that quote's number, sets
    "Quote No." and archives it (docs/reference/bc-rules.md §4). ``invoice_discount_amount`` is the
    amount to spread over the lines as BC's "Invoice Discount Amount" (0: none).
    """

    document_type: DocumentType
    sell_to_customer_no: str
    your_reference: str = ""
    external_document_no: str = ""
    work_description: str = ""
    currency_code: str = ""
    requested_delivery_date: dt.date | None = None
    quote_valid_until_date: dt.date | None = None
    payment_discount_pct: Decimal = ZERO
    invoice_discount_amount: Decimal = ZERO
    payment_terms_code: str = ""
    shipment_method_code: str = ""
    shipping_agent_code: str = ""
    bill_to_name: str = ""
    bill_to_address: str = ""
    bill_to_address_2: str = ""
    bill_to_city: str = ""
    bill_to_county: str = ""
    bill_to_post_code: str = ""
    bill_to_country_region_code: str = ""
    bill_to_contact: str = ""
    ship_to_name: str = ""
    ship_to_address: str = ""
    ship_to_address_2: str = ""
    ship_to_city: str = ""
    ship_to_county: str = ""
    ship_to_post_code: str = ""
    ship_to_country_region_code: str = ""
    ship_to_contact: str = ""
    sales_id: str = ""
    sales_quote_id: str | None = None

    @property
    def has_bill_to_address(self) -> bool:
        """False: Sales gave no bill-to address, keep the customer's (BC's rule)."""
        return any(getattr(self, f"bill_to_{part}") for part in _ADDRESS_PARTS)

    @property
    def has_ship_to_address(self) -> bool:
        """False: Sales gave no ship-to address, keep the customer's (BC's rule)."""
        return any(getattr(self, f"ship_to_{part}") for part in _ADDRESS_PARTS)


_ADDRESS_PARTS = ("name", "address", "address_2", "city", "county", "post_code", "country_region_code", "contact")


@dataclass(frozen=True, kw_only=True, slots=True)
class BcSalesLine:
    """A "Sales Line" to insert.

    ``amount`` is BC's "Line Amount": quantity × unit price − line discount, excluding VAT and
    before the invoice discount. A text line (``type == ""``) has only ``description`` and, when it
    continues another line's text, ``attached_to_line_no`` (0 = attached to nothing, as in BC).
    ``sales_line_id`` is the Sales line (``salesorderdetailid`` / ``quotedetailid``) the line came
    from; None for text lines and the freight line.
    """

    line_no: int
    type: LineType
    no: str = ""
    description: str = ""
    quantity: Decimal = ZERO
    unit_of_measure_code: str = ""
    qty_per_unit_of_measure: Decimal = ZERO
    quantity_base: Decimal = ZERO
    unit_price: Decimal = ZERO
    line_discount_amount: Decimal = ZERO
    amount: Decimal = ZERO
    attached_to_line_no: int = 0
    sales_line_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BcNote:
    """A note on the header (a "Record Link" of type Note): ``description`` from the subject."""

    description: str
    text: str
    sales_note_id: str
    # The annotation's times: an order's notes are coupled to their annotations (BC's CRM
    # Annotation Coupling), so that the notes job sees a later change and no new note.
    sales_created_on: dt.datetime | None = None
    sales_modified_on: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BcSalesDocument:
    header: BcSalesHeader
    lines: tuple[BcSalesLine, ...] = ()
    notes: tuple[BcNote, ...] = ()
