"""The Sales simulator's opportunities and users in raw HTTP (no client of ours): an opportunity
owned by a user bound as ownerid, its parent account and contact must exist, only an open one is
edited, it is not closed by a PATCH; users are read with BC's SALESPEOPLE filter."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.support.sales_simulator import SalesSimulator
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def test_an_opportunity_has_its_owner_account_and_contact(api: Api, sim: SalesSimulator) -> None:
    user = sim.add_user("Alicia Ortiz", "alicia@contoso.example")
    account = sim.add_account("Adatum Corporation")
    contact = sim.add_contact("Robin Counts", parent=("account", account))
    status, _h, body = await api(
        "POST",
        "opportunities",
        {
            "name": "Furniture",
            "estimatedvalue": 12500,
            "estimatedclosedate": "2027-02-15",
            "ownerid@odata.bind": f"/systemusers({user})",
            "parentaccountid@odata.bind": f"/accounts({account})",
            "parentcontactid@odata.bind": f"/contacts({contact})",
        },
        {"Prefer": 'return=representation,odata.include-annotations="*"'},
    )
    assert status == 201, body
    assert body["_ownerid_value"] == user
    assert body["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "systemuser"
    assert (body["_parentaccountid_value"], body["_parentcontactid_value"]) == (account, contact)
    assert (body["statecode"], body["statuscode"], body["estimatedclosedate"]) == (0, 1, "2027-02-15")

    # Without an owner the creator owns it; the owner cannot be emptied.
    status, headers, _b = await api("POST", "opportunities", {"name": "Chairs"})
    assert status == 204
    mine = headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert sim.row("opportunities", mine)["ownerid"].id == sim.integration_user_id
    status, _h, body = await api("PATCH", f"opportunities({mine})", {"ownerid@odata.bind": None}, {"If-Match": "*"})
    assert status == 400 and "ownerid" in body["error"]["message"]


@pytest.mark.parametrize(
    ("bind", "status"),
    [
        ({"parentaccountid@odata.bind": f"/accounts({uuid.uuid4()})"}, 404),
        ({"parentcontactid@odata.bind": f"/contacts({uuid.uuid4()})"}, 404),
        ({"ownerid@odata.bind": f"/systemusers({uuid.uuid4()})"}, 404),
        ({"ownerid_systemuser@odata.bind": f"/systemusers({uuid.uuid4()})"}, 400),  # not Dataverse's name for it
        ({"parentaccountid@odata.bind": f"/contacts({uuid.uuid4()})"}, 400),
    ],
)
async def test_lookups_must_exist_and_be_of_their_table(api: Api, bind: dict[str, str], status: int) -> None:
    got, _h, body = await api("POST", "opportunities", {"name": "Furniture", **bind})
    assert got == status, body
    if status == 404:
        assert body["error"]["code"] == "0x80040217"


async def test_only_an_open_opportunity_is_edited_and_it_is_closed_by_its_action(api: Api, sim: SalesSimulator) -> None:
    row_id = sim.insert("opportunities", name="Furniture", statecode=0, statuscode=1)
    status, _h, body = await api(
        "PATCH", f"opportunities({row_id})", {"statecode": 1, "statuscode": 3}, {"If-Match": "*"}
    )
    assert status == 400 and "WinOpportunity" in body["error"]["message"]
    await sim.close_opportunity(row_id, won=True)
    assert (sim.row("opportunities", row_id)["statecode"], sim.row("opportunities", row_id)["statuscode"]) == (1, 3)
    status, _h, body = await api("PATCH", f"opportunities({row_id})", {"name": "again"}, {"If-Match": "*"})
    assert status == 400
    assert body["error"]["message"].startswith("This opportunity is Won (statecode 1) and cannot be edited")


async def test_users_are_read_with_bcs_salespeople_filter(api: Api, sim: SalesSimulator) -> None:
    alicia = sim.add_user("Alicia Ortiz", "alicia@contoso.example")
    sim.add_user("Old Colleague", "old@contoso.example", isdisabled=True)
    query = "systemusers?$filter=isdisabled eq false and islicensed eq true and isintegrationuser eq false"
    status, _h, body = await api("GET", query + "&$select=fullname,internalemailaddress")
    assert status == 200
    found = {u["systemuserid"]: u["fullname"] for u in body["value"]}
    assert found == {sim.user_id: "Nancy Davolio", alicia: "Alicia Ortiz"}  # not the application user
