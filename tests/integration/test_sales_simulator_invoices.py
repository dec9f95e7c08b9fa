"""The Sales simulator's invoices, invoice products and account statistics rows, spoken to in raw
HTTP (no client of ours): what Sales refuses and the states an invoice goes through."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.sales_simulator import SalesSimulator
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def _invoice(api: Api, sim: SalesSimulator, **extra: object) -> str:
    account = sim.add_account("Adatum")
    price_list = sim.add_price_list("Business Central Default Price List")
    status, headers, body = await api(
        "POST",
        "invoices",
        {
            "name": "PSI000001",
            "invoicenumber": "PSI000001",
            "customerid_account@odata.bind": f"/accounts({account})",
            "pricelevelid@odata.bind": f"/pricelevels({price_list})",
            "ownerid@odata.bind": f"/systemusers({sim.user_id})",
            **extra,
        },
    )
    assert status == 204, body
    return headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


async def test_an_invoice_needs_its_customer_and_price_list_and_a_unique_number(api: Api, sim: SalesSimulator) -> None:
    status, _h, body = await api("POST", "invoices", {"name": "X"})
    assert status == 400 and "Required field 'customerid' is missing" in body["error"]["message"]
    invoice = await _invoice(api, sim)
    row = next(r for r in sim.rows("invoices") if r["invoiceid"] == invoice)
    assert (row["statecode"], row["statuscode"]) == (0, 1)  # Active / New
    assert row["ownerid"].id == sim.user_id  # the owner, bound by ownerid whatever its table
    account = row["customerid"].id
    status, _h, body = await api(
        "POST",
        "invoices",
        {
            "name": "again",
            "invoicenumber": "psi000001",
            "customerid_account@odata.bind": f"/accounts({account})",
            "pricelevelid@odata.bind": f"/pricelevels({row['pricelevelid'].id})",
        },
    )
    assert status == 412 and body["error"]["code"] == "0x80040237"


async def test_invoice_products_and_a_paid_invoice(api: Api, sim: SalesSimulator) -> None:
    invoice = await _invoice(api, sim)
    product = sim.add_product("1896-S", "ATHENS Desk")
    line = {"invoiceid@odata.bind": f"/invoices({invoice})", "quantity": 1, "priceperunit": 1000}
    status, _h, body = await api("POST", "invoicedetails", {**line, "productid@odata.bind": f"/products({product})"})
    assert status == 400 and "uomid" in body["error"]["message"]  # an existing product needs its unit
    status, _h, body = await api("POST", "invoicedetails", line)
    assert status == 400 and "productdescription" in body["error"]["message"]  # a write-in needs its text
    status, _h, body = await api(
        "POST",
        "invoicedetails",
        {
            **line,
            "productid@odata.bind": f"/products({product})",
            "uomid@odata.bind": f"/uoms({sim.default_uom_id})",
        },
    )
    assert status == 204, body
    # Paid: only the state changes now; no more lines, no edits.
    status, _h, body = await api("PATCH", f"invoices({invoice})", {"statecode": 2, "statuscode": 100002})
    assert status == 204, body
    status, _h, body = await api("PATCH", f"invoices({invoice})", {"name": "changed"})
    assert status == 400 and "cannot be edited" in body["error"]["message"]
    status, _h, body = await api("POST", "invoicedetails", {**line, "productdescription": "Freight"})
    assert status == 400 and "Active invoice only" in body["error"]["message"]
    status, _h, body = await api("PATCH", f"invoices({invoice})", {"statecode": 2, "statuscode": 4})
    assert status == 400 and "not a valid status code" in body["error"]["message"]


async def test_an_account_statistics_row_linked_from_its_account(api: Api, sim: SalesSimulator) -> None:
    status, _h, body = await api("POST", "nav_accountstatisticses", {"nav_name": "Adatum", "nav_balancelcy": 1})
    assert status == 400 and "nav_customerno" in body["error"]["message"]
    status, headers, body = await api(
        "POST", "nav_accountstatisticses", {"nav_customerno": "10000", "nav_balancelcy": -12.5}
    )
    assert status == 204, body
    row_id = headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    account = sim.add_account("Adatum")
    status, _h, body = await api(
        "PATCH", f"accounts({account})", {"nav_accountstatisticsid@odata.bind": f"/nav_accountstatisticses({row_id})"}
    )
    assert status == 204, body
    _s, _h, body = await api("GET", f"accounts({account})?$select=_nav_accountstatisticsid_value")
    assert body["_nav_accountstatisticsid_value"] == row_id
