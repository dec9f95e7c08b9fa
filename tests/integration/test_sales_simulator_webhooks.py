"""The Sales simulator's webhook deliveries into a small aiohttp receiver: auth modes, the 503
retry, the double Update, the SetState and size-exceeded forms, sync rollback, dropped and
reordered jobs, and a quote's life."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import aiohttp
import pytest

from orders.dataverse.webhook_context import Entity, EntityReference, OptionSetValue
from tests.support.builders import an_order
from tests.support.sales_simulator import DeliveryFailed, SalesSimulator, SimulatorError, Step
from tests.support.sim_peers import Receiver
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


# ---------------------------------------------------------------------------------------------
# Webhook deliveries


async def test_delivery_with_webhook_key(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("code", "s3cret"))
    order = await an_order(sim)
    await sim.submit_order(order)
    await sim.flush()
    (got,) = receiver.received
    assert got.query == {"code": "s3cret"}
    assert got.headers["x-ms-dynamics-organization"] == "contoso.crm4.dynamics.com"
    assert got.headers["x-ms-dynamics-entity-name"] == "salesorder"
    assert got.headers["x-ms-dynamics-request-name"] == "Update"
    assert got.headers["Content-Type"] == "application/json"
    assert "x-ms-dynamics-msg-size-exceeded" not in got.headers
    ctx = got.context()
    assert got.headers["x-ms-correlation-request-id"] == ctx.correlation_id
    assert (ctx.message_name, ctx.primary_entity_name, ctx.primary_entity_id) == ("Update", "salesorder", order)
    assert (ctx.mode, ctx.stage, ctx.depth, ctx.organization_name) == (1, 40, 1, "contoso")
    assert ctx.user_id == sim.user_id
    assert isinstance(ctx.target, Entity) and ctx.target.attributes["statecode"] == OptionSetValue(1)
    assert ctx.target.attributes["modifiedby"] == EntityReference("systemuser", sim.user_id)
    image = ctx.post_images["PostImage"]
    assert image.attributes["ordernumber"] == sim.row("salesorders", order)["ordernumber"]
    assert image.formatted_values["statecode"] == "Submitted"
    assert ctx.pre_images["PreImage"].attributes["statecode"] == OptionSetValue(0)
    assert ctx.parent is not None and ctx.parent.stage == 30
    assert got.classification().event == "submit"
    (delivery,) = sim.deliveries
    assert delivery.statuses == [200] and delivery.succeeded and delivery.json()["PrimaryEntityId"] == order


async def test_delivery_with_http_header_and_query_string(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("header", "x-bc-secret", "h3ader"))
    sim.register_webhook(receiver.url, auth=("query", {"tenant": "cronus", "key": "q"}))
    await sim.submit_order(await an_order(sim))
    await sim.flush()
    by_header, by_query = receiver.received
    assert by_header.headers["x-bc-secret"] == "h3ader" and by_header.query == {}
    assert by_query.query == {"tenant": "cronus", "key": "q"} and "x-bc-secret" not in by_query.headers


async def test_retry_once_on_502_503_504_only(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    receiver.answers = [503, 200]
    await sim.submit_order(order)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [503, 200] and sim.deliveries[-1].succeeded
    assert receiver.received[0].body == receiver.received[1].body  # the same payload, re-sent
    receiver.answers = [504, 502]
    await sim.set_state("salesorders", order, 0, 2)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [504, 502] and sim.deliveries[-1].failed
    receiver.answers = [500]
    await sim.set_state("salesorders", order, 1, 3)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [500] and sim.deliveries[-1].failed
    receiver.answers = [401]
    await sim.set_state("salesorders", order, 0, 2)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [401]
    assert len(receiver.received) == 6


async def test_unreachable_endpoint_is_a_failed_job(sim: SalesSimulator) -> None:
    sim.register_webhook("http://127.0.0.1:9/hook")  # discard port: nothing listens
    await sim.submit_order(await an_order(sim))
    await sim.flush()
    assert sim.deliveries[-1].statuses == [0] and sim.deliveries[-1].failed


async def test_state_with_other_columns_runs_update_twice(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    await sim.submit_order(order, also_change={"description": "Rush"})
    await sim.flush()
    first, second = (r.context() for r in receiver.received)
    assert first.correlation_id == second.correlation_id
    assert isinstance(first.target, Entity) and isinstance(second.target, Entity)
    assert first.target.attributes["description"] == "Rush" and "statecode" not in first.target.attributes
    assert first.post_images["PostImage"].attributes["statecode"] == OptionSetValue(0)
    assert second.target.attributes["statecode"] == OptionSetValue(1) and "description" not in second.target.attributes
    assert [r.classification().event for r in receiver.received] == [None, "submit"]


async def test_filtering_attributes(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)  # Update filtered on statecode
    order = await an_order(sim)
    await sim.update("salesorders", order, description="Only a text change")
    await sim.flush()
    assert receiver.received == []
    sim.register_webhook(receiver.url, steps=[("salesorder", "Update"), Step("salesorder", "Create")])
    await sim.update("salesorders", order, description="Again")
    await an_order(sim)
    await sim.flush()
    assert [r.headers["x-ms-dynamics-request-name"] for r in receiver.received] == ["Update", "Create"]
    create = receiver.received[1].context()
    assert create.target.attributes["statecode"] == OptionSetValue(0)  # type: ignore[union-attr]


async def test_setstate_form(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    sim.state_change_message = "SetState"
    order = await an_order(sim)
    await sim.submit_order(order)
    await sim.flush()
    (got,) = receiver.received
    ctx = got.context()
    assert got.headers["x-ms-dynamics-request-name"] == "SetState" and ctx.target is None
    assert ctx.input_parameters["EntityMoniker"] == EntityReference("salesorder", order)
    assert (ctx.input_parameters["State"], ctx.input_parameters["Status"]) == (OptionSetValue(1), OptionSetValue(3))
    assert got.classification().event == "submit"


async def test_size_exceeded_form(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    sim.force_size_exceeded()
    await sim.submit_order(order)
    # A body past 256 KB is sent in the same form without being asked.
    await sim.set_state("salesorders", order, 0, 2)
    await sim.submit_order(order, also_change={"description": "x" * 300_000})
    await sim.flush()
    forced, _reopened, big_text, big_state = receiver.received
    for got in (forced, big_text, big_state):
        assert got.headers["x-ms-dynamics-msg-size-exceeded"] == "true"
        data = json.loads(got.body)
        assert (data["InputParameters"], data["PreEntityImages"], data["PostEntityImages"]) == ([], [], [])
        assert data["ParentContext"] is None and data["PrimaryEntityId"] == order
        assert len(got.body) < 256 * 1024
        assert got.classification().event == "submit"
    assert "x-ms-dynamics-msg-size-exceeded" not in _reopened.headers
    assert [d.size_exceeded for d in sim.deliveries] == [True, False, True, True]


async def test_sync_failure_rolls_the_save_back(sim: SalesSimulator, receiver: Receiver, api: Api) -> None:
    sim.register_webhook(receiver.url, mode=0)
    order = await an_order(sim)
    receiver.answers = [500]
    with pytest.raises(DeliveryFailed, match="Endpoint unavailable"):
        await sim.submit_order(order)
    assert sim.row("salesorders", order)["statecode"] == 0
    assert receiver.received[0].context().mode == 0
    # Through the Web API the caller gets the error and nothing changes.
    receiver.answers = [503, 503]
    status, _h, body = await api("PATCH", f"salesorders({order})", {"statecode": 1, "statuscode": 3})
    assert status == 400 and "Endpoint unavailable" in body["error"]["message"]
    assert sim.row("salesorders", order)["statecode"] == 0
    # Asynchronous: the save stands, the System Job fails.
    sim.set_mode("async")
    receiver.answers = [500]
    await sim.submit_order(order)
    await sim.flush()
    assert sim.row("salesorders", order)["statecode"] == 1 and sim.deliveries[-1].failed


async def test_web_api_changes_are_delivered_as_the_integration_user(
    sim: SalesSimulator, receiver: Receiver, api: Api
) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    await sim.submit_order(order)
    for body in ({"statecode": 0, "statuscode": 2}, {"lastbackofficesubmit": "2024-05-30"}, {"statecode": 1}):
        assert (await api("PATCH", f"salesorders({order})", body))[0] == 204
    await sim.flush()
    # The date-only PATCH does not touch statecode, so the filtered step skips it.
    assert [r.classification().event for r in receiver.received] == ["submit", None, "submit"]
    assert {r.context().user_id for r in receiver.received[1:]} == {sim.integration_user_id}
    assert sim.row("salesorders", order)["statuscode"] == 3  # the default status of Submitted
    sim.deliver_api_changes = False
    assert (await api("PATCH", f"salesorders({order})", {"statecode": 0}))[0] == 204
    await sim.flush()
    assert len(receiver.received) == 3 and sim.row("salesorders", order)["statecode"] == 0


async def test_dropped_and_reordered_deliveries(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    first, second, third = await an_order(sim), await an_order(sim), await an_order(sim)
    sim.drop_next_delivery()
    await sim.submit_order(first)
    sim.hold_deliveries()
    await sim.submit_order(second)
    await sim.submit_order(third)
    await sim.flush()
    assert receiver.received == []
    sim.release_deliveries(reverse=True)
    await sim.flush()
    assert [r.context().primary_entity_id for r in receiver.received] == [third, second]
    assert sim.deliveries[0].dropped and not sim.deliveries[0].failed and sim.deliveries[0].statuses == []


async def test_deliver_raw(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("header", "x-bc-secret", "s"))
    receiver.answers = [502, 204]
    delivery = await sim.deliver_raw(b"not json at all", {"x-ms-dynamics-entity-name": "salesorder"})
    assert delivery.statuses == [502, 204]
    got = receiver.received[-1]
    assert got.body == b"not json at all" and got.headers["x-bc-secret"] == "s"
    assert got.headers["x-ms-dynamics-entity-name"] == "salesorder"


# ---------------------------------------------------------------------------------------------
# Quotes


async def test_quote_life_cycle(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    product = sim.add_product("1900-S", "Paris Chair")
    quote = await sim.create_quote(
        ("account", sim.add_account()),
        lines=[{"product": product, "quantity": 4, "priceperunit": 50}],
        notes=["<b>Bring samples</b>"],
        effectiveto=date(2024, 7, 1),
    )
    row = sim.row("quotes", quote)
    assert re.fullmatch(r"QUO-01001-[A-Z0-9]{6}", row["quotenumber"])
    assert (row["statecode"], row["statuscode"], row["revisionnumber"]) == (0, 1, 0)
    with pytest.raises(SimulatorError):
        await sim.win_quote(quote)  # a Draft cannot be won

    await sim.activate_quote(quote)
    revision = await sim.revise_quote(quote)
    await sim.activate_quote(revision)
    order = await sim.win_quote(revision)
    await sim.flush()
    assert order is not None

    old, new = sim.row("quotes", quote), sim.row("quotes", revision)
    assert (old["statecode"], old["statuscode"]) == (3, 7)
    assert (new["quotenumber"], new["revisionnumber"], new["statecode"], new["statuscode"]) == (
        old["quotenumber"],
        1,
        2,
        4,
    )
    assert new["effectiveto"] == date(2024, 7, 1)
    (new_line,) = sim.rows("quotedetails")[1:]
    assert new_line["quoteid"].id == revision and new_line["quantity"] == 4

    made = sim.row("salesorders", order)
    assert made["quoteid"] == EntityReference("quote", revision) and made["statecode"] == 1
    assert made["customerid"] == new["customerid"] and made["totalamount"] == Decimal(200)
    (order_line,) = sim.rows("salesorderdetails")
    assert order_line["quotedetailid"] == EntityReference("quotedetail", new_line["quotedetailid"])

    seen = [(r.context().primary_entity_name, r.classification()) for r in receiver.received]
    assert [(name, c.event, c.revision) for name, c in seen] == [
        ("quote", "activate", 0),
        ("quote", None, 0),  # closed as Revised
        ("quote", "activate", 1),
        ("quote", "win", 1),
        ("salesorder", "submit", None),
    ]


async def test_lose_quote(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    quote = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote)
    await sim.lose_quote(quote)
    await sim.flush()
    assert (sim.row("quotes", quote)["statecode"], sim.row("quotes", quote)["statuscode"]) == (3, 5)
    lost = receiver.received[-1].classification()
    assert lost.event is None and "Closed" in lost.reason


async def test_win_without_order(sim: SalesSimulator) -> None:
    quote = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote)
    assert await sim.win_quote(quote, create_order=False) is None
    assert sim.rows("salesorders") == []
    quote2 = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote2)
    order = await sim.win_quote(quote2, submit_order=False)
    assert order is not None and sim.row("salesorders", order)["statecode"] == 0
