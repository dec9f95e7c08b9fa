"""A converted BC document as BC's API v2.0 takes it, and BC's answer as the gateway's mirror rows.

Pure: no I/O, no clock. :func:`api_document` turns a :class:`BcSalesDocument` (the conversion's
output, ``schemas/bc_sales_document.py``) into one deep insert of ``salesOrders`` /
``salesQuotes`` with its lines (``docs/reference/bc-api.md §1.7, §3.6–§3.8``);
:func:`mirror_header` / :func:`mirror_lines` turn BC's answer into ``sales_header`` /
``sales_line`` values, so that the gateway's sets show what BC holds.

Header: ``customerNumber``; ``externalDocumentNumber`` = **our key** (:func:`document_key`, bc-api
§7.2: BC has no idempotency key, so this is how a POST of unknown outcome is found again);
``orderDate`` / ``documentDate``; ``currencyCode`` always sent, blank for the local currency (BC
would otherwise take the customer's currency; bc-api §3.5); ``requestedDeliveryDate`` (orders),
``validUntilDate`` (quotes); the ship-to address when Sales gave one (else BC keeps the customer's);
``discountAmount`` for an invoice discount. Lines: ``lineType`` Item / Resource / Account (the
freight line) / Comment (text lines: long descriptions), ``lineObjectNumber``, ``description``,
``quantity``, ``unitOfMeasureCode`` (items and resources), ``unitPrice``, ``discountAmount``;
never ``sequence`` (bc-api §1.7: BC numbers the lines 10000, 20000, ...).

What the standard API cannot take (bc-api §3.6, §9), and where it goes instead:

- Your Reference (the Sales order or quote number): not exposed → the first Comment line,
  ``Your Reference: ORD-01001-...``; the mirror keeps it as Your_Reference;
- External Document No. holds our key → the Sales ``name`` (what BC's own integration puts there,
  often the customer's PO number) goes on a Comment line ``External Document No.: ...``;
- the bill-to address: read-only (the bill-to customer's) → not sent;
- Work Description, the notes (record links), Payment Discount %, the shipping agent: not exposed →
  not sent; they stay in Sales;
- payment terms and shipment method: only as ids of ``paymentTerms`` / ``shipmentMethods`` → not
  sent, BC keeps the customer's;
- a text line's "Attached to Line No." and a line's Qty. per Unit of Measure: not exposed (Comment
  lines simply follow their line; BC derives the factor from its item units).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders.conversion_common import chunks, round_quantity
from schemas.bc_sales_document import ONE, ZERO, BcSalesDocument, BcSalesLine

__all__ = [
    "KEY_PREFIX",
    "ApiDocument",
    "ApiLine",
    "api_document",
    "document_key",
    "line_body",
    "mirror_header",
    "mirror_lines",
    "mirror_status",
]

KEY_PREFIX = "GW-"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"

_LINE_TYPES = {"Item": "Item", "Resource": "Resource", "G/L Account": "Account", "": "Comment"}
_OUR_LINE_TYPES = {v: k for k, v in _LINE_TYPES.items()}
_SETS = {
    "Order": ("salesOrders", "salesOrderLines", "orderDate"),
    "Quote": ("salesQuotes", "salesQuoteLines", "documentDate"),
}
_SHIP_TO = {
    "ship_to_name": "shipToName",
    "ship_to_contact": "shipToContact",
    "ship_to_address": "shipToAddressLine1",
    "ship_to_address_2": "shipToAddressLine2",
    "ship_to_city": "shipToCity",
    "ship_to_county": "shipToState",
    "ship_to_post_code": "shipToPostCode",
    "ship_to_country_region_code": "shipToCountry",
}
_BILL_TO = {
    "bill_to_name": "billToName",
    "bill_to_address": "billToAddressLine1",
    "bill_to_address_2": "billToAddressLine2",
    "bill_to_city": "billToCity",
    "bill_to_county": "billToState",
    "bill_to_post_code": "billToPostCode",
    "bill_to_country_region_code": "billToCountry",
}


def document_key(sales_id: str) -> str:
    """Our key for the BC document made from a Sales row: ``GW-`` and the Sales id's 32 hex
    digits, upper-case — exactly the 35 characters of BC's Code[35] ``externalDocumentNumber``.
    Derived from the Sales id, so any worker and any attempt finds the same BC document."""
    return KEY_PREFIX + uuid.UUID(sales_id).hex.upper()


@dataclass(frozen=True, slots=True)
class ApiLine:
    """One line of the deep insert; ``source`` the converted line it stands for (None: a Comment
    line the mapping added, e.g. Your Reference)."""

    body: dict[str, Any]
    source: BcSalesLine | None


@dataclass(frozen=True, slots=True)
class ApiDocument:
    entity_set: str  # salesOrders | salesQuotes
    lines_set: str  # salesOrderLines | salesQuoteLines
    header: dict[str, Any]
    lines: tuple[ApiLine, ...]

    def body(self) -> dict[str, Any]:
        """The deep insert: the header with its lines nested (bc-api §1.7)."""
        return {**self.header, self.lines_set: [line.body for line in self.lines]}


def _comment(text: str) -> dict[str, Any]:
    return {"lineType": "Comment", "description": text}


def line_body(line: BcSalesLine) -> dict[str, Any]:
    """One converted line as BC's line entity takes it."""
    line_type = _LINE_TYPES[line.type]
    if line_type == "Comment":
        return _comment(line.description)
    body: dict[str, Any] = {
        "lineType": line_type,
        "lineObjectNumber": line.no,
        "description": line.description,
        "quantity": line.quantity,
        "unitPrice": line.unit_price,
    }
    if line_type != "Account" and line.unit_of_measure_code:
        body["unitOfMeasureCode"] = line.unit_of_measure_code
    if line.line_discount_amount:
        body["discountAmount"] = line.line_discount_amount
    return body


