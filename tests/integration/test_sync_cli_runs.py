"""`bc-gateway sync full`, `sync now`, `sync status` and `sync retry` on a real database, with the
engine's in-memory Sales in place of the Web API (the command's own Dataverse client is built but
not used): progress bars, the counters, the log they leave and the next step."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from orders.change_setup import SetupService
from orders.setup import SetupChange
from orders.sync import api
from schemas import tables as t
from tests.support.helpers import cli
from tests.support.sync_fakes import FakeSales


@pytest.fixture
async def sales(engine: Any, settings: Any, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakeSales:
    fake = FakeSales()
    monkeypatch.setattr(api, "dataverse_sales", lambda _client: fake)
    change = SetupChange.parse(
        {
            "dataverse_url": "https://contoso.crm4.dynamics.com",
            "dataverse_token_url": "https://login.example/token",
            "dataverse_client_id": "app",
            "dataverse_client_secret": "secret",
        }
    )
    await SetupService(engine, settings).change(change, "test")
    return fake


async def test_full_sync_shows_each_mapping_and_leaves_the_log(settings: Any, sales: FakeSales) -> None:
    code, out, err = await cli(settings, "sync", "full", "--progress")
    assert code == 0, out + err
    for mapping in ("CURRENCY", "UNIT OF MEASURE", "RESOURCE-PRODUCT", "ITEM-PRODUCT", "CUSTOMER"):
        assert mapping in err  # a progress bar each, with its counts and rate
    assert "17/17" in err and "record/s" in err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["MAPPING", "DIRECTION", "INSERTED"]
    item = next(line for line in lines if line.startswith("ITEM-PRODUCT") and "BC -> Sales" in line)
    assert item.split()[4] == "17"  # inserted
    assert out.rstrip().endswith("Next: bc-gateway sync status.")
    assert len([p for p in sales.table("products").values() if p["producttypecode"] == 1]) == 17

    code, out, _e = await cli(settings, "sync", "log", "--mapping", "ITEM-PRODUCT")
    assert code == 0 and "ITEM-PRODUCT" in out and "BC -> Sales" in out

    code, out, _e = await cli(settings, "sync", "full", "--json")
    assert code == 0
    again = {(j["mapping_name"], j["direction"]): j for j in json.loads(out)}
    assert again[("ITEM-PRODUCT", "ToIntegrationTable")]["inserted"] == 0


async def test_now_one_record_and_status(settings: Any, engine: Any, sales: FakeSales) -> None:
    assert (await cli(settings, "sync", "full", "--quiet"))[0] == 0
    async with engine.begin() as conn:
        await conn.execute(update(t.item).where(t.item.c.no == "1896-S").values(unit_price=1111))
    code, out, err = await cli(settings, "sync", "now", "item-product", "--record", "1896-S")
    assert code == 0, err
    to_sales = next(line for line in out.splitlines() if line.startswith("ITEM-PRODUCT") and "BC -> Sales" in line)
    assert to_sales.split()[4:6] == ["0", "1"]  # inserted 0, modified 1
    desk = next(p for p in sales.table("products").values() if p["productnumber"] == "1896-S")
    assert Decimal(desk["price"]) == 1111

    code, _out, err = await cli(settings, "sync", "now", "ITEM-PRODUCT", "--record", "NOPE")
    assert code == 1 and "The Item does not exist. Identification fields and values: No.='NOPE'" in err
    code, _out, err = await cli(settings, "sync", "now", "NOPE")
    assert code == 1 and "The Integration Table Mapping NOPE does not exist." in err

    code, out, _e = await cli(settings, "sync", "status")
    assert code == 0
    assert out.splitlines()[0].split()[0] == "JOB"
    # One-off runs are not the jobs' runs (BC's job queue entries keep their own times).
    assert "No job has run on its schedule yet" in out and "bc-gateway sync log shows every run" in out


async def test_retry_runs_the_failed_record_again(settings: Any, engine: Any, sales: FakeSales) -> None:
    # An item whose base unit is not coupled fails with BC's message; coupled, retry carries it.
    assert (await cli(settings, "sync", "full", "--quiet"))[0] == 0
    async with engine.begin() as conn:
        await conn.execute(
            t.unit_of_measure.insert().values(
                company=settings.company, code="SET", system_id="9a9a9a9a-0000-4000-8000-000000000001"
            )
        )
        await conn.execute(update(t.item).where(t.item.c.no == "1896-S").values(base_unit_of_measure="SET"))
    code, out, err = await cli(settings, "sync", "now", "ITEM-PRODUCT", "--record", "1896-S")
    assert code == 1, out + err
    assert "failed: bc-gateway sync errors shows them" in out
    code, out, _e = await cli(settings, "sync", "errors", "--json")
    # Both passes of the bidirectional mapping name the unit; the BC -> Sales one is retried.
    errors = {e["direction"]: e for e in json.loads(out)}
    error = errors["ToIntegrationTable"]
    assert "Base Unit of Measure SET must be coupled to a record in Dataverse" in error["error_message"]
    assert (await cli(settings, "sync", "now", "UNIT OF MEASURE", "--record", "SET"))[0] == 0
    code, out, err = await cli(settings, "sync", "retry", str(error["no"]))
    assert code == 0, out + err
    async with engine.connect() as conn:
        item = (await conn.execute(select(t.item.c.system_id).where(t.item.c.no == "1896-S"))).scalar_one()
        cir = t.crm_integration_record
        coupling = (await conn.execute(select(cir).where(cir.c.integration_id == item))).one()
    assert coupling.last_synch_crm_result == "Success"
