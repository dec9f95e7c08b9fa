"""prices: BC's Customer Price Group and Sales Price, and the customer's Customer Price Group
(for the CUSTPRCGRP-PRICE and SALESPRC-PRODPRICE mappings)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_price_group",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=100), server_default="", nullable=False),
        sa.Column("price_includes_vat", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("allow_invoice_disc", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("allow_line_disc", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("system_modified_at", schemas.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_customer_price_group_company_company")),
        sa.PrimaryKeyConstraint("company", "code", name=op.f("pk_customer_price_group")),
        sa.UniqueConstraint("system_id", name=op.f("uq_customer_price_group_system_id")),
    )
    op.create_table(
        "sales_price",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("item_no", sa.String(length=20), nullable=False),
        sa.Column("sales_type", sa.String(length=20), server_default="Customer", nullable=False),
        sa.Column("sales_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("starting_date", sa.Date(), nullable=False),
        sa.Column("currency_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("variant_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("unit_of_measure_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("minimum_quantity", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("price_includes_vat", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("allow_invoice_disc", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("allow_line_disc", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("system_modified_at", schemas.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "sales_type IN ('Customer', 'Customer Price Group', 'All Customers', 'Campaign')",
            name=op.f("ck_sales_price_sales_type"),
        ),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_sales_price_company_company")),
        sa.PrimaryKeyConstraint("company", "system_id", name=op.f("pk_sales_price")),
        sa.UniqueConstraint(
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
    )
    with op.batch_alter_table("sales_price", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sales_price_company_sales_type_sales_code", ["company", "sales_type", "sales_code"], unique=False
        )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_price_group", sa.String(length=10), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("customer_price_group")
    with op.batch_alter_table("sales_price", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_price_company_sales_type_sales_code")
    op.drop_table("sales_price")
    op.drop_table("customer_price_group")
