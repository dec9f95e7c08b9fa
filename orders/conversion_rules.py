"""The conversion rules that Sales orders and Sales quotes share (BC's codeunits 5343 and 5348).

Pure: everything comes in as data (:class:`ConversionData`), nothing is read or written, no clock.
:func:`convert_document` is called by :mod:`orders.sales_order_to_bc_order` and
:mod:`orders.sales_quote_to_bc_quote` with their :class:`DocumentKind`; those modules describe the
order- and quote-specific parts.

Messages are BC's own texts (codeunit "CRM Sales Order to Sales Order" / "CRM Quote to Sales
Quote", and BC's platform messages where BC fails inside a ``Get``/``TestField``/``Validate``),
with the placeholders filled as BC fills them:

- the service name (``CRMProductName.CDSServiceName()``) is ``Dataverse``;
- a GUID is written as BC's ``Format(Guid)`` writes it: ``{6F9619FF-8B86-D011-B42D-00C04FC964FF}``;
- a decimal is written as BC's ``Format(Decimal)`` does: thousands separators, no trailing zeros
  (``1,234.5``);
- the "sales order title" in the no-customer message: BC passes the order's Description (a BLOB,
  which formats as nothing useful) while its comment says "sales order title"; we use the title,
  ``name``, falling back to the number when there is no name.

Choices where BC is silent or where this goes further (each says so):

- Customer: a contact's parent account is not checked for type Customer (BC checks the type only
  when the document's customer is an account itself). A coupled customer missing from BC, or
  blocked, fails with BC's messages ("The Customer does not exist. ..." / "You cannot create this
  type of document when Customer %1 is blocked with type All"); BC would fail later and less
  clearly. The customer's own currency is not compared with the document's (BC does not either).
- Currency: a ``transactioncurrencyid`` whose row was not read (``currency`` is None or another
  row) gives "Cannot find the currency with the value '%1' in Dataverse." with the GUID, as BC's
  ``GetNavCurrencyCode`` does; an ISO code that BC has no Currency for gives BC's ``Currency.Get``
  failure, "The Currency does not exist. Identification fields and values: Code='XYZ'".
- Option fields: a Sales option value that has no mapping leaves the BC field blank, as BC's
  ``CopyCRMOptionFields`` does (no error).
- Addresses: copied only when one of line 1, line 2, city, postal code, country, state/province
  is filled (BC's test); then line 1 -> Address, line 2 -> Address 2 (line 3 is dropped, as in BC),
  state/province -> County, and, going further than BC, ``*_name`` -> Name and ``*_contactname`` ->
  Contact. Post Code and Country/Region Code are Code fields: upper-cased. All cut to BC's lengths.
- External Document No. is a Code[35] in BC: the name is cut to 35 and upper-cased.
- Lines: ordered by ``sequencenumber``, then ``lineitemnumber``, then the line id (BC sorts by
  sequence number only). A line is a write-in when it has no product or ``isproductoverridden``.
  Its text is ``productdescription`` (or, when that is empty, the line's ``description``): 100
  characters on the line, the rest on attached text lines of 100. A product line takes the item's
  description (resource's name); the Sales line's own ``description`` (or ``productdescription``)
  goes on attached text lines unless it equals that, one BC text line per text line, each cut into
  pieces of 100 (BC's ``SetLineDescription``); blank text lines are skipped.
- Units: a write-in line takes the write-in product's base unit (BC sets no unit from Sales on
  write-ins). A product line without ``uomid`` takes the base unit; with one, the unit coupled to it
  (``Couplings.uom_to_unit``), else the Sales unit's name upper-cased as the BC code. A unit that is
  neither coupled nor read gives BC's "%1 The Dataverse unit %2 is not coupled to a unit of measure."
  with the GUID for %2 (its name being unknown).
- Amounts: Quantity and Unit Price rounded to 5 decimals, amounts to 2 (half away from zero, BC's
  ``Round``); the document currency's own precision is not consulted. Line Amount = round(quantity ×
  unit price) − line discount. A line discount outside 0–100 % of that (or any discount on a zero
  amount) fails with BC's "The value in the Line Discount % field must be between 0 and 100.".
  Unit prices are taken as Sales gives them (BC's "Price Includes VAT" adjustment is not applied).
  A line with quantity 0 is converted (BC's Validate of the Line Discount Amount would stop at
  TestField(Quantity), a message naming a document number that does not exist yet).
- Products: a product read without ``statecode`` counts as not Active (BC's TestField message with
  Current value ''); read products with ``statecode`` and ``producttypecode``.
- Freight: ``freightamount`` > 0 adds a "G/L Account" line on Sales & Receivables Setup's Freight
  G/L account, described "Freight Amount" (BC's text), quantity 1, after all other lines. No account
  set up gives BC's TestField message.
- Invoice discount: only when ``discountamount`` or ``discountpercentage`` is not 0 (BC's test).
  The amount is BC's: ``totallineitemamount − totalamountlessfreight`` when Sales sent both totals;
  otherwise ``discountamount + discountpercentage % of the line total`` (the sum of the converted
  lines' Line Amounts, freight excluded), rounded to 2. It must lie within 0 and that line total
  (BC's messages otherwise). The order's Payment Discount % is *also* set from
  ``discountpercentage`` (BC does both).
- Notes: attachments (``isdocument``) are skipped; subject cut to 250 (Record Link Description).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from orders.conversion_inputs import BcCustomer, BcItem, BcResource, Couplings
from orders.dataverse.codes import ProductState, ProductType
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
from orders.notes_text import html_to_text
from orders.setup import SalesSetup
from schemas.bc_sales_document import (
    FIELD_LENGTHS,
    ONE,
    ZERO,
    BcNote,
    BcSalesDocument,
    BcSalesHeader,
    BcSalesLine,
    DocumentType,
)

SERVICE_NAME = "Dataverse"  # BC's CRMProductName.CDSServiceName()
FREIGHT_LINE_DESCRIPTION = "Freight Amount"  # BC's Sales Line FreightLineDescriptionTxt
LINE_NO_STEP = 10000
TEXT_LINE_LENGTH = FIELD_LENGTHS["line_description"]

_CENT = Decimal("0.01")
_QTY = Decimal("0.00001")
_HUNDRED = Decimal(100)


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
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def round_quantity(value: Decimal) -> Decimal:
    return value.quantize(_QTY, rounding=ROUND_HALF_UP)


def chunks(text: str, size: int = TEXT_LINE_LENGTH) -> list[str]:
    """``text`` in pieces of ``size`` characters (BC's CreateExtendedDescription...Lines)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _cut(value: str | None, length_key: str) -> str:
    return (value or "")[: FIELD_LENGTHS[length_key]]


def _code(value: str | None, length_key: str) -> str:
    return _cut(value, length_key).upper()


def _not_found(table: str, fields: str) -> str:
    # BC's platform message when Get finds no record.
    return f"The {table} does not exist. Identification fields and values: {fields}"


def _fail(code: str, message: str) -> ConversionError:
    return ConversionError(message, code=code)


# ---- customer -------------------------------------------------------------------------------


def _account_of(kind: DocumentKind, doc: SalesDocumentRecord, data: ConversionData) -> Account:
    """BC's GetCRMAccountOf...: the account itself, or a contact's parent account."""
    customer = doc.customer
    assert customer is not None
    if customer.logical_name == "account":
        account = data.account if data.account is not None and data.account.accountid == customer.id else None
        if account is not None:
            if not account.is_customer:
                name = account.name or ""
                raise _fail(
                    "account_not_customer",
                    f"{kind.prefix} The selected type of the {name} {SERVICE_NAME} account is not customer.",
                )
            return account
    elif customer.logical_name == "contact":
        contact = data.contact if data.contact is not None and data.contact.contactid == customer.id else None
        parent = contact.parentcustomer if contact is not None else None
        if parent is not None and parent.logical_name == "account":
            account = data.account
            if account is not None and account.accountid == parent.id:
                return account
    raise _fail("no_account", kind.no_account_message(doc, customer))


def coupled_customer(kind: DocumentKind, doc: SalesDocumentRecord, data: ConversionData) -> BcCustomer:
    """The BC customer for the document's Sales customer (BC's GetCoupledCustomer)."""
    if doc.customer is None:
        title = doc.name or _document_number(doc)
        raise _fail(
            "no_customer",
            f"{kind.prefix} There is no potential customer defined on the {SERVICE_NAME} {kind.noun} {title}.",
        )
    account = _account_of(kind, doc, data)
    customer_no = data.couplings.account_to_customer.get(account.accountid)
    if customer_no is None:
        raise _fail(
            "customer_not_coupled",
            f"{kind.prefix} There is no customer coupled to {SERVICE_NAME} account {account.name or ''}.",
        )
    customer = data.customers.get(customer_no)
    if customer is None:
        raise _fail("customer_missing", _not_found("Customer", f"No.='{customer_no}'"))
    if customer.blocked:
        raise _fail(
            "customer_blocked",
            f"You cannot create this type of document when Customer {customer.no} is blocked with type All",
        )
    return customer


def _document_number(doc: SalesDocumentRecord) -> str:
    number = getattr(doc, "ordernumber", None) or getattr(doc, "quotenumber", None)
    return number or ""


# ---- header ---------------------------------------------------------------------------------


def currency_code(doc: SalesDocumentRecord, data: ConversionData) -> str:
    """BC's GetNavCurrencyCode: blank for no currency or the local currency, else the ISO code."""
    if doc.transactioncurrencyid is None:
        return ""
    currency = data.currency
    if currency is None or currency.transactioncurrencyid != doc.transactioncurrencyid:
        raise _fail(
            "currency_not_found",
            f"Cannot find the currency with the value '{bc_guid(doc.transactioncurrencyid)}' in {SERVICE_NAME}.",
        )
    # DelChr removes the spaces; a Code[10] is upper-case.
    iso = (currency.isocurrencycode or "").replace(" ", "").upper()[: FIELD_LENGTHS["currency_code"]]
    if iso == data.setup.local_currency_code.strip().upper():
        return ""
    if iso not in {code.upper() for code in data.currency_codes}:
        raise _fail("currency_missing", _not_found("Currency", f"Code='{iso}'"))
    return iso


_ADDRESS_TEST = ("line1", "line2", "city", "postalcode", "country", "stateorprovince")


def address_fields(doc: SalesDocumentRecord, side: Literal["billto", "shipto"], prefix: str) -> dict[str, str]:
    """``bill_to_*`` / ``ship_to_*`` header fields, empty when Sales gave no address (BC's test)."""

    def col(part: str) -> str | None:
        return getattr(doc, f"{side}_{part}")

    if not any(col(part) for part in _ADDRESS_TEST):
        return {}
    return {
        f"{prefix}_name": _cut(col("name"), "name"),
        f"{prefix}_address": _cut(col("line1"), "address"),
        f"{prefix}_address_2": _cut(col("line2"), "address_2"),
        f"{prefix}_city": _cut(col("city"), "city"),
        f"{prefix}_county": _cut(col("stateorprovince"), "county"),
        f"{prefix}_post_code": _code(col("postalcode"), "post_code"),
        f"{prefix}_country_region_code": _code(col("country"), "country_region_code"),
        f"{prefix}_contact": _cut(col("contactname"), "contact"),
    }


def _option(mapping: Mapping[int, str], value: int | None, length_key: str) -> str:
    if value is None:
        return ""
    return _code(mapping.get(value, ""), length_key)


def option_fields(doc: SalesDocumentRecord, setup: SalesSetup) -> dict[str, str]:
    """BC's CopyCRMOptionFields: unmapped values leave the field blank."""
    return {
        "shipping_agent_code": _option(setup.shipping_agents, doc.shippingmethodcode, "shipping_agent_code"),
        "payment_terms_code": _option(setup.payment_terms, doc.paymenttermscode, "payment_terms_code"),
        "shipment_method_code": _option(setup.shipment_methods, doc.freighttermscode, "shipment_method_code"),
    }


def notes(data: ConversionData) -> tuple[BcNote, ...]:
    return tuple(
        BcNote(
            description=_cut(note.subject, "note_description"),
            text=html_to_text(note.notetext),
            sales_note_id=note.annotationid,
        )
        for note in data.notes
        if not note.is_attachment
    )


# ---- lines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What a Sales line becomes on BC's side: an item or a resource, and its units."""

    type: Literal["Item", "Resource"]
    no: str
    description: str
    base_unit: str
    units: Mapping[str, Decimal]
    write_in: bool


def _line_order(line: SalesOrderLine) -> tuple[bool, int, bool, int, str]:
    return (
        line.sequencenumber is None,
        line.sequencenumber or 0,
        line.lineitemnumber is None,
        line.lineitemnumber or 0,
        line.line_id,
    )


def _item_target(item: BcItem, *, write_in: bool) -> _Target:
    if item.blocked:
        raise _fail("item_blocked", f"Blocked must be equal to 'No'  in Item: No.={item.no}. Current value is 'Yes'.")
    return _Target("Item", item.no, item.description, item.base_unit_of_measure, item.units, write_in)


def _resource_target(resource: BcResource, *, write_in: bool) -> _Target:
    if resource.blocked:
        raise _fail(
            "resource_blocked",
            f"Blocked must be equal to 'No'  in Resource: No.={resource.no}. Current value is 'Yes'.",
        )
    return _Target("Resource", resource.no, resource.name, resource.base_unit_of_measure, resource.units, write_in)


def _write_in_target(kind: DocumentKind, your_reference: str, data: ConversionData) -> _Target:
    setup = data.setup
    if not setup.write_in_product_no:
        raise _fail(
            "write_in_not_set_up",
            f"{SERVICE_NAME} {kind.document_type} {your_reference} contains a write-in product. "
            "You must choose the default write-in product in Sales & Receivables Setup window.",
        )
    if setup.write_in_product_type == "Resource":
        resource = data.resources.get(setup.write_in_product_no)
        if resource is None:
            raise _fail("write_in_missing", _not_found("Resource", f"No.='{setup.write_in_product_no}'"))
        return _resource_target(resource, write_in=True)
    item = data.items.get(setup.write_in_product_no)
    if item is None:
        raise _fail("write_in_missing", _not_found("Item", f"No.='{setup.write_in_product_no}'"))
    return _item_target(item, write_in=True)


def _product_target(kind: DocumentKind, line: SalesOrderLine, data: ConversionData) -> _Target:
    assert line.productid is not None
    product = data.products.get(line.productid)
    if product is None:
        raise _fail("product_missing", _not_found("CRM Product", f"Product='{bc_guid(line.productid)}'"))
    if product.statecode != ProductState.ACTIVE:
        state = product.statecode
        current = ProductState(state).caption if state is not None and state in ProductState._value2member_map_ else ""
        raise _fail(
            "product_inactive",
            f"Status must be equal to 'Active'  in CRM Product: Product={bc_guid(product.productid)}. "
            f"Current value is '{current}'.",
        )
    if product.producttypecode == ProductType.SALES_INVENTORY:
        item_no = data.couplings.product_to_item.get(product.productid)
        if item_no is None:
            raise _fail(
                "product_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} product {product.name or ''} is not coupled to an item.",
            )
        item = data.items.get(item_no)
        if item is None:
            raise _fail("item_missing", f"{kind.prefix} The item {product.productnumber or ''} does not exist.")
        return _item_target(item, write_in=False)
    if product.producttypecode == ProductType.SERVICES:
        resource_no = data.couplings.product_to_resource.get(product.productid)
        if resource_no is None:
            raise _fail(
                "resource_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} resource {product.name or ''} is not coupled to a resource.",
            )
        resource = data.resources.get(resource_no)
        if resource is None:
            raise _fail("resource_missing", f"{kind.prefix} The resource {product.productnumber or ''} does not exist.")
        return _resource_target(resource, write_in=False)
    raise _fail(
        "unexpected_product_type",
        f"{kind.prefix} Unexpected value of product type code for product {product.productnumber or ''}. "
        "The supported values are: sales inventory, services.",
    )


def _unit(kind: DocumentKind, line: SalesOrderLine, target: _Target, data: ConversionData) -> tuple[str, Decimal]:
    """The line's Unit of Measure Code and its Qty. per Unit of Measure."""
    base = target.base_unit.upper()
    code = base
    if not target.write_in and line.uomid is not None:
        coupled = data.couplings.uom_to_unit.get(line.uomid)
        uom = data.uoms.get(line.uomid)
        if coupled is not None:
            code = coupled.upper()
        elif uom is not None and uom.name:
            code = uom.name.upper()
        else:
            raise _fail(
                "uom_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} unit {bc_guid(line.uomid)} is not coupled to a unit of measure.",
            )
    units = {unit.upper(): qty for unit, qty in target.units.items()}
    if code in units:
        return code, units[code]
    if code == base:
        return code, ONE
    owner = "Item No." if target.type == "Item" else "Resource No."
    raise _fail("unit_missing", _not_found(f"{target.type} Unit of Measure", f"{owner}='{target.no}',Code='{code}'"))


def _texts(line: SalesOrderLine, target: _Target) -> tuple[str, list[str]]:
    """The line's Description and the texts of its attached text lines."""
    described = [text for text in (line.description or "").splitlines() if text.strip()]
    if target.write_in:
        text = line.productdescription or ""
        rest = described
        if not text and described:
            text, rest = described[0], described[1:]
        main = text[:TEXT_LINE_LENGTH]
        extra = chunks(text[TEXT_LINE_LENGTH:])
    else:
        main = target.description[:TEXT_LINE_LENGTH]
        first = described[0] if described else (line.productdescription or "")
        rest = described[1:]
        extra = [] if first == main else chunks(first)
    for text in rest:
        extra.extend(chunks(text))
    return main, extra


def _check_line_discount(discount: Decimal, base: Decimal) -> None:
    # BC's UpdateLineDiscPct: the discount as a % of the line amount must lie within 0..100.
    if discount == 0:
        return
    if base == 0 or not ZERO <= round_quantity(discount / base * _HUNDRED) <= _HUNDRED:
        raise _fail("line_discount", "The value in the Line Discount % field must be between 0 and 100.")


def document_lines(kind: DocumentKind, your_reference: str, data: ConversionData) -> tuple[list[BcSalesLine], Decimal]:
    """The BC lines, in order and numbered, and the sum of their Line Amounts."""
    out: list[BcSalesLine] = []
    total = ZERO
    line_no = 0
    for line in sorted(data.lines, key=_line_order):
        line_no += LINE_NO_STEP
        target = _write_in_target(kind, your_reference, data) if line.is_write_in else _product_target(kind, line, data)
        main, extra = _texts(line, target)
        unit_code, qty_per = _unit(kind, line, target, data)
        quantity = round_quantity(line.quantity or ZERO)
        unit_price = round_quantity(line.priceperunit or ZERO)
        base = round_amount(quantity * unit_price)
        discount = round_amount(quantity * (line.volumediscountamount or ZERO) + (line.manualdiscountamount or ZERO))
        _check_line_discount(discount, base)
        amount = base - discount
        total += amount
        out.append(
            BcSalesLine(
                line_no=line_no,
                type=target.type,
                no=target.no,
                description=main,
                quantity=quantity,
                unit_of_measure_code=unit_code,
                qty_per_unit_of_measure=qty_per,
                quantity_base=round_quantity(quantity * qty_per),
                unit_price=unit_price,
                line_discount_amount=discount,
                amount=amount,
                sales_line_id=line.line_id,
            )
        )
        attached_to = line_no
        for text in extra:
            line_no += LINE_NO_STEP
            out.append(BcSalesLine(line_no=line_no, type="", description=text, attached_to_line_no=attached_to))
    return out, total


def freight_line(doc: SalesDocumentRecord, setup: SalesSetup, line_no: int) -> BcSalesLine | None:
    """BC's InsertFreightLine: one G/L line for a positive freight amount."""
    freight = doc.freightamount or ZERO
    if freight <= 0:
        return None
    if not setup.freight_gl_account:
        raise _fail(
            "freight_account_missing",
            "Freight G/L Acc. No. must have a value in Sales & Receivables Setup: Primary Key=. "
            "It cannot be zero or empty.",
        )
    return BcSalesLine(
        line_no=line_no,
        type="G/L Account",
        no=setup.freight_gl_account,
        description=FREIGHT_LINE_DESCRIPTION,
        quantity=ONE,
        qty_per_unit_of_measure=ONE,
        quantity_base=ONE,
        unit_price=round_quantity(freight),
        amount=round_amount(freight),
    )


def invoice_discount(doc: SalesDocumentRecord, lines_total: Decimal) -> Decimal:
    """BC's ApplySalesOrderDiscounts / ApplyQuoteDiscounts, as an amount (0: none)."""
    amount = doc.discountamount or ZERO
    percentage = doc.discountpercentage or ZERO
    if amount == 0 and percentage == 0:
        return ZERO
    if doc.totallineitemamount is not None and doc.totalamountlessfreight is not None:
        discount = doc.totallineitemamount - doc.totalamountlessfreight
    else:
        discount = amount + lines_total * percentage / _HUNDRED
    discount = round_amount(discount)
    if discount < 0:
        raise _fail("invoice_discount", "Invoice Discount Amount must not be negative.")
    if discount > 0 and lines_total == 0:
        raise _fail("invoice_discount", "There is no amount that you can apply an invoice discount to.")
    if discount > lines_total:
        raise _fail(
            "invoice_discount",
            f"The maximum Invoice Discount Amount that you can apply is {bc_decimal(lines_total)}.",
        )
    return discount


# ---- the whole document ---------------------------------------------------------------------


def convert_document(
    kind: DocumentKind,
    doc: SalesDocumentRecord,
    data: ConversionData,
    *,
    sales_id: str,
    your_reference: str,
    quote_valid_until_date: dt.date | None = None,
    payment_discount_pct: Decimal = ZERO,
    sales_quote_id: str | None = None,
) -> BcSalesDocument:
    """Checks in BC's order (customer, currency, lines, freight, discount) and builds the document."""
    customer = coupled_customer(kind, doc, data)
    your_reference = _cut(your_reference, "your_reference")
    currency = currency_code(doc, data)
    lines, lines_total = document_lines(kind, your_reference, data)
    freight = freight_line(doc, data.setup, (len(lines) + 1) * LINE_NO_STEP)
    if freight is not None:
        lines.append(freight)
    header = BcSalesHeader(
        document_type=kind.document_type,
        sell_to_customer_no=customer.no,
        your_reference=your_reference,
        external_document_no=_code(doc.name, "external_document_no"),
        work_description=doc.description or "",
        currency_code=currency,
        requested_delivery_date=doc.requestdeliveryby,
        quote_valid_until_date=quote_valid_until_date,
        payment_discount_pct=payment_discount_pct,
        invoice_discount_amount=invoice_discount(doc, lines_total),
        **option_fields(doc, data.setup),
        **address_fields(doc, "billto", "bill_to"),
        **address_fields(doc, "shipto", "ship_to"),
        sales_id=sales_id,
        sales_quote_id=sales_quote_id,
    )
    return BcSalesDocument(header=header, lines=tuple(lines), notes=notes(data))
