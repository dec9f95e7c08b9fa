"""BC's default mappings for Sales, their field rows and their jobs (bc-sync.md §2–§5, §13, §14).

`api.ensure_defaults` writes these into integration_table_mapping / integration_field_mapping /
job_queue_entry when they are missing; what is stored is what runs (a person may change it).
"""

from __future__ import annotations

from dataclasses import dataclass

from orders.sync.model import Direction, FieldMapping, TableMapping
from schemas import tables as t

UNIT_OF_MEASURE = "UNIT OF MEASURE"
ITEM_PRODUCT = "ITEM-PRODUCT"
RESOURCE_PRODUCT = "RESOURCE-PRODUCT"
CUSTOMER = "CUSTOMER"
CONTACT = "CONTACT"
CURRENCY = "CURRENCY"
CUSTPRCGRP_PRICE = "CUSTPRCGRP-PRICE"
SALESPRC_PRODPRICE = "SALESPRC-PRODPRICE"
POSTED_SALES_INVOICE = "POSTEDSALESINV-INV"
SALESPEOPLE = "SALESPEOPLE"
OPPORTUNITY = "OPPORTUNITY"

# Names people use for the same mapping (Microsoft's article calls the unit job UNITOFMEASURE).
ALIASES = {
    "UNITOFMEASURE": UNIT_OF_MEASURE,
    "ITEM - PRODUCT": ITEM_PRODUCT,
    "SALESPRC-PRODUCTPRICE": SALESPRC_PRODPRICE,  # the job's name in Microsoft's article
}

# Codeunits that the job queue entries run.
INTEGRATION_SYNCH_JOB_RUNNER = 5339
ITEM_AVAILABILITY_JOB = 5356
ORDER_STATUS_JOB = 5352  # "CRM Order Status Update Job" (bc-sync.md §10.3)
STATISTICS_JOB = 5350  # "CRM Statistics Job": account statistics and invoice payment status (§9)
NOTES_JOB = 5355  # "CRM Notes Synch Job" (bc-sync.md §11)

TO, FROM, BOTH = Direction.TO, Direction.FROM, Direction.BIDIRECTIONAL


@dataclass(frozen=True, slots=True)
class SalesTable:
    entity_set: str
    key: str
    caption: str  # as BC's messages name it


SALES_TABLES: dict[str, SalesTable] = {
    "uomschedule": SalesTable("uomschedules", "uomscheduleid", "CRM Uomschedule"),
    "uom": SalesTable("uoms", "uomid", "CRM Uom"),
    "product": SalesTable("products", "productid", "Dataverse Product"),
    "account": SalesTable("accounts", "accountid", "Dataverse Account"),
    "contact": SalesTable("contacts", "contactid", "Dataverse Contact"),
    "transactioncurrency": SalesTable(
        "transactioncurrencies", "transactioncurrencyid", "Dataverse Transactioncurrency"
    ),
    "pricelevel": SalesTable("pricelevels", "pricelevelid", "Dataverse Pricelevel"),
    "productpricelevel": SalesTable("productpricelevels", "productpricelevelid", "Dataverse Productpricelevel"),
    "invoice": SalesTable("invoices", "invoiceid", "Dataverse Invoice"),
    "invoicedetail": SalesTable("invoicedetails", "invoicedetailid", "Dataverse Invoicedetail"),
    "nav_accountstatistics": SalesTable(
        "nav_accountstatisticses", "nav_accountstatisticsid", "Dataverse Nav_accountstatistics"
    ),
    "systemuser": SalesTable("systemusers", "systemuserid", "Dataverse Systemuser"),
    "opportunity": SalesTable("opportunities", "opportunityid", "Dataverse Opportunity"),
}


@dataclass(frozen=True, slots=True)
class BcTable:
    caption: str
    key: str  # our key column: no or code (a Sales Price: its SystemId)
    # The fields BC's record id shows ("Sales Price: 1000,Customer Price Group,RETAIL,..."); the key alone if none.
    record_fields: tuple[str, ...] = ()


