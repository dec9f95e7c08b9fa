"""Synchronisation with Sales: mappings, field mappings, the log, job queue entries; BC's change
time (SystemModifiedAt) on master tables; the coupling's synchronisation fields; contacts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 13:00:00.000000
"""

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

import schemas.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_MASTER = ("unit_of_measure", "item", "customer", "resource", "currency")
_DIRECTION = "direction IN ('Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable')"


def _utc() -> schemas.types.UtcDateTime:
    return schemas.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    for table in _MASTER:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("system_modified_at", _utc(), nullable=True))
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit_cost", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit_cost", sa.Numeric(precision=20, scale=5), server_default="0", nullable=False)
        )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_no", sa.String(length=30), server_default="", nullable=False))
        batch_op.add_column(sa.Column("e_mail", sa.String(length=80), server_default="", nullable=False))
        batch_op.add_column(sa.Column("home_page", sa.String(length=80), server_default="", nullable=False))
    with op.batch_alter_table("currency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("symbol", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("system_id", schemas.types.Guid(length=36), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_currency_system_id"), ["system_id"])
    # Rows that exist now count as changed now; currencies get their SystemId.
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    stamp = sa.bindparam("now", now, type_=_utc())
    for table in _MASTER:
        conn.execute(sa.text(f"UPDATE {table} SET system_modified_at = :now").bindparams(stamp))
    currency = sa.table("currency", sa.column("company"), sa.column("code"), sa.column("system_id"))
    for company, code in conn.execute(sa.select(currency.c.company, currency.c.code)).all():
        conn.execute(
            sa.update(currency)
            .where(currency.c.company == company, currency.c.code == code)
            .values(system_id=str(uuid.uuid4()))
        )

    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_synch_modified_on", _utc(), nullable=True))
        batch_op.add_column(sa.Column("last_synch_crm_modified_on", _utc(), nullable=True))
        batch_op.add_column(sa.Column("last_synch_result", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("last_synch_job_id", schemas.types.Guid(length=36), nullable=True))
        batch_op.add_column(sa.Column("last_synch_error", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("last_synch_crm_result", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("last_synch_crm_job_id", schemas.types.Guid(length=36), nullable=True))
        batch_op.add_column(sa.Column("last_synch_crm_error", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("skipped", sa.Boolean(), server_default="0", nullable=False))

    op.create_table(
        "contact",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("no", sa.String(length=20), nullable=False),
        sa.Column("system_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("type", sa.String(length=10), server_default="Person", nullable=False),
        sa.Column("company_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("first_name", sa.String(length=30), server_default="", nullable=False),
        sa.Column("surname", sa.String(length=30), server_default="", nullable=False),
        sa.Column("job_title", sa.String(length=30), server_default="", nullable=False),
        sa.Column("e_mail", sa.String(length=80), server_default="", nullable=False),
        sa.Column("phone_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("mobile_phone_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("address", sa.String(length=100), server_default="", nullable=False),
        sa.Column("city", sa.String(length=30), server_default="", nullable=False),
        sa.Column("post_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("country_region_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("currency_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("customer_no", sa.String(length=20), server_default="", nullable=False),
        sa.Column("system_modified_at", _utc(), nullable=True),
        sa.CheckConstraint("type IN ('Company', 'Person')", name=op.f("ck_contact_type")),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_contact_company_company")),
        sa.PrimaryKeyConstraint("company", "no", name=op.f("pk_contact")),
        sa.UniqueConstraint("system_id", name=op.f("uq_contact_system_id")),
    )
    op.create_table(
        "integration_table_mapping",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("integration_table", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=20), server_default="ToIntegrationTable", nullable=False),
        sa.Column("table_filter", sa.Text(), server_default="", nullable=False),
        sa.Column("integration_table_filter", sa.Text(), server_default="", nullable=False),
        sa.Column("synch_only_coupled_records", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("synch_modified_on_filter", _utc(), nullable=True),
        sa.Column("synch_int_tbl_mod_on_fltr", _utc(), nullable=True),
        sa.Column("dependency_filter", sa.String(length=250), server_default="", nullable=False),
        sa.Column("deletion_conflict_resolution", sa.String(length=20), server_default="None", nullable=False),
        sa.Column("update_conflict_resolution", sa.String(length=30), server_default="None", nullable=False),
        sa.Column("create_new_in_case_of_no_match", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("synch_after_bulk_coupling", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("disable_event_job_resch", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("parent_name", sa.String(length=50), server_default="", nullable=False),
        sa.Column("delete_after_synchronization", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="Enabled", nullable=False),
        sa.CheckConstraint(_DIRECTION, name=op.f("ck_integration_table_mapping_direction")),
        sa.CheckConstraint(
            "deletion_conflict_resolution IN ('None', 'Restore Records', 'Remove Coupling')",
            name=op.f("ck_integration_table_mapping_deletion_conflict"),
        ),
        sa.CheckConstraint(
            "update_conflict_resolution IN ('None', 'Send Update to Integration', 'Get Update from Integration')",
            name=op.f("ck_integration_table_mapping_update_conflict"),
        ),
        sa.CheckConstraint("status IN ('Enabled', 'Disabled')", name=op.f("ck_integration_table_mapping_status")),
        sa.ForeignKeyConstraint(
            ["company"], ["company.name"], name=op.f("fk_integration_table_mapping_company_company")
        ),
        sa.PrimaryKeyConstraint("company", "name", name=op.f("pk_integration_table_mapping")),
    )
    op.create_table(
        "integration_field_mapping",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("mapping_name", sa.String(length=50), nullable=False),
        sa.Column("no", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=50), server_default="", nullable=False),
        sa.Column("integration_table_field", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=20), server_default="ToIntegrationTable", nullable=False),
        sa.Column("constant_value", sa.String(length=250), server_default="", nullable=False),
        sa.Column("lookup_mapping", sa.String(length=50), server_default="", nullable=False),
        sa.Column("transformation_rule", sa.String(length=50), server_default="", nullable=False),
        sa.Column("validate_field", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("validate_integration_table_fld", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("not_null", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("clear_value_on_failed_sync", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="Enabled", nullable=False),
        sa.Column("use_for_match_based_coupling", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("case_sensitive_matching", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("match_priority", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(_DIRECTION, name=op.f("ck_integration_field_mapping_direction")),
        sa.CheckConstraint("status IN ('Enabled', 'Disabled')", name=op.f("ck_integration_field_mapping_status")),
        sa.ForeignKeyConstraint(
            ["company", "mapping_name"],
            ["integration_table_mapping.company", "integration_table_mapping.name"],
            name=op.f("fk_integration_field_mapping_company_mapping_name_integration_table_mapping"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company", "mapping_name", "no", name=op.f("pk_integration_field_mapping")),
    )
    op.create_table(
        "integration_synch_job",
        sa.Column("id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("start_date_time", _utc(), nullable=False),
        sa.Column("finish_date_time", _utc(), nullable=True),
        sa.Column("message", sa.String(length=250), server_default="", nullable=False),
        sa.Column("integration_table_mapping_name", sa.String(length=50), server_default="", nullable=False),
        sa.Column("synch_direction", sa.String(length=20), server_default="", nullable=False),
        sa.Column("type", sa.String(length=15), server_default="Synchronization", nullable=False),
        sa.Column("job_queue_entry_id", schemas.types.Guid(length=36), nullable=True),
        *(
            sa.Column(name, sa.Integer(), server_default="0", nullable=False)
            for name in ("inserted", "modified", "unchanged", "skipped", "failed", "deleted", "coupled", "uncoupled")
        ),
        sa.CheckConstraint(
            "type IN ('Synchronization', 'Uncoupling', 'Coupling')", name=op.f("ck_integration_synch_job_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_synch_job")),
    )
    with op.batch_alter_table("integration_synch_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_synch_job_company_start_date_time"), ["company", "start_date_time"]
        )
        batch_op.create_index(
            batch_op.f("ix_integration_synch_job_company_integration_table_mapping_name"),
            ["company", "integration_table_mapping_name"],
        )
    op.create_table(
        "integration_synch_job_errors",
        sa.Column("no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("integration_synch_job_id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("source_record_id", sa.String(length=250), server_default="", nullable=False),
        sa.Column("destination_record_id", sa.String(length=250), server_default="", nullable=False),
        sa.Column("message", sa.String(length=250), server_default="", nullable=False),
        sa.Column("error_message", sa.Text(), server_default="", nullable=False),
        sa.Column("date_time", _utc(), nullable=False),
        sa.Column("exception_detail", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_synch_job_id"],
            ["integration_synch_job.id"],
            name=op.f("fk_integration_synch_job_errors_integration_synch_job_id_integration_synch_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("no", name=op.f("pk_integration_synch_job_errors")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("integration_synch_job_errors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_synch_job_errors_integration_synch_job_id"), ["integration_synch_job_id"]
        )
        batch_op.create_index(batch_op.f("ix_integration_synch_job_errors_company_date_time"), ["company", "date_time"])
    op.create_table(
        "job_queue_entry",
        sa.Column("id", schemas.types.Guid(length=36), nullable=False),
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("object_id_to_run", sa.Integer(), nullable=False),
        sa.Column("record_id_to_process", sa.String(length=50), server_default="", nullable=False),
        sa.Column("description", sa.String(length=250), server_default="", nullable=False),
        sa.Column("job_queue_category_code", sa.String(length=10), server_default="", nullable=False),
        sa.Column("status", sa.String(length=40), server_default="Ready", nullable=False),
        sa.Column("recurring_job", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("no_of_minutes_between_runs", sa.Integer(), server_default="30", nullable=False),
        sa.Column("inactivity_timeout_period", sa.Integer(), server_default="0", nullable=False),
        sa.Column("earliest_start_date_time", _utc(), nullable=True),
        sa.Column("maximum_no_of_attempts_to_run", sa.Integer(), server_default="10", nullable=False),
        sa.Column("no_of_attempts_to_run", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rerun_delay_sec", sa.Integer(), server_default="30", nullable=False),
        sa.Column("last_started_at", _utc(), nullable=True),
        sa.Column("last_finished_at", _utc(), nullable=True),
        sa.Column("last_sales_poll_at", _utc(), nullable=True),
        sa.Column("error_message", sa.Text(), server_default="", nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.CheckConstraint(
            "status IN ('Ready', 'In Process', 'Error', 'On Hold', 'On Hold with Inactivity Timeout', 'Finished')",
            name=op.f("ck_job_queue_entry_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_queue_entry")),
        sa.UniqueConstraint(
            "company",
            "object_id_to_run",
            "record_id_to_process",
            name=op.f("uq_job_queue_entry_company_object_id_to_run_record_id_to_process"),
        ),
    )
    with op.batch_alter_table("job_queue_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_queue_entry_earliest_start_date_time"), ["earliest_start_date_time"])
    op.create_table(
        "crm_synch_status",
        sa.Column("company", sa.String(length=30), nullable=False),
        sa.Column("item_availability_synch_time", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["company"], ["company.name"], name=op.f("fk_crm_synch_status_company_company")),
        sa.PrimaryKeyConstraint("company", name=op.f("pk_crm_synch_status")),
    )


def downgrade() -> None:
    op.drop_table("crm_synch_status")
    op.drop_table("job_queue_entry")
    op.drop_table("integration_synch_job_errors")
    op.drop_table("integration_synch_job")
    op.drop_table("integration_field_mapping")
    op.drop_table("integration_table_mapping")
    op.drop_table("contact")
    with op.batch_alter_table("crm_integration_record", schema=None) as batch_op:
        for name in (
            "skipped",
            "last_synch_crm_error",
            "last_synch_crm_job_id",
            "last_synch_crm_result",
            "last_synch_error",
            "last_synch_job_id",
            "last_synch_result",
            "last_synch_crm_modified_on",
            "last_synch_modified_on",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("currency", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_currency_system_id"), type_="unique")
        batch_op.drop_column("system_id")
        batch_op.drop_column("symbol")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("home_page")
        batch_op.drop_column("e_mail")
        batch_op.drop_column("phone_no")
    for table in ("resource", "item"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("unit_cost")
    for table in _MASTER:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("system_modified_at")
