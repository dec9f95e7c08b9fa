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
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from orders.conversion_common import (
    FREIGHT_LINE_DESCRIPTION,
    HUNDRED,
    LINE_NO_STEP,
    SERVICE_NAME,
    TEXT_LINE_LENGTH,
    ConversionData,
    ConversionError,
    DocumentKind,
    bc_decimal,
    bc_guid,
    chunks,
    code_text,
    cut_text,
    not_found_message,
    round_amount,
    round_quantity,
    rule_failure,
)
from orders.conversion_inputs import BcCustomer
from orders.conversion_lines import document_lines
from orders.dataverse.records import (
    Account,
    SalesDocumentRecord,
)
from orders.inbox.notes import is_error_note
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
)

__all__ = [
    "FREIGHT_LINE_DESCRIPTION",
    "LINE_NO_STEP",
    "SERVICE_NAME",
    "TEXT_LINE_LENGTH",
    "ConversionData",
    "ConversionError",
    "DocumentKind",
    "address_fields",
    "bc_decimal",
    "bc_guid",
    "chunks",
    "convert_document",
    "coupled_customer",
    "currency_code",
    "document_lines",
    "freight_line",
    "invoice_discount",
    "notes",
    "option_fields",
    "round_amount",
    "round_quantity",
]


def _account_of(kind: DocumentKind, doc: SalesDocumentRecord, data: ConversionData) -> Account:
    """BC's GetCRMAccountOf...: the account itself, or a contact's parent account."""
    customer = doc.customer
    assert customer is not None
    if customer.logical_name == "account":
        account = data.account if data.account is not None and data.account.accountid == customer.id else None
        if account is not None:
            if not account.is_customer:
                name = account.name or ""
                raise rule_failure(
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
    raise rule_failure("no_account", kind.no_account_message(doc, customer))


def coupled_customer(kind: DocumentKind, doc: SalesDocumentRecord, data: ConversionData) -> BcCustomer:
    """The BC customer for the document's Sales customer (BC's GetCoupledCustomer)."""
    if doc.customer is None:
        title = doc.name or _document_number(doc)
        raise rule_failure(
            "no_customer",
            f"{kind.prefix} There is no potential customer defined on the {SERVICE_NAME} {kind.noun} {title}.",
        )
    account = _account_of(kind, doc, data)
    customer_no = data.couplings.account_to_customer.get(account.accountid)
    if customer_no is None:
        raise rule_failure(
            "customer_not_coupled",
            f"{kind.prefix} There is no customer coupled to {SERVICE_NAME} account {account.name or ''}.",
        )
    customer = data.customers.get(customer_no)
    if customer is None:
        raise rule_failure("customer_missing", not_found_message("Customer", f"No.='{customer_no}'"))
    if customer.blocked:
        raise rule_failure(
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
        raise rule_failure(
            "currency_not_found",
            f"Cannot find the currency with the value '{bc_guid(doc.transactioncurrencyid)}' in {SERVICE_NAME}.",
        )
    # DelChr removes the spaces; a Code[10] is upper-case.
    iso = (currency.isocurrencycode or "").replace(" ", "").upper()[: FIELD_LENGTHS["currency_code"]]
    if iso == data.setup.local_currency_code.strip().upper():
        return ""
    if iso not in {code.upper() for code in data.currency_codes}:
        raise rule_failure("currency_missing", not_found_message("Currency", f"Code='{iso}'"))
    return iso


_ADDRESS_TEST = ("line1", "line2", "city", "postalcode", "country", "stateorprovince")


def address_fields(doc: SalesDocumentRecord, side: Literal["billto", "shipto"], prefix: str) -> dict[str, str]:
    """``bill_to_*`` / ``ship_to_*`` header fields, empty when Sales gave no address (BC's test)."""

    def col(part: str) -> str | None:
        value: str | None = getattr(doc, f"{side}_{part}")
        return value

    if not any(col(part) for part in _ADDRESS_TEST):
        return {}
    return {
        f"{prefix}_name": cut_text(col("name"), "name"),
        f"{prefix}_address": cut_text(col("line1"), "address"),
        f"{prefix}_address_2": cut_text(col("line2"), "address_2"),
        f"{prefix}_city": cut_text(col("city"), "city"),
        f"{prefix}_county": cut_text(col("stateorprovince"), "county"),
        f"{prefix}_post_code": code_text(col("postalcode"), "post_code"),
        f"{prefix}_country_region_code": code_text(col("country"), "country_region_code"),
        f"{prefix}_contact": cut_text(col("contactname"), "contact"),
    }


def _option(mapping: Mapping[int, str], value: int | None, length_key: str) -> str:
    if value is None:
        return ""
    return code_text(mapping.get(value, ""), length_key)


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
            description=cut_text(note.subject, "note_description"),
            text=html_to_text(note.notetext),
            sales_note_id=note.annotationid,
            sales_created_on=note.createdon,
            sales_modified_on=note.modifiedon,
        )
        for note in data.notes
        # Our own error notes on the Sales order (orders/error_notes.py) are not BC notes.
        if not note.is_attachment and not is_error_note(note.subject)
    )


# ---- freight and the invoice discount -------------------------------------------------------


def freight_line(doc: SalesDocumentRecord, setup: SalesSetup, line_no: int) -> BcSalesLine | None:
    """BC's InsertFreightLine: one G/L line for a positive freight amount."""
    freight = doc.freightamount or ZERO
    if freight <= 0:
        return None
    if not setup.freight_gl_account:
        raise rule_failure(
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
        discount = amount + lines_total * percentage / HUNDRED
    discount = round_amount(discount)
    if discount < 0:
        raise rule_failure("invoice_discount", "Invoice Discount Amount must not be negative.")
    if discount > 0 and lines_total == 0:
        raise rule_failure("invoice_discount", "There is no amount that you can apply an invoice discount to.")
    if discount > lines_total:
        raise rule_failure(
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
    your_reference = cut_text(your_reference, "your_reference")
    currency = currency_code(doc, data)
    lines, lines_total = document_lines(kind, your_reference, data)
    freight = freight_line(doc, data.setup, (len(lines) + 1) * LINE_NO_STEP)
    if freight is not None:
        lines.append(freight)
    header = BcSalesHeader(
        document_type=kind.document_type,
        sell_to_customer_no=customer.no,
        your_reference=your_reference,
        external_document_no=code_text(doc.name, "external_document_no"),
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
