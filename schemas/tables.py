"""The Business Central data model, as SQLAlchemy Core tables.

Names follow BC's tables and fields (Item, "Item Ledger Entry", "CRM Integration Record", ...).
Every BC table is per company, as in BC: `company` is the first part of each key.
Schema changes go through Alembic migrations in `schemas/migrations`; a test checks that the
migrations and these tables agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from schemas.types import Decimal5, Guid, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BC table numbers, as the coupling table ("CRM Integration Record") records them.
TABLE_ITEM = 27
TABLE_CUSTOMER = 18
TABLE_RESOURCE = 156
TABLE_UNIT_OF_MEASURE = 204
TABLE_SALES_HEADER = 36
TABLE_CONTACT = 5050
TABLE_CURRENCY = 4
TABLE_CUSTOMER_PRICE_GROUP = 6
TABLE_SALES_PRICE = 7002
TABLE_SALESPERSON_PURCHASER = 13
TABLE_OPPORTUNITY = 5092

ITEM_TYPES = ("Inventory", "Service", "Non-Inventory")
ENTRY_TYPES = (
    "Purchase",
    "Sale",
    "Positive Adjmt.",
    "Negative Adjmt.",
    "Transfer",
    "Consumption",
    "Output",
)


def _company() -> Column[str]:
    return Column("company", String(30), primary_key=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _system_modified_at() -> Column[dt.datetime]:
    """BC's SystemModifiedAt: set on every insert and update made through SQLAlchemy (the
    synchronisation's BC-side high-water mark follows it). NULL only for rows older than it."""
    return Column("system_modified_at", UtcDateTime(), nullable=True, default=_now, onupdate=_now)


company = Table(
    "company",
    metadata,
    Column("name", String(30), primary_key=True),
    Column("display_name", String(250), nullable=False, server_default=""),
    Column("system_id", Guid(), nullable=False, unique=True),
)

