"""SalesOrderDifferences over OData on loopback, with the Sales simulator: the rows of
`bc-gateway orders diff --json`, filtered, counted and selected as any set; the filter it needs, the
order it cannot report on, BC's refusal, and Sales away — each a clear OData error, never a 500."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from schemas.users import UserService
from tests.support.helpers import Api, basic, cli, q
from tests.support.sales_simulator.tables import TABLES

SET = "/ODataV4/Company('CRONUS')/SalesOrderDifferences"
COLUMNS = ("Line", "Field", "Sales", "BC", "Why", "Kind")


async def _order_with_differences(harness: Any) -> tuple[str, str]:
    """A submitted order that BC's rules change: a volume discount, a local currency, freight."""
    order_id = await harness.sim.create_order(
        ("account", harness.accounts["10000"]),
        [
            {
                "product": harness.products["1900-S"],
                "quantity": 2,
                "uom": harness.uoms["BOX"],
                "priceperunit": 1100,
                "manualdiscountamount": 50,
                "volumediscountamount": 10,
            },
            {"product": harness.products["1896-S"], "quantity": 1, "priceperunit": 1000},
        ],
        freightamount=Decimal("45.50"),
        name="PO-4711",
    )
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    # The write-back to Sales done, the Sales order stays as it is while the two reports are read.
    await harness.wait_written_back(order_id)
    return order_id, row.document_no


async def _cli_report(settings: Any, order_id: str) -> dict[str, Any]:
    code, out, err = await cli(settings, "orders", "diff", order_id, "--json")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def _flt(text: str) -> str:
    return "$filter=" + q(text)


async def test_the_set_has_the_rows_of_orders_diff(harness: Any, settings: Any, demo: Any) -> None:
    order_id, no = await _order_with_differences(harness)
    report = await _cli_report(settings, order_id)
    expected = [tuple(d[c.lower()] for c in COLUMNS) for d in report["differences"]]
    assert expected and report["refusal"] == ""

    async with Api(harness.server, demo["user"], demo["key"]) as api:
        status, _h, body = await api.get(f"{SET}?{_flt(f'Sales_Order_ID eq {order_id}')}")
        assert status == 200, body
        rows = body["value"]
        assert [tuple(r[c] for c in COLUMNS) for r in rows] == expected
        assert [r["Entry_No"] for r in rows] == list(range(1, len(rows) + 1))
        assert {(r["Sales_Order_ID"], r["Sales_Order_Number"], r["BC_Order_No"]) for r in rows} == {
            (order_id, report["sales_number"], no)
        }
        discount = next(r for r in rows if (r["Line"], r["Field"]) == ("10000", "Line Discount Amount"))
        assert (discount["Sales"], discount["BC"], discount["Kind"]) == ("2 × 10 + 50 = 70", "70", "rule")

        # $filter on Kind (with the Sales order's id in either order), $select, $count, $orderby.
        rules = [e for e in expected if e[5] == "rule"]
        added = [e for e in expected if e[5] == "added"]
        assert rules and added
        status, _h, body = await api.get(
            SET + "?" + _flt(f"Kind eq 'rule' and Sales_Order_ID eq {order_id.upper()}") + "&$count=true"
        )
        assert status == 200, body
        assert [tuple(r[c] for c in COLUMNS) for r in body["value"]] == rules
        assert body["@odata.count"] == len(rules)
        status, _h, body = await api.get(
            SET + "?" + _flt(f"Sales_Order_ID eq {order_id} and Kind eq 'added'") + "&$select=Line,Sales,Why"
        )
        assert status == 200 and body["value"] == [{"Line": e[0], "Sales": e[2], "Why": e[4]} for e in added]
        assert body["value"][0]["Sales"] == "freightamount 45.5"
        status, _h, text = await api.get(f"{SET}/$count?{_flt(f'Sales_Order_ID eq {order_id}')}")
        assert status == 200 and text.strip() == str(len(expected))
        status, _h, body = await api.get(
            f"{SET}?{_flt(f'Sales_Order_ID eq {order_id}')}&$orderby=Entry_No desc&$top=2&$skip=1"
        )
        assert [r["Entry_No"] for r in body["value"]] == [len(expected) - 1, len(expected) - 2]

        # One row by its key, and the V3 form BC's /OData/ endpoint serves.
        status, _h, body = await api.get(f"/ODataV4/SalesOrderDifferences(Sales_Order_ID={order_id},Entry_No=1)")
        assert status == 200 and tuple(body[c] for c in COLUMNS) == expected[0]
        status, _h, body = await api.get(
            "/OData/Company('CRONUS')/SalesOrderDifferences?"
            + _flt(f"Sales_Order_ID eq guid'{order_id}'")
            + "&$format=json&$inlinecount=allpages"
        )
        assert status == 200, body
        assert int(body["odata.count"]) == len(expected) and body["value"][0]["Field"] == expected[0][1]


