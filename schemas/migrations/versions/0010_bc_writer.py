"""BC writer: our key, the time of an uncertain POST and BC's id on the inbox; document totals

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bc_key", sa.String(length=35), server_default="", nullable=False))
        batch_op.add_column(sa.Column("bc_posted_at", schemas.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bc_document_id", schemas.types.Guid(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_order_inbox_company_bc_key"), ["company", "bc_key"], unique=False)
    for table in ("sales_header", "sales_header_archive"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
            )
            batch_op.add_column(
                sa.Column("amount_including_vat", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
            )


def downgrade() -> None:
    for table in ("sales_header_archive", "sales_header"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("amount_including_vat")
            batch_op.drop_column("amount")
    with op.batch_alter_table("order_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_inbox_company_bc_key"))
        batch_op.drop_column("bc_document_id")
        batch_op.drop_column("bc_posted_at")
        batch_op.drop_column("bc_key")
