"""The Business Central data model, as SQLAlchemy Core tables.

Names follow BC's tables and fields (Item, "Item Ledger Entry", "CRM Integration Record", ...).
Every BC table is per company, as in BC: `company` is the first part of each key.
Schema changes go through Alembic migrations in `schemas/migrations`; a test checks that the
migrations and these tables agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
    Column("blocked", Boolean, nullable=False, server_default="0"),
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
    ForeignKeyConstraint(["company", "item_no"], ["item.company", "item.no"]),
    Index(None, "company", "item_no", "location_code"),
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
    Column("blocked", Boolean, nullable=False, server_default="0"),
    ForeignKeyConstraint(["company"], ["company.name"]),
)

currency = Table(
    "currency",
    metadata,
    _company(),
    Column("code", String(10), primary_key=True),
    Column("description", String(30), nullable=False, server_default=""),
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
    # The client secret must be sent to the token endpoint, so it cannot be only a hash.
    Column("dataverse_client_secret", Text, nullable=False, server_default=""),
    CheckConstraint("id = 1", name="single_row"),
    CheckConstraint("webhook_auth_mode IN ('header', 'code')", name="webhook_auth_mode"),
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
