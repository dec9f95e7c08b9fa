"""An independent client, python-odata (PyPI), used as it comes: it reads $metadata, builds its own
classes, lists every entity set (following next links) and filters each one."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

from requests.auth import HTTPBasicAuth

from gateway.app import GATEWAY
from gateway.odata import edm
from schemas.demo_company import ITEMS, product_id

# A value of each EDM type, to filter a set that has no rows.
SAMPLE: dict[str, Any] = {
    edm.STRING: "x",
    edm.GUID: "00000000-0000-4000-8000-000000000000",
    edm.INT32: 0,
    edm.INT64: 0,
    edm.DECIMAL: Decimal(0),
    edm.BOOLEAN: True,
}


def _service(base: str, user: str, key: str) -> Any:
    from odata import ODataService

    return ODataService(base + "/ODataV4/", auth=HTTPBasicAuth(user, key), reflect_entities=True, quiet_progress=True)


async def test_python_odata_lists_and_filters_every_set(api: Any, gateway_server: Any, demo: dict[str, Any]) -> None:
    gateway = gateway_server.app[GATEWAY]
    # Small pages, so that listing a set means following @odata.nextLink.
    gateway.settings = dataclasses.replace(gateway.settings, max_page_size=5)
    svc = await asyncio.to_thread(_service, api.base, demo["user"], demo["key"])
    published = [s for s in gateway.registry if gateway.published(s)]
    assert set(svc.entities) >= {s.name for s in published}

    # A computed set (SalesOrderDifferences) answers one Sales order at a time, never all its rows:
    # listing it is a 400 by design (tests/e2e/test_odata_order_differences.py).
    for entity_set in (s for s in published if s.computed is None):
        cls = svc.entities[entity_set.name]
        rows = await asyncio.to_thread(lambda c=cls: svc.query(c).all())
        _s, _h, ours = await api.get(f"/ODataV4/{entity_set.name}/$count")
        assert len(rows) == int(ours), entity_set.name
        keys = {tuple(getattr(r, k) for k in entity_set.key) for r in rows}
        assert len(keys) == len(rows), f"{entity_set.name}: a row came twice across pages"

        # Filter on the first key property by the value of one row (or, in an empty set, by any
        # value of its type): the client writes the literal.
        key_prop = entity_set.key[0]
        wanted = getattr(rows[-1], key_prop) if rows else SAMPLE[entity_set.by_name[key_prop].type]
        query = svc.query(cls).filter(getattr(cls, key_prop) == wanted)
        found = await asyncio.to_thread(query.all)
        assert all(getattr(r, key_prop) == wanted for r in found), entity_set.name
        assert len(found) == sum(1 for r in rows if getattr(r, key_prop) == wanted)
        assert bool(found) == bool(rows), entity_set.name
        count = await asyncio.to_thread(query.count)
        assert count == len(found), entity_set.name

        # And on a string property with a function, where the set has one.
        text_prop = next((p for p in entity_set.properties if p.type == edm.STRING and p.name != key_prop), None)
        if text_prop is not None and rows:
            fragment = str(getattr(rows[0], text_prop.name))[:3]
            query = svc.query(cls).filter(getattr(cls, text_prop.name).startswith(fragment))
            found = await asyncio.to_thread(query.all)
            expected = [r for r in rows if str(getattr(r, text_prop.name)).startswith(fragment)]
            assert len(found) == len(expected) > 0, (entity_set.name, fragment)


async def test_python_odata_types_keys_and_order(api: Any, demo: dict[str, Any], engine: Any) -> None:
    from schemas import master_data as masterdata
    from schemas.db import write_transaction

    async with write_transaction(engine) as conn:
        await masterdata.upsert_item(conn, "CRONUS", "OB-1", description="O'Brien's Größe 日本")
    svc = await asyncio.to_thread(_service, api.base, demo["user"], demo["key"])
    pia, ia, loc = (
        svc.entities[n] for n in ("ProductItemAvailability", "ItemAvailability", "ItemAvailabilityByLocation")
    )

    athens_id = product_id("1896-S")
    athens = await asyncio.to_thread(lambda: svc.query(pia).filter(pia.CRM_ID == athens_id).one())  # noqa: SIM300 - builds a filter
    assert athens.ItemNo == "1896-S" and athens.Table_ID == 27 and isinstance(athens.Inventory, Decimal)
    by_key = await asyncio.to_thread(
        lambda: svc.query(pia).get(CRM_ID=athens.CRM_ID, Integration_ID=athens.Integration_ID)
    )
    assert by_key.ItemNo == "1896-S"

    quoted = await asyncio.to_thread(lambda: svc.query(ia).filter(ia.Description == "O'Brien's Größe 日本").all())
    assert [r.No for r in quoted] == ["OB-1"]

    query = svc.query(ia).filter(ia.Inventory > Decimal(50)).filter(ia.Blocked == False).order_by(ia.No.desc())  # noqa: E712
    rows = await asyncio.to_thread(query.all)
    _s, _h, every = await api.get("/ODataV4/ItemAvailability")
    expected = sorted(
        (r["No"] for r in every["value"] if Decimal(str(r["Inventory"])) > 50 and not r["Blocked"]), reverse=True
    )
    assert [r.No for r in rows] == expected and len(expected) < len(ITEMS) + 1

    uncoupled = await asyncio.to_thread(lambda: svc.query(ia).filter(ia.CRM_ID == None).all())  # noqa: E711
    assert {r.No for r in uncoupled} == {r["No"] for r in every["value"] if r["CRM_ID"] is None}

    blue = await asyncio.to_thread(lambda: svc.query(loc).get(No="1896-S", Location_Code="BLUE"))
    _s, _h, ours = await api.get("/ODataV4/ItemAvailabilityByLocation(No='1896-S',Location_Code='BLUE')")
    assert blue.Inventory == Decimal(str(ours["Inventory"]))
