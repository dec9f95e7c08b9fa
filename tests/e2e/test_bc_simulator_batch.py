"""JSON $batch against the simulator: per-item answers, the 100-operation limit, snapshot rollback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.bc_simulator.client import BcClient

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


def _item(client: BcClient, number: str) -> dict[str, Any]:
    rec = client.sim.get("items", number)
    assert rec is not None
    return rec


async def test_batch_runs_each_request_on_its_own(bc_client: BcClient) -> None:
    cid = bc_client.sim.company_id
    order = await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    item = _item(bc_client, "1896-S")
    reply = await bc_client.post(
        "$batch",
        {
            "requests": [
                {
                    "method": "POST",
                    "id": "1",
                    "url": f"companies({cid})/salesOrders({order.body['id']})/salesOrderLines",
                    "headers": {"Content-Type": "application/json"},
                    "body": {"lineType": "Item", "lineObjectNumber": "1928-S", "quantity": 3},
                },
                {
                    "method": "PATCH",
                    "id": "2",
                    "url": f"companies({cid})/items({item['id']})",
                    "headers": {"Content-Type": "application/json", "If-Match": "*"},
                    "body": {"unitPrice": 10},
                },
                {
                    "method": "GET",
                    "id": "3",
                    "url": f"companies({cid})/items?$filter=number eq '1896-S'&$select=unitPrice",
                },
                {"method": "GET", "id": "4", "url": "items?$top=1", "headers": {"Company": "CRONUS"}},
                {
                    "method": "PATCH",
                    "id": "5",
                    "url": f"companies({cid})/items({item['id']})",
                    "body": {"unitPrice": 11},
                },
            ]
        },
    )
    assert reply.status == 200
    answers = {a["id"]: a for a in reply.body["responses"]}
    assert answers["1"]["status"] == 201 and answers["1"]["body"]["sequence"] == 10000
    assert answers["2"]["status"] == 200 and answers["2"]["body"]["unitPrice"] == 10
    assert answers["3"]["body"]["value"][0]["unitPrice"] == 10
    assert answers["4"]["status"] == 200 and len(answers["4"]["body"]["value"]) == 1
    assert answers["5"]["status"] == 400 and answers["5"]["body"]["error"]["code"] == "BadRequest_InvalidToken"
    assert _item(bc_client, "1896-S")["unitPrice"] == 10  # without isolation, earlier requests stand


async def test_batch_snapshot_rolls_back_everything(bc_client: BcClient) -> None:
    cid = bc_client.sim.company_id
    item = _item(bc_client, "1900-S")
    before_orders = len(bc_client.sim.company().table("salesOrders"))
    reply = await bc_client.post(
        "$batch",
        {
            "requests": [
                {
                    "method": "PATCH",
                    "id": "a",
                    "url": f"companies({cid})/items({item['id']})",
                    "headers": {"If-Match": "*"},
                    "body": {"unitPrice": 1},
                },
                {
                    "method": "POST",
                    "id": "b",
                    "url": f"companies({cid})/salesOrders",
                    "body": {"customerNumber": "10000", "externalDocumentNumber": "SNAP"},
                },
                {
                    "method": "POST",
                    "id": "c",
                    "url": f"companies({cid})/salesOrders",
                    "body": {"customerNumber": "NOPE"},
                },
            ]
        },
        headers={"Isolation": "snapshot"},
    )
    assert reply.status == 200
    statuses = [a["status"] for a in reply.body["responses"]]
    assert statuses == [200, 201, 400]
    assert _item(bc_client, "1900-S")["unitPrice"] == Decimal("192.8")
    assert len(bc_client.sim.company().table("salesOrders")) == before_orders
    # The rolled-back order did not use up its number either.
    again = await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    assert again.body["number"] == "S-ORD101001"


async def test_batch_snapshot_keeps_what_posting_committed(bc_client: BcClient) -> None:
    cid = bc_client.sim.company_id
    order = await bc_client.post(
        bc_client.company("salesOrders"),
        {
            "customerNumber": "10000",
            "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}],
        },
    )
    reply = await bc_client.post(
        "$batch",
        {
            "requests": [
                {
                    "method": "POST",
                    "id": "1",
                    "url": f"companies({cid})/salesOrders({order.body['id']})/Microsoft.NAV.shipAndInvoice",
                },
                {"method": "POST", "id": "2", "url": f"companies({cid})/salesOrders", "body": {}},
            ]
        },
        headers={"Isolation": "snapshot"},
    )
    assert [a["status"] for a in reply.body["responses"]] == [204, 400]
    assert len(bc_client.sim.company().table("salesInvoices")) == 1  # the posting committed


async def test_batch_limit_and_format(bc_client: BcClient) -> None:
    too_many = [{"method": "GET", "id": str(i), "url": "companies"} for i in range(101)]
    reply = await bc_client.post("$batch", {"requests": too_many})
    assert reply.status == 400 and "exceeds the maximum of 100" in reply.error_message
    exactly = await bc_client.post("$batch", {"requests": too_many[:100]})
    assert exactly.status == 200 and len(exactly.body["responses"]) == 100
    multipart = await bc_client.request("POST", "$batch", headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert multipart.status == 400