def _reference_lines(doc: BcSalesDocument) -> list[ApiLine]:
    h = doc.header
    texts = []
    if h.your_reference:
        texts.extend(chunks(f"Your Reference: {h.your_reference}"))
    if h.external_document_no:
        texts.extend(chunks(f"External Document No.: {h.external_document_no}"))
    return [ApiLine(_comment(text), None) for text in texts]


def api_document(doc: BcSalesDocument, key: str, document_date: dt.date) -> ApiDocument:
    """The deep insert for ``doc``, with ``key`` in ``externalDocumentNumber``."""
    h = doc.header
    entity_set, lines_set, date_field = _SETS[h.document_type]
    header: dict[str, Any] = {
        "customerNumber": h.sell_to_customer_no,
        "externalDocumentNumber": key,
        date_field: document_date.isoformat(),
        "currencyCode": h.currency_code,  # blank: the local currency (not the customer's)
    }
    if h.document_type == "Order" and h.requested_delivery_date is not None:
        header["requestedDeliveryDate"] = h.requested_delivery_date.isoformat()
    if h.document_type == "Quote" and h.quote_valid_until_date is not None:
        header["validUntilDate"] = h.quote_valid_until_date.isoformat()
    if h.has_ship_to_address:
        header.update({api: getattr(h, ours) for ours, api in _SHIP_TO.items()})
    if h.invoice_discount_amount:
        header["discountAmount"] = h.invoice_discount_amount
    lines = [*_reference_lines(doc), *(ApiLine(line_body(line), line) for line in doc.lines)]
    return ApiDocument(entity_set, lines_set, header, tuple(lines))


# --- BC's answer -> the mirror -------------------------------------------------------------------


def mirror_status(document_type: str, bc_status: str) -> str:
    """Our Status from the API's (bc-api §3.6): Open → ``Draft``; Released and Pending Prepayment
    → ``Open``; Pending Approval → ``In Review``, which has no place of its own here: Open."""
    return "Released" if document_type == "Order" and bc_status == "Open" else "Open"


def _date(value: Any) -> dt.date | None:
    if not value or value == EMPTY_DATE:
        return None
    return dt.date.fromisoformat(str(value))


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else ZERO


def _text(entity: Mapping[str, Any], name: str) -> str:
    return str(entity.get(name) or "")


def mirror_header(
    entity: Mapping[str, Any],
    document_type: str,
    *,
    your_reference: str,
    sales_id: str | None,
    revision: int | None = None,
    quote_no: str = "",
) -> dict[str, Any]:
    """``sales_header`` values (without ``company`` and ``created_at``) from BC's header entity.

    Fields the API does not show are blank; Your Reference is the gateway's own (bc-api §3.6)."""
    date_field = _SETS[document_type][2]
    currency = "" if entity.get("currencyId", EMPTY_GUID) == EMPTY_GUID else _text(entity, "currencyCode")
    values: dict[str, Any] = {
        "document_type": document_type,
        "no": _text(entity, "number"),
        "system_id": str(entity["id"]).lower(),
        "status": mirror_status(document_type, _text(entity, "status")),
        "sell_to_customer_no": _text(entity, "customerNumber"),
        "order_date": _date(entity.get(date_field)) or dt.date(1, 1, 1),
        "your_reference": your_reference[:35],
        "external_document_no": _text(entity, "externalDocumentNumber"),
        "currency_code": currency,
        "salesperson_code": _text(entity, "salesperson"),  # the API's name for Salesperson Code
        "requested_delivery_date": _date(entity.get("requestedDeliveryDate")),
        "quote_valid_until_date": _date(entity.get("validUntilDate")),
        "invoice_discount_amount": _dec(entity.get("discountAmount")),
        "amount": _dec(entity.get("totalAmountExcludingTax")),
        "amount_including_vat": _dec(entity.get("totalAmountIncludingTax")),
        "bill_to_contact": "",
        "quote_no": quote_no,
        "sales_id": sales_id,
        "sales_revision": revision,
    }
    values.update({ours: _text(entity, api) for ours, api in (*_BILL_TO.items(), *_SHIP_TO.items())})
    return values