BC_TABLES: dict[int, BcTable] = {
    t.TABLE_UNIT_OF_MEASURE: BcTable("Unit of Measure", "code"),
    t.TABLE_ITEM: BcTable("Item", "no"),
    t.TABLE_RESOURCE: BcTable("Resource", "no"),
    t.TABLE_CUSTOMER: BcTable("Customer", "no"),
    t.TABLE_CONTACT: BcTable("Contact", "no"),
    t.TABLE_CURRENCY: BcTable("Currency", "code"),
    t.TABLE_CUSTOMER_PRICE_GROUP: BcTable("Customer Price Group", "code"),
    t.TABLE_SALES_PRICE: BcTable(
        "Sales Price",
        "system_id",
        (
            "item_no",
            "sales_type",
            "sales_code",
            "starting_date",
            "currency_code",
            "variant_code",
            "unit_of_measure_code",
            "minimum_quantity",
        ),
    ),
    t.TABLE_SALES_INVOICE_HEADER: BcTable("Sales Invoice Header", "no"),
    t.TABLE_SALESPERSON_PURCHASER: BcTable("Salesperson/Purchaser", "code"),
    t.TABLE_OPPORTUNITY: BcTable("Opportunity", "no"),
}


@dataclass(frozen=True, slots=True)
class JobDefault:
    mapping: str  # the mapping's name, or "" for a codeunit job
    codeunit: int
    description: str
    minutes: int
    inactivity: int
    category: str = ""
    # Codeunit jobs are created "On Hold with Inactivity Timeout"; mapping jobs Ready.
    status: str = "Ready"
    attempts: int = 10


def _f(no: int, field: str, column: str, direction: Direction = TO, **kw: object) -> FieldMapping:
    return FieldMapping(no=no, field_name=field, integration_field=column, direction=direction, **kw)  # type: ignore[arg-type]


_NON_NEG = "NON-NEGATIVE"
# Not BC's default (BC synchronises only coupled records on a schedule and creates rows only in a
# full sync): a new item, resource, customer, contact, unit or currency goes to Sales with the next
# run, within seconds, so that the next order from Sales finds it coupled. A person may set
# "Synch. Only Coupled Records" back on a mapping for BC's behaviour.
NEW_RECORDS_GO_TO_SALES = False

