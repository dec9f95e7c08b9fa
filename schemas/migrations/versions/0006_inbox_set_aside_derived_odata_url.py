"""inbox: Sales number, a person's ignore (who, when, why), the inbox_action log; the OData URL
for Sales derived unless set

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000
"""

import re

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

# Before 0006 the connection setup stored the OData URL for Sales as built at the time, so it went
# stale when BCGW_PUBLIC_URL changed. From 0006 "" means "derived". A stored value is taken for
# the old default only when it points at a loopback address — Sales can never use one, so deriving
# it can only be better; any other value may have been set on purpose and is kept.
_OLD_DEFAULT = re.compile(
    r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/OData/Company\('[^/]*'\)/ProductItemAvailability"
)


def upgrade() -> None:
    # On SQLite the table is rebuilt with AUTOINCREMENT: a discarded row's id must never be given
    # to a new row, since the delivery log and inbox_action still name it (PostgreSQL's sequence
    # never reuses one anyway).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "order_inbox",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.add_column(sa.Column("sales_number", sa.String(length=100), server_default="", nullable=False))
        batch_op.add_column(sa.Column("ignored_by", sa.String(length=50), server_default="", nullable=False))
        batch_op.add_column(sa.Column("ignored_at", schemas.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ignored_reason", sa.Text(), server_default="", nullable=False))

    op.create_table(
        "inbox_action",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=20), nullable=False),
        sa.Column("sales_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("sales_number", sa.String(length=100), server_default="", nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("state_before", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("acted_by", sa.String(length=50), nullable=False),
        sa.Column("acted_at", schemas.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("action IN ('ignore', 'discard')", name=op.f("ck_inbox_action_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_action")),
    )
    with op.batch_alter_table("inbox_action", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_action_company_table_name_sales_id"),
            ["company", "table_name", "sales_id"],
            unique=False,
        )

    setup = sa.table("connection_setup", sa.column("id", sa.Integer), sa.column("odata_url", sa.String))
    conn = op.get_bind()
    for row_id, url in conn.execute(sa.select(setup.c.id, setup.c.odata_url)).all():
        if url and _OLD_DEFAULT.fullmatch(url):
            conn.execute(sa.update(setup).where(setup.c.id == row_id).values(odata_url=""))


def downgrade() -> None:
    with op.batch_alter_table("inbox_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_action_company_table_name_sales_id"))
    op.drop_table("inbox_action")
    with op.batch_alter_table("order_inbox", schema=None) as batch_op:
        batch_op.drop_column("ignored_reason")
        batch_op.drop_column("ignored_at")
        batch_op.drop_column("ignored_by")
        batch_op.drop_column("sales_number")
