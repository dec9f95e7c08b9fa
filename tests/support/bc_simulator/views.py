"""How stored rows look through the API: column getters (computed fields included) and $metadata."""

from __future__ import annotations

from decimal import Decimal
from operator import itemgetter
from typing import Any
from xml.sax.saxutils import escape

from .doc_entities import (
    SALES_INVOICE_LINES,
    SALES_INVOICES,
    SALES_ORDER_LINES,
    SALES_ORDERS,
    SALES_QUOTE_LINES,
    SALES_QUOTES,
    SUBSCRIPTIONS,
)
from .entities import COMPANIES, MASTER_DATA, EntityDef
from .fields import Kind, encode_option
from .query import Col
from .store import Company

ZERO = Decimal(0)
API_SETS: dict[str, EntityDef] = {
    d.set_name: d
    for d in (
        *MASTER_DATA,
        SALES_ORDERS,
        SALES_ORDER_LINES,
        SALES_QUOTES,
        SALES_QUOTE_LINES,
        SALES_INVOICES,
        SALES_INVOICE_LINES,
    )
}
# Navigation from a parent set to a child collection: (child set, child field holding the parent's value, parent field).
NAVIGATION: dict[tuple[str, str], tuple[str, str, str]] = {
    ("salesOrders", "salesOrderLines"): ("salesOrderLines", "documentId", "id"),
    ("salesQuotes", "salesQuoteLines"): ("salesQuoteLines", "documentId", "id"),
    ("salesInvoices", "salesInvoiceLines"): ("salesInvoiceLines", "documentId", "id"),
    ("items", "itemVariants"): ("itemVariants", "itemNumber", "number"),
}


def _computed(company: Company, defn: EntityDef, name: str) -> Any:
    if defn.set_name == "items" and name == "inventory":
        inventory = company.inventory
        return lambda r: inventory.get(r["number"], ZERO)
    if defn.set_name == "customers" and name == "balanceDue":
        balances = company.balances
        return lambda r: balances.get(r["number"], ZERO)
    if name == "currencyCode":
        lcy = company.store.config.lcy_code
        return lambda r: r["currencyCode"] or lcy
    return itemgetter(name)


def schema_for(company: Company | None, defn: EntityDef) -> dict[str, Col]:
    """Exposed columns in page order; cached per company because computed ones read company totals."""
    cache: dict[str, dict[str, Col]] = company.schemas if company is not None else _GLOBAL
    found = cache.get(defn.set_name)
    if found is None:
        found = {}
        for f in defn.fields:
            getter = _computed(company, defn, f.name) if company is not None else itemgetter(f.name)
            found[f.name] = Col(f.name, f, getter)
        cache[defn.set_name] = found
    return found


_GLOBAL: dict[str, dict[str, Col]] = {}

_EDM = {
    Kind.GUID: "Edm.Guid",
    Kind.CODE: "Edm.String",
    Kind.TEXT: "Edm.String",
    Kind.DECIMAL: "Edm.Decimal",
    Kind.INT: "Edm.Int32",
    Kind.BOOL: "Edm.Boolean",
    Kind.DATE: "Edm.Date",
    Kind.DATETIME: "Edm.DateTimeOffset",
}


def metadata_xml() -> str:
    """A small CSDL 4.0 document: entity types, their properties and keys, navigation, entity sets."""
    defs = [COMPANIES, *API_SETS.values(), SUBSCRIPTIONS]
    enums: dict[str, tuple[str, ...]] = {}
    types: list[str] = []
    for d in defs:
        key = "subscriptionId" if d is SUBSCRIPTIONS else "id"
        props = []
        for f in d.fields:
            if f.kind is Kind.ENUM:
                enum_name = f"{d.entity}_{f.name}"
                enums[enum_name] = f.options
                edm = f"Microsoft.NAV.{enum_name}"
            else:
                edm = _EDM[f.kind]
            length = f' MaxLength="{f.length}"' if f.kind.is_string and f.length else ""
            nullable = ' Nullable="false"' if f.name == key else ""
            props.append(f'<Property Name="{f.name}" Type="{edm}"{nullable}{length}/>')
        navs = [
            f'<NavigationProperty Name="{nav}" Type="Collection(Microsoft.NAV.{API_SETS[child].entity})"/>'
            for (parent, nav), (child, _, _) in NAVIGATION.items()
            if parent == d.set_name
        ]
        types.append(
            f'<EntityType Name="{d.entity}"><Key><PropertyRef Name="{key}"/></Key>{"".join(props)}{"".join(navs)}'
            "</EntityType>"
        )
    enum_xml = "".join(
        f'<EnumType Name="{name}">'
        + "".join(f'<Member Name="{escape(_member(o))}" Value="{i}"/>' for i, o in enumerate(options))
        + "</EnumType>"
        for name, options in enums.items()
    )
    sets = "".join(f'<EntitySet Name="{d.set_name}" EntityType="Microsoft.NAV.{d.entity}"/>' for d in defs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        '<edmx:DataServices><Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        f"{enum_xml}{''.join(types)}"
        f'<EntityContainer Name="NAV">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


def _member(option: str) -> str:
    return encode_option(option)