MAPPINGS: tuple[TableMapping, ...] = (
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=CURRENCY,
        table_id=t.TABLE_CURRENCY,
        integration_table="transactioncurrency",
        direction=TO,
        fields=(
            _f(1, "code", "isocurrencycode", use_for_match_based_coupling=True),
            _f(2, "symbol", "currencysymbol"),
            _f(3, "description", "currencyname"),
        ),
    ),
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=UNIT_OF_MEASURE,
        table_id=t.TABLE_UNIT_OF_MEASURE,
        integration_table="uomschedule",
        direction=TO,
        fields=(
            # BC names the group "NAV " + the code; its one unit is named like the code.
            _f(1, "code", "name", transformation_rule="PREFIX:NAV ", use_for_match_based_coupling=True),
            _f(2, "code", "baseuomname"),
        ),
    ),
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=RESOURCE_PRODUCT,
        table_id=t.TABLE_RESOURCE,
        integration_table="product",
        direction=BOTH,
        table_filter="blocked=false",
        integration_table_filter="producttypecode eq 3 and statecode eq 0",
        dependency_filter=UNIT_OF_MEASURE,
        fields=(
            _f(1, "no", "productnumber", use_for_match_based_coupling=True),
            _f(2, "name", "name", BOTH),
            _f(3, "unit_price", "price", transformation_rule=_NON_NEG),
            _f(4, "unit_cost", "standardcost"),
            _f(5, "unit_cost", "currentcost"),
            _f(
                6,
                "base_unit_of_measure",
                "defaultuomscheduleid",
                lookup_mapping=UNIT_OF_MEASURE,
                caption="Base Unit of Measure",
            ),
            _f(7, "", "producttypecode", constant_value="3"),
        ),
    ),
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=ITEM_PRODUCT,
        table_id=t.TABLE_ITEM,
        integration_table="product",
        direction=BOTH,
        table_filter="blocked=false",
        integration_table_filter="producttypecode eq 1 and statecode eq 0",
        dependency_filter=UNIT_OF_MEASURE,
        fields=(
            _f(1, "no", "productnumber", use_for_match_based_coupling=True),
            _f(2, "description", "name", BOTH),
            _f(3, "unit_price", "price", transformation_rule=_NON_NEG),
            _f(4, "unit_cost", "standardcost"),
            _f(5, "unit_cost", "currentcost"),
            _f(6, "inventory", "quantityonhand", transformation_rule=_NON_NEG, caption="Inventory"),
            _f(
                7,
                "base_unit_of_measure",
                "defaultuomscheduleid",
                BOTH,
                lookup_mapping=UNIT_OF_MEASURE,
                caption="Base Unit of Measure",
            ),
            _f(8, "", "producttypecode", constant_value="1"),
        ),
    ),
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=CUSTOMER,
        table_id=t.TABLE_CUSTOMER,
        integration_table="account",
        direction=BOTH,
        table_filter="blocked=false",
        integration_table_filter="statecode eq 0 and customertypecode eq 3",
        dependency_filter=CURRENCY,
        fields=(
            _f(1, "name", "name", BOTH, use_for_match_based_coupling=True),
            _f(2, "address", "address1_line1", BOTH),
            _f(3, "city", "address1_city", BOTH),
            _f(4, "post_code", "address1_postalcode", BOTH),
            _f(5, "country_region_code", "address1_country", BOTH, caption="Country/Region Code"),
            _f(6, "phone_no", "telephone1", BOTH, caption="Phone No."),
            _f(7, "e_mail", "emailaddress1", BOTH, caption="E-Mail"),
            _f(8, "home_page", "websiteurl", BOTH),
            _f(9, "currency_code", "transactioncurrencyid", BOTH, lookup_mapping=CURRENCY, caption="Currency Code"),
            _f(10, "", "customertypecode", constant_value="3"),
            _f(11, "credit_limit_lcy", "creditlimit", caption="Credit Limit (LCY)"),
        ),
    ),
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=CONTACT,
        table_id=t.TABLE_CONTACT,
        integration_table="contact",
        direction=BOTH,
        table_filter="type=Person,company_no<>",
        integration_table_filter="statecode eq 0 and _parentcustomerid_value ne null",
        dependency_filter=CUSTOMER,
        fields=(
            _f(1, "first_name", "firstname", BOTH),
            _f(2, "surname", "lastname", BOTH),
            _f(3, "e_mail", "emailaddress1", BOTH, use_for_match_based_coupling=True, caption="E-Mail"),
            _f(4, "phone_no", "telephone1", BOTH, caption="Phone No."),
            _f(5, "mobile_phone_no", "mobilephone", BOTH, caption="Mobile Phone No."),
            _f(6, "job_title", "jobtitle", BOTH),
            _f(7, "address", "address1_line1", BOTH),
            _f(8, "city", "address1_city", BOTH),
            _f(9, "post_code", "address1_postalcode", BOTH),
            _f(10, "customer_no", "parentcustomerid", lookup_mapping=CUSTOMER, caption="Customer No."),
            _f(11, "currency_code", "transactioncurrencyid", BOTH, lookup_mapping=CURRENCY, caption="Currency Code"),
            _f(12, "type", "", FROM, constant_value="Person"),
        ),
    ),
    # Prices without extended pricing (bc-sync.md §6, §7): a price list per Customer Price Group,
    # one price list item per Sales Price of such a group.
    TableMapping(
        synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
        name=CUSTPRCGRP_PRICE,
        table_id=t.TABLE_CUSTOMER_PRICE_GROUP,
        integration_table="pricelevel",
        direction=TO,
        dependency_filter=f"{CURRENCY}|{ITEM_PRODUCT}",
        fields=(_f(1, "code", "name", use_for_match_based_coupling=True),),
    ),
    TableMapping(
        synch_only_coupled_records=False,  # BC's default too: the job creates the price list items
        name=SALESPRC_PRODPRICE,
        table_id=t.TABLE_SALES_PRICE,
        integration_table="productpricelevel",
        direction=TO,
        table_filter="sales_type=Customer Price Group,sales_code<>",
        dependency_filter=f"{CUSTPRCGRP_PRICE}|{ITEM_PRODUCT}",
        fields=(
            _f(1, "sales_code", "pricelevelid", lookup_mapping=CUSTPRCGRP_PRICE, caption="Sales Code"),
            _f(2, "item_no", "productid", lookup_mapping=ITEM_PRODUCT, caption="Item No."),
            # BC maps Item No. to productnumber too; Sales fills it in from the product (a column
            # it computes), so the row is there but disabled.
            _f(3, "item_no", "productnumber", enabled=False, caption="Item No."),
            _f(4, "currency_code", "transactioncurrencyid", lookup_mapping=CURRENCY, caption="Currency Code"),
            _f(5, "", "pricingmethodcode", constant_value="1"),  # Currency Amount
            _f(6, "unit_price", "amount", caption="Unit Price"),
        ),
    ),
    # Sales users -> salespeople (bc-sync.md §2), in the person ownership model. Salespeople are
    # not created from Sales users here: a salesperson is coupled to its user (`bc-gateway couple
    # salesperson`, or by e-mail with `couple --match salesperson`), then keeps its name, e-mail and
    # phone from Sales.
    TableMapping(
        name=SALESPEOPLE,
        table_id=t.TABLE_SALESPERSON_PURCHASER,
        integration_table="systemuser",
        direction=FROM,
        integration_table_filter="isdisabled eq false and islicensed eq true and isintegrationuser eq false",
        fields=(
            _f(1, "e_mail", "internalemailaddress", FROM, use_for_match_based_coupling=True, caption="E-Mail"),
            _f(2, "name", "fullname", FROM),
            _f(3, "phone_no", "mobilephone", FROM, caption="Phone No."),
        ),
    ),
    # Opportunities both ways (bc-sync.md §12): BC's filter is Status Not Started | In Progress
    # (closed=false); only the description comes back from Sales. Parent account and contact are
    # worked out from the contact (orders/sync/bc_records.py); the salesperson is the owner.
    TableMapping(
        synch_only_coupled_records=False,  # BC's default for this mapping
        name=OPPORTUNITY,
        table_id=t.TABLE_OPPORTUNITY,
        integration_table="opportunity",
        direction=BOTH,
        table_filter="closed=false",
        dependency_filter=CONTACT,
        fields=(
            _f(1, "description", "name", BOTH),
            _f(2, "person_contact_no", "parentcontactid", lookup_mapping=CONTACT, caption="Contact No."),
            _f(3, "company_customer_no", "parentaccountid", lookup_mapping=CUSTOMER, caption="Contact Company No."),
            _f(4, "salesperson_code", "ownerid", lookup_mapping=SALESPEOPLE, not_null=True, caption="Salesperson Code"),
            _f(5, "estimated_value_lcy", "estimatedvalue", caption="Estimated Value (LCY)"),
            _f(6, "estimated_closing_date", "estimatedclosedate", caption="Estimated Closing Date"),
        ),
    ),
)

