"""The synchronisation log and the couplings, as BC shows them: "Integration Synch. Job List",
"Integration Synch. Errors" and "CRM Integration Records" (docs/reference/bc-sync.md §1.1, §1.7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from gateway.entity_sets.common import READ_INTEGRATION
from gateway.odata.edm import BOOLEAN, DATETIMEOFFSET, GUID, INT32, STRING, EntitySet, Property
from orders.sync.log_view import couplings_select
from schemas import tables as t

job = t.integration_synch_job
err = t.integration_synch_job_errors


def synch_jobs(company: str) -> Select[Any]:
    return select(
        job.c.id.label("ID"),
        job.c.start_date_time.label("Start_Date_Time"),
        job.c.finish_date_time.label("Finish_Date_Time"),
        job.c.integration_table_mapping_name.label("Integration_Table_Mapping_Name"),
        job.c.synch_direction.label("Synch_Direction"),
        job.c.type.label("Type"),
        job.c.message.label("Message"),
        job.c.inserted.label("Inserted"),
        job.c.modified.label("Modified"),
        job.c.unchanged.label("Unchanged"),
        job.c.skipped.label("Skipped"),
        job.c.failed.label("Failed"),
        job.c.deleted.label("Deleted"),
        job.c.coupled.label("Coupled"),
        job.c.uncoupled.label("Uncoupled"),
        job.c.job_queue_entry_id.label("Job_Queue_Entry_ID"),
    ).where(job.c.company == company)


def synch_errors(company: str) -> Select[Any]:
    return (
        select(
            err.c.no.label("No"),
            err.c.integration_synch_job_id.label("Integration_Synch_Job_ID"),
            func.coalesce(job.c.integration_table_mapping_name, "").label("Integration_Table_Mapping_Name"),
            err.c.date_time.label("Date_Time"),
            err.c.source_record_id.label("Source_Record_ID"),
            err.c.destination_record_id.label("Destination_Record_ID"),
            err.c.message.label("Message"),
            err.c.error_message.label("Error_Message"),
        )
        .select_from(err.outerjoin(job, job.c.id == err.c.integration_synch_job_id))
        .where(err.c.company == company)
    )


_COUNTER = ("Inserted", "Modified", "Unchanged", "Skipped", "Failed", "Deleted", "Coupled", "Uncoupled")

INTEGRATION_SYNCH_JOBS = EntitySet(
    name="IntegrationSynchJobs",
    properties=(
        Property("ID", GUID, nullable=False),
        Property("Start_Date_Time", DATETIMEOFFSET, nullable=False),
        Property("Finish_Date_Time", DATETIMEOFFSET),
        Property("Integration_Table_Mapping_Name", STRING, nullable=False, max_length=50),
        Property("Synch_Direction", STRING, nullable=False, max_length=20),
        Property("Type", STRING, nullable=False, max_length=15),
        Property("Message", STRING, nullable=False, max_length=250),
        *(Property(name, INT32, nullable=False) for name in _COUNTER),
        Property("Job_Queue_Entry_ID", GUID),
    ),
    key=("ID",),
    source=synch_jobs,
    read_roles=READ_INTEGRATION,
)

INTEGRATION_SYNCH_ERRORS = EntitySet(
    name="IntegrationSynchErrors",
    properties=(
        Property("No", INT32, nullable=False),
        Property("Integration_Synch_Job_ID", GUID, nullable=False),
        Property("Integration_Table_Mapping_Name", STRING, nullable=False, max_length=50),
        Property("Date_Time", DATETIMEOFFSET, nullable=False),
        Property("Source_Record_ID", STRING, nullable=False, max_length=250),
        Property("Destination_Record_ID", STRING, nullable=False, max_length=250),
        Property("Message", STRING, nullable=False, max_length=250),
        Property("Error_Message", STRING, nullable=False),
    ),
    key=("No",),
    source=synch_errors,
    read_roles=READ_INTEGRATION,
)

COUPLINGS = EntitySet(
    name="Couplings",
    properties=(
        Property("Entry_No", INT32, nullable=False),
        Property("Table_ID", INT32, nullable=False),
        Property("Table", STRING, nullable=False, max_length=30),
        Property("No", STRING, max_length=20),  # the BC record's No. or Code; null: the record is gone
        Property("Integration_ID", GUID, nullable=False),
        Property("CRM_ID", GUID, nullable=False),
        Property("Coupled_At", DATETIMEOFFSET, nullable=False),
        Property("Last_Synch_Modified_On", DATETIMEOFFSET),
        Property("Last_Synch_CRM_Modified_On", DATETIMEOFFSET),
        Property("Last_Synch_Result", STRING, nullable=False, max_length=10),
        Property("Last_Synch_Job_ID", GUID),
        Property("Last_Synch_CRM_Result", STRING, nullable=False, max_length=10),
        Property("Last_Synch_CRM_Job_ID", GUID),
        Property("Skipped", BOOLEAN, nullable=False),
    ),
    key=("Entry_No",),
    source=couplings_select,
    read_roles=READ_INTEGRATION,
)

SYNC_SETS = [INTEGRATION_SYNCH_JOBS, INTEGRATION_SYNCH_ERRORS, COUPLINGS]
