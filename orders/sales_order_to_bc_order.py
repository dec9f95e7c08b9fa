"""A submitted Sales order -> a BC sales order (BC's codeunit 5343 "CRM Sales Order to Sales Order").

Pure: :func:`sales_order_to_bc_order` takes everything as data and returns the document to store,
or raises :class:`ConversionError` with BC's message. The rules shared with quotes, and the choices
made where BC is silent, are in :mod:`orders.conversion_rules`.

Order-specific parts (docs/reference/bc-rules.md §4):
- Document Type Order; Your Reference = ``ordernumber``; Payment Discount % = ``discountpercentage``;
  ``sales_quote_id`` = ``quoteid`` (the worker links and archives the BC quote with Your Reference =
  that quote's number).
- Messages are prefixed "The sales order cannot be created."; an order whose customer is not an
  account BC can use gets BC's "Sales order %1 is created for %2 %3, which doesn't correspond to an
  account in Dataverse." with %1 = the order's ``name``, %2 = ``account`` or ``contact`` (the
  customer's table), %3 = the customer's GUID as BC formats it.
- The write-in message names the document "Order" and its Your Reference (the order number), as BC
  does: "Dataverse Order ORD-01001-X1Y2 contains a write-in product. ..." (BC's text has no prefix).

Which checks run is the caller's business: BC converts only orders that are Submitted
(``statecode`` 1) with no ``lastbackofficesubmit``, and skips orders already coupled. This function
does not look at the state, so that the manual "Create in Business Central" path can use it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from orders.conversion_rules import (
    SERVICE_NAME,
    ConversionData,
    ConversionError,
    DocumentKind,
    bc_guid,
    convert_document,
)
from orders.dataverse.records import LookupRef, SalesDocumentRecord, SalesOrder
from schemas.bc_sales_document import ZERO, BcSalesDocument

__all__ = ["ORDER", "ConversionError", "OrderConversionInput", "sales_order_to_bc_order"]

ORDER_PREFIX = "The sales order cannot be created."


def _no_account(doc: SalesDocumentRecord, customer: LookupRef) -> str:
    return (
        f"Sales order {doc.name or ''} is created for {customer.logical_name} {bc_guid(customer.id)}, "
        f"which doesn't correspond to an account in {SERVICE_NAME}."
    )


ORDER = DocumentKind(document_type="Order", prefix=ORDER_PREFIX, noun="sales order", no_account_message=_no_account)


@dataclass(frozen=True, kw_only=True)
class OrderConversionInput(ConversionData):
    """The Sales order and everything it needs (see :class:`~orders.conversion_rules.ConversionData`)."""

    order: SalesOrder


def sales_order_to_bc_order(inp: OrderConversionInput) -> BcSalesDocument:
    """The BC sales order for ``inp.order``; raises :class:`ConversionError` with BC's message."""
    order = inp.order
    return convert_document(
        ORDER,
        order,
        inp,
        sales_id=order.salesorderid,
        your_reference=order.ordernumber or "",
        payment_discount_pct=order.discountpercentage or ZERO,
        sales_quote_id=order.quoteid,
    )