_ADDRESS_COLUMNS = (
    ("name", "name"),
    ("address", "line1"),
    ("address_2", "line2"),
    ("city", "city"),
    ("country_region_code", "country"),
    ("post_code", "postalcode"),
    ("county", "stateorprovince"),
)


def _address_rows(start: int) -> tuple[FieldMapping, ...]:
    """Ship-to and Bill-to Name, Address, Address 2, City, Country, Post Code, County (§8.1)."""
    rows: list[FieldMapping] = []
    for side, prefix in (("ship_to", "shipto"), ("bill_to", "billto")):
        for field, column in _ADDRESS_COLUMNS:
            rows.append(_f(start + len(rows), f"{side}_{field}", f"{prefix}_{column}"))
    return tuple(rows)


# POSTEDSALESINV-INV (bc-sync.md §8.1): posted sales invoices to Sales invoices, To only. The lines
# (POSTEDSALESLINE-INV, §8.2) have no mapping row or job of their own: they go with their invoice
# (orders/sync/posted_invoice.py, invoice_hooks.py). BC's Salesperson Code → ownerid row is left
# out: this BC model keeps no salespeople, and an invoice made from a Sales order takes that
# order's owner (the salesperson in Sales), as BC does. Shipping Agent and Payment Terms (choices)
# are not sent either.
POSTED_SALES_INVOICE_MAPPING = TableMapping(
    synch_only_coupled_records=NEW_RECORDS_GO_TO_SALES,
    name=POSTED_SALES_INVOICE,
    table_id=t.TABLE_SALES_INVOICE_HEADER,
    integration_table="invoice",
    direction=TO,
    dependency_filter=f"{ITEM_PRODUCT}|{RESOURCE_PRODUCT}|OPPORTUNITY",
    fields=(
        _f(1, "no", "invoicenumber", caption="No."),
        _f(2, "currency_code", "transactioncurrencyid", lookup_mapping=CURRENCY, caption="Currency Code"),
        _f(3, "due_date", "duedate", caption="Due Date"),
        _f(4, "shipment_date", "datedelivered", caption="Shipment Date"),
        *_address_rows(5),
        _f(19, "amount", "totalamountlessfreight"),
        _f(20, "amount_including_vat", "totalamount", caption="Amount Including VAT"),
        _f(21, "invoice_discount_amount", "discountamount", caption="Invoice Discount Amount"),
        _f(22, "work_description", "description", caption="Work Description"),
    ),
)
MAPPINGS = (*MAPPINGS, POSTED_SALES_INVOICE_MAPPING)

