"""The Dataverse tables the simulator keeps: their columns and types, and the rules on changing
them (read-only columns, which states may be edited, which state/status pairs exist).

Columns and codes as in docs/reference/dataverse.md §2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.sales_simulator.errors import Refused


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    columns: tuple[str, ...]
    lookups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    money: frozenset[str] = frozenset()
    decimals: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset({"createdon", "modifiedon"})
    booleans: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset({"versionnumber"})
    # Kept by Dataverse itself: a value sent for one of these is ignored, as Dataverse does.
    read_only: frozenset[str] = frozenset({"createdon", "modifiedon", "versionnumber", "createdby", "modifiedby"})
    # Computed by Sales (e.g. a unit group's base unit): a write is refused.
    computed: frozenset[str] = frozenset()
    # Set on create only; an update that changes one is refused.
    create_only: frozenset[str] = frozenset()
    # Needed on a Web API create (Sales refuses the row without them).
    required: frozenset[str] = frozenset()
    # Sets of columns whose values must be unique in the table (case-insensitive text).
    unique: tuple[tuple[str, ...], ...] = ()
    # Columns that must not be negative (Sales' minimum value 0).
    not_negative: frozenset[str] = frozenset()
    # Navigation property -> lookup column, where Dataverse's name is not the column's; such a
    # column is bound by that name only. The system tables here have none: their navigation
    # properties are the lookup's logical name (defaultuomid, uomid), or <lookup>_<table> for a
    # lookup into several tables; schema names (DefaultUoMId) are refused, as Dataverse does.
    navigation: Mapping[str, str] = field(default_factory=dict)
    # statecode -> its statuscodes (the first is the default); only these pairs are accepted.
    states: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # Rows can be edited only in this state (statecode/statuscode changes aside); None: always.
    editable_state: int | None = None

    @property
    def key(self) -> str:
        return self.logical_name + "id"

    def __post_init__(self) -> None:
        # Every row says who created and last changed it (systemuser lookups, kept by Dataverse).
        object.__setattr__(
            self, "lookups", {**self.lookups, "createdby": ("systemuser",), "modifiedby": ("systemuser",)}
        )

    def properties(self) -> set[str]:
        """The names a Web API client sees (and may $select / $filter on)."""
        return {self.key, *self.columns, *(f"_{name}_value" for name in self.lookups)}

    def check_properties(self, names: Iterable[str]) -> None:
        """Refuse a name the client may not use, in Dataverse's words."""
        known = self.properties()
        for name in names:
            if name not in known:
                raise Refused(
                    400,
                    "0x0",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{self.logical_name}'.",
                )


_ADDRESS = tuple(
    f"{prefix}_{part}"
    for prefix in ("billto", "shipto")
    for part in (
        "line1",
        "line2",
        "line3",
        "city",
        "stateorprovince",
        "postalcode",
        "country",
        "name",
        "contactname",
        "telephone",
        "fax",
    )
)
_HEADER_MONEY = frozenset(
    {
        "discountamount",
        "freightamount",
        "totalamount",
        "totallineitemamount",
        "totalamountlessfreight",
        "totaldiscountamount",
        "totallineitemdiscountamount",
        "totaltax",
    }
)
_HEADER_OPTIONS = frozenset({"paymenttermscode", "shippingmethodcode", "freighttermscode", "statecode", "statuscode"})
_SYSTEM = ("createdon", "modifiedon", "versionnumber")
_ADDRESS1 = tuple(
    f"address1_{part}"
    for part in ("line1", "line2", "line3", "city", "stateorprovince", "county", "postalcode", "country", "telephone1")
)
_HEADER_COMMON = (
    "name",
    "description",
    "requestdeliveryby",
    "discountpercentage",
    "willcall",
    "statecode",
    "statuscode",
    *_HEADER_MONEY,
    "paymenttermscode",
    "shippingmethodcode",
    "freighttermscode",
    *_ADDRESS,
    *_SYSTEM,
)
_LINE_MONEY = frozenset(
    {"priceperunit", "manualdiscountamount", "volumediscountamount", "baseamount", "extendedamount", "tax"}
)
_LINE_COLUMNS = (
    "productdescription",
    "isproductoverridden",
    "ispriceoverridden",
    "quantity",
    *sorted(_LINE_MONEY),
    "lineitemnumber",
    "sequencenumber",
    "description",
    "producttypecode",
    "shipto_line1",
    "shipto_city",
    "shipto_postalcode",
    "shipto_country",
    *_SYSTEM,
)
_LINE_TYPES: dict[str, Any] = {
    "money": _LINE_MONEY,
    "decimals": frozenset({"quantity"}),
    "options": frozenset({"producttypecode"}),
    "booleans": frozenset({"isproductoverridden", "ispriceoverridden"}),
    "integers": frozenset({"versionnumber", "lineitemnumber", "sequencenumber"}),
}

