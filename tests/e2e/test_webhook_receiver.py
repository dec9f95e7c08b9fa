"""The webhook receiver over real HTTP: authentication, bad bodies, storage before 2xx, 503."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from schemas.tables import order_inbox, webhook_delivery
from tests.support.builders import submission
from tests.support.dataverse_payloads import build_context
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER


def _headers(harness: Any, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "x-ms-dynamics-organization": ORG_HOST,
        WEBHOOK_HEADER: harness.secret,
        **extra,
    }


async def _post(harness: Any, body: Any, headers: dict[str, str], query: str = "") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(harness.webhook_url + query, data=data, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def _deliveries(harness: Any) -> list[Any]:
    async with harness.engine.connect() as conn:
        return list((await conn.execute(select(webhook_delivery).order_by(webhook_delivery.c.id))).all())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1,2,3]", "object"),
        (b'"just a string"', "object"),
        (b"{}", "MessageName"),
        (json.dumps({"MessageName": "Update", "PrimaryEntityName": "salesorder"}).encode(), "PrimaryEntityId"),
        (b"\xff\xfe\x00garbage", ""),
        (b"", ""),
    ],
)
async def test_unreadable_bodies_get_400_with_a_reason(harness: Any, body: bytes, reason: str) -> None:
    status, answer = await _post(harness, body, _headers(harness))
    assert status == 400, answer
    assert answer["error"]["message"].startswith("The body is not a RemoteExecutionContext")
    assert reason.lower() in answer["error"]["message"].lower()
    assert await _deliveries(harness) == []


async def test_authentication(harness: Any) -> None:
    body = submission("6d81597f-0f9f-e711-8122-000d3aa2331c")
    headers = _headers(harness)
    headers.pop(WEBHOOK_HEADER)
    assert (await _post(harness, body, headers))[0] == 401
    assert (await _post(harness, body, {**headers, WEBHOOK_HEADER: "wrong"}))[0] == 401
    # WebhookKey mode: the secret comes as ?code=
    await harness.setup(webhook_auth_mode="code")
    assert (await _post(harness, body, headers, f"?code={harness.secret}"))[0] == 200
    assert (await _post(harness, body, headers, "?code=nope"))[0] == 401
    # A user with the INTEGRATION role may deliver with HTTP Basic; others may not.
    from schemas.users import UserService

    users = UserService(harness.engine)
    await users.add("CRM", roles={"INTEGRATION"})
    await users.add("AVAIL", roles={"PRODUCT_AVAILABILITY"})
    _u, crm_key = await users.change_key("CRM")
    _u, avail_key = await users.change_key("AVAIL")
    ok = await _post(harness, body, {**headers, "Authorization": aiohttp.encode_basic_auth("CRM", crm_key)})
    assert ok[0] == 200
    assert (await _post(harness, body, {**headers, "Authorization": aiohttp.encode_basic_auth("AVAIL", avail_key)}))[
        0
    ] == 403


async def test_another_organisation_is_refused(harness: Any) -> None:
    body = submission("6d81597f-0f9f-e711-8122-000d3aa2331c")
    status, answer = await _post(
        harness, body, _headers(harness, **{"x-ms-dynamics-organization": "evil.crm.dynamics.com"})
    )
    assert status == 403 and "contoso.crm4.dynamics.com" in answer["error"]["message"]
    status, _a = await _post(
        harness, body, {k: v for k, v in _headers(harness).items() if k != "x-ms-dynamics-organization"}
    )
    assert status == 403


async def test_body_over_one_mib_is_413(harness: Any) -> None:
    body = submission("6d81597f-0f9f-e711-8122-000d3aa2331c")
    body["Padding"] = "x" * (1024 * 1024)
    status, answer = await _post(harness, body, _headers(harness))
    assert status == 413 and answer["error"]["code"] == "BadRequest_RequestEntityTooLarge"


async def test_ignored_deliveries_are_acknowledged_and_logged(harness: Any) -> None:
    from orders.dataverse.webhook_context import OptionSetValue

    # Microsoft's documented payload (a copy kept with the tests).
    contact = json.loads((Path(__file__).parents[1] / "fixtures/dataverse/contact-update-async.json").read_text())
    status, answer = await _post(harness, contact, _headers(harness))
    assert status == 200 and answer["outcome"] == "ignored"
    not_submitted = build_context(
        "Update",
        "salesorder",
        "6d81597f-0f9f-e711-8122-000d3aa2331c",
        target={"description": "edited"},
    )
    status, answer = await _post(harness, not_submitted, _headers(harness))
    assert status == 200 and answer["outcome"] == "ignored"
    canceled = build_context(
        "Update",
        "salesorder",
        "6d81597f-0f9f-e711-8122-000d3aa2331c",
        target={"statecode": OptionSetValue(2)},
    )
    assert (await _post(harness, canceled, _headers(harness)))[1]["outcome"] == "ignored"
    logged = await _deliveries(harness)
    assert [d.outcome for d in logged] == ["ignored", "ignored", "ignored"]
    assert "not handled" in logged[0].reason and logged[0].table_name == "contact"
    async with harness.engine.connect() as conn:
        assert (await conn.execute(select(order_inbox))).all() == []


async def test_size_exceeded_delivery_is_read_by_id(harness: Any) -> None:
    order_id = await harness.order()
    harness.sim.force_size_exceeded()
    await harness.sim.submit_order(order_id)
    row = await harness.wait_state(order_id, "created")
    assert row.event == "submit"
    # The write-back's own changes in Sales fire more Update steps; the first delivery is ours.
    logged = [d for d in await _deliveries(harness) if d.sales_id == order_id]
    assert logged[0].size_exceeded and logged[0].outcome == "queued"
    # (Active again: ignored; Submitted again: a duplicate of the queued row.)
    assert all(d.outcome in ("duplicate", "ignored") for d in logged[1:])
    assert len(await harness.inbox_rows(order_id)) == 1


async def test_database_failure_gives_503_and_the_next_delivery_succeeds(harness: Any) -> None:
    order_id = await harness.order()
    failures = {"left": 1}

    def fail_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if failures["left"] and statement.lstrip().upper().startswith("INSERT INTO ORDER_INBOX"):
            failures["left"] -= 1
            raise OperationalError(statement, None, Exception("disk I/O error (injected)"))

    event.listen(harness.engine.sync_engine, "before_cursor_execute", fail_once)
    try:
        await harness.sim.submit_order(order_id)
        await harness.sim.flush()
        delivery = harness.sim.deliveries[-1]
        # Sales got 503, tried once more, and the second attempt was stored.
        assert delivery.statuses == [503, 200]
    finally:
        event.remove(harness.engine.sync_engine, "before_cursor_execute", fail_once)
    await harness.wait_state(order_id, "created")
    assert len(await harness.documents("Order")) == 1