async def test_what_the_set_needs_and_what_it_cannot_report_on(harness: Any, settings: Any, demo: Any) -> None:
    uncoupled = await harness.order()  # never submitted: no BC order
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        for query in ("", "?" + _flt("Kind eq 'rule'"), "?" + _flt(f"Sales_Order_ID eq {uncoupled} or Kind eq 'x'")):
            status, _h, body = await api.get(SET + query)
            assert status == 400, (query, body)
            assert body["error"]["code"] == "BadRequest_FilterRequired"
            assert "add $filter=Sales_Order_ID eq " in body["error"]["message"]
        status, _h, body = await api.get("/OData/SalesOrderDifferences")
        assert status == 400 and "$filter=Sales_Order_ID eq" in body["odata.error"]["message"]["value"]
        status, _h, body = await api.get(SET + "?" + _flt("Sales_Order_ID eq 'not-a-guid'"))
        assert status == 400 and body["error"]["code"] == "BadRequest_InvalidFilter"

        code, _out, cli_err = await cli(settings, "orders", "diff", uncoupled)
        assert code == 1
        status, _h, body = await api.get(f"{SET}?{_flt(f'Sales_Order_ID eq {uncoupled}')}")
        assert status == 404 and body["error"]["code"] == "BadRequest_NotFound"
        assert body["error"]["message"] in cli_err and "is not coupled to a BC order" in body["error"]["message"]


async def test_bc_refusing_the_order_now_is_the_first_row(harness: Any, settings: Any, demo: Any) -> None:
    order_id, _no = await _order_with_differences(harness)
    code, _out, err = await cli(settings, "uncouple", "item", "1896-S")
    assert code == 0, err
    report = await _cli_report(settings, order_id)
    assert "is not coupled to an item" in report["refusal"]
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        status, _h, body = await api.get(f"{SET}?{_flt(f'Sales_Order_ID eq {order_id}')}")
        assert status == 200, body
        first, *rest = body["value"]
        assert (first["Entry_No"], first["Kind"], first["Line"]) == (1, "refused", "header")
        assert first["Why"] == f"BC's rules refuse the Sales order as it is now: {report['refusal']}"
        assert [tuple(r[c] for c in COLUMNS) for r in rest] == [
            tuple(d[c.lower()] for c in COLUMNS) for d in report["differences"]
        ]
        status, _h, body = await api.get(SET + "?" + _flt(f"Sales_Order_ID eq {order_id} and Kind eq 'refused'"))
        assert [r["Why"] for r in body["value"]] == [first["Why"]]

        # The Sales order deleted in Sales, its BC order still coupled: Sales' 404, in Sales' words.
        harness.sim.store.delete(TABLES["salesorders"], order_id)
        status, _h, body = await api.get(f"{SET}?{_flt(f'Sales_Order_ID eq {order_id}')}")
        assert status == 404 and body["error"]["code"] == "BadRequest_NotFound", body
        assert (
            body["error"]["message"].startswith("Dynamics 365 Sales: GET ")
            and "Does Not Exist" in body["error"]["message"]
        )


async def test_integration_roles_only_and_sales_away_is_a_503(
    harness: Any, settings: Any, demo: Any, engine: Any
) -> None:
    order_id, _no = await _order_with_differences(harness)
    code, _out, err = await cli(settings, "users", "add", "SALES", "--role", "PRODUCT_AVAILABILITY")
    assert code == 0, err
    _user, key = await UserService(engine).change_key("SALES")
    url = f"{SET}?{_flt(f'Sales_Order_ID eq {order_id}')}"
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        status, _h, body = await api.get(url, auth=basic("SALES", key))
        assert status == 403 and body["error"]["code"] == "Authorization_Forbidden"
        assert "INTEGRATION" in body["error"]["message"]

        await harness.sim.close()  # Sales away: not answering at all
        status, headers, body = await api.get(url)
        assert status == 503, body
        assert body["error"]["code"] == "Internal_ServiceUnavailable" and int(headers["Retry-After"]) >= 1
        assert body["error"]["message"].startswith("Dynamics 365 Sales: ")
        assert "The report needs Sales; try again." in body["error"]["message"]
        # The rest of the service still answers.
        status, _h, _b = await api.get("/ODataV4/SalesOrders")
        assert status == 200


async def test_metadata_and_the_service_document_list_the_set(harness: Any, demo: Any) -> None:
    async with Api(harness.server, demo["user"], demo["key"]) as api:
        for root in ("/ODataV4", "/OData"):
            status, _h, xml = await api.get(f"{root}/$metadata")
            assert status == 200
            assert '<EntitySet Name="SalesOrderDifferences" EntityType="NAV.SalesOrderDifferences"' in xml
            assert '<PropertyRef Name="Sales_Order_ID"' in xml and '<Property Name="Why" Type="Edm.String"' in xml
        status, _h, body = await api.get("/ODataV4/")
        assert "SalesOrderDifferences" in [s["name"] for s in body["value"]]


async def test_without_a_sales_connection_a_503_that_says_so(api: Any) -> None:
    """The gateway alone (no Dataverse connection set up): nothing to read the Sales order with."""
    status, headers, body = await api.get(f"{SET}?{_flt('Sales_Order_ID eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301')}")
    assert status == 503 and headers["Retry-After"]
    assert body["error"]["code"] == "Internal_ServiceUnavailable"
    assert body["error"]["message"].startswith(
        "The Dataverse connection is not set up: bc-gateway setup --dataverse-url"
    )
