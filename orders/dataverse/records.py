"""Typed Dataverse (Dynamics 365 Sales) rows, built from the JSON the Web API returns.

The Web API gives one JSON object per row: lower-case column names; a lookup as
``_<name>_value`` (a GUID) with the annotation
``_<name>_value@Microsoft.Dynamics.CRM.lookuplogicalname`` naming the table it points to (only
returned when the request asks for annotations, e.g. ``Prefer: odata.include-annotations="*"``);
money and decimals as JSON numbers; date-only columns as ``"YYYY-MM-DD"`` and datetimes as ISO
strings ending in ``Z``; option sets as integers; a column that is null or was not selected is
``None`` here.

Every record has ``from_webapi(row)``, which raises nothing but :class:`RecordError` (a
``ValueError``) when the row is malformed: not an object, the key column missing, or a column of
the wrong JSON type. Unknown keys (``@odata.etag``, formatted-value annotations, columns not
modelled here) are ignored.

Conventions:
- GUIDs are lower-case, without braces.
- Decimals are :class:`~decimal.Decimal`, built from the number's text (``Decimal(str(x))``), so no
  binary-float arithmetic ever touches an amount. Numbers sent as strings (the
  ``IEEE754Compatible=true`` form) and numbers already parsed as ``Decimal`` are accepted.
- Date columns accept both ``"2024-05-01"`` and ``"2024-05-01T00:00:00Z"``; for the second form the
  UTC calendar date is kept (Dataverse returns DateOnly columns in the first form; a "User Local"
  date column comes as a UTC datetime, and its UTC date is what we keep).
- Datetime columns give aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

from orders.dataverse.codes import AccountType
from orders.dataverse.rows import LOOKUP_LOGICAL_NAME, LookupRef, RecordError, Row

__all__ = [
    "ADDRESS_PARTS",
    "LOOKUP_LOGICAL_NAME",
    "Account",
    "Contact",
    "Currency",
    "LookupRef",
    "Note",
    "Product",
    "Quote",
    "RecordError",
    "SalesDocumentRecord",
    "SalesOrder",
    "SalesOrderLine",
    "Uom",
]

ADDRESS_PARTS = (
    "name",
    "line1",
    "line2",
    "line3",
    "city",
    "stateorprovince",
    "postalcode",
    "country",
    "contactname",
    "telephone",
    "fax",
)


def _address_columns(r: Row) -> dict[str, str | None]:
    return {f"{side}_{part}": r.text(f"{side}_{part}") for side in ("billto", "shipto") for part in ADDRESS_PARTS}


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesDocumentRecord:
    """Columns that `salesorder` and `quote` share (the parts BC's conversion reads)."""

    name: str | None = None
    description: str | None = None
    customer: LookupRef | None = None
    transactioncurrencyid: str | None = None
    pricelevelid: str | None = None
    opportunityid: str | None = None
    requestdeliveryby: dt.date | None = None
    statecode: int | None = None
    statuscode: int | None = None
    discountamount: Decimal | None = None
    discountpercentage: Decimal | None = None
    freightamount: Decimal | None = None
    totalamount: Decimal | None = None
    totallineitemamount: Decimal | None = None
    totalamountlessfreight: Decimal | None = None
    totaldiscountamount: Decimal | None = None
    totaltax: Decimal | None = None
    paymenttermscode: int | None = None
    shippingmethodcode: int | None = None
    freighttermscode: int | None = None
    willcall: bool | None = None
    billto_name: str | None = None
    billto_line1: str | None = None
    billto_line2: str | None = None
    billto_line3: str | None = None
    billto_city: str | None = None
    billto_stateorprovince: str | None = None
    billto_postalcode: str | None = None
    billto_country: str | None = None
    billto_contactname: str | None = None
    billto_telephone: str | None = None
    billto_fax: str | None = None
    shipto_name: str | None = None
    shipto_line1: str | None = None
    shipto_line2: str | None = None
    shipto_line3: str | None = None
    shipto_city: str | None = None
    shipto_stateorprovince: str | None = None
    shipto_postalcode: str | None = None
    shipto_country: str | None = None
    shipto_contactname: str | None = None
    shipto_telephone: str | None = None
    shipto_fax: str | None = None

    @staticmethod
    def _shared_columns(r: Row) -> dict[str, Any]:
        return {
            "name": r.text("name"),
            "description": r.text("description"),
            "customer": r.lookup_ref("customerid"),
            "transactioncurrencyid": r.lookup("transactioncurrencyid"),
            "pricelevelid": r.lookup("pricelevelid"),
            "opportunityid": r.lookup("opportunityid"),
            "requestdeliveryby": r.date("requestdeliveryby"),
            "statecode": r.integer("statecode"),
            "statuscode": r.integer("statuscode"),
            "discountamount": r.decimal("discountamount"),
            "discountpercentage": r.decimal("discountpercentage"),
            "freightamount": r.decimal("freightamount"),
            "totalamount": r.decimal("totalamount"),
            "totallineitemamount": r.decimal("totallineitemamount"),
            "totalamountlessfreight": r.decimal("totalamountlessfreight"),
            "totaldiscountamount": r.decimal("totaldiscountamount"),
            "totaltax": r.decimal("totaltax"),
            "paymenttermscode": r.integer("paymenttermscode"),
            "shippingmethodcode": r.integer("shippingmethodcode"),
            "freighttermscode": r.integer("freighttermscode"),
            "willcall": r.boolean("willcall"),
            **_address_columns(r),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesOrder(SalesDocumentRecord):
    """A `salesorder` row."""

    salesorderid: str
    ordernumber: str | None = None
    quoteid: str | None = None
    submitdate: dt.date | None = None
    lastbackofficesubmit: dt.date | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("salesorder", row, "salesorderid")
        return cls(
            salesorderid=r.key_value,
            ordernumber=r.text("ordernumber"),
            quoteid=r.lookup("quoteid"),
            submitdate=r.date("submitdate"),
            lastbackofficesubmit=r.date("lastbackofficesubmit"),
            **cls._shared_columns(r),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Quote(SalesDocumentRecord):
    """A `quote` row."""

    quoteid: str
    quotenumber: str | None = None
    revisionnumber: int | None = None
    effectivefrom: dt.date | None = None
    effectiveto: dt.date | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("quote", row, "quoteid")
        return cls(
            quoteid=r.key_value,
            quotenumber=r.text("quotenumber"),
            revisionnumber=r.integer("revisionnumber"),
            effectivefrom=r.date("effectivefrom"),
            effectiveto=r.date("effectiveto"),
            **cls._shared_columns(r),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesOrderLine:
    """A `salesorderdetail` or `quotedetail` row (the two have the same columns).

    ``line_id`` is ``salesorderdetailid`` / ``quotedetailid``; ``parent_id`` is the order's or the
    quote's id; ``entity`` says which of the two tables the row came from.
    """

    entity: str
    line_id: str
    parent_id: str | None = None
    productid: str | None = None
    productdescription: str | None = None
    isproductoverridden: bool | None = None
    quantity: Decimal | None = None
    priceperunit: Decimal | None = None
    ispriceoverridden: bool | None = None
    manualdiscountamount: Decimal | None = None
    volumediscountamount: Decimal | None = None
    baseamount: Decimal | None = None
    extendedamount: Decimal | None = None
    tax: Decimal | None = None
    uomid: str | None = None
    lineitemnumber: int | None = None
    sequencenumber: int | None = None
    description: str | None = None
    producttypecode: int | None = None
    quotedetailid: str | None = None

    @property
    def is_write_in(self) -> bool:
        """No product, or a product overridden by free text: BC uses its Write-in Product."""
        return self.productid is None or bool(self.isproductoverridden)

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        if isinstance(row, Mapping) and row.get("quotedetailid") is not None and row.get("salesorderdetailid") is None:
            r = Row("quotedetail", row, "quotedetailid")
            entity, parent = "quotedetail", r.lookup("quoteid")
            quotedetailid: str | None = r.key_value
        else:
            r = Row("salesorderdetail", row, "salesorderdetailid")
            entity, parent = "salesorderdetail", r.lookup("salesorderid")
            quotedetailid = r.lookup("quotedetailid")
        return cls(
            entity=entity,
            line_id=r.key_value,
            parent_id=parent,
            productid=r.lookup("productid"),
            productdescription=r.text("productdescription"),
            isproductoverridden=r.boolean("isproductoverridden"),
            quantity=r.decimal("quantity"),
            priceperunit=r.decimal("priceperunit"),
            ispriceoverridden=r.boolean("ispriceoverridden"),
            manualdiscountamount=r.decimal("manualdiscountamount"),
            volumediscountamount=r.decimal("volumediscountamount"),
            baseamount=r.decimal("baseamount"),
            extendedamount=r.decimal("extendedamount"),
            tax=r.decimal("tax"),
            uomid=r.lookup("uomid"),
            lineitemnumber=r.integer("lineitemnumber"),
            sequencenumber=r.integer("sequencenumber"),
            description=r.text("description"),
            producttypecode=r.integer("producttypecode"),
            quotedetailid=quotedetailid,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Account:
    """An `account` row."""

    accountid: str
    accountnumber: str | None = None
    name: str | None = None
    customertypecode: int | None = None
    statecode: int | None = None
    transactioncurrencyid: str | None = None
    telephone1: str | None = None
    emailaddress1: str | None = None
    address1_line1: str | None = None
    address1_line2: str | None = None
    address1_line3: str | None = None
    address1_city: str | None = None
    address1_stateorprovince: str | None = None
    address1_postalcode: str | None = None
    address1_country: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.customertypecode == AccountType.CUSTOMER

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("account", row, "accountid")
        return cls(
            accountid=r.key_value,
            accountnumber=r.text("accountnumber"),
            name=r.text("name"),
            customertypecode=r.integer("customertypecode"),
            statecode=r.integer("statecode"),
            transactioncurrencyid=r.lookup("transactioncurrencyid"),
            telephone1=r.text("telephone1"),
            emailaddress1=r.text("emailaddress1"),
            **{
                f"address1_{part}": r.text(f"address1_{part}")
                for part in ("line1", "line2", "line3", "city", "stateorprovince", "postalcode", "country")
            },
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Contact:
    """A `contact` row; ``parentcustomer`` is its company (an account, sometimes a contact)."""

    contactid: str
    fullname: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    parentcustomer: LookupRef | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("contact", row, "contactid")
        return cls(
            contactid=r.key_value,
            fullname=r.text("fullname"),
            firstname=r.text("firstname"),
            lastname=r.text("lastname"),
            parentcustomer=r.lookup_ref("parentcustomerid"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Product:
    """A `product` row."""

    productid: str
    productnumber: str | None = None
    name: str | None = None
    producttypecode: int | None = None
    statecode: int | None = None
    defaultuomid: str | None = None
    quantityonhand: Decimal | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("product", row, "productid")
        return cls(
            productid=r.key_value,
            productnumber=r.text("productnumber"),
            name=r.text("name"),
            producttypecode=r.integer("producttypecode"),
            statecode=r.integer("statecode"),
            defaultuomid=r.lookup("defaultuomid"),
            quantityonhand=r.decimal("quantityonhand"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Uom:
    """A `uom` row (a unit in a unit group)."""

    uomid: str
    name: str | None = None
    quantity: Decimal | None = None
    uomscheduleid: str | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("uom", row, "uomid")
        return cls(
            uomid=r.key_value,
            name=r.text("name"),
            quantity=r.decimal("quantity"),
            uomscheduleid=r.lookup("uomscheduleid"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Currency:
    """A `transactioncurrency` row."""

    transactioncurrencyid: str
    isocurrencycode: str | None = None
    currencyname: str | None = None

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("transactioncurrency", row, "transactioncurrencyid")
        return cls(
            transactioncurrencyid=r.key_value,
            isocurrencycode=r.text("isocurrencycode"),
            currencyname=r.text("currencyname"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Note:
    """An `annotation` row (a note, or an attachment when ``isdocument``)."""

    annotationid: str
    subject: str | None = None
    notetext: str | None = None
    isdocument: bool | None = None
    objectid: str | None = None
    objecttypecode: str | None = None
    filename: str | None = None
    filesize: int | None = None
    mimetype: str | None = None
    createdon: dt.datetime | None = None
    modifiedon: dt.datetime | None = None

    @property
    def is_attachment(self) -> bool:
        return bool(self.isdocument)

    @classmethod
    def from_webapi(cls, row: Mapping[str, Any]) -> Self:
        r = Row("annotation", row, "annotationid")
        object_type = r.text("objecttypecode")
        if object_type is None:
            # objectid is polymorphic; its annotation names the table when objecttypecode was not selected.
            logical = r.get(f"_objectid_value{LOOKUP_LOGICAL_NAME}")
            object_type = logical if isinstance(logical, str) and logical else None
        return cls(
            annotationid=r.key_value,
            subject=r.text("subject"),
            notetext=r.text("notetext"),
            isdocument=r.boolean("isdocument"),
            objectid=r.lookup("objectid"),
            objecttypecode=object_type,
            filename=r.text("filename"),
            filesize=r.integer("filesize"),
            mimetype=r.text("mimetype"),
            createdon=r.datetime("createdon"),
            modifiedon=r.datetime("modifiedon"),
        )
