"""BC notes both ways: Record Link fields on the notes of sales documents, BC's CRM Annotation
Coupling, and the Sales Order Notes job's marks in CRM Synch Status

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales_note", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url1", sa.String(length=2048), server_default="", nullable=False))
        batch_op.add_column(sa.Column("type", sa.String(length=10), server_default="Note", nullable=False))
        batch_op.add_column(sa.Column("user_id", sa.String(length=50), server_default="", nullable=False))
        batch_op.add_column(sa.Column("notify", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("to_user_id", sa.String(length=50), server_default="", nullable=False))

    with op.batch_alter_table("crm_synch_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes_created_after", schemas.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notes_modified_after", schemas.types.UtcDateTime(timezone=True), nullable=True))

    op.create_table(
        "crm_annotation_coupling",
        sa.Column("record_link_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("crm_annotation_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("last_synch_date_time", schemas.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("crm_created_on", schemas.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("crm_modified_on", schemas.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_crm_annotation_coupling_company_company")),
        sa.ForeignKeyConstraint(
            ["record_link_id"],
            ["sales_note.id"],
            name=op.f("fk_crm_annotation_coupling_record_link_id_sales_note"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_link_id", name=op.f("pk_crm_annotation_coupling")),
        sa.UniqueConstraint(
            "company", "crm_annotation_id", name=op.f("uq_crm_annotation_coupling_company_crm_annotation_id")
        ),
    )
    # The notes orders already got from their Sales order are coupled to their annotations (as BC
    # couples the notes it creates with an order), so that the notes job neither sends them back
    # nor copies them again. One note per annotation: the first.
    op.execute(
        "INSERT INTO crm_annotation_coupling (record_link_id, company, crm_annotation_id, last_synch_date_time) "
        "SELECT MIN(id), company, sales_note_id, MIN(created_at) FROM sales_note "
        "WHERE document_type = 'Order' AND sales_note_id IS NOT NULL GROUP BY company, sales_note_id"
    )


def downgrade() -> None:
    op.drop_table("crm_annotation_coupling")
    with op.batch_alter_table("crm_synch_status", schema=None) as batch_op:
        batch_op.drop_column("notes_modified_after")
        batch_op.drop_column("notes_created_after")
    with op.batch_alter_table("sales_note", schema=None) as batch_op:
        batch_op.drop_column("to_user_id")
        batch_op.drop_column("notify")
        batch_op.drop_column("user_id")
        batch_op.drop_column("type")
        batch_op.drop_column("url1")
