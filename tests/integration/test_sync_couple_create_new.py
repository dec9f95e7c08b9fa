"""Match-based coupling with "Create New in Case of No Match", on a real database with the engine
and the in-memory Sales: what matches is coupled, what matches nothing is created and coupled by a
one-off run of the mapping, the ambiguous stays for a person; the log has a Coupling job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from orders.sync import api
from orders.sync.couple_by_match import couple_by_match
from schemas import tables as t
from tests.conftest import COMPANY
from tests.support.sync_fakes import FakeSales

ORG = "https://contoso.crm4.dynamics.com"


async def test_unmatched_items_are_created_and_coupled(engine: Any, demo: dict[str, Any]) -> None:
    sales = FakeSales()
    # Unit groups first, as a full synchronisation would (the products' unit is looked up through them).
    await api.full_sync(engine, COMPANY, sales, mappings=["UNIT OF MEASURE"])
    cir = t.crm_integration_record
    async with engine.begin() as conn:
        await conn.execute(delete(cir).where(cir.c.table_id == t.TABLE_ITEM))
    existing = await sales.create_row("products", {"productnumber": "1896-s", "name": "Desk", "producttypecode": 1})
    await sales.update_row("products", existing["productid"], {"statecode": 0, "statuscode": 1})
    twins = []
    for n in range(2):
        row = await sales.create_row(
            "products", {"productnumber": f"P{n}", "name": "paris guest chair, black", "producttypecode": 1}
        )
        await sales.update_row("products", row["productid"], {"statecode": 0, "statuscode": 1})
        twins.append(row["productid"])

    async def create(mapping: str, system_ids: list[str]) -> Any:
        return await api.run_mapping(
            engine, COMPANY, mapping, sales, system_ids=system_ids, force=True, only_coupled=False
        )

    result = await couple_by_match(engine, COMPANY, sales, "item", organisation_url=ORG, create_new=True, create=create)
    assert [(m.record.key, m.row_id) for m in result.coupled] == [("1896-S", existing["productid"])]
    assert [u.record.key for u in result.unmatched] == ["1900-S"]  # two twins: never a third
    assert result.unmatched[0].candidates == tuple(sorted(twins))
    assert result.message.startswith("Failed to couple 1 record(s)") and ORG in result.message
    created = dict(result.created)
    assert len(created) == 15 and "1896-S" not in created and "1900-S" not in created
    products = sales.table("products")
    for no, product in created.items():
        assert products[product]["productnumber"] == no

    async with engine.connect() as conn:
        coupled = (await conn.execute(select(cir.c.crm_id).where(cir.c.table_id == t.TABLE_ITEM))).scalars().all()
        job = t.integration_synch_job
        log = (await conn.execute(select(job).where(job.c.type == "Coupling"))).one()
        err = t.integration_synch_job_errors
        errors = (await conn.execute(select(err).where(err.c.integration_synch_job_id == log.id))).all()
    assert len(coupled) == 16
    assert (log.integration_table_mapping_name, log.coupled, log.failed) == ("ITEM-PRODUCT", 1, 1)
    assert [(e.source_record_id, e.message) for e in errors] == [
        ("Item: 1900-S", f"Item 1900-S: several matches: {', '.join(sorted(twins))}.")
    ]
