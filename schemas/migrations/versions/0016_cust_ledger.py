"""customer ledger: Cust. Ledger Entry and Detailed Cust. Ledg. Entry (posted invoices and
payments), a customer's Credit Limit (LCY), SystemModifiedAt on posted sales invoices (the
POSTEDSALESINV-INV mapping), the Customer Statistics job's marks and the coupling's Statistics
Uploaded

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_DOCUMENT_TYPES = (
    "document_type IN ('', 'Payment', 'Invoice', 'Credit Memo', 'Finance Charge Memo', 'Reminder', 'Refund')"
)


def _utc() -> schemas.types.UtcDateTime:
    return schemas.types.UtcDateTime(timezone=True)


def _money() -> sa.Numeric:
    return sa.Numeric(precision=20, scale=5)


def upgrade() -> None:
    op.create_table(
        "cust_ledger_entry",
        sa.Column("entry_no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("customer_no", sa.String(length=20), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("document_type", sa.String(length=20), server_default="", nullable=False),
        sa.Column("document_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("description", sa.String(length=100), server_default="", nullable=False),
        sa.Column("currency_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("amount", _money(), server_default="0", nullable=False),
        sa.Column("amount_lcy", _money(), server_default="0", nullable=False),
        sa.Column("sales_lcy", _money(), server_default="0", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("open", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("closed_by_entry_no", sa.Integer(), server_default="0", nullable=False),
        sa.Column("closed_at_date", sa.Date(), nullable=True),
        sa.Column("system_modified_at", _utc(), nullable=True),
        sa.CheckConstraint(_DOCUMENT_TYPES, name=op.f("ck_cust_ledger_entry_document_type")),
        sa.ForeignKeyConstraint(
            ["company", "customer_no"],
            ["customer.company", "customer.no"],
            name=op.f("fk_cust_ledger_entry_company_customer_no_customer"),
        ),
        sa.PrimaryKeyConstraint("entry_no", name=op.f("pk_cust_ledger_entry")),
        sa.UniqueConstraint("system_id", name=op.f("uq_cust_ledger_entry_system_id")),
    )
    with op.batch_alter_table("cust_ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cust_ledger_entry_company_customer_no_open"), ["company", "customer_no", "open"]
        )
        batch_op.create_index(
            batch_op.f("ix_cust_ledger_entry_company_document_type_document_no"),
            ["company", "document_type", "document_no"],
        )
        batch_op.create_index(batch_op.f("ix_cust_ledger_entry_system_modified_at"), ["system_modified_at"])

    op.create_table(
        "detailed_cust_ledg_entry",
        sa.Column("entry_no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("cust_ledger_entry_no", sa.Integer(), nullable=False),
        sa.Column("entry_type", sa.String(length=20), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("document_type", sa.String(length=20), server_default="", nullable=False),
        sa.Column("document_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("customer_no", sa.String(length=20), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("amount_lcy", _money(), nullable=False),
        sa.Column("initial_entry_due_date", sa.Date(), nullable=True),
        sa.Column("applied_cust_ledger_entry_no", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "entry_type IN ('Initial Entry', 'Application')", name=op.f("ck_detailed_cust_ledg_entry_entry_type")
        ),
        sa.ForeignKeyConstraint(
            ["cust_ledger_entry_no"],
            ["cust_ledger_entry.entry_no"],
            name=op.f("fk_detailed_cust_ledg_entry_cust_ledger_entry_no_cust_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("entry_no", name=op.f("pk_detailed_cust_ledg_entry")),
    )
    with op.batch_alter_table("detailed_cust_ledg_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detailed_cust_ledg_entry_company_customer_no"), ["company", "customer_no"])
        batch_op.create_index(batch_op.f("ix_detailed_cust_ledg_entry_cust_ledger_entry_no"), ["cust_ledger_entry_no"])

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_limit_lcy", _money(), server_default="0", nullable=False))
    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statistics_uploaded", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("crm_synch_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cust_statistics_synch_time", _utc(), nullable=True))
        batch_op.add_column(sa.Column("last_update_invoice_entry_no", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("sales_invoice_header", schema=None) as batch_op:
        batch_op.add_column(sa.Column("system_modified_at", _utc(), nullable=True))
    # Invoices posted before: changed when they were posted.
    op.execute("UPDATE sales_invoice_header SET system_modified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("sales_invoice_header", schema=None) as batch_op:
        batch_op.drop_column("system_modified_at")
    with op.batch_alter_table("crm_synch_status", schema=None) as batch_op:
        batch_op.drop_column("last_update_invoice_entry_no")
        batch_op.drop_column("cust_statistics_synch_time")
    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        batch_op.drop_column("statistics_uploaded")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("credit_limit_lcy")
    with op.batch_alter_table("detailed_cust_ledg_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detailed_cust_ledg_entry_cust_ledger_entry_no"))
        batch_op.drop_index(batch_op.f("ix_detailed_cust_ledg_entry_company_customer_no"))
    op.drop_table("detailed_cust_ledg_entry")
    with op.batch_alter_table("cust_ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cust_ledger_entry_system_modified_at"))
        batch_op.drop_index(batch_op.f("ix_cust_ledger_entry_company_document_type_document_no"))
        batch_op.drop_index(batch_op.f("ix_cust_ledger_entry_company_customer_no_open"))
    op.drop_table("cust_ledger_entry")
