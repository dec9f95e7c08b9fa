"""connection setup: the link to a real Business Central; secrets encrypted at rest

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000

Adds the BC link's fields to the one connection_setup row and encrypts the Dataverse client
secret stored in clear until now (schemas/secrets.py); the downgrade decrypts it again.
"""

import sqlalchemy as sa
from alembic import op

from schemas.secrets import secret_box

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = (
    ("bc_mode", 10, "embedded"),
    ("bc_api_url", 250, ""),
    ("bc_company", 50, ""),
    ("bc_auth", 10, "oauth"),
    ("bc_token_url", 250, ""),
    ("bc_client_id", 100, ""),
    ("bc_scope", 250, ""),
    ("bc_user", 80, ""),
    ("bc_odata_url", 250, ""),
    ("bc_ledger_entries_service", 240, ""),
    ("bc_item_units_service", 240, ""),
    ("bc_resources_service", 240, ""),
)
_SECRETS = ("bc_client_secret", "bc_access_key")


def _recode_dataverse_secret(encrypt: bool) -> None:
    bind = op.get_bind()
    table = sa.table("connection_setup", sa.column("id", sa.Integer), sa.column("dataverse_client_secret", sa.Text))
    rows = bind.execute(sa.select(table.c.id, table.c.dataverse_client_secret)).all()
    box = secret_box(bind.engine.url)
    for row_id, value in rows:
        if not value:
            continue
        new = box.encrypt(box.decrypt(value)) if encrypt else box.decrypt(value)
        bind.execute(sa.update(table).where(table.c.id == row_id).values(dataverse_client_secret=new))


def upgrade() -> None:
    with op.batch_alter_table("connection_setup", schema=None) as batch_op:
        for name, length, default in _TEXT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), server_default=default, nullable=False))
        for name in _SECRETS:
            batch_op.add_column(sa.Column(name, sa.Text(), server_default="", nullable=False))
        batch_op.create_check_constraint(op.f("ck_connection_setup_bc_mode"), "bc_mode IN ('embedded', 'api')")
        batch_op.create_check_constraint(op.f("ck_connection_setup_bc_auth"), "bc_auth IN ('oauth', 'basic')")
    _recode_dataverse_secret(encrypt=True)


def downgrade() -> None:
    _recode_dataverse_secret(encrypt=False)
    with op.batch_alter_table("connection_setup", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_connection_setup_bc_auth"), type_="check")
        batch_op.drop_constraint(op.f("ck_connection_setup_bc_mode"), type_="check")
        for name in reversed(_SECRETS):
            batch_op.drop_column(name)
        for name, _length, _default in reversed(_TEXT_COLUMNS):
            batch_op.drop_column(name)