def _pairs(bc_lines: Sequence[Mapping[str, Any]], sent: Sequence[ApiLine]) -> list[BcSalesLine | None]:
    """For each of BC's lines (by sequence) the converted line it came from. BC may add lines of
    its own (extended texts), so lines are matched in order on type and number, not by position."""
    out: list[BcSalesLine | None] = []
    pending = list(sent)
    for bc_line in bc_lines:
        found: BcSalesLine | None = None
        for index, api_line in enumerate(pending):
            if (api_line.body["lineType"], api_line.body.get("lineObjectNumber", "")) == (
                bc_line.get("lineType"),
                bc_line.get("lineObjectNumber") or "",
            ) and api_line.body.get("description", "") in ("", bc_line.get("description")):
                found = api_line.source
                del pending[: index + 1]
                break
        out.append(found)
    return out


def mirror_lines(
    bc_lines: Sequence[Mapping[str, Any]],
    document_type: str,
    *,
    sent: Sequence[ApiLine] = (),
    copied_from: Mapping[int, Mapping[str, Any]] | None = None,
    units: Mapping[tuple[str, str], Decimal] | None = None,
) -> list[dict[str, Any]]:
    """``sales_line`` values (without ``company``/``document_type``/``document_no``) for BC's lines.

    What BC does not show (the Sales line id, a text line's Attached to Line No., Qty. per Unit of
    Measure) comes from ``sent``, the lines of our deep insert; or, for a document BC copied
    (``makeOrder`` keeps the Line No.), from ``copied_from``, the mirror's lines of the original
    by line no.; else ``units`` ((item no., unit) → qty. per unit) gives the factor, 1 if unknown."""
    ordered = sorted(bc_lines, key=lambda line: int(line.get("sequence") or 0))
    sources = _pairs(ordered, sent) if sent else [None] * len(ordered)
    our_to_bc = {src.line_no: int(bc["sequence"]) for bc, src in zip(ordered, sources, strict=True) if src is not None}
    out = []
    for bc_line, src in zip(ordered, sources, strict=True):
        line_type = _OUR_LINE_TYPES.get(_text(bc_line, "lineType"), "")
        no, unit = _text(bc_line, "lineObjectNumber"), _text(bc_line, "unitOfMeasureCode")
        original = (copied_from or {}).get(int(bc_line["sequence"]))
        if original is not None and (original["type"], original["no"]) != (line_type, no):
            original = None
        attached = 0
        if src is not None:
            per = src.qty_per_unit_of_measure or ONE
            attached = our_to_bc.get(src.attached_to_line_no, 0)
        elif original is not None:
            per, attached = original["qty_per_unit_of_measure"], original["attached_to_line_no"]
        else:
            per = (units or {}).get((no, unit), ONE) if line_type == "Item" else ONE
        per = per if line_type else ONE
        quantity = _dec(bc_line.get("quantity"))
        outstanding = quantity - _dec(bc_line.get("shippedQuantity"))
        out.append(
            {
                "line_no": int(bc_line["sequence"]),
                "type": line_type,
                "no": no,
                "description": _text(bc_line, "description"),
                "quantity": quantity,
                "unit_of_measure_code": unit,
                "qty_per_unit_of_measure": per,
                "quantity_base": round_quantity(quantity * per),
                # Only an order has outstanding quantity: a quote promises nothing yet.
                "outstanding_qty_base": round_quantity(outstanding * per) if document_type == "Order" else ZERO,
                **_posting_quantities(bc_line, outstanding, document_type == "Order" and bool(line_type)),
                "unit_price": _dec(bc_line.get("unitPrice")),
                "line_discount_amount": _dec(bc_line.get("discountAmount")),
                "amount": _dec(bc_line.get("amountExcludingTax")),
                "attached_to_line_no": attached,
                "sales_line_id": src.sales_line_id if src is not None else None,
            }
        )
    return out


def _posting_quantities(bc_line: Mapping[str, Any], outstanding: Decimal, order: bool) -> dict[str, Decimal]:
    """An order line's posting fields as BC's API shows them (a quote's stay 0)."""
    if not order:
        return {}
    return {
        "outstanding_quantity": outstanding,
        "quantity_shipped": _dec(bc_line.get("shippedQuantity")),
        "quantity_invoiced": _dec(bc_line.get("invoicedQuantity")),
        "qty_to_ship": _dec(bc_line.get("shipQuantity")),
        "qty_to_invoice": _dec(bc_line.get("invoiceQuantity")),
    }