# A full synchronisation's order: a mapping starts once those in its dependency filter are done;
# between independent ones the seed's job order (units, resources, items) after the prerequisites.
FULL_SYNC_PRIORITY = (
    SALESPEOPLE,
    CURRENCY,
    UNIT_OF_MEASURE,
    RESOURCE_PRODUCT,
    ITEM_PRODUCT,
    CUSTOMER,
    CONTACT,
    CUSTPRCGRP_PRICE,
    SALESPRC_PRODPRICE,
    OPPORTUNITY,
    POSTED_SALES_INVOICE,  # after OPPORTUNITY: its dependency filter names it
)


def _description(mapping: str) -> str:
    return f"{mapping} - Dynamics 365 Sales synchronization job."


JOBS: tuple[JobDefault, ...] = (
    JobDefault(CURRENCY, INTEGRATION_SYNCH_JOB_RUNNER, _description(CURRENCY), 30, 720),
    JobDefault(UNIT_OF_MEASURE, INTEGRATION_SYNCH_JOB_RUNNER, _description(UNIT_OF_MEASURE), 30, 720),
    JobDefault(RESOURCE_PRODUCT, INTEGRATION_SYNCH_JOB_RUNNER, _description(RESOURCE_PRODUCT), 30, 720),
    JobDefault(ITEM_PRODUCT, INTEGRATION_SYNCH_JOB_RUNNER, _description(ITEM_PRODUCT), 30, 1440),
    JobDefault(CUSTOMER, INTEGRATION_SYNCH_JOB_RUNNER, _description(CUSTOMER), 30, 720, category="BCI CUST"),
    JobDefault(CONTACT, INTEGRATION_SYNCH_JOB_RUNNER, _description(CONTACT), 30, 720, category="BCI CUST"),
    JobDefault(CUSTPRCGRP_PRICE, INTEGRATION_SYNCH_JOB_RUNNER, _description(CUSTPRCGRP_PRICE), 30, 1440),
    JobDefault(SALESPRC_PRODPRICE, INTEGRATION_SYNCH_JOB_RUNNER, _description(SALESPRC_PRODPRICE), 30, 1440),
    # Every 30 minutes as BC, and within seconds of each posted invoice (the change feed).
    JobDefault(POSTED_SALES_INVOICE, INTEGRATION_SYNCH_JOB_RUNNER, _description(POSTED_SALES_INVOICE), 30, 1440),
    JobDefault(
        "",
        STATISTICS_JOB,
        "Customer Statistics - Dynamics 365 Sales synchronization job",
        30,
        30,
        status="On Hold with Inactivity Timeout",
        attempts=2,
    ),
    JobDefault(SALESPEOPLE, INTEGRATION_SYNCH_JOB_RUNNER, _description(SALESPEOPLE), 30, 1440),
    # Not BC's: BC creates no job for OPPORTUNITY (it runs in a full sync or by hand); ours runs
    # like the others, woken by a change of an opportunity or in Sales.
    JobDefault(OPPORTUNITY, INTEGRATION_SYNCH_JOB_RUNNER, _description(OPPORTUNITY), 30, 720),
    JobDefault(
        "",
        ITEM_AVAILABILITY_JOB,
        "Item Availability - Dynamics 365 Sales synchronization job",
        30,
        30,
        status="On Hold with Inactivity Timeout",
        attempts=2,
    ),
    # BC runs it every 7 minutes; the change feed wakes it within seconds of each event.
    JobDefault("", ORDER_STATUS_JOB, "Sales Order Status - Dynamics 365 Sales synchronization job", 7, 7, attempts=10),
    # BC runs it every 5 minutes; a note added in BC (the change feed) or in Sales (the probe) wakes
    # it within seconds.
    JobDefault("", NOTES_JOB, "Sales Order Notes - Dynamics 365 Sales synchronization job", 5, 5, attempts=10),
)

ITEM_AVAILABILITY_NAME = str(ITEM_AVAILABILITY_JOB)


def canonical_name(name: str) -> str:
    upper = name.strip().upper()
    return ALIASES.get(upper, upper)


def default_mapping(name: str) -> TableMapping | None:
    return next((m for m in MAPPINGS if m.name == canonical_name(name)), None)
