"""An active or won Sales quote -> a BC sales quote (BC's codeunit 5348 "CRM Quote to Sales Quote").

Pure: :func:`sales_quote_to_bc_quote` takes everything as data and returns the document to store,
or raises :class:`ConversionError` with BC's message. The rules shared with orders, and the choices
made where BC is silent, are in :mod:`orders.conversion_rules`.

Quote-specific parts (docs/reference/bc-rules.md §5):
- Document Type Quote; Your Reference = ``quotenumber``; Quote Valid Until Date = ``effectiveto``;
  no Payment Discount % (0); no ``sales_quote_id``.
- Messages are prefixed "The sales quote cannot be created."; a quote whose customer is not an
  account BC can use gets BC's quote text "The Dataverse account for Dataverse sales quote %1 does
  not exist." with %1 = the quote's ``name`` (BC's label uses its %2, the service name, twice).
- The write-in message names the document "Quote" and its Your Reference (the quote number).

Which quotes to convert, revisions (rebuilding the BC quote of an earlier revision), and a won
quote's order are the caller's business (docs/reference/bc-rules.md §5); for a revision the
result is the new content of the existing BC quote.
"""

from __future__ import annotations

from dataclasses import dataclass

from orders.conversion_rules import (
    SERVICE_NAME,
    ConversionData,
    ConversionError,
    DocumentKind,
    convert_document,
)
from orders.dataverse.records import LookupRef, Quote, SalesDocumentRecord
from schemas.bc_sales_document import BcSalesDocument

__all__ = ["QUOTE", "ConversionError", "QuoteConversionInput", "sales_quote_to_bc_quote"]

QUOTE_PREFIX = "The sales quote cannot be created."


def _no_account(doc: SalesDocumentRecord, customer: LookupRef) -> str:
    return f"The {SERVICE_NAME} account for {SERVICE_NAME} sales quote {doc.name or ''} does not exist."


QUOTE = DocumentKind(document_type="Quote", prefix=QUOTE_PREFIX, noun="sales quote", no_account_message=_no_account)


@dataclass(frozen=True, kw_only=True)
class QuoteConversionInput(ConversionData):
    """The Sales quote and everything it needs (see :class:`~orders.conversion_rules.ConversionData`)."""

    quote: Quote


def sales_quote_to_bc_quote(inp: QuoteConversionInput) -> BcSalesDocument:
    """The BC sales quote for ``inp.quote``; raises :class:`ConversionError` with BC's message."""
    quote = inp.quote
    return convert_document(
        QUOTE,
        quote,
        inp,
        sales_id=quote.quoteid,
        your_reference=quote.quotenumber or "",
        quote_valid_until_date=quote.effectiveto,
    )
