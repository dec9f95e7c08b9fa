"""The conversion's line rules (BC codeunits 5343/5348): which BC record each Sales line becomes,
its unit, texts and amounts. The choices made where BC is silent are listed in
orders/conversion_rules.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from orders.conversion_common import (
    HUNDRED,
    LINE_NO_STEP,
    SERVICE_NAME,
    TEXT_LINE_LENGTH,
    ConversionData,
    DocumentKind,
    bc_guid,
    chunks,
    not_found_message,
    round_amount,
    round_quantity,
    rule_failure,
)
from orders.conversion_inputs import BcItem, BcResource
from orders.dataverse.codes import ProductState, ProductType
from orders.dataverse.records import (
    SalesOrderLine,
)
from schemas.bc_sales_document import (
    ONE,
    ZERO,
    BcSalesLine,
)


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
        raise rule_failure(
            "item_blocked", f"Blocked must be equal to 'No'  in Item: No.={item.no}. Current value is 'Yes'."
        )
    return _Target("Item", item.no, item.description, item.base_unit_of_measure, item.units, write_in)


def _resource_target(resource: BcResource, *, write_in: bool) -> _Target:
    if resource.blocked:
        raise rule_failure(
            "resource_blocked",
            f"Blocked must be equal to 'No'  in Resource: No.={resource.no}. Current value is 'Yes'.",
        )
    return _Target("Resource", resource.no, resource.name, resource.base_unit_of_measure, resource.units, write_in)


def _write_in_target(kind: DocumentKind, your_reference: str, data: ConversionData) -> _Target:
    setup = data.setup
    if not setup.write_in_product_no:
        raise rule_failure(
            "write_in_not_set_up",
            f"{SERVICE_NAME} {kind.document_type} {your_reference} contains a write-in product. "
            "You must choose the default write-in product in Sales & Receivables Setup window.",
        )
    if setup.write_in_product_type == "Resource":
        resource = data.resources.get(setup.write_in_product_no)
        if resource is None:
            raise rule_failure("write_in_missing", not_found_message("Resource", f"No.='{setup.write_in_product_no}'"))
        return _resource_target(resource, write_in=True)
    item = data.items.get(setup.write_in_product_no)
    if item is None:
        raise rule_failure("write_in_missing", not_found_message("Item", f"No.='{setup.write_in_product_no}'"))
    return _item_target(item, write_in=True)


def _product_target(kind: DocumentKind, line: SalesOrderLine, data: ConversionData) -> _Target:
    assert line.productid is not None
    product = data.products.get(line.productid)
    if product is None:
        raise rule_failure("product_missing", not_found_message("CRM Product", f"Product='{bc_guid(line.productid)}'"))
    if product.statecode != ProductState.ACTIVE:
        state = product.statecode
        current = ProductState(state).caption if state is not None and state in ProductState._value2member_map_ else ""
        raise rule_failure(
            "product_inactive",
            f"Status must be equal to 'Active'  in CRM Product: Product={bc_guid(product.productid)}. "
            f"Current value is '{current}'.",
        )
    if product.producttypecode == ProductType.SALES_INVENTORY:
        item_no = data.couplings.product_to_item.get(product.productid)
        if item_no is None:
            raise rule_failure(
                "product_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} product {product.name or ''} is not coupled to an item.",
            )
        item = data.items.get(item_no)
        if item is None:
            raise rule_failure("item_missing", f"{kind.prefix} The item {product.productnumber or ''} does not exist.")
        return _item_target(item, write_in=False)
    if product.producttypecode == ProductType.SERVICES:
        resource_no = data.couplings.product_to_resource.get(product.productid)
        if resource_no is None:
            raise rule_failure(
                "resource_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} resource {product.name or ''} is not coupled to a resource.",
            )
        resource = data.resources.get(resource_no)
        if resource is None:
            raise rule_failure(
                "resource_missing", f"{kind.prefix} The resource {product.productnumber or ''} does not exist."
            )
        return _resource_target(resource, write_in=False)
    raise rule_failure(
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
            raise rule_failure(
                "uom_not_coupled",
                f"{kind.prefix} The {SERVICE_NAME} unit {bc_guid(line.uomid)} is not coupled to a unit of measure.",
            )
    units = {unit.upper(): qty for unit, qty in target.units.items()}
    if code in units:
        return code, units[code]
    if code == base:
        return code, ONE
    owner = "Item No." if target.type == "Item" else "Resource No."
    raise rule_failure(
        "unit_missing", not_found_message(f"{target.type} Unit of Measure", f"{owner}='{target.no}',Code='{code}'")
    )


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
    if base == 0 or not ZERO <= round_quantity(discount / base * HUNDRED) <= HUNDRED:
        raise rule_failure("line_discount", "The value in the Line Discount % field must be between 0 and 100.")


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
