"""the Sales order status: BC's CRM Post Buffer (release, shipment and invoice of an order, for
the Sales Order Status job)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_post_buffer",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("table_id", sa.Integer(), server_default="36", nullable=False),
        sa.Column("order_no", sa.String(length=20), nullable=False),
        sa.Column("sales_id", schemas.types.Guid(length=36), nullable=True),
        sa.Column("change_type", sa.String(length=20), nullable=False),
        sa.Column("document_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("order_fields", sa.Text(), server_default="{}", nullable=False),
        sa.Column("fully_invoiced", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("change_date_time", schemas.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", schemas.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("post_id", schemas.types.Guid(length=36), nullable=True),
        sa.Column("error_message", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_crm_post_buffer_company_company")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_post_buffer")),
    )
    with op.batch_alter_table("crm_post_buffer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_post_buffer_company_sent_at"), ["company", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crm_post_buffer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_post_buffer_company_sent_at"))
    op.drop_table("crm_post_buffer")