# Invoice: 0 Active (1 New, 2 Partially Shipped, 4 Billed, 5 Booked, 6 Installed), 1 Closed (3
# Canceled, 7 Paid; deprecated), 2 Paid (100001 Complete, 100002 Partial), 3 Canceled (100003).
INVOICE_STATES = {0: (1, 2, 4, 5, 6), 1: (3, 7), 2: (100001, 100002), 3: (100003,)}
_STATISTICS_MONEY = frozenset(
    {
        "nav_balancelcy",
        "nav_outstandingorderslcy",
        "nav_shippednotinvoicedlcy",
        "nav_outstandinginvoiceslcy",
        "nav_totallcy",
        "nav_creditlimitlcy",
        "nav_overdueamountslcy",
        "nav_totalsaleslcy",
        "nav_invoicedprepaymentamountlcy",
        "nav_outstandingserviceorderslcy",
        "nav_servshippednotinvoicedlcy",
        "nav_outstandingservinvoiceslcy",
    }
)
ORDER_STATES = {0: (1, 2, 690970000), 1: (3,), 2: (4,), 3: (100001, 100002), 4: (100003,)}
QUOTE_STATES = {0: (1,), 1: (2, 3), 2: (4,), 3: (5, 6, 7)}
OPPORTUNITY_STATES = {0: (1, 2), 1: (3,), 2: (4, 5)}
STATE_LABELS = {
    "salesorder": {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"},
    "quote": {0: "Draft", 1: "Active", 2: "Won", 3: "Closed"},
    "invoice": {0: "Active", 1: "Closed", 2: "Paid", 3: "Canceled"},
    "opportunity": {0: "Open", 1: "Won", 2: "Lost"},
}
STATUS_LABELS = {
    "salesorder": {
        1: "New",
        2: "Pending",
        3: "In Progress",
        4: "No Money",
        100001: "Complete",
        100002: "Partial",
        100003: "Invoiced",
        690970000: "On hold",
    },
    "quote": {1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised"},
}

TABLES: dict[str, Table] = {
    t.entity_set: t
    for t in (
        Table(
            "account",
            "accounts",
            (
                "accountnumber",
                "name",
                "customertypecode",
                "telephone1",
                "fax",
                "websiteurl",
                "emailaddress1",
                *_ADDRESS1,
                "address1_primarycontactname",
                "address1_shippingmethodcode",
                "address1_freighttermscode",
                "paymenttermscode",
                "creditlimit",
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            {
                "primarycontactid": ("contact",),
                "transactioncurrencyid": ("transactioncurrency",),
                # BC's integration solution: the account's statistics row (bc-sync.md §9).
                "nav_accountstatisticsid": ("nav_accountstatistics",),
            },
            money=frozenset({"creditlimit"}),
            options=frozenset(
                {
                    "customertypecode",
                    "address1_shippingmethodcode",
                    "address1_freighttermscode",
                    "paymenttermscode",
                    "statecode",
                    "statuscode",
                }
            ),
            states={0: (1,), 1: (2,)},
            required=frozenset({"name"}),
            not_negative=frozenset({"creditlimit"}),
        ),
        Table(
            "contact",
            "contacts",
            (
                "firstname",
                "middlename",
                "lastname",
                "fullname",
                "jobtitle",
                "emailaddress1",
                "telephone1",
                "telephone2",
                "mobilephone",
                "fax",
                *_ADDRESS1,
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            {"parentcustomerid": ("account", "contact"), "transactioncurrencyid": ("transactioncurrency",)},
            options=frozenset({"statecode", "statuscode"}),
            states={0: (1,), 1: (2,)},
            computed=frozenset({"fullname"}),
            required=frozenset({"lastname"}),
        ),
        Table(
            "product",
            "products",
            (
                "productnumber",
                "name",
                "description",
                "producttypecode",
                "productstructure",
                "quantityonhand",
                "quantitydecimal",
                "price",
                "standardcost",
                "currentcost",
                "stockvolume",
                "stockweight",
                "vendorname",
                "vendorpartnumber",
                "vendorid",
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            {
                "defaultuomid": ("uom",),
                "defaultuomscheduleid": ("uomschedule",),
                "pricelevelid": ("pricelevel",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            money=frozenset({"price", "standardcost", "currentcost"}),
            decimals=frozenset({"quantityonhand", "stockvolume", "stockweight"}),
            options=frozenset({"producttypecode", "productstructure", "statecode", "statuscode"}),
            integers=frozenset({"quantitydecimal", "versionnumber"}),
            states={0: (1,), 1: (2,), 2: (0,), 3: (3,)},
            create_only=frozenset({"productstructure"}),
            required=frozenset({"name", "productnumber", "defaultuomscheduleid", "defaultuomid"}),
            unique=(("productnumber",),),
            not_negative=frozenset({"price", "standardcost", "currentcost", "quantityonhand"}),
        ),
        Table(
            "uomschedule",
            "uomschedules",
            ("name", "baseuomname", "description", "statecode", "statuscode", *_SYSTEM),
            {"baseuom": ("uom",)},
            options=frozenset({"statecode", "statuscode"}),
            states={0: (1,), 1: (2,)},
            computed=frozenset({"baseuom"}),
            create_only=frozenset({"baseuomname"}),
            required=frozenset({"name", "baseuomname"}),
            unique=(("name",),),
        ),
        Table(
            "uom",
            "uoms",
            ("name", "quantity", "isschedulebaseuom", *_SYSTEM),
            {"uomscheduleid": ("uomschedule",), "baseuom": ("uom",)},
            decimals=frozenset({"quantity"}),
            booleans=frozenset({"isschedulebaseuom"}),
            computed=frozenset({"isschedulebaseuom"}),
            create_only=frozenset({"uomscheduleid"}),
            required=frozenset({"name", "quantity", "uomscheduleid", "baseuom"}),
            unique=(("uomscheduleid", "name"),),
        ),
        Table(
            "transactioncurrency",
            "transactioncurrencies",
            (
                "isocurrencycode",
                "currencyname",
                "currencysymbol",
                "exchangerate",
                "currencyprecision",
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            decimals=frozenset({"exchangerate"}),
            options=frozenset({"statecode", "statuscode"}),
            integers=frozenset({"currencyprecision", "versionnumber"}),
            states={0: (1,), 1: (2,)},
            create_only=frozenset({"isocurrencycode"}),
            required=frozenset({"isocurrencycode", "currencyname", "currencysymbol", "exchangerate"}),
            unique=(("isocurrencycode",),),
        ),
        Table(
            "pricelevel",
            "pricelevels",
            ("name", "description", "begindate", "enddate", "statecode", "statuscode", *_SYSTEM),
            {"transactioncurrencyid": ("transactioncurrency",)},
            options=frozenset({"statecode", "statuscode"}),
            dates=frozenset({"begindate", "enddate"}),
            states={0: (100001,), 1: (100002,)},
            create_only=frozenset({"transactioncurrencyid"}),
            required=frozenset({"name", "transactioncurrencyid"}),
            unique=(("name",),),
        ),
        Table(
            "productpricelevel",
            "productpricelevels",
            ("amount", "percentage", "pricingmethodcode", "quantitysellingcode", "productnumber", *_SYSTEM),
            {
                "pricelevelid": ("pricelevel",),
                "productid": ("product",),
                "uomid": ("uom",),
                "uomscheduleid": ("uomschedule",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            money=frozenset({"amount"}),
            decimals=frozenset({"percentage"}),
            options=frozenset({"pricingmethodcode", "quantitysellingcode"}),
            computed=frozenset({"productnumber"}),
            create_only=frozenset({"pricelevelid", "productid"}),
            required=frozenset({"pricelevelid", "productid", "uomid"}),
            unique=(("pricelevelid", "productid", "uomid"),),
            not_negative=frozenset({"amount"}),
        ),
        Table(
            "salesorder",
            "salesorders",
            ("ordernumber", "submitdate", "lastbackofficesubmit", "datefulfilled", *_HEADER_COMMON),
            {
                "customerid": ("account", "contact"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
                "quoteid": ("quote",),
                "opportunityid": ("opportunity",),
                "ownerid": ("systemuser", "team"),  # the salesperson who made it (Dataverse's default)
            },
            money=_HEADER_MONEY,
            decimals=frozenset({"discountpercentage"}),
            options=_HEADER_OPTIONS,
            dates=frozenset({"requestdeliveryby", "lastbackofficesubmit", "datefulfilled"}),
            datetimes=frozenset({"submitdate", "createdon", "modifiedon"}),
            booleans=frozenset({"willcall"}),
            read_only=frozenset({"ordernumber", *_SYSTEM}),
            states=ORDER_STATES,
            editable_state=0,
        ),
        Table(
            "salesorderdetail",
            "salesorderdetails",
            _LINE_COLUMNS,
            {
                "salesorderid": ("salesorder",),
                "productid": ("product",),
                "uomid": ("uom",),
                "quotedetailid": ("quotedetail",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            **_LINE_TYPES,
        ),
        Table(
            "quote",
            "quotes",
            ("quotenumber", "revisionnumber", "effectivefrom", "effectiveto", *_HEADER_COMMON),
            {
                "customerid": ("account", "contact"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
                "opportunityid": ("opportunity",),
            },
            money=_HEADER_MONEY,
            decimals=frozenset({"discountpercentage"}),
            options=_HEADER_OPTIONS,
            dates=frozenset({"requestdeliveryby", "effectivefrom", "effectiveto"}),
            booleans=frozenset({"willcall"}),
            integers=frozenset({"revisionnumber", "versionnumber"}),
            read_only=frozenset({"quotenumber", "revisionnumber", *_SYSTEM}),
            states=QUOTE_STATES,
            editable_state=0,
        ),
        Table(
            "quotedetail",
            "quotedetails",
            _LINE_COLUMNS,
            {
                "quoteid": ("quote",),
                "productid": ("product",),
                "uomid": ("uom",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            **_LINE_TYPES,
        ),
        Table(
            "annotation",
            "annotations",
            ("subject", "notetext", "objecttypecode", "isdocument", "filename", "filesize", "mimetype", *_SYSTEM),
            {"objectid": ("salesorder", "quote", "account", "contact", "product")},
            booleans=frozenset({"isdocument"}),
            integers=frozenset({"filesize", "versionnumber"}),
        ),
        # The activity wall's posts (bc-sync.md §10.3): BC writes one per order status change.
        Table(
            "post",
            "posts",
            ("text", "source", "type", "regardingobjecttypecode", *_SYSTEM),
            {"regardingobjectid": ("salesorder", "account", "contact", "opportunity")},
            options=frozenset({"source", "type"}),
            computed=frozenset({"regardingobjecttypecode"}),
            create_only=frozenset({"regardingobjectid"}),
            required=frozenset({"text", "source", "type", "regardingobjectid"}),
        ),
        # Posted invoices from BC (POSTEDSALESINV-INV, bc-sync.md §8): only Active invoices can be
        # edited; Paid and Canceled ones only change state. BC numbers them (``invoicenumber``).
        Table(
            "invoice",
            "invoices",
            ("invoicenumber", "duedate", "datedelivered", *_HEADER_COMMON),
            {
                "customerid": ("account", "contact"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
                "salesorderid": ("salesorder",),
                "opportunityid": ("opportunity",),
                "ownerid": ("systemuser", "team"),
            },
            money=_HEADER_MONEY,
            decimals=frozenset({"discountpercentage"}),
            options=_HEADER_OPTIONS,
            dates=frozenset({"requestdeliveryby", "duedate", "datedelivered"}),
            booleans=frozenset({"willcall"}),
            states=INVOICE_STATES,
            editable_state=0,
            required=frozenset({"name", "customerid", "pricelevelid"}),
            unique=(("invoicenumber",),),
            navigation={"ownerid": "ownerid"},  # the owner is bound as ownerid, whatever its table
        ),
        Table(
            "invoicedetail",
            "invoicedetails",
            (*_LINE_COLUMNS, "actualdeliveryon", "exchangerate"),
            {
                "invoiceid": ("invoice",),
                "productid": ("product",),
                "uomid": ("uom",),
                "salesorderdetailid": ("salesorderdetail",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            money=_LINE_MONEY,
            decimals=frozenset({"quantity", "exchangerate"}),
            options=frozenset({"producttypecode"}),
            booleans=frozenset({"isproductoverridden", "ispriceoverridden"}),
            integers=frozenset({"versionnumber", "lineitemnumber", "sequencenumber"}),
            dates=frozenset({"actualdeliveryon"}),
            create_only=frozenset({"invoiceid"}),
            required=frozenset({"invoiceid", "quantity"}),
        ),
        # BC's integration solution's table: one row of a customer's figures per account (§9).
        Table(
            "nav_accountstatistics",
            "nav_accountstatisticses",
            (
                "nav_name",
                "nav_customerno",
                *sorted(_STATISTICS_MONEY),
                "nav_overdueamountsasof",
                *_SYSTEM,
            ),
            {"transactioncurrencyid": ("transactioncurrency",)},
            money=_STATISTICS_MONEY,
            dates=frozenset({"nav_overdueamountsasof"}),
            required=frozenset({"nav_customerno"}),
        ),
        # Sales' users (read by the SALESPEOPLE mapping; owners of rows). The organisation has the
        # salesperson who clicks and the integration's application user (app.py).
        Table(
            "systemuser",
            "systemusers",
            (
                "fullname",
                "firstname",
                "lastname",
                "internalemailaddress",
                "mobilephone",
                "isdisabled",
                "islicensed",
                "isintegrationuser",
                *_SYSTEM,
            ),
            booleans=frozenset({"isdisabled", "islicensed", "isintegrationuser"}),
            computed=frozenset({"fullname"}),
        ),
        # An opportunity (bc-sync.md §12): Open (In Progress, On Hold), Won, Lost (Canceled,
        # Out-Sold). Only an Open one can be edited; it is closed by WinOpportunity or
        # LoseOpportunity, not by a PATCH of its state (rules.py). Its owner is a user or a team,
        # bound as ownerid@odata.bind ("/systemusers(<id>)"); a new row is its creator's.
        Table(
            "opportunity",
            "opportunities",
            (
                "name",
                "description",
                "estimatedvalue",
                "estimatedclosedate",
                "actualvalue",
                "actualclosedate",
                "closeprobability",
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            {
                "parentaccountid": ("account",),
                "parentcontactid": ("contact",),
                "ownerid": ("systemuser", "team"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
            },
            money=frozenset({"estimatedvalue", "actualvalue"}),
            options=frozenset({"statecode", "statuscode"}),
            dates=frozenset({"estimatedclosedate", "actualclosedate"}),
            integers=frozenset({"closeprobability", "versionnumber"}),
            navigation={"ownerid": "ownerid"},
            states=OPPORTUNITY_STATES,
            editable_state=0,
            required=frozenset({"name", "ownerid"}),
            not_negative=frozenset({"estimatedvalue", "actualvalue"}),
        ),
    )
}
BY_LOGICAL = {t.logical_name: t for t in TABLES.values()}
# Sets the simulator does not keep rows for, but a lookup may point into.
OTHER_SETS = {"teams": "team"}
LINE_SETS = {"salesorders": ("salesorderdetails", "salesorderid"), "quotes": ("quotedetails", "quoteid")}
SET_OF = {**{t.logical_name: t.entity_set for t in TABLES.values()}, **{v: k for k, v in OTHER_SETS.items()}}


def check_update(
    table: Table, row: Mapping[str, Any], changes: Mapping[str, Any], state: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changes Dataverse accepts for ``row``: read-only columns dropped, edits only in the
    table's editable state, and the state/status pair completed (statuscode -1 or missing: the
    state's default) and checked. Refused otherwise."""
    row_id = row[table.key]
    changes = {k: v for k, v in changes.items() if k not in table.read_only}
    if changes and table.editable_state is not None and row["statecode"] != table.editable_state:
        what = STATE_LABELS.get(table.logical_name, {}).get(row["statecode"], str(row["statecode"]))
        allowed = STATE_LABELS.get(table.logical_name, {}).get(table.editable_state, "")
        raise Refused(
            400,
            "0x80040203",
            f"This {table.logical_name} is {what} (statecode {row['statecode']}) and cannot be edited: "
            f"only {allowed} records can be edited, except to change their status.",
        )
    state = dict(state)
    if state:
        new_state = state.setdefault("statecode", row["statecode"])
        if "statuscode" not in state or state["statuscode"] == -1:
            state["statuscode"] = table.states[new_state][0] if new_state in table.states else None
        if new_state not in table.states or state["statuscode"] not in table.states[new_state]:
            raise Refused(
                400,
                "0x80040203",
                f"{state['statuscode']} is not a valid status code for state code "
                f"{table.logical_name}State.{new_state} on {table.logical_name} with Id {row_id}.",
            )
    return changes, state