unit_of_measure = Table(
    "unit_of_measure",
    metadata,
    _company(),
    Column("code", String(10), primary_key=True),
    Column("description", String(50), nullable=False, server_default=""),
    Column("system_id", Guid(), nullable=False, unique=True),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

item = Table(
    "item",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("description", String(100), nullable=False, server_default=""),
    Column("type", String(20), nullable=False, server_default="Inventory"),
    Column("base_unit_of_measure", String(10), nullable=False, server_default=""),
    Column("unit_price", Decimal5, nullable=False, server_default="0"),
    Column("unit_cost", Decimal5, nullable=False, server_default="0"),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    _system_modified_at(),
    CheckConstraint("type IN ('Inventory', 'Service', 'Non-Inventory')", name="type"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

item_unit_of_measure = Table(
    "item_unit_of_measure",
    metadata,
    _company(),
    Column("item_no", String(20), primary_key=True),
    Column("code", String(10), primary_key=True),
    Column("qty_per_unit_of_measure", Decimal5, nullable=False, server_default="1"),
    CheckConstraint("qty_per_unit_of_measure > 0", name="qty_positive"),
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"], ondelete="CASCADE"),
    ForeignKeyConstraint(["company", "code"], ["unit_of_measure.company", "unit_of_measure.code"]),
)

location = Table(
    "location",
    metadata,
    _company(),
    Column("code", String(10), primary_key=True),
    Column("name", String(100), nullable=False, server_default=""),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

item_ledger_entry = Table(
    "item_ledger_entry",
    metadata,
    Column("entry_no", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("item_no", String(20), nullable=False),
    Column("location_code", String(10), nullable=False, server_default=""),
    Column("posting_date", Date, nullable=False),
    Column("entry_type", String(20), nullable=False),
    Column("document_no", String(20), nullable=False, server_default=""),
    Column("description", String(100), nullable=False, server_default=""),
    Column("quantity", Decimal5, nullable=False),
    Column("variant_code", String(10), nullable=False, server_default=""),
    # BC's own Entry No. when the entry is mirrored from a real BC (api mode); entry_no stays ours,
    # so mirrored and local entries of different companies never collide.
    Column("bc_entry_no", Integer, nullable=True),
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"]),
    Index(None, "company", "item_no", "location_code"),
    UniqueConstraint("company", "bc_entry_no"),
)

# Running totals kept in the same transaction as each ledger entry / sales line change,
# as BC keeps SIFT sums: no request ever sums the ledger.
item_inventory = Table(
    "item_inventory",
    metadata,
    _company(),
    Column("item_no", String(20), primary_key=True),
    Column("inventory", Decimal5, nullable=False, server_default="0"),
    Column("qty_on_sales_order", Decimal5, nullable=False, server_default="0"),
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"], ondelete="CASCADE"),
)

item_location_inventory = Table(
    "item_location_inventory",
    metadata,
    _company(),
    Column("item_no", String(20), primary_key=True),
    Column("location_code", String(10), primary_key=True),
    Column("inventory", Decimal5, nullable=False, server_default="0"),
    Column("qty_on_sales_order", Decimal5, nullable=False, server_default="0"),
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"], ondelete="CASCADE"),
)

# BC's "Item Variant" (api mode: mirrored from itemVariants).
item_variant = Table(
    "item_variant",
    metadata,
    _company(),
    Column("item_no", String(20), primary_key=True),
    Column("code", String(10), primary_key=True),
    Column("description", String(100), nullable=False, server_default=""),
    Column("system_id", Guid(), nullable=False, unique=True),
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"], ondelete="CASCADE"),
)

customer = Table(
    "customer",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("name", String(100), nullable=False, server_default=""),
    Column("address", String(100), nullable=False, server_default=""),
    Column("city", String(30), nullable=False, server_default=""),
    Column("post_code", String(20), nullable=False, server_default=""),
    Column("country_region_code", String(10), nullable=False, server_default=""),
    Column("currency_code", String(10), nullable=False, server_default=""),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    Column("phone_no", String(30), nullable=False, server_default=""),
    Column("e_mail", String(80), nullable=False, server_default=""),
    Column("home_page", String(80), nullable=False, server_default=""),
    # BC's "Credit Limit (LCY)" (the Customer Statistics job sends it; 0 = no limit).
    Column("credit_limit_lcy", Decimal5, nullable=False, server_default="0"),
    # BC's Customer Price Group (a TableRelation to customer_price_group): the prices it gets.
    Column("customer_price_group", String(10), nullable=False, server_default=""),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

resource = Table(
    "resource",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("name", String(100), nullable=False, server_default=""),
    Column("base_unit_of_measure", String(10), nullable=False, server_default=""),
    Column("unit_price", Decimal5, nullable=False, server_default="0"),
    Column("unit_cost", Decimal5, nullable=False, server_default="0"),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

currency = Table(
    "currency",
    metadata,
    _company(),
    Column("code", String(10), primary_key=True),
    Column("description", String(30), nullable=False, server_default=""),
    Column("symbol", String(10), nullable=False, server_default=""),
    # BC's SystemId: the coupling's Integration ID (rows older than the column get one on migration).
    Column("system_id", Guid(), nullable=True, unique=True, default=lambda: str(uuid.uuid4())),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's Customer Price Group (table 6): the CUSTPRCGRP-PRICE mapping makes a Sales price list of each.
customer_price_group = Table(
    "customer_price_group",
    metadata,
    _company(),
    Column("code", String(10), primary_key=True),
    Column("description", String(100), nullable=False, server_default=""),
    Column("price_includes_vat", Boolean, nullable=False, server_default="0"),
    Column("allow_invoice_disc", Boolean, nullable=False, server_default="1"),
    Column("allow_line_disc", Boolean, nullable=False, server_default="1"),
    Column("system_id", Guid(), nullable=False, unique=True),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

SALES_TYPES = ("Customer", "Customer Price Group", "All Customers", "Campaign")

# BC's Sales Price (table 7002, prices without extended pricing): the SALESPRC-PRODPRICE mapping
# makes a Sales price list item of each Customer Price Group price. BC's key is Item No., Sales
# Type, Sales Code, Starting Date, Currency Code, Variant Code, Unit of Measure Code and Minimum
# Quantity; a blank Starting Date is BC's 0D, kept as date.min so that the key has no NULL.
sales_price = Table(
    "sales_price",
    metadata,
    _company(),
    Column("system_id", Guid(), primary_key=True),
    Column("item_no", String(20), nullable=False),
    Column("sales_type", String(20), nullable=False, server_default="Customer"),
    Column("sales_code", String(20), nullable=False, server_default=""),
    Column("starting_date", Date, nullable=False),
    Column("currency_code", String(10), nullable=False, server_default=""),
    Column("variant_code", String(10), nullable=False, server_default=""),
    Column("unit_of_measure_code", String(10), nullable=False, server_default=""),
    Column("minimum_quantity", Decimal5, nullable=False, server_default="0"),
    Column("unit_price", Decimal5, nullable=False, server_default="0"),
    Column("ending_date", Date, nullable=True),
    Column("price_includes_vat", Boolean, nullable=False, server_default="0"),
    Column("allow_invoice_disc", Boolean, nullable=False, server_default="1"),
    Column("allow_line_disc", Boolean, nullable=False, server_default="1"),
    _system_modified_at(),
    UniqueConstraint(
        "company",
        "item_no",
        "sales_type",
        "sales_code",
        "starting_date",
        "currency_code",
        "variant_code",
        "unit_of_measure_code",
        "minimum_quantity",
        name="uq_sales_price_bc_key",
    ),
    Index("ix_sales_price_company_sales_type_sales_code", "company", "sales_type", "sales_code"),
    CheckConstraint(
        "sales_type IN ('Customer', 'Customer Price Group', 'All Customers', 'Campaign')", name="sales_type"
    ),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

CONTACT_TYPES = ("Company", "Person")

# BC's Contact (table 5050): the CONTACT mapping synchronises persons of a company with Sales
# contacts. Company No. is the contact of type Company the person works for.
contact = Table(
    "contact",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("type", String(10), nullable=False, server_default="Person"),
    Column("company_no", String(20), nullable=False, server_default=""),
    Column("name", String(100), nullable=False, server_default=""),
    Column("first_name", String(30), nullable=False, server_default=""),
    Column("surname", String(30), nullable=False, server_default=""),
    Column("job_title", String(30), nullable=False, server_default=""),
    Column("e_mail", String(80), nullable=False, server_default=""),
    Column("phone_no", String(30), nullable=False, server_default=""),
    Column("mobile_phone_no", String(30), nullable=False, server_default=""),
    Column("address", String(100), nullable=False, server_default=""),
    Column("city", String(30), nullable=False, server_default=""),
    Column("post_code", String(20), nullable=False, server_default=""),
    Column("country_region_code", String(10), nullable=False, server_default=""),
    Column("currency_code", String(10), nullable=False, server_default=""),
    # The customer this contact's company is linked to (BC's Contact Business Relation).
    Column("customer_no", String(20), nullable=False, server_default=""),
    _system_modified_at(),
    CheckConstraint("type IN ('Company', 'Person')", name="type"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's Salesperson/Purchaser (table 13): coupled to a Sales user (systemuser) through the
# SALESPEOPLE mapping; the Salesperson Code of a record decides its owner in Sales.
salesperson_purchaser = Table(
    "salesperson_purchaser",
    metadata,
    _company(),
    Column("code", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("name", String(50), nullable=False, server_default=""),
    Column("e_mail", String(80), nullable=False, server_default=""),
    Column("phone_no", String(30), nullable=False, server_default=""),
    Column("job_title", String(30), nullable=False, server_default=""),
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

OPPORTUNITY_STATUSES = ("Not Started", "In Progress", "Won", "Lost")

# BC's Opportunity (table 5092). BC calculates Estimated Value, Current Value, Probability % and
# Chances of Success % from the opportunity's entries (sales cycle stages); we keep them as
# fields, set when the opportunity is created or edited.
opportunity = Table(
    "opportunity",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("description", String(100), nullable=False, server_default=""),
    Column("contact_no", String(20), nullable=False, server_default=""),
    # The contact's company (the contact itself for a company): its customer is the Sales account.
    Column("contact_company_no", String(20), nullable=False, server_default=""),
    Column("salesperson_code", String(20), nullable=False, server_default=""),
    Column("status", String(20), nullable=False, server_default="Not Started"),
    Column("closed", Boolean, nullable=False, server_default="0"),
    Column("priority", String(10), nullable=False, server_default="Normal"),
    Column("creation_date", Date, nullable=True),
    Column("date_closed", Date, nullable=True),
    Column("estimated_closing_date", Date, nullable=True),
    Column("estimated_value_lcy", Decimal5, nullable=False, server_default="0"),
    Column("calcd_current_value_lcy", Decimal5, nullable=False, server_default="0"),
    Column("probability_pct", Decimal5, nullable=False, server_default="0"),
    Column("chances_of_success_pct", Decimal5, nullable=False, server_default="0"),
    _system_modified_at(),
    CheckConstraint("status IN ('Not Started', 'In Progress', 'Won', 'Lost')", name="status"),
    CheckConstraint("priority IN ('Low', 'Normal', 'High')", name="priority"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's "CRM Integration Record": which Sales row (CRM ID) is coupled to which BC record.
crm_integration_record = Table(
    "crm_integration_record",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("crm_id", Guid(), nullable=False),
    Column("table_id", Integer, nullable=False),
    Column("integration_id", Guid(), nullable=False),
    Column("coupled_at", UtcDateTime(), nullable=False),
    # BC's synchronisation fields (docs/sync.md): the change times seen at the last successful
    # synchronisation (BC SystemModifiedAt / Dataverse modifiedon; they only move forward), each
    # direction's last result ('', Success, Failure), job and error message, and Skipped.
    Column("last_synch_modified_on", UtcDateTime(), nullable=True),
    Column("last_synch_crm_modified_on", UtcDateTime(), nullable=True),
    # The ETag of the Sales row's version seen then ("" unknown): Sales' times have whole seconds,
    # so a row changed in the second of the last sync is told apart by its version.
    Column("last_synch_crm_etag", String(64), nullable=False, server_default=""),
    Column("last_synch_result", String(10), nullable=False, server_default=""),  # Dataverse -> BC
    Column("last_synch_job_id", Guid(), nullable=True),
    Column("last_synch_error", Text, nullable=False, server_default=""),
    Column("last_synch_crm_result", String(10), nullable=False, server_default=""),  # BC -> Dataverse
    Column("last_synch_crm_job_id", Guid(), nullable=True),
    Column("last_synch_crm_error", Text, nullable=False, server_default=""),
    Column("skipped", Boolean, nullable=False, server_default="0"),
    # A customer's: its account statistics row is in Sales (the Customer Statistics job, 5350).
    Column("statistics_uploaded", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("company", "table_id", "crm_id"),
    UniqueConstraint("company", "table_id", "integration_id"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# Every change that a cache or another process must hear of: gateway processes read it.
change_log = Table(
    "change_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False, server_default=""),
    Column("topic", String(20), nullable=False),
    Column("key", String(50), nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
)

# BC's User table, as far as web service access goes. Global, not per company.
web_service_user = Table(
    "web_service_user",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(50), nullable=False),
    # BC compares user names case-insensitively: the unique key is the upper-cased name.
    Column("user_name_key", String(50), nullable=False, unique=True),
    Column("full_name", String(80), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("roles", String(200), nullable=False, server_default=""),
    Column("key_hash", String(64), nullable=True),
    Column("key_salt", String(32), nullable=True),
    Column("key_created_at", UtcDateTime(), nullable=True),
    Column("key_expires_at", UtcDateTime(), nullable=True),
    Column("previous_key_hash", String(64), nullable=True),
    Column("previous_key_salt", String(32), nullable=True),
    Column("previous_key_valid_until", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# BC's "CRM Connection Setup" (one record) and the log of every change to it.
connection_setup = Table(
    "connection_setup",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sales_url", String(250), nullable=False, server_default=""),
    Column("item_availability_enabled", Boolean, nullable=False, server_default="0"),
    Column("odata_url", String(250), nullable=False, server_default=""),
    Column("odata_username", String(50), nullable=False, server_default=""),
    Column("sales_order_integration_enabled", Boolean, nullable=False, server_default="0"),
    Column("auto_create_sales_orders", Boolean, nullable=False, server_default="0"),
    Column("auto_process_sales_quotes", Boolean, nullable=False, server_default="0"),
    Column("sdk_version", String(30), nullable=False, server_default=""),
    Column("webhook_auth_mode", String(10), nullable=False, server_default="header"),
    Column("webhook_header_name", String(100), nullable=False, server_default="x-bcgw-key"),
    Column("webhook_secret_hash", String(64), nullable=True),
    Column("webhook_secret_salt", String(32), nullable=True),
    Column("dataverse_url", String(250), nullable=False, server_default=""),
    Column("dataverse_token_url", String(250), nullable=False, server_default=""),
    Column("dataverse_client_id", String(100), nullable=False, server_default=""),
    # The client secret must be sent to the token endpoint, so it cannot be only a hash: it is
    # stored encrypted (info "secret": schemas/setup_store.py, schemas/secrets.py).
    Column("dataverse_client_secret", Text, nullable=False, server_default="", info={"secret": True}),
    # The link to a real Business Central (docs/bc-link.md): "embedded" keeps BC's records in
    # these tables; "api" makes a real BC, read through its API v2.0, the system of record.
    Column("bc_mode", String(10), nullable=False, server_default="embedded"),
    Column("bc_api_url", String(250), nullable=False, server_default=""),
    Column("bc_company", String(50), nullable=False, server_default=""),
    Column("bc_auth", String(10), nullable=False, server_default="oauth"),
    Column("bc_token_url", String(250), nullable=False, server_default=""),
    Column("bc_client_id", String(100), nullable=False, server_default=""),
    Column("bc_client_secret", Text, nullable=False, server_default="", info={"secret": True}),
    Column("bc_scope", String(250), nullable=False, server_default=""),
    Column("bc_user", String(80), nullable=False, server_default=""),
    Column("bc_access_key", Text, nullable=False, server_default="", info={"secret": True}),
    Column("bc_odata_url", String(250), nullable=False, server_default=""),
    # Service names of the BC pages published as OData web services ("" = not published).
    Column("bc_ledger_entries_service", String(240), nullable=False, server_default=""),
    Column("bc_item_units_service", String(240), nullable=False, server_default=""),
    Column("bc_resources_service", String(240), nullable=False, server_default=""),
    # Notes on the Sales order or quote when BC's rules refuse it, and when it later succeeds.
    Column("error_notes", Boolean, nullable=False, server_default="1"),
    CheckConstraint("id = 1", name="single_row"),
    CheckConstraint("webhook_auth_mode IN ('header', 'code')", name="webhook_auth_mode"),
    CheckConstraint("bc_mode IN ('embedded', 'api')", name="bc_mode"),
    CheckConstraint("bc_auth IN ('oauth', 'basic')", name="bc_auth"),
)

setup_change = Table(
    "setup_change",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changed_by", String(50), nullable=False),
    Column("field", String(50), nullable=False),
    Column("old_value", Text, nullable=False),
    Column("new_value", Text, nullable=False),
)

# --- Sales documents (BC's Sales Header / Sales Line), number series, and their setup --------

DOCUMENT_TYPES = ("Quote", "Order")
LINE_TYPES = ("", "G/L Account", "Item", "Resource")


ADDRESS_PARTS = ("name", "address", "address_2", "city", "county", "post_code", "country_region_code", "contact")


def _address(prefix: str) -> list[Column[str]]:
    return [
        Column(f"{prefix}_name", String(100), nullable=False, server_default=""),
        Column(f"{prefix}_address", String(100), nullable=False, server_default=""),
        Column(f"{prefix}_address_2", String(50), nullable=False, server_default=""),
        Column(f"{prefix}_city", String(30), nullable=False, server_default=""),
        Column(f"{prefix}_county", String(30), nullable=False, server_default=""),
        Column(f"{prefix}_post_code", String(20), nullable=False, server_default=""),
        Column(f"{prefix}_country_region_code", String(10), nullable=False, server_default=""),
        Column(f"{prefix}_contact", String(100), nullable=False, server_default=""),
    ]


# BC's "Sales & Receivables Setup", the parts order processing needs. Per company, as in BC.
sales_setup = Table(
    "sales_setup",
    metadata,
    _company(),
    Column("write_in_product_type", String(10), nullable=False, server_default=""),
    Column("write_in_product_no", String(20), nullable=False, server_default=""),
    Column("local_currency_code", String(10), nullable=False, server_default=""),
    Column("freight_gl_account", String(20), nullable=False, server_default=""),
    # Option mappings (Sales option value -> BC code), as JSON objects (schemas/setup_store.py).
    Column("payment_terms_map", Text, nullable=False, server_default="{}", info={"json_object": True}),
    Column("shipping_agent_map", Text, nullable=False, server_default="{}", info={"json_object": True}),
    Column("shipment_method_map", Text, nullable=False, server_default="{}", info={"json_object": True}),
    CheckConstraint("write_in_product_type IN ('', 'Item', 'Resource')", name="write_in_type"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's "No. Series Line": the last number used of a series (SO000001, SQ000001, ...).
no_series = Table(
    "no_series",
    metadata,
    _company(),
    Column("code", String(20), primary_key=True),
    Column("starting_no", String(20), nullable=False),
    Column("last_no_used", String(20), nullable=False, server_default=""),
    ForeignKeyConstraint(["company"], ["company.name"]),
)


def _header_fields() -> list[Column[Any]]:
    """The Sales Header's fields after its key; the archive keeps the same ones."""
    return [
        Column("system_id", Guid(), nullable=False),
        Column("status", String(10), nullable=False, server_default="Open"),
        Column("sell_to_customer_no", String(20), nullable=False),
        Column("order_date", Date, nullable=False),
        Column("your_reference", String(35), nullable=False, server_default=""),
        Column("external_document_no", String(35), nullable=False, server_default=""),
        Column("work_description", Text, nullable=False, server_default=""),
        Column("currency_code", String(10), nullable=False, server_default=""),
        Column("requested_delivery_date", Date, nullable=True),
        Column("quote_valid_until_date", Date, nullable=True),
        Column("payment_discount_pct", Decimal5, nullable=False, server_default="0"),
        Column("invoice_discount_amount", Decimal5, nullable=False, server_default="0"),
        # BC's Amount / Amount Including VAT (after the invoice discount); in api mode as BC answered.
        Column("amount", Decimal5, nullable=False, server_default="0"),
        Column("amount_including_vat", Decimal5, nullable=False, server_default="0"),
        Column("payment_terms_code", String(10), nullable=False, server_default=""),
        Column("shipment_method_code", String(10), nullable=False, server_default=""),
        Column("shipping_agent_code", String(10), nullable=False, server_default=""),
        *_address("bill_to"),
        *_address("ship_to"),
        Column("quote_no", String(20), nullable=False, server_default=""),
        # The last posted shipment and invoice made from the document (BC's "Last Shipping No.",
        # "Last Posting No.").
        Column("last_shipping_no", String(20), nullable=False, server_default=""),
        Column("last_posting_no", String(20), nullable=False, server_default=""),
        # The Sales row this document came from, and (quotes) its revision.
        Column("sales_id", Guid(), nullable=True),
        Column("sales_revision", Integer, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
    ]


sales_header = Table(
    "sales_header",
    metadata,
    _company(),
    Column("document_type", String(10), primary_key=True),
    Column("no", String(20), primary_key=True),
    *_header_fields(),
    UniqueConstraint("system_id"),
    CheckConstraint("document_type IN ('Quote', 'Order')", name="document_type"),
    CheckConstraint("status IN ('Open', 'Released')", name="status"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)


def _line_fields() -> list[Column[Any]]:
    """The Sales Line's fields after its key; the archive keeps the same ones."""
    return [
        Column("type", String(20), nullable=False, server_default=""),
        Column("no", String(20), nullable=False, server_default=""),
        Column("description", String(100), nullable=False, server_default=""),
        Column("location_code", String(10), nullable=False, server_default=""),
        Column("quantity", Decimal5, nullable=False, server_default="0"),
        Column("unit_of_measure_code", String(10), nullable=False, server_default=""),
        Column("qty_per_unit_of_measure", Decimal5, nullable=False, server_default="1"),
        Column("quantity_base", Decimal5, nullable=False, server_default="0"),
        Column("outstanding_qty_base", Decimal5, nullable=False, server_default="0"),
        # BC's posting fields (codeunit 80 "Sales-Post"), in the line's unit of measure; the base
        # quantities follow from Qty. per Unit of Measure. A new order line has Outstanding Quantity,
        # Qty. to Ship and Qty. to Invoice = Quantity (BC's InitOutstanding / InitQtyToShip).
        Column("outstanding_quantity", Decimal5, nullable=False, server_default="0"),
        Column("qty_to_ship", Decimal5, nullable=False, server_default="0"),
        Column("quantity_shipped", Decimal5, nullable=False, server_default="0"),
        Column("qty_to_invoice", Decimal5, nullable=False, server_default="0"),
        Column("quantity_invoiced", Decimal5, nullable=False, server_default="0"),
        Column("unit_price", Decimal5, nullable=False, server_default="0"),
        Column("line_discount_amount", Decimal5, nullable=False, server_default="0"),
        Column("amount", Decimal5, nullable=False, server_default="0"),
        Column("attached_to_line_no", Integer, nullable=False, server_default="0"),
        Column("sales_line_id", Guid(), nullable=True),
    ]


sales_line = Table(
    "sales_line",
    metadata,
    _company(),
    Column("document_type", String(10), primary_key=True),
    Column("document_no", String(20), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    *_line_fields(),
    CheckConstraint("type IN ('', 'G/L Account', 'Item', 'Resource')", name="type"),
    ForeignKeyConstraint(
        ["company", "document_type", "document_no"],
        ["sales_header.company", "sales_header.document_type", "sales_header.no"],
        ondelete="CASCADE",
    ),
    Index(None, "company", "type", "no"),
)

# Notes on a document: BC's "Record Link" (table 2000000068) of type Note, on a Sales Header.
# BC's fields: Link ID = ``id``; Record ID = the header (``document_type``, ``document_no``; shown
# as "Sales Header: Order,SO000001" by schemas/record_link_store.py); URL1; Description; Type;
# Created = ``created_at``; User ID; Company; Notify; To User ID; Note = ``note`` (plain text).
# ``sales_note_id``: the Sales annotation the note was copied from (the order's conversion, or the
# notes job); a note written in BC has none. (URL1 .. To User ID: migration 0015.)
sales_note = Table(
    "sales_note",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("document_type", String(10), nullable=False),
    Column("document_no", String(20), nullable=False),
    Column("description", String(250), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("sales_note_id", Guid(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("url1", String(2048), nullable=False, server_default=""),
    Column("type", String(10), nullable=False, server_default="Note"),
    Column("user_id", String(50), nullable=False, server_default=""),
    Column("notify", Boolean, nullable=False, server_default="0"),
    Column("to_user_id", String(50), nullable=False, server_default=""),
    ForeignKeyConstraint(
        ["company", "document_type", "document_no"],
        ["sales_header.company", "sales_header.document_type", "sales_header.no"],
        ondelete="CASCADE",
    ),
)

# --- The order inbox: every Sales event we must act on, exactly once -------------------------

INBOX_STATES = ("received", "processing", "created", "ignored", "waiting", "failed")
WRITEBACK_STATES = ("", "pending", "done", "failed")

order_inbox = Table(
    "order_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("table_name", String(20), nullable=False),  # salesorder | quote
    Column("sales_id", Guid(), nullable=False),
    Column("event", String(10), nullable=False),  # submit | activate | win | check
    # The quote revision the event is about; -1 when none (a key part must not be NULL).
    Column("revision", Integer, nullable=False, server_default="-1"),
    Column("state", String(12), nullable=False, server_default="received"),
    Column("source", String(10), nullable=False, server_default="webhook"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    # Why a failed row failed: "rule" (BC's message; waits for a person) or "transient".
    Column("failure", String(10), nullable=False, server_default=""),
    # A delivery arrived while the row was being processed: look again when it is done.
    Column("redelivered", Boolean, nullable=False, server_default="0"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("last_delivery_at", UtcDateTime(), nullable=True),
    Column("deliveries", Integer, nullable=False, server_default="0"),
    Column("processed_at", UtcDateTime(), nullable=True),
    Column("document_type", String(10), nullable=False, server_default=""),
    Column("document_no", String(20), nullable=False, server_default=""),
    Column("writeback_state", String(10), nullable=False, server_default=""),
    Column("writeback_attempts", Integer, nullable=False, server_default="0"),
    Column("writeback_next_at", UtcDateTime(), nullable=True),
    Column("writeback_error", Text, nullable=False, server_default=""),
    # The Sales order or quote number (ordernumber / quotenumber), once a delivery or a read told it.
    Column("sales_number", String(100), nullable=False, server_default=""),
    # A person set the row aside (`orders ignore`): who, when, why. Such a row is processed again
    # only by a person's retry or create, never by a delivery or reconciliation.
    Column("ignored_by", String(50), nullable=False, server_default=""),
    Column("ignored_at", UtcDateTime(), nullable=True),
    Column("ignored_reason", Text, nullable=False, server_default=""),
    # BC's API (api mode): our key in the document's externalDocumentNumber, recorded before the
    # POST; when the last POST of unknown outcome was sent; BC's id for the document once known.
    Column("bc_key", String(35), nullable=False, server_default=""),
    Column("bc_posted_at", UtcDateTime(), nullable=True),
    Column("bc_document_id", Guid(), nullable=True),
    # Notes owed to the Sales record (orders/error_notes.py): "failure" (BC's message, waiting for a
    # person), "success" (the BC document it became), "both"; "" none. `note_error`: the failure
    # last noted on the row (a note's annotation id follows from it: sent twice, still one note).
    Column("note_pending", String(10), nullable=False, server_default=""),
    Column("note_error", Text, nullable=False, server_default=""),
    Column("note_attempts", Integer, nullable=False, server_default="0"),
    Column("note_next_at", UtcDateTime(), nullable=True),
    UniqueConstraint("company", "table_name", "sales_id", "event", "revision"),
    CheckConstraint("state IN ('received', 'processing', 'created', 'ignored', 'waiting', 'failed')", name="state"),
    Index(None, "state", "next_attempt_at"),
    Index(None, "writeback_state", "writeback_next_at"),
    Index(None, "company", "bc_key"),
    # Ids are never reused (SQLite would reuse a deleted row's): the delivery log and the action
    # log name rows by id after a discard or a prune removed them.
    sqlite_autoincrement=True,
)

# A person's ignore or discard of an inbox row: who, when, why, and what the row was. Kept when a
# discarded row itself is gone (no foreign key, on purpose).
INBOX_ACTIONS = ("ignore", "discard")

inbox_action = Table(
    "inbox_action",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("inbox_id", Integer, nullable=False),
    Column("table_name", String(20), nullable=False),
    Column("sales_id", Guid(), nullable=False),
    Column("sales_number", String(100), nullable=False, server_default=""),
    Column("event", String(10), nullable=False),
    Column("state_before", String(12), nullable=False),
    Column("action", String(10), nullable=False),
    Column("acted_by", String(50), nullable=False),
    Column("acted_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    CheckConstraint("action IN ('ignore', 'discard')", name="action"),
    Index(None, "company", "table_name", "sales_id"),
)

# Every delivery, kept as it came (the inbox row above is what it collapsed onto).
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("inbox_id", Integer, nullable=True),
    Column("outcome", String(10), nullable=False),  # queued | duplicate | ignored
    Column("reason", String(250), nullable=False, server_default=""),
    Column("table_name", String(64), nullable=False, server_default=""),
    Column("sales_id", String(36), nullable=False, server_default=""),
    Column("message_name", String(64), nullable=False, server_default=""),
    Column("event", String(10), nullable=False, server_default=""),
    Column("correlation_id", String(64), nullable=False, server_default=""),
    Column("operation_id", String(64), nullable=False, server_default=""),
    Column("organization", String(250), nullable=False, server_default=""),
    Column("size_exceeded", Boolean, nullable=False, server_default="0"),
    Column("body", Text, nullable=False, server_default=""),
    Index(None, "inbox_id"),
)

# --- Quote archives ("Sales Header Archive" and its lines and notes) and won quotes -----------

sales_header_archive = Table(
    "sales_header_archive",
    metadata,
    _company(),
    Column("document_type", String(10), primary_key=True),
    Column("no", String(20), primary_key=True),
    Column("version_no", Integer, primary_key=True),
    *_header_fields(),
    Column("archived_at", UtcDateTime(), nullable=False),
    Column("archived_by", String(50), nullable=False, server_default=""),
    Column("reason", String(100), nullable=False, server_default=""),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

sales_line_archive = Table(
    "sales_line_archive",
    metadata,
    _company(),
    Column("document_type", String(10), primary_key=True),
    Column("document_no", String(20), primary_key=True),
    Column("version_no", Integer, primary_key=True),
    Column("line_no", Integer, primary_key=True),
    *_line_fields(),
    ForeignKeyConstraint(
        ["company", "document_type", "document_no", "version_no"],
        [
            "sales_header_archive.company",
            "sales_header_archive.document_type",
            "sales_header_archive.no",
            "sales_header_archive.version_no",
        ],
        ondelete="CASCADE",
    ),
)

sales_note_archive = Table(
    "sales_note_archive",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("document_type", String(10), nullable=False),
    Column("document_no", String(20), nullable=False),
    Column("version_no", Integer, nullable=False),
    Column("description", String(250), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("sales_note_id", Guid(), nullable=True),
    ForeignKeyConstraint(
        ["company", "document_type", "document_no", "version_no"],
        [
            "sales_header_archive.company",
            "sales_header_archive.document_type",
            "sales_header_archive.no",
            "sales_header_archive.version_no",
        ],
        ondelete="CASCADE",
    ),
)

# A won Sales quote, once handled (BC records it as a coupling with a blank Integration ID).
quote_win = Table(
    "quote_win",
    metadata,
    _company(),
    Column("quote_id", Guid(), primary_key=True),
    Column("quote_no", String(20), nullable=False, server_default=""),
    Column("order_no", String(20), nullable=False, server_default=""),
    Column("processed_at", UtcDateTime(), nullable=False),
    ForeignKeyConstraint(["company"], ["company.name"]),
)


# --- Posted sales invoices ("Sales Invoice Header" / "Sales Invoice Line", tables 112 / 113) ----

TABLE_SALES_INVOICE_HEADER = 112

sales_invoice_header = Table(
    "sales_invoice_header",
    metadata,
    _company(),
    Column("no", String(20), primary_key=True),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("order_no", String(20), nullable=False, server_default=""),
    Column("sell_to_customer_no", String(20), nullable=False),
    Column("bill_to_customer_no", String(20), nullable=False, server_default=""),
    Column("posting_date", Date, nullable=False),
    Column("document_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("shipment_date", Date, nullable=True),
    Column("order_date", Date, nullable=True),
    Column("your_reference", String(35), nullable=False, server_default=""),
    Column("external_document_no", String(35), nullable=False, server_default=""),
    Column("work_description", Text, nullable=False, server_default=""),
    Column("currency_code", String(10), nullable=False, server_default=""),
    Column("payment_terms_code", String(10), nullable=False, server_default=""),
    Column("shipment_method_code", String(10), nullable=False, server_default=""),
    Column("shipping_agent_code", String(10), nullable=False, server_default=""),
    Column("payment_discount_pct", Decimal5, nullable=False, server_default="0"),
    Column("invoice_discount_amount", Decimal5, nullable=False, server_default="0"),
    Column("amount", Decimal5, nullable=False, server_default="0"),
    Column("amount_including_vat", Decimal5, nullable=False, server_default="0"),
    *_address("bill_to"),
    *_address("ship_to"),
    Column("quote_no", String(20), nullable=False, server_default=""),
    # The Sales order the BC order came from (kept after the order and its coupling are gone).
    Column("sales_id", Guid(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # BC's SystemModifiedAt: POSTEDSALESINV-INV's BC-side mark follows it.
    _system_modified_at(),
    ForeignKeyConstraint(["company"], ["company.name"]),
    Index(None, "company", "order_no"),
    Index(None, "company", "sales_id"),
)

sales_invoice_line = Table(
    "sales_invoice_line",
    metadata,
    _company(),
    Column("document_no", String(20), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("type", String(20), nullable=False, server_default=""),
    Column("no", String(20), nullable=False, server_default=""),
    Column("description", String(100), nullable=False, server_default=""),
    Column("location_code", String(10), nullable=False, server_default=""),
    Column("quantity", Decimal5, nullable=False, server_default="0"),
    Column("unit_of_measure_code", String(10), nullable=False, server_default=""),
    Column("qty_per_unit_of_measure", Decimal5, nullable=False, server_default="1"),
    Column("quantity_base", Decimal5, nullable=False, server_default="0"),
    Column("unit_price", Decimal5, nullable=False, server_default="0"),
    Column("line_discount_amount", Decimal5, nullable=False, server_default="0"),
    Column("inv_discount_amount", Decimal5, nullable=False, server_default="0"),
    # BC's Amount: Line Amount less Inv. Discount Amount; no VAT is computed here (= Amount Incl.).
    Column("amount", Decimal5, nullable=False, server_default="0"),
    Column("amount_including_vat", Decimal5, nullable=False, server_default="0"),
    Column("attached_to_line_no", Integer, nullable=False, server_default="0"),
    Column("order_no", String(20), nullable=False, server_default=""),
    Column("order_line_no", Integer, nullable=False, server_default="0"),
    Column("shipment_no", String(20), nullable=False, server_default=""),
    ForeignKeyConstraint(
        ["company", "document_no"],
        ["sales_invoice_header.company", "sales_invoice_header.no"],
        ondelete="CASCADE",
    ),
    Index(None, "company", "order_no", "order_line_no"),
)


# --- Customer ledger ("Cust. Ledger Entry" 21, "Detailed Cust. Ledg. Entry" 379) ---------------

CUST_LEDGER_DOCUMENT_TYPES = ("", "Payment", "Invoice", "Credit Memo", "Finance Charge Memo", "Reminder", "Refund")
DETAILED_ENTRY_TYPES = ("Initial Entry", "Application")

# One entry per posted invoice, payment, ...; what is still open of it (Remaining Amount) and the
# Balance are FlowFields over the detailed entries, as in BC: never stored, always summed.
cust_ledger_entry = Table(
    "cust_ledger_entry",
    metadata,
    Column("entry_no", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("system_id", Guid(), nullable=False, unique=True),
    Column("customer_no", String(20), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("document_type", String(20), nullable=False, server_default=""),
    Column("document_no", String(20), nullable=False, server_default=""),
    Column("description", String(100), nullable=False, server_default=""),
    Column("currency_code", String(10), nullable=False, server_default=""),
    # Amount / Amount (LCY) are FlowFields in BC too (the Initial Entry); kept here as posted.
    Column("amount", Decimal5, nullable=False, server_default="0"),
    Column("amount_lcy", Decimal5, nullable=False, server_default="0"),
    Column("sales_lcy", Decimal5, nullable=False, server_default="0"),  # BC's Sales (LCY): excl. VAT
    Column("due_date", Date, nullable=True),
    Column("open", Boolean, nullable=False, server_default="1"),
    Column("closed_by_entry_no", Integer, nullable=False, server_default="0"),
    Column("closed_at_date", Date, nullable=True),
    _system_modified_at(),
    CheckConstraint(
        "document_type IN ('', 'Payment', 'Invoice', 'Credit Memo', 'Finance Charge Memo', 'Reminder', 'Refund')",
        name="document_type",
    ),
    ForeignKeyConstraint(["company", "customer_no"], ["customer.company", "customer.no"]),
    Index(None, "company", "customer_no", "open"),
    Index(None, "company", "document_type", "document_no"),
    Index(None, "system_modified_at"),
)

detailed_cust_ledg_entry = Table(
    "detailed_cust_ledg_entry",
    metadata,
    Column("entry_no", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("cust_ledger_entry_no", Integer, nullable=False),
    Column("entry_type", String(20), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("document_type", String(20), nullable=False, server_default=""),
    Column("document_no", String(20), nullable=False, server_default=""),
    Column("customer_no", String(20), nullable=False),
    Column("amount", Decimal5, nullable=False),
    Column("amount_lcy", Decimal5, nullable=False),
    # The ledger entry's due date, copied as BC's "Initial Entry Due Date" (overdue amounts use it).
    Column("initial_entry_due_date", Date, nullable=True),
    # The other entry of an application (the payment applied to an invoice, and back).
    Column("applied_cust_ledger_entry_no", Integer, nullable=False, server_default="0"),
    CheckConstraint("entry_type IN ('Initial Entry', 'Application')", name="entry_type"),
    ForeignKeyConstraint(["cust_ledger_entry_no"], ["cust_ledger_entry.entry_no"]),
    Index(None, "company", "customer_no"),
    Index(None, "cust_ledger_entry_no"),
)


# --- The mirror of a real BC (api mode; orders/bc_link/mirror/) -------------------------------

MIRROR_PHASES = ("new", "loading", "ready")

# One row per mirrored entity (items, customers, ..., ledger): where its initial load stands, the
# watermarks that keep it fresh, and how its last attempts went.
bc_mirror_state = Table(
    "bc_mirror_state",
    metadata,
    _company(),
    Column("entity", String(40), primary_key=True),
    Column("phase", String(10), nullable=False, server_default="new"),
    # What was loaded from: BC's API root, company and (ledger) source; another source reloads.
    Column("source", String(600), nullable=False, server_default=""),
    Column("resume_link", Text, nullable=True),  # the initial load's next page (BC's nextLink)
    Column("watermark", UtcDateTime(), nullable=True),  # highest lastModifiedDateTime applied
    Column("last_entry_no", Integer, nullable=False, server_default="0"),  # ledger: highest Entry No.
    Column("rows", Integer, nullable=False, server_default="0"),
    Column("loaded", Integer, nullable=False, server_default="0"),
    Column("load_started_at", UtcDateTime(), nullable=True),
    Column("load_finished_at", UtcDateTime(), nullable=True),
    Column("last_success_at", UtcDateTime(), nullable=True),
    Column("last_change_at", UtcDateTime(), nullable=True),
    Column("last_failure_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_reconciled_at", UtcDateTime(), nullable=True),
    Column("drift", Text, nullable=False, server_default=""),  # the last reconciliation's report (JSON)
    CheckConstraint("phase IN ('new', 'loading', 'ready')", name="phase"),
)

# Which process runs the mirror of a company (several gateway processes: one mirror).
bc_mirror_owner = Table(
    "bc_mirror_owner",
    metadata,
    Column("company", String(30), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=False),
)

# BC webhook subscriptions we made (bc-api.md §6); clientState kept as a salted hash.
bc_subscription = Table(
    "bc_subscription",
    metadata,
    _company(),
    Column("entity_set", String(40), primary_key=True),
    Column("subscription_id", String(64), nullable=False, server_default=""),
    Column("resource", String(300), nullable=False, server_default=""),
    Column("notification_url", String(500), nullable=False, server_default=""),
    Column("client_state_hash", String(64), nullable=False, server_default=""),
    Column("client_state_salt", String(32), nullable=False, server_default=""),
    Column("etag", String(200), nullable=False, server_default=""),
    Column("status", String(12), nullable=False, server_default="active"),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=True),
    Column("renewed_at", UtcDateTime(), nullable=True),
    Column("recreated", Integer, nullable=False, server_default="0"),
    Column("last_notified_at", UtcDateTime(), nullable=True),
    Column("next_try_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Index(None, "subscription_id"),
    CheckConstraint("status IN ('active', 'failed')", name="status"),
)

# Notifications received, waiting for the mirror (the receiver answers BC at once).
bc_notification = Table(
    "bc_notification",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("entity_set", String(40), nullable=False),
    Column("change_type", String(12), nullable=False),
    Column("entity_id", String(36), nullable=True),
    Column("since", UtcDateTime(), nullable=True),  # a collection notification's lastModifiedDateTime gt
    Column("received_at", UtcDateTime(), nullable=False),
    Index(None, "company", "id"),
)


# --- Synchronisation with Dynamics 365 Sales (orders/sync/, docs/sync.md) ---------------------

SYNCH_DIRECTIONS = ("Bidirectional", "ToIntegrationTable", "FromIntegrationTable")
DELETION_CONFLICT_RESOLUTIONS = ("None", "Restore Records", "Remove Coupling")
UPDATE_CONFLICT_RESOLUTIONS = ("None", "Send Update to Integration", "Get Update from Integration")
SYNCH_JOB_TYPES = ("Synchronization", "Uncoupling", "Coupling")
JOB_QUEUE_STATUSES = ("Ready", "In Process", "Error", "On Hold", "On Hold with Inactivity Timeout", "Finished")

# BC's "Integration Table Mapping": one row per job (ITEM-PRODUCT, CUSTOMER, ...), with its two
# high-water marks. The names of the marks are BC's (they look swapped; this is how BC uses them).
integration_table_mapping = Table(
    "integration_table_mapping",
    metadata,
    _company(),
    Column("name", String(50), primary_key=True),
    Column("table_id", Integer, nullable=False),
    Column("integration_table", String(64), nullable=False),  # the Dataverse table's logical name
    Column("direction", String(20), nullable=False, server_default="ToIntegrationTable"),
    Column("table_filter", Text, nullable=False, server_default=""),
    Column("integration_table_filter", Text, nullable=False, server_default=""),
    Column("synch_only_coupled_records", Boolean, nullable=False, server_default="1"),
    # High-water mark of Dataverse modifiedon (the Dataverse -> BC pass).
    Column("synch_modified_on_filter", UtcDateTime(), nullable=True),
    # High-water mark of BC SystemModifiedAt (the BC -> Dataverse pass).
    Column("synch_int_tbl_mod_on_fltr", UtcDateTime(), nullable=True),
    Column("dependency_filter", String(250), nullable=False, server_default=""),
    Column("deletion_conflict_resolution", String(20), nullable=False, server_default="None"),
    Column("update_conflict_resolution", String(30), nullable=False, server_default="None"),
    Column("create_new_in_case_of_no_match", Boolean, nullable=False, server_default="0"),
    Column("synch_after_bulk_coupling", Boolean, nullable=False, server_default="0"),
    Column("disable_event_job_resch", Boolean, nullable=False, server_default="0"),
    Column("parent_name", String(50), nullable=False, server_default=""),
    Column("delete_after_synchronization", Boolean, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False, server_default="Enabled"),
    CheckConstraint("direction IN ('Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable')", name="direction"),
    CheckConstraint(
        "deletion_conflict_resolution IN ('None', 'Restore Records', 'Remove Coupling')", name="deletion_conflict"
    ),
    CheckConstraint(
        "update_conflict_resolution IN ('None', 'Send Update to Integration', 'Get Update from Integration')",
        name="update_conflict",
    ),
    CheckConstraint("status IN ('Enabled', 'Disabled')", name="status"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's "Integration Field Mapping": the field pairs of a mapping. field_name is our column of the
# BC table ("" for a constant); lookup_mapping names the mapping whose couplings translate a BC
# code into a Dataverse id and back; transformation_rule names a rule of orders/sync/transform.py.
integration_field_mapping = Table(
    "integration_field_mapping",
    metadata,
    _company(),
    Column("mapping_name", String(50), primary_key=True),
    Column("no", Integer, primary_key=True),
    Column("field_name", String(50), nullable=False, server_default=""),
    Column("integration_table_field", String(100), nullable=False),
    Column("direction", String(20), nullable=False, server_default="ToIntegrationTable"),
    Column("constant_value", String(250), nullable=False, server_default=""),
    Column("lookup_mapping", String(50), nullable=False, server_default=""),
    Column("transformation_rule", String(50), nullable=False, server_default=""),
    Column("validate_field", Boolean, nullable=False, server_default="0"),
    Column("validate_integration_table_fld", Boolean, nullable=False, server_default="0"),
    Column("not_null", Boolean, nullable=False, server_default="0"),
    Column("clear_value_on_failed_sync", Boolean, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False, server_default="Enabled"),
    Column("use_for_match_based_coupling", Boolean, nullable=False, server_default="0"),
    Column("case_sensitive_matching", Boolean, nullable=False, server_default="0"),
    Column("match_priority", Integer, nullable=False, server_default="0"),
    CheckConstraint("direction IN ('Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable')", name="direction"),
    CheckConstraint("status IN ('Enabled', 'Disabled')", name="status"),
    ForeignKeyConstraint(
        ["company", "mapping_name"],
        ["integration_table_mapping.company", "integration_table_mapping.name"],
        ondelete="CASCADE",
    ),
)

# BC's "Integration Synch. Job": one row per pass of a mapping (or per codeunit job), its counters.
integration_synch_job = Table(
    "integration_synch_job",
    metadata,
    Column("id", Guid(), primary_key=True),
    Column("company", String(30), nullable=False),
    Column("start_date_time", UtcDateTime(), nullable=False),
    Column("finish_date_time", UtcDateTime(), nullable=True),
    Column("message", String(250), nullable=False, server_default=""),
    Column("integration_table_mapping_name", String(50), nullable=False, server_default=""),
    Column("synch_direction", String(20), nullable=False, server_default=""),
    Column("type", String(15), nullable=False, server_default="Synchronization"),
    Column("job_queue_entry_id", Guid(), nullable=True),
    Column("inserted", Integer, nullable=False, server_default="0"),
    Column("modified", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("skipped", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("deleted", Integer, nullable=False, server_default="0"),
    Column("coupled", Integer, nullable=False, server_default="0"),
    Column("uncoupled", Integer, nullable=False, server_default="0"),
    CheckConstraint("type IN ('Synchronization', 'Uncoupling', 'Coupling')", name="type"),
    Index(None, "company", "start_date_time"),
    Index(None, "company", "integration_table_mapping_name"),
)

# BC's "Integration Synch. Job Errors": one row per failed record. Deleting a job deletes its errors.
integration_synch_job_errors = Table(
    "integration_synch_job_errors",
    metadata,
    Column("no", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("integration_synch_job_id", Guid(), nullable=False),
    Column("source_record_id", String(250), nullable=False, server_default=""),
    Column("destination_record_id", String(250), nullable=False, server_default=""),
    Column("message", String(250), nullable=False, server_default=""),
    Column("error_message", Text, nullable=False, server_default=""),
    Column("date_time", UtcDateTime(), nullable=False),
    Column("exception_detail", Text, nullable=False, server_default=""),
    ForeignKeyConstraint(["integration_synch_job_id"], ["integration_synch_job.id"], ondelete="CASCADE"),
    Index(None, "integration_synch_job_id"),
    Index(None, "company", "date_time"),
    sqlite_autoincrement=True,
)

# BC's "Job Queue Entry" for the synchronisation jobs: codeunit 5339 (Integration Synch. Job
# Runner) with the mapping's name as the record to process, or 5356 (CRM Item Availability Job).
# The lease (lease_owner / lease_until) is the lock: an entry is claimed by one conditional UPDATE,
# so that of several workers on one PostgreSQL database only one runs a job at a time.
job_queue_entry = Table(
    "job_queue_entry",
    metadata,
    Column("id", Guid(), primary_key=True),
    Column("company", String(30), nullable=False),
    Column("object_id_to_run", Integer, nullable=False),
    Column("record_id_to_process", String(50), nullable=False, server_default=""),  # the mapping's name
    Column("description", String(250), nullable=False, server_default=""),
    Column("job_queue_category_code", String(10), nullable=False, server_default=""),
    Column("status", String(40), nullable=False, server_default="Ready"),
    Column("recurring_job", Boolean, nullable=False, server_default="1"),
    Column("no_of_minutes_between_runs", Integer, nullable=False, server_default="30"),
    Column("inactivity_timeout_period", Integer, nullable=False, server_default="0"),  # minutes
    Column("earliest_start_date_time", UtcDateTime(), nullable=True),  # the next run
    Column("maximum_no_of_attempts_to_run", Integer, nullable=False, server_default="10"),
    Column("no_of_attempts_to_run", Integer, nullable=False, server_default="0"),
    Column("rerun_delay_sec", Integer, nullable=False, server_default="30"),
    Column("last_started_at", UtcDateTime(), nullable=True),
    Column("last_finished_at", UtcDateTime(), nullable=True),
    # When Sales was last asked ($top=1) whether anything changed there.
    Column("last_sales_poll_at", UtcDateTime(), nullable=True),
    Column("error_message", Text, nullable=False, server_default=""),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    UniqueConstraint("company", "object_id_to_run", "record_id_to_process"),
    CheckConstraint(
        "status IN ('Ready', 'In Process', 'Error', 'On Hold', 'On Hold with Inactivity Timeout', 'Finished')",
        name="status",
    ),
    Index(None, "earliest_start_date_time"),
)

# BC's "CRM Synch Status" (per company): the item availability job's time; the Customer
# Statistics job's time and the last detailed customer ledger entry whose invoice payment status
# it has sent ("Cust. Statistics Synch. Time", "Last Update Invoice Entry No."); and the Sales Order
# Notes job's marks (ours, migration 0015; BC derives them from its couplings): the largest
# ``createdon`` / ``modifiedon`` of the annotations its Sales -> BC passes have read.
crm_synch_status = Table(
    "crm_synch_status",
    metadata,
    Column("company", String(30), primary_key=True),
    Column("item_availability_synch_time", UtcDateTime(), nullable=True),
    Column("cust_statistics_synch_time", UtcDateTime(), nullable=True),
    Column("last_update_invoice_entry_no", Integer, nullable=False, server_default="0"),
    Column("notes_created_after", UtcDateTime(), nullable=True),
    Column("notes_modified_after", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

# BC's "CRM Annotation Coupling" (bc-sync.md §11): a BC note (Record Link) coupled to a Sales
# annotation; each is coupled once. ``crm_created_on`` / ``crm_modified_on``: the annotation's
# times when it was last synchronised. Dropped with its note.
crm_annotation_coupling = Table(
    "crm_annotation_coupling",
    metadata,
    Column("record_link_id", Integer, primary_key=True, autoincrement=False),
    Column("company", String(30), nullable=False),
    Column("crm_annotation_id", Guid(), nullable=False),
    Column("last_synch_date_time", UtcDateTime(), nullable=False),
    Column("crm_created_on", UtcDateTime(), nullable=True),
    Column("crm_modified_on", UtcDateTime(), nullable=True),
    ForeignKeyConstraint(["record_link_id"], ["sales_note.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["company"], ["company.name"]),
    UniqueConstraint("company", "crm_annotation_id"),
)


# BC's "CRM Post Buffer" (bc-sync.md §10.3): an order's release, shipment or invoice, queued in the
# transaction of the event, for the Sales Order Status job. Unlike BC the row is kept once sent
# (``sent_at``, ``post_id``): the record of what was posted, and what makes a repeat post nothing.
# ``sales_id`` and ``order_fields`` (the SALESORDER-ORDER fields, JSON) are taken at the event, so
# an order deleted by its last invoice is still told to Sales.
crm_post_buffer = Table(
    "crm_post_buffer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(30), nullable=False),
    Column("table_id", Integer, nullable=False, server_default=str(TABLE_SALES_HEADER)),
    Column("order_no", String(20), nullable=False),
    Column("sales_id", Guid(), nullable=True),
    Column("change_type", String(20), nullable=False),
    Column("document_no", String(20), nullable=False, server_default=""),
    Column("order_fields", Text, nullable=False, server_default="{}"),
    Column("fully_invoiced", Boolean, nullable=False, server_default="0"),
    Column("change_date_time", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("post_id", Guid(), nullable=True),
    Column("error_message", Text, nullable=False, server_default=""),
    ForeignKeyConstraint(["company"], ["company.name"]),
    Index(None, "company", "sent_at"),
)


# Failed sign-ins and webhook secrets, per subject (a client address, a user at an address), shared
# by every gateway process: the lockout counts them in a sliding window (gateway/auth.py). Times are
# seconds since the epoch; rows older than the window are deleted as new ones come.
auth_failure = Table(
    "auth_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(200), nullable=False),
    Column("failed_at", Float(), nullable=False),
    Index(None, "subject", "failed_at"),
    Index(None, "failed_at"),
)
