"""What a RemoteExecutionContext comes to: the inbox event (submit, activate, win, check) and
revision, or the reason it is ignored (docs/reference/dataverse.md §1.4–§1.6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders.dataverse.webhook_context import (
    EntityReference,
    ExecutionContext,
    OptionSetValue,
    classify,
    parse_context,
)
from tests.support.builders import ORDER_ID, QUOTE_ID
from tests.support.dataverse_payloads import build_context

# ---------------------------------------------------------------------------------------------
# Classification


def ctx_of(
    message: str = "Update",
    entity: str = "salesorder",
    row_id: str = ORDER_ID,
    target: dict[str, Any] | None = None,
    post: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> ExecutionContext:
    return parse_context(
        json.dumps(build_context(message, entity, row_id, target=target, post_image=post, input_parameters=params))
    )


@pytest.mark.parametrize(
    ("ctx", "event", "reason"),
    [
        (ctx_of(target={"statecode": OptionSetValue(1)}), "submit", "statecode 1"),
        (ctx_of(target={"description": "x"}, post={"statecode": OptionSetValue(1)}), "submit", "statecode 1"),
        (
            ctx_of(target={"statecode": OptionSetValue(0)}),
            None,
            "salesorder update is not a submission (statecode 0, not 1)",
        ),
        (
            ctx_of(target={"description": "x"}, post={"statecode": OptionSetValue(0)}),
            None,
            "salesorder update is not a submission (statecode 0, not 1)",
        ),
        (
            ctx_of(target={"description": "x"}),
            None,
            "salesorder update is not a submission (no statecode in the message)",
        ),
        (
            ctx_of("Create", target={"statecode": OptionSetValue(0)}),
            None,
            "salesorder create is not a submission",
        ),
        (
            ctx_of(
                "SetState",
                params={
                    "EntityMoniker": EntityReference("salesorder", ORDER_ID),
                    "State": OptionSetValue(1),
                    "Status": OptionSetValue(3),
                },
            ),
            "submit",
            "SetState submits",
        ),
        (
            ctx_of(
                "SetStateDynamicEntity",
                params={"EntityMoniker": EntityReference("salesorder", ORDER_ID), "State": OptionSetValue(2)},
            ),
            None,
            "statecode 2, not 1",
        ),
        (ctx_of("Delete"), None, "message Delete on salesorder is not handled"),
        (ctx_of(entity="account"), None, "table account is not handled"),
    ],
)
def test_classify_orders(ctx: ExecutionContext, event: str | None, reason: str) -> None:
    found = classify(ctx, size_exceeded=False)
    assert found.event == event
    assert reason in found.reason
    assert (found.table, found.row_id, found.revision) == (ctx.primary_entity_name, ORDER_ID, None)


@pytest.mark.parametrize(
    ("target", "post", "event", "revision", "reason"),
    [
        ({"statecode": OptionSetValue(1)}, {"revisionnumber": 0}, "activate", 0, "activates"),
        ({"statecode": OptionSetValue(1), "revisionnumber": 2}, None, "activate", 2, "activates"),
        ({"statecode": OptionSetValue(2)}, {"revisionnumber": 1}, "win", 1, "wins"),
        ({"statecode": OptionSetValue(2)}, None, "win", None, "wins"),
        ({"statecode": OptionSetValue(0)}, {"revisionnumber": 1}, None, 1, "quote is Draft (statecode 0)"),
        ({"statecode": OptionSetValue(3)}, {"revisionnumber": 0}, None, 0, "Closed (Lost, Canceled or Revised)"),
        ({"name": "x"}, {"statecode": OptionSetValue(1), "revisionnumber": 3}, "activate", 3, "activates"),
        ({"name": "x"}, None, None, None, "quote update carries no statecode"),
    ],
)
def test_classify_quotes(
    target: dict[str, Any], post: dict[str, Any] | None, event: str | None, revision: int | None, reason: str
) -> None:
    found = classify(ctx_of(entity="quote", row_id=QUOTE_ID, target=target, post=post), size_exceeded=False)
    assert (found.table, found.row_id, found.event, found.revision) == ("quote", QUOTE_ID, event, revision)
    assert reason in found.reason


def test_quote_setstate_wins() -> None:
    ctx = ctx_of(
        "SetState",
        entity="quote",
        row_id=QUOTE_ID,
        params={"EntityMoniker": EntityReference("quote", QUOTE_ID), "State": OptionSetValue(2)},
    )
    assert classify(ctx, size_exceeded=False).event == "win"


def _stripped(ctx_body: dict[str, Any]) -> bytes:
    ctx_body.update(ParentContext=None, InputParameters=[], PreEntityImages=[], PostEntityImages=[])
    return json.dumps(ctx_body).encode()


def test_size_exceeded_asks_the_worker_to_read_the_row() -> None:
    order = parse_context(_stripped(build_context("Update", "salesorder", ORDER_ID, target={"name": "x"})))
    found = classify(order, size_exceeded=True)
    assert found.event == "submit"
    assert "PrimaryEntityId" in found.reason and ORDER_ID in found.reason
    quote = parse_context(_stripped(build_context("Update", "quote", QUOTE_ID, target={"name": "x"})))
    assert classify(quote, size_exceeded=True).event == "check"
    other = parse_context(_stripped(build_context("Update", "account", QUOTE_ID)))
    assert classify(other, size_exceeded=True).event is None
    # Without the header, the same stripped order body says nothing about a submission.
    assert classify(order, size_exceeded=False).event is None
