"""What the conversion rules share: their input, the error, the document kinds, BC's formatting.

The rules themselves, and the choices made where BC is silent, are described in
orders/conversion_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from orders.conversion_inputs import BcCustomer, BcItem, BcResource, Couplings
from orders.dataverse.records import (
    Account,
    Contact,
    Currency,
    LookupRef,
    Note,
    Product,
    SalesDocumentRecord,
    SalesOrderLine,
    Uom,
)
from orders.setup import SalesSetup
from schemas.bc_sales_document import (
    FIELD_LENGTHS,
    DocumentType,
)

SERVICE_NAME = "Dataverse"  # BC's CRMProductName.CDSServiceName()
FREIGHT_LINE_DESCRIPTION = "Freight Amount"  # BC's Sales Line FreightLineDescriptionTxt
LINE_NO_STEP = 10000
TEXT_LINE_LENGTH = FIELD_LENGTHS["line_description"]

CENT = Decimal("0.01")
QTY = Decimal("0.00001")
HUNDRED = Decimal(100)


class ConversionError(ValueError):
    """BC refuses to create the document; ``message`` is BC's text, ``code`` names the rule."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, kw_only=True)
class ConversionData:
    """Everything the conversion needs besides the Sales order or quote itself.

    From Sales: the document's ``lines`` and ``notes``; the ``account`` and/or ``contact`` read for
    its customer (for a contact, the account is the contact's parent account); ``products`` and
    ``uoms`` by id (those the lines use); the ``currency`` row of ``transactioncurrencyid``.
    From BC: the ``couplings``; ``items``, ``resources`` and ``customers`` by number (those coupled
    to what the document uses, plus the write-in product); ``currency_codes`` (the Currency table's
    codes); the ``setup``.
    """

    lines: Sequence[SalesOrderLine] = ()
    notes: Sequence[Note] = ()
    account: Account | None = None
    contact: Contact | None = None
    products: Mapping[str, Product] = field(default_factory=dict)
    uoms: Mapping[str, Uom] = field(default_factory=dict)
    currency: Currency | None = None
    couplings: Couplings
    items: Mapping[str, BcItem] = field(default_factory=dict)
    resources: Mapping[str, BcResource] = field(default_factory=dict)
    customers: Mapping[str, BcCustomer] = field(default_factory=dict)
    currency_codes: Collection[str] = frozenset()
    setup: SalesSetup


@dataclass(frozen=True, kw_only=True)
class DocumentKind:
    """What differs between orders and quotes in the shared rules."""

    document_type: DocumentType
    prefix: str  # "The sales order cannot be created."
    noun: str  # "sales order" / "sales quote", as in "defined on the Dataverse sales order X"
    # The message when the customer is not an account BC can use (differs in BC's two codeunits).
    no_account_message: Callable[[SalesDocumentRecord, LookupRef], str]


# ---- formatting as BC does -------------------------------------------------------------------


def bc_guid(value: str) -> str:
    """A GUID as BC's Format(Guid) writes it."""
    return "{" + value.strip("{}").upper() + "}"


def bc_decimal(value: Decimal) -> str:
    """A decimal as BC's Format(Decimal) writes it (en-US): 1234.50 -> "1,234.5"."""
    text = f"{value:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def round_amount(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_quantity(value: Decimal) -> Decimal:
    return value.quantize(QTY, rounding=ROUND_HALF_UP)


def chunks(text: str, size: int = TEXT_LINE_LENGTH) -> list[str]:
    """``text`` in pieces of ``size`` characters (BC's CreateExtendedDescription...Lines)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def cut_text(value: str | None, length_key: str) -> str:
    return (value or "")[: FIELD_LENGTHS[length_key]]


def code_text(value: str | None, length_key: str) -> str:
    return cut_text(value, length_key).upper()


def not_found_message(table: str, fields: str) -> str:
    # BC's platform message when Get finds no record.
    return f"The {table} does not exist. Identification fields and values: {fields}"


def rule_failure(code: str, message: str) -> ConversionError:
    return ConversionError(message, code=code)


# ---- customer -------------------------------------------------------------------------------
