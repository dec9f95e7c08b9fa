"""opportunities: BC's Salesperson/Purchaser (coupled to Sales users) and Opportunity (the
OPPORTUNITY mapping); the coupling keeps the ETag of the Sales version it last synchronised

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _utc() -> schemas.types.UtcDateTime:
    return schemas.types.UtcDateTime(timezone=True)


def _decimal() -> sa.Numeric:
    return sa.Numeric(precision=20, scale=5, asdecimal=True)


def upgrade() -> None:
    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_synch_crm_etag", sa.String(length=64), server_default="", nullable=False))
    op.create_table(
        "salesperson_purchaser",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("name", sa.String(length=50), server_default="", nullable=False),
        sa.Column("e_mail", sa.String(length=80), server_default="", nullable=False),
        sa.Column("phone_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("job_title", sa.String(length=30), server_default="", nullable=False),
        sa.Column("system_modified_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_salesperson_purchaser_company_company")),
        sa.PrimaryKeyConstraint("company", "code", name=op.f("pk_salesperson_purchaser")),
        sa.UniqueConstraint("system_id", name=op.f("uq_salesperson_purchaser_system_id")),
    )
    op.create_table(
        "opportunity",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("no", sa.String(length=20), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("description", sa.String(length=100), server_default="", nullable=False),
        sa.Column("contact_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("contact_company_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("salesperson_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="Not Started", nullable=False),
        sa.Column("closed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("priority", sa.String(length=10), server_default="Normal", nullable=False),
        sa.Column("creation_date", sa.Date(), nullable=True),
        sa.Column("date_closed", sa.Date(), nullable=True),
        sa.Column("estimated_closing_date", sa.Date(), nullable=True),
        sa.Column("estimated_value_lcy", _decimal(), server_default="0", nullable=False),
        sa.Column("calcd_current_value_lcy", _decimal(), server_default="0", nullable=False),
        sa.Column("probability_pct", _decimal(), server_default="0", nullable=False),
        sa.Column("chances_of_success_pct", _decimal(), server_default="0", nullable=False),
        sa.Column("system_modified_at", _utc(), nullable=True),
        sa.CheckConstraint(
            "status IN ('Not Started', 'In Progress', 'Won', 'Lost')", name=op.f("ck_opportunity_status")
        ),
        sa.CheckConstraint("priority IN ('Low', 'Normal', 'High')", name=op.f("ck_opportunity_priority")),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_opportunity_company_company")),
        sa.PrimaryKeyConstraint("company", "no", name=op.f("pk_opportunity")),
        sa.UniqueConstraint("system_id", name=op.f("uq_opportunity_system_id")),
    )


def downgrade() -> None:
    op.drop_table("opportunity")
    op.drop_table("salesperson_purchaser")
    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        batch_op.drop_column("last_synch_crm_etag")
