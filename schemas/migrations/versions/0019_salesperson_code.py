"""salesperson code: BC's Salesperson Code on the customer, the sales header (and its archive) and
the posted sales invoice header; POSTEDSALESINV-INV gets BC's Salesperson Code -> ownerid row

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 18:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TABLES = ("customer", "sales_header", "sales_header_archive", "sales_invoice_header")
_MAPPING = "POSTEDSALESINV-INV"
_ROW_NO = 23  # after the mapping's rows 1-22 (orders/sync/defaults.py)


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("salesperson_code", sa.String(length=20), server_default="", nullable=False))
    # A POSTEDSALESINV-INV mapping stored before this row existed gets it, as new setups do
    # (BC's Salesperson Code -> ownerid through SALESPEOPLE, Not Null).
    itm = sa.table("integration_table_mapping", sa.column("company"), sa.column("name"))
    ifm = sa.table(
        "integration_field_mapping",
        sa.column("company"),
        sa.column("mapping_name"),
        sa.column("no"),
        sa.column("field_name"),
        sa.column("integration_table_field"),
        sa.column("direction"),
        sa.column("lookup_mapping"),
        sa.column("not_null", sa.Boolean()),
    )
    taken = (
        sa.select(ifm.c.no)
        .where(ifm.c.company == itm.c.company, ifm.c.mapping_name == itm.c.name)
        .where(sa.or_(ifm.c.no == _ROW_NO, ifm.c.field_name == "salesperson_code"))
    )
    rows = sa.select(
        itm.c.company,
        itm.c.name,
        sa.literal(_ROW_NO),
        sa.literal("salesperson_code"),
        sa.literal("ownerid"),
        sa.literal("ToIntegrationTable"),
        sa.literal("SALESPEOPLE"),
        sa.true(),
    ).where(itm.c.name == _MAPPING, ~sa.exists(taken))
    op.execute(
        ifm.insert().from_select(
            [
                "company",
                "mapping_name",
                "no",
                "field_name",
                "integration_table_field",
                "direction",
                "lookup_mapping",
                "not_null",
            ],
            rows,
        )
    )


def downgrade() -> None:
    ifm = sa.table("integration_field_mapping", sa.column("mapping_name"), sa.column("field_name"))
    op.execute(ifm.delete().where(ifm.c.mapping_name == _MAPPING, ifm.c.field_name == "salesperson_code"))
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("salesperson_code")
