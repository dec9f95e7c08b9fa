"""The Sales simulator's unique-key check on a big table (an index from INDEXED_FROM rows on, so
that a full synchronisation of 10,000 products is not quadratic) answers as the plain scan does."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from tests.support.sales_simulator import SalesSimulator
from tests.support.sales_simulator.store import INDEXED_FROM
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def test_unique_names_are_checked_the_same_in_a_big_table(api: Api, sim: SalesSimulator) -> None:
    """Still case-insensitive, and it follows renames (the old name is free again, the new one taken)."""
    groups = [sim.add_unit_group(f"Group {i}", "Unit")[0] for i in range(INDEXED_FROM + 5)]
    status, _h, body = await api("POST", "uomschedules", {"name": "GROUP 7", "baseuomname": "X"})
    assert status == 412 and body["error"]["code"] == "0x80040237"
    status, _h, _b = await api("PATCH", f"uomschedules({groups[7]})", {"name": "Renamed seven"})
    assert status == 204
    status, _h, body = await api("POST", "uomschedules", {"name": "renamed SEVEN", "baseuomname": "X"})
    assert status == 412 and body["error"]["code"] == "0x80040237"
    status, _h, _b = await api("POST", "uomschedules", {"name": "Group 7", "baseuomname": "X"})
    assert status == 204


async def test_a_read_by_ids_answers_as_the_plain_filter_does(api: Api, sim: SalesSimulator) -> None:
    """A `$filter` of `<key> eq <id>` terms joined by `or` looks at those rows only (the sync reads
    rows back by id, 50 at a time): the same rows, in the same order, whatever the case of the ids;
    an id of no row matches nothing, and a filter with anything else is read row by row."""
    groups = [sim.add_unit_group(f"Group {i}", "Unit")[0] for i in range(8)]
    wanted = [groups[5], groups[1].upper(), "00000000-0000-0000-0000-000000000099", groups[3]]
    text = " or ".join(f"uomscheduleid eq {i}" for i in wanted)
    for query in (text, f"({text})", f"{text} or name eq 'Group 6'"):
        status, _h, body = await api("GET", f"uomschedules?$select=name&$filter={quote(query)}")
        assert status == 200
        names = [row["name"] for row in body["value"]]
        assert names == (["Group 1", "Group 3", "Group 5"] + (["Group 6"] if "name eq" in query else []))
