"""The Sales simulator's notes (``annotations``) over real HTTP: Sales' rules on a note, and the
queries the Sales Order Notes job makes (by order, by ``createdon`` / ``modifiedon``, not by a user)."""

from __future__ import annotations

import re
from urllib.parse import quote

import aiohttp
import pytest

from tests.support.builders import an_order
from tests.support.sales_simulator import SalesSimulator
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


def _id(headers: dict[str, str]) -> str:
    return re.search(r"annotations\((.+)\)", headers["OData-EntityId"]).group(1)  # type: ignore[union-attr]


async def test_a_note_takes_its_table_from_its_row_and_keeps_dataverses_lengths(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    bind = {"objectid_salesorder@odata.bind": f"/salesorders({order})"}
    status, headers, _b = await api("POST", "annotations", {"subject": "BC", "notetext": "text", **bind})
    assert status == 204
    note = sim.row("annotations", _id(headers))
    assert (note["objecttypecode"], note["isdocument"], note["filesize"]) == ("salesorder", False, 0)

    status, _h, body = await api("POST", "annotations", {"subject": "x", "objecttypecode": "quote", **bind})
    assert status == 400 and "does not match its objectid, a salesorder" in body["error"]["message"]
    status, _h, body = await api("POST", "annotations", {"subject": "x" * 501, **bind})
    assert (status, body["error"]["code"]) == (400, "0x80044331")
    assert body["error"]["message"] == (
        "A validation error occurred. The length of the 'subject' attribute of the 'annotation' entity "
        "exceeded the maximum allowed length of '500'."
    )
    status, _h, body = await api("PATCH", f"annotations({_id(headers)})", {"notetext": "y" * 100_001})
    assert status == 400 and "'notetext'" in body["error"]["message"]
    assert (await api("PATCH", f"annotations({_id(headers)})", {"notetext": "changed"}))[0] == 204
    assert sim.row("annotations", _id(headers))["notetext"] == "changed"


async def test_the_notes_jobs_queries(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    mine = await sim.add_note(order, "Salesperson", "<div>hello</div>")
    bind = {"objectid_salesorder@odata.bind": f"/salesorders({order})"}
    _s, headers, _b = await api("POST", "annotations", {"subject": "Integration", "notetext": "x", **bind})
    created = sim.row("annotations", mine)["createdon"].strftime("%Y-%m-%dT%H:%M:%SZ")
    filter_ = (
        f"objecttypecode eq 'salesorder' and _objectid_value eq {order} and createdon ge {created} "
        f"and modifiedon ge {created} and _createdby_value ne {sim.integration_user_id}"
    )
    status, _h, body = await api("GET", f"annotations?$filter={quote(filter_)}")
    assert status == 200
    found = {r["annotationid"] for r in body["value"]}
    assert mine in found and _id(headers) not in found
    assert all(r["_objectid_value"] == order and r["objecttypecode"] == "salesorder" for r in body["value"])
    status, _h, body = await api(
        "GET", f"annotations?$filter={quote(f'_modifiedby_value eq {sim.integration_user_id}')}"
    )
    assert [r["annotationid"] for r in body["value"]] == [_id(headers)]
