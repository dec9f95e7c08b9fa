"""Failed authentications shared across gateway processes (the lockout per address and user)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 13:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("failed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failure")),
    )
    with op.batch_alter_table("auth_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_failure_failed_at"), ["failed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_failure_subject_failed_at"), ["subject", "failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_failure_subject_failed_at"))
        batch_op.drop_index(batch_op.f("ix_auth_failure_failed_at"))
    op.drop_table("auth_failure")
