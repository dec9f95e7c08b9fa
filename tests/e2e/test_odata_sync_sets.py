"""The synchronisation log and the couplings over OData on loopback: IntegrationSynchJobs,
IntegrationSynchErrors and Couplings, for the integration roles only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from schemas import tables as t
from schemas.demo_company import product_id
from tests.support.helpers import basic, cli, q
from tests.support.sync_log_rows import add_job

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
MESSAGE = "Base Unit of Measure BOX must be coupled to a record in Dataverse."


async def test_jobs_and_errors(api: Any, engine: Any, settings: Any) -> None:
    job = await add_job(
        engine, settings.company, "ITEM-PRODUCT", start=T0, inserted=2, errors=[("Item: 1900-S", "", MESSAGE)]
    )
    await add_job(engine, settings.company, "CUSTOMER", start=T0, unchanged=5)

    status, _h, body = await api.get("/ODataV4/IntegrationSynchJobs?$filter=" + q("Failed gt 0"))
    assert status == 200, body
    (row,) = body["value"]
    assert row["ID"] == job and row["Integration_Table_Mapping_Name"] == "ITEM-PRODUCT"
    assert row["Synch_Direction"] == "ToIntegrationTable" and row["Type"] == "Synchronization"
    assert (row["Inserted"], row["Failed"], row["Coupled"]) == (2, 1, 0)
    assert row["Start_Date_Time"].startswith("2026-11-30T09:00:00")

    status, _h, body = await api.get(
        "/ODataV4/IntegrationSynchErrors?$filter=" + q(f"Integration_Synch_Job_ID eq {job}")
    )
    assert status == 200, body
    (e,) = body["value"]
    assert e["Source_Record_ID"] == "Item: 1900-S" and e["Error_Message"] == MESSAGE and e["Message"] == MESSAGE
    assert e["Integration_Table_Mapping_Name"] == "ITEM-PRODUCT"

    status, _h, body = await api.get("/ODataV4/IntegrationSynchJobs/$count")
    assert status == 200 and str(body).strip() == "2"


async def test_couplings_name_the_bc_record(api: Any, engine: Any, settings: Any) -> None:
    cir = t.crm_integration_record
    async with engine.begin() as conn:
        await conn.execute(
            update(cir)
            .where(cir.c.crm_id == product_id("1900-S"))
            .values(skipped=True, last_synch_crm_result="Failure")
        )
    status, _h, body = await api.get("/ODataV4/Couplings?$filter=" + q("Skipped eq true"))
    assert status == 200, body
    (row,) = body["value"]
    assert (row["Table"], row["Table_ID"], row["No"], row["CRM_ID"]) == ("Item", 27, "1900-S", product_id("1900-S"))
    assert row["Last_Synch_CRM_Result"] == "Failure"

    status, _h, body = await api.get("/ODataV4/Couplings?$filter=" + q("Table eq 'Unit of Measure'") + "&$orderby=No")
    assert [r["No"] for r in body["value"]] == ["BOX", "HOUR", "PCS"]
    status, _h, body = await api.get("/ODataV4/Couplings?$filter=" + q("Table eq 'Customer' and No eq '10000'"))
    assert len(body["value"]) == 1


async def test_only_integration_roles_read_the_log(api: Any, settings: Any, engine: Any) -> None:
    from schemas.users import UserService

    code, _out, err = await cli(settings, "users", "add", "SALES", "--role", "PRODUCT_AVAILABILITY")
    assert code == 0, err
    _user, key = await UserService(engine).change_key("SALES")
    auth = basic("SALES", key)
    for name in ("IntegrationSynchJobs", "IntegrationSynchErrors", "Couplings"):
        status, _h, body = await api.get(f"/ODataV4/{name}", auth=auth)
        assert status == 403 and body["error"]["code"] == "Authorization_Forbidden", name
    status, _h, body = await api.get("/ODataV4/IntegrationSynchJobs?$filter=" + q("Nope eq 1"))
    assert status == 400 and "Nope" in body["error"]["message"]
