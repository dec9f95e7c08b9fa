"""Writing Dataverse webhook bodies: a ``RemoteExecutionContext`` in Sales' JSON shape.

The reverse of orders/dataverse/webhook_context.py, for the Sales simulator and tests only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from orders.dataverse.webhook_context import (
    CONTRACTS,
    Entity,
    EntityReference,
    Money,
    OptionSetValue,
)

__all__ = ["Entity", "EntityReference", "Money", "OptionSetValue", "build_context"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _typed(kind: str) -> str:
    return f"{kind}:{CONTRACTS}"


def _wire_date(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive datetimes are taken as UTC, as Dataverse stores them
    delta = value - _EPOCH
    ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return f"/Date({ms})/"


def _wire_number(value: Decimal) -> int | float:
    # json.dumps cannot write Decimal; the shortest float repr keeps up to 15 significant digits exact.
    return int(value) if value == value.to_integral_value() else float(value)


def _wire_reference(ref: EntityReference) -> dict[str, Any]:
    return {
        "__type": _typed("EntityReference"),
        "Id": ref.id,
        "KeyAttributes": [],
        "LogicalName": ref.logical_name,
        "Name": ref.name,
        "RowVersion": None,
    }


def _wire_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return _wire_number(value)
    if isinstance(value, float):
        return value
    if isinstance(value, datetime | date):
        return _wire_date(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, EntityReference):
        return _wire_reference(value)
    if isinstance(value, OptionSetValue):
        return {"__type": _typed("OptionSetValue"), "Value": value.value}
    if isinstance(value, Money):
        return {"__type": _typed("Money"), "Value": _wire_number(value.value)}
    if isinstance(value, Entity):
        return _wire_entity(value)
    if isinstance(value, list | tuple):
        return [_wire_value(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)  # already in wire form
    raise TypeError(f"cannot write {type(value).__name__} into a RemoteExecutionContext")


def _wire_pairs(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _wire_value(value)} for key, value in values.items()]


def _wire_entity(entity: Entity, typed: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"__type": _typed("Entity")} if typed else {}
    body.update(
        {
            "Attributes": _wire_pairs(entity.attributes),
            "EntityState": None,
            "FormattedValues": [{"key": k, "value": v} for k, v in entity.formatted_values.items()],
            "Id": entity.id,
            "KeyAttributes": [],
            "LogicalName": entity.logical_name,
            "RelatedEntities": [],
            "RowVersion": None,
        }
    )
    return body


_ZERO = "00000000-0000-0000-0000-000000000000"


def build_context(
    message: str,
    entity_name: str,
    entity_id: str,
    *,
    target: Mapping[str, Any] | None = None,
    post_image: Mapping[str, Any] | None = None,
    pre_image: Mapping[str, Any] | None = None,
    post_image_name: str = "PostImage",
    pre_image_name: str = "PreImage",
    formatted_values: Mapping[str, str] | None = None,
    input_parameters: Mapping[str, Any] | None = None,
    mode: int = 1,
    depth: int = 1,
    stage: int = 40,
    organization_name: str = "contoso",
    organization_id: str = _ZERO,
    correlation_id: str | None = None,
    operation_id: str | None = None,
    user_id: str = _ZERO,
    initiating_user_id: str | None = None,
    business_unit_id: str = _ZERO,
    operation_created_on: datetime | None = None,
    parent: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A RemoteExecutionContext in Sales' JSON shape (``json.dumps`` it to get a webhook body).

    Python values are written as Sales writes them: EntityReference / OptionSetValue / Money /
    Entity as typed objects, datetime and date as ``/Date(ms)/``, Decimal as a JSON number.
    ``target`` becomes InputParameters.Target (with the ``<entity>id`` column, as Sales sends it);
    images are untyped Entity objects, as in Microsoft's example. ``formatted_values`` go on the
    post image. ``input_parameters`` are added as given (e.g. EntityMoniker/State/Status for SetState).
    """
    entity_id = entity_id.lower()
    params: dict[str, Any] = {}
    if target is not None:
        attributes = {f"{entity_name}id": entity_id, **target}
        params["Target"] = Entity(entity_name, entity_id, attributes)
    params.update(input_parameters or {})
    post = []
    if post_image is not None:
        image = Entity(entity_name, entity_id, dict(post_image), dict(formatted_values or {}))
        post.append({"key": post_image_name, "value": _wire_entity(image, typed=False)})
    pre = []
    if pre_image is not None:
        pre.append(
            {"key": pre_image_name, "value": _wire_entity(Entity(entity_name, entity_id, dict(pre_image)), False)}
        )
    created = operation_created_on or datetime.now(UTC)
    return {
        "BusinessUnitId": business_unit_id,
        "CorrelationId": correlation_id or str(uuid.uuid4()),
        "Depth": depth,
        "InitiatingUserId": initiating_user_id or user_id,
        "InputParameters": _wire_pairs(params),
        "IsExecutingOffline": False,
        "IsInTransaction": mode == 0,
        "IsOfflinePlayback": False,
        "IsolationMode": 1,
        "MessageName": message,
        "Mode": mode,
        "OperationCreatedOn": _wire_date(created),
        "OperationId": operation_id or str(uuid.uuid4()),
        "OrganizationId": organization_id,
        "OrganizationName": organization_name,
        "OutputParameters": [],
        "OwningExtension": {
            "Id": _ZERO,
            "KeyAttributes": [],
            "LogicalName": "sdkmessageprocessingstep",
            "Name": None,
            "RowVersion": None,
        },
        "ParentContext": dict(parent) if parent is not None else None,
        "PostEntityImages": post,
        "PreEntityImages": pre,
        "PrimaryEntityId": entity_id,
        "PrimaryEntityName": entity_name,
        "RequestId": None,
        "SecondaryEntityName": "none",
        "SharedVariables": [],
        "Stage": stage,
        "UserId": user_id,
    }
