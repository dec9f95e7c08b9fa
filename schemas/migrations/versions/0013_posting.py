"""posting in the embedded BC: posted sales invoices, the order lines' posting quantities, the
last shipment / invoice on the header; notes owed to Sales on the inbox; the setup's error notes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_invoice_header",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("no", sa.String(length=20), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("sell_to_customer_no", sa.String(length=20), nullable=False),
        sa.Column("bill_to_customer_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("shipment_date", sa.Date(), nullable=True),
        sa.Column("order_date", sa.Date(), nullable=True),
        sa.Column("your_reference", sa.String(length=35), server_default="", nullable=False),
        sa.Column("external_document_no", sa.String(length=35), server_default="", nullable=False),
        sa.Column("work_description", sa.Text(), server_default="", nullable=False),
        sa.Column("currency_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("payment_terms_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("shipment_method_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("shipping_agent_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("payment_discount_pct", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("invoice_discount_amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("amount_including_vat", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("bill_to_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("bill_to_address", sa.String(length=100), server_default="", nullable=False),
        sa.Column("bill_to_address_2", sa.String(length=50), server_default="", nullable=False),
        sa.Column("bill_to_city", sa.String(length=30), server_default="", nullable=False),
        sa.Column("bill_to_county", sa.String(length=30), server_default="", nullable=False),
        sa.Column("bill_to_post_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("bill_to_country_region_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("bill_to_contact", sa.String(length=100), server_default="", nullable=False),
        sa.Column("ship_to_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("ship_to_address", sa.String(length=100), server_default="", nullable=False),
        sa.Column("ship_to_address_2", sa.String(length=50), server_default="", nullable=False),
        sa.Column("ship_to_city", sa.String(length=30), server_default="", nullable=False),
        sa.Column("ship_to_county", sa.String(length=30), server_default="", nullable=False),
        sa.Column("ship_to_post_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("ship_to_country_region_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("ship_to_contact", sa.String(length=100), server_default="", nullable=False),
        sa.Column("quote_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("sales_id", schemas.types.Guid(length=36), nullable=True),
        sa.Column("created_at", schemas.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_sales_invoice_header_company_company")),
        sa.PrimaryKeyConstraint("company", "no", name=op.f("pk_sales_invoice_header")),
        sa.UniqueConstraint("system_id", name=op.f("uq_sales_invoice_header_system_id")),
    )
    with op.batch_alter_table("sales_invoice_header", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_invoice_header_company_order_no"), ["company", "order_no"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_invoice_header_company_sales_id"), ["company", "sales_id"], unique=False
        )

    op.create_table(
        "sales_invoice_line",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("document_no", sa.String(length=20), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), server_default="", nullable=False),
        sa.Column("no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("description", sa.String(length=100), server_default="", nullable=False),
        sa.Column("location_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("quantity", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("unit_of_measure_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("qty_per_unit_of_measure", sa.Numeric(precision=20, scale=5), server_default="1", nullable=False),
        sa.Column("quantity_base", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("line_discount_amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("inv_discount_amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("amount_including_vat", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False),
        sa.Column("attached_to_line_no", sa.Integer(), server_default="0", nullable=False),
        sa.Column("order_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("order_line_no", sa.Integer(), server_default="0", nullable=False),
        sa.Column("shipment_no", sa.String(length=20), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["company", "document_no"],
            ["sales_invoice_header.company", "sales_invoice_header.no"],
            name=op.f("fk_sales_invoice_line_company_document_no_sales_invoice_header"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company", "document_no", "line_no", name=op.f("pk_sales_invoice_line")),
    )
    with op.batch_alter_table("sales_invoice_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_invoice_line_company_order_no_order_line_no"),
            ["company", "order_no", "order_line_no"],
            unique=False,
        )

    with op.batch_alter_table("connection_setup", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_notes", sa.Boolean(), server_default="1", nullable=False))

    with op.batch_alter_table("order_inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note_pending", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("note_error", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("note_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("note_next_at", schemas.types.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("sales_header", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_shipping_no", sa.String(length=20), server_default="", nullable=False))
        batch_op.add_column(sa.Column("last_posting_no", sa.String(length=20), server_default="", nullable=False))

    with op.batch_alter_table("sales_header_archive", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_shipping_no", sa.String(length=20), server_default="", nullable=False))
        batch_op.add_column(sa.Column("last_posting_no", sa.String(length=20), server_default="", nullable=False))

    with op.batch_alter_table("sales_line", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outstanding_quantity", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("qty_to_ship", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quantity_shipped", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("qty_to_invoice", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quantity_invoiced", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )

    with op.batch_alter_table("sales_line_archive", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outstanding_quantity", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("qty_to_ship", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quantity_shipped", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("qty_to_invoice", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("quantity_invoiced", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )

    # Order lines already there: nothing posted yet, so all of Quantity is outstanding, to ship
    # and to invoice (BC's InitOutstanding / InitQtyToShip / InitQtyToInvoice).
    op.execute(
        "UPDATE sales_line SET outstanding_quantity = quantity, qty_to_ship = quantity, "
        "qty_to_invoice = quantity WHERE document_type = 'Order'"
    )


def downgrade() -> None:
    with op.batch_alter_table("sales_line_archive", schema=None) as batch_op:
        batch_op.drop_column("quantity_invoiced")
        batch_op.drop_column("qty_to_invoice")
        batch_op.drop_column("quantity_shipped")
        batch_op.drop_column("qty_to_ship")
        batch_op.drop_column("outstanding_quantity")

    with op.batch_alter_table("sales_line", schema=None) as batch_op:
        batch_op.drop_column("quantity_invoiced")
        batch_op.drop_column("qty_to_invoice")
        batch_op.drop_column("quantity_shipped")
        batch_op.drop_column("qty_to_ship")
        batch_op.drop_column("outstanding_quantity")

    with op.batch_alter_table("sales_header_archive", schema=None) as batch_op:
        batch_op.drop_column("last_posting_no")
        batch_op.drop_column("last_shipping_no")

    with op.batch_alter_table("sales_header", schema=None) as batch_op:
        batch_op.drop_column("last_posting_no")
        batch_op.drop_column("last_shipping_no")

    with op.batch_alter_table("order_inbox", schema=None) as batch_op:
        batch_op.drop_column("note_next_at")
        batch_op.drop_column("note_attempts")
        batch_op.drop_column("note_error")
        batch_op.drop_column("note_pending")

    with op.batch_alter_table("connection_setup", schema=None) as batch_op:
        batch_op.drop_column("error_notes")

    with op.batch_alter_table("sales_invoice_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_invoice_line_company_order_no_order_line_no"))

    op.drop_table("sales_invoice_line")
    with op.batch_alter_table("sales_invoice_header", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_invoice_header_company_sales_id"))
        batch_op.drop_index(batch_op.f("ix_sales_invoice_header_company_order_no"))

    op.drop_table("sales_invoice_header")
