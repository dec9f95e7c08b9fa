"""the mirror of a real BC: its state, owner, webhook subscriptions and notifications; item
variants; variant code and BC's entry number on item ledger entries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_variant",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("item_no", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=100), server_default="", nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["company", "item_no"],
            ["item.company", "item.no"],
            name=op.f("fk_item_variant_company_item_no_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company", "item_no", "code", name=op.f("pk_item_variant")),
        sa.UniqueConstraint("system_id", name=op.f("uq_item_variant_system_id")),
    )
    with op.batch_alter_table("item_ledger_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant_code", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("bc_entry_no", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_item_ledger_entry_company_bc_entry_no"), ["company", "bc_entry_no"])
    ts = schemas.types.UtcDateTime(timezone=True)
    op.create_table(
        "bc_mirror_state",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=10), server_default="new", nullable=False),
        sa.Column("source", sa.String(length=600), server_default="", nullable=False),
        sa.Column("resume_link", sa.Text(), nullable=True),
        sa.Column("watermark", ts, nullable=True),
        sa.Column("last_entry_no", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("loaded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("load_started_at", ts, nullable=True),
        sa.Column("load_finished_at", ts, nullable=True),
        sa.Column("last_success_at", ts, nullable=True),
        sa.Column("last_change_at", ts, nullable=True),
        sa.Column("last_failure_at", ts, nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_reconciled_at", ts, nullable=True),
        sa.Column("drift", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("phase IN ('new', 'loading', 'ready')", name=op.f("ck_bc_mirror_state_phase")),
        sa.PrimaryKeyConstraint("company", "entity", name=op.f("pk_bc_mirror_state")),
    )
    op.create_table(
        "bc_mirror_owner",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("lease_until", ts, nullable=False),
        sa.PrimaryKeyConstraint("company", name=op.f("pk_bc_mirror_owner")),
    )
    op.create_table(
        "bc_subscription",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("entity_set", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("resource", sa.String(length=300), server_default="", nullable=False),
        sa.Column("notification_url", sa.String(length=500), server_default="", nullable=False),
        sa.Column("client_state_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("client_state_salt", sa.String(length=32), server_default="", nullable=False),
        sa.Column("etag", sa.String(length=200), server_default="", nullable=False),
        sa.Column("status", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("expires_at", ts, nullable=True),
        sa.Column("created_at", ts, nullable=True),
        sa.Column("renewed_at", ts, nullable=True),
        sa.Column("recreated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_notified_at", ts, nullable=True),
        sa.Column("next_try_at", ts, nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("status IN ('active', 'failed')", name=op.f("ck_bc_subscription_status")),
        sa.PrimaryKeyConstraint("company", "entity_set", name=op.f("pk_bc_subscription")),
    )
    with op.batch_alter_table("bc_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bc_subscription_subscription_id"), ["subscription_id"], unique=False)
    op.create_table(
        "bc_notification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("entity_set", sa.String(length=40), nullable=False),
        sa.Column("change_type", sa.String(length=12), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=True),
        sa.Column("since", ts, nullable=True),
        sa.Column("received_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bc_notification")),
    )
    with op.batch_alter_table("bc_notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bc_notification_company_id"), ["company", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bc_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bc_notification_company_id"))
    op.drop_table("bc_notification")
    with op.batch_alter_table("bc_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bc_subscription_subscription_id"))
    op.drop_table("bc_subscription")
    op.drop_table("bc_mirror_owner")
    op.drop_table("bc_mirror_state")
    with op.batch_alter_table("item_ledger_entry", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_item_ledger_entry_company_bc_entry_no"), type_="unique")
        batch_op.drop_column("bc_entry_no")
        batch_op.drop_column("variant_code")
    op.drop_table("item_variant")
