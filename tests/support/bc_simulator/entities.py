"""Entity sets of API v2.0: their fields, which of them are read-only, keys and sort order.

Field lists follow the API v2.0 pages (APIV2 - Items, Customers, ...). Entities the standard API
does not have (item units of measure, resources) exist only as internal tables: the published
OData web-service pages read them, the API never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Field, boolean, code, day, dec, guid, integer, moment, option, text

READ = frozenset({"GET"})
ALL = frozenset({"GET", "POST", "PATCH", "DELETE"})


@dataclass
class EntityDef:
    set_name: str
    entity: str
    caption: str
    table_no: int
    fields: tuple[Field, ...]
    sort_key: tuple[str, ...]
    methods: frozenset[str] = ALL
    # Number series for a blank "number" (None: the number is required).
    series: str | None = None
    # The fields that identify a record in BC's messages, with their captions.
    ident: tuple[tuple[str, str], ...] = ()
    lines: str | None = None
    # May be subscribed to (a non-temporary source table with a single-field key).
    webhook: bool = True
    # Fields computed when read; never stored.
    computed: frozenset[str] = frozenset()
    by_name: dict[str, Field] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}

    @property
    def has_last_modified(self) -> bool:
        return "lastModifiedDateTime" in self.by_name

    def identify(self, rec: dict[str, object]) -> str:
        return ",".join(f"{caption}='{rec.get(name, '')}'" for name, caption in self.ident)


ID = guid("id", ro=True)
LMDT = moment("lastModifiedDateTime", ro=True)
ADDRESS = (
    text("addressLine1", 100),
    text("addressLine2", 50),
    text("city", 30),
    text("state", 30),
    code("country", 10),
    code("postalCode", 20),
)
CONTACT_INFO = (text("phoneNumber", 30), text("email", 80), text("website", 80))

ENTRY_TYPES = (
    "Purchase",
    "Sale",
    "Positive Adjmt.",
    "Negative Adjmt.",
    "Transfer",
    "Consumption",
    "Output",
    " ",
    "Assembly Consumption",
    "Assembly Output",
)
DOCUMENT_TYPES = (
    " ",
    "Sales Shipment",
    "Sales Invoice",
    "Sales Return Receipt",
    "Sales Credit Memo",
    "Purchase Receipt",
    "Purchase Invoice",
    "Purchase Return Shipment",
    "Purchase Credit Memo",
    "Transfer Shipment",
    "Transfer Receipt",
    "Service Shipment",
    "Service Invoice",
    "Service Credit Memo",
    "Posted Assembly",
    "Inventory Receipt",
    "Inventory Shipment",
    "Direct Transfer",
)

COMPANIES = EntityDef(
    "companies",
    "company",
    "Company",
    2000000006,
    (
        ID,
        text("systemVersion", 250, ro=True),
        integer("timestamp", ro=True),
        text("name", 30, ro=True),
        text("displayName", 250, ro=True),
        text("businessProfileId", 250, ro=True),
        moment("systemCreatedAt", ro=True),
        guid("systemCreatedBy", ro=True),
        moment("systemModifiedAt", ro=True),
        guid("systemModifiedBy", ro=True),
    ),
    ("name",),
    methods=READ,
    webhook=False,
)

ITEMS = EntityDef(
    "items",
    "item",
    "Item",
    27,
    (
        ID,
        code("number", 20, caption="No."),
        text("displayName", 100, caption="Description"),
        text("displayName2", 50),
        option("type", ("Inventory", "Service", "Non-Inventory")),
        guid("itemCategoryId"),
        code("itemCategoryCode", 20),
        boolean("blocked"),
        code("gtin", 14),
        dec("inventory"),
        dec("unitPrice"),
        boolean("priceIncludesTax"),
        dec("unitCost"),
        guid("taxGroupId"),
        code("taxGroupCode", 20),
        guid("baseUnitOfMeasureId"),
        code("baseUnitOfMeasureCode", 10, caption="Base Unit of Measure"),
        guid("generalProductPostingGroupId"),
        code("generalProductPostingGroupCode", 20),
        guid("inventoryPostingGroupId"),
        code("inventoryPostingGroupCode", 20),
        LMDT,
    ),
    ("number",),
    series="ITEM",
    ident=(("number", "No."),),
    computed=frozenset({"inventory"}),
)

ITEM_VARIANTS = EntityDef(
    "itemVariants",
    "itemVariant",
    "Item Variant",
    5401,
    (ID, guid("itemId"), code("itemNumber", 20), code("code", 10), text("description", 100), LMDT),
    ("itemNumber", "code"),
    ident=(("itemNumber", "Item No."), ("code", "Code")),
)

UNITS_OF_MEASURE = EntityDef(
    "unitsOfMeasure",
    "unitOfMeasure",
    "Unit of Measure",
    204,
    (ID, code("code", 10), text("displayName", 50), code("internationalStandardCode", 10), text("symbol", 10), LMDT),
    ("code",),
    ident=(("code", "Code"),),
)

LOCATIONS = EntityDef(
    "locations",
    "location",
    "Location",
    14,
    (ID, code("code", 10), text("displayName", 100), text("contact", 100), *ADDRESS, *CONTACT_INFO, LMDT),
    ("code",),
    ident=(("code", "Code"),),
)

CUSTOMERS = EntityDef(
    "customers",
    "customer",
    "Customer",
    18,
    (
        ID,
        code("number", 20, caption="No."),
        text("displayName", 100, caption="Name"),
        option("type", ("Company", "Person")),
        *ADDRESS,
        *CONTACT_INFO,
        code("salespersonCode", 20),
        dec("balanceDue", ro=True),
        dec("creditLimit"),
        boolean("taxLiable"),
        guid("taxAreaId"),
        text("taxAreaDisplayName", 100, ro=True),
        text("taxRegistrationNumber", 20),
        guid("currencyId"),
        code("currencyCode", 10),
        guid("paymentTermsId"),
        guid("shipmentMethodId"),
        guid("paymentMethodId"),
        option("blocked", (" ", "Ship", "Invoice", "All")),
        LMDT,
    ),
    ("number",),
    series="CUST",
    ident=(("number", "No."),),
    computed=frozenset({"balanceDue"}),
)

CONTACTS = EntityDef(
    "contacts",
    "contact",
    "Contact",
    5050,
    (
        ID,
        code("number", 20, caption="No."),
        option("type", ("Company", "Person")),
        text("displayName", 100, caption="Name"),
        text("jobTitle", 30),
        code("companyNumber", 20),
        text("companyName", 100),
        option(
            "contactBusinessRelation",
            (" ", "Customer", "Vendor", "Bank Account", "Employee", "Multiple", "Other"),
            ro=True,
        ),
        *ADDRESS,
        text("phoneNumber", 30),
        text("mobilePhoneNumber", 30),
        text("email", 80),
        text("website", 80),
        code("searchName", 100),
        boolean("privacyBlocked"),
        text("taxRegistrationNumber", 20),
        day("lastInteractionDate", ro=True),
        LMDT,
    ),
    ("number",),
    series="CONT",
    ident=(("number", "No."),),
)

CURRENCIES = EntityDef(
    "currencies",
    "currency",
    "Currency",
    4,
    (
        ID,
        code("code", 10),
        text("displayName", 30),
        text("symbol", 10),
        text("amountDecimalPlaces", 5),
        dec("amountRoundingPrecision"),
        LMDT,
    ),
    ("code",),
    ident=(("code", "Code"),),
)

ACCOUNTS = EntityDef(
    "accounts",
    "account",
    "G/L Account",
    15,
    (
        ID,
        code("number", 20, caption="No."),
        text("displayName", 100),
        option("category", (" ", "Assets", "Liabilities", "Equity", "Income", "Cost of Goods Sold", "Expense")),
        text("subCategory", 80),
        boolean("blocked"),
        option("accountType", ("Posting", "Heading", "Total", "Begin-Total", "End-Total")),
        boolean("directPosting"),
        dec("netChange", ro=True),
        LMDT,
    ),
    ("number",),
    methods=READ,
    ident=(("number", "No."),),
)

ITEM_LEDGER_ENTRIES = EntityDef(
    "itemLedgerEntries",
    "itemLedgerEntry",
    "Item Ledger Entry",
    32,
    (
        ID,
        integer("entryNumber"),
        code("itemNumber", 20),
        day("postingDate"),
        option("entryType", ENTRY_TYPES),
        code("sourceNumber", 20),
        option("sourceType", (" ", "Customer", "Vendor", "Item")),
        code("documentNumber", 20),
        option("documentType", DOCUMENT_TYPES),
        text("description", 100),
        dec("quantity"),
        dec("salesAmountActual"),
        dec("costAmountActual"),
        LMDT,
    ),
    ("entryNumber",),
    methods=READ,
    ident=(("entryNumber", "Entry No."),),
)

# Internal only: the API has no entity for these (page 5404 and the resource pages publish them as web services).
RESOURCES = EntityDef(
    "resources",
    "resource",
    "Resource",
    156,
    (
        ID,
        code("number", 20, caption="No."),
        text("name", 100),
        option("type", ("Person", "Machine")),
        code("baseUnitOfMeasure", 10),
        dec("unitPrice"),
        dec("unitCost"),
        boolean("blocked"),
        code("searchName", 100),
        LMDT,
    ),
    ("number",),
    ident=(("number", "No."),),
    webhook=False,
)

ITEM_UNITS_OF_MEASURE = EntityDef(
    "itemUnitsOfMeasure",
    "itemUnitOfMeasure",
    "Item Unit of Measure",
    5404,
    (ID, code("itemNumber", 20), code("code", 10), dec("qtyPerUnitOfMeasure"), LMDT),
    ("itemNumber", "code"),
    ident=(("itemNumber", "Item No."), ("code", "Code")),
    webhook=False,
)

MASTER_DATA = (
    ITEMS,
    ITEM_VARIANTS,
    UNITS_OF_MEASURE,
    LOCATIONS,
    CUSTOMERS,
    CONTACTS,
    CURRENCIES,
    ACCOUNTS,
    ITEM_LEDGER_ENTRIES,
)
INTERNAL = (RESOURCES, ITEM_UNITS_OF_MEASURE)
