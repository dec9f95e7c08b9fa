"""Dataverse webhook bodies: a serialised ``RemoteExecutionContext`` parsed into typed records.

Pure code, no I/O. The wire format (Microsoft's documented JSON, see
docs/reference/dataverse.md §1) in short: collections are arrays of ``{"key", "value"}``;
typed values carry ``"__type": "<Kind>:http://schemas.microsoft.com/xrm/2011/Contracts"``; dates are
``"/Date(<ms>)/"`` (an optional ``±hhmm`` suffix names the sender's zone, the milliseconds are UTC);
entity images may lack ``__type``; unknown keys are ignored at every level.

``parse_context`` raises only ``ContextError`` (a ``ValueError``) whatever it is given; its
``reason`` is safe to show in a 400 answer. ``classify`` turns a context into the inbox event the
worker acts on. (tests/support/dataverse_payloads.py writes the same wire format for tests.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from orders.dataverse.codes import QuoteState
from schemas.types import GUID_PATTERN

__all__ = [
    "CONTRACTS",
    "Classification",
    "ContextError",
    "Entity",
    "EntityReference",
    "ExecutionContext",
    "Money",
    "OptionSetValue",
    "classify",
    "parse_context",
]

CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE = re.compile(r"/Date\((-?\d{1,16})([+-]\d{4})?\)/")

# Sales' own state-change messages; newer organisations turn SetState into Update.
_STATE_MESSAGES = frozenset({"SetState", "SetStateDynamicEntity"})
_HANDLED_MESSAGES = frozenset({"Create", "Update"}) | _STATE_MESSAGES


class ContextError(ValueError):
    """The body is not a RemoteExecutionContext this service can read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EntityReference:
    logical_name: str
    id: str
    name: str | None = None


@dataclass(frozen=True)
class OptionSetValue:
    value: int


@dataclass(frozen=True)
class Money:
    value: Decimal


@dataclass(frozen=True)
class Entity:
    logical_name: str
    id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    formatted_values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)

    def option(self, name: str) -> int | None:
        """The integer of an option set column (``statecode``...), bare ints accepted too."""
        return _option_int(self.attributes.get(name))


@dataclass(frozen=True)
class ExecutionContext:
    message_name: str
    primary_entity_name: str
    primary_entity_id: str
    mode: int | None = None
    depth: int | None = None
    stage: int | None = None
    correlation_id: str | None = None
    operation_id: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    user_id: str | None = None
    initiating_user_id: str | None = None
    operation_created_on: datetime | None = None
    input_parameters: dict[str, Any] = field(default_factory=dict)
    output_parameters: dict[str, Any] = field(default_factory=dict)
    shared_variables: dict[str, Any] = field(default_factory=dict)
    pre_images: dict[str, Entity] = field(default_factory=dict)
    post_images: dict[str, Entity] = field(default_factory=dict)
    parent: ExecutionContext | None = None

    @property
    def target(self) -> Entity | EntityReference | None:
        value = self.input_parameters.get("Target")
        return value if isinstance(value, Entity | EntityReference) else None


@dataclass(frozen=True)
class Classification:
    """What a delivery means for the inbox: ``event`` None means "acknowledge, nothing to do"."""

    table: str
    row_id: str
    event: str | None
    revision: int | None
    reason: str


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_context(body: bytes | str) -> ExecutionContext:
    """Parse a webhook body. Raises ContextError (and nothing else) when it cannot be read."""
    try:
        if isinstance(body, bytes | bytearray | memoryview):
            text = bytes(body).decode("utf-8-sig")
        elif isinstance(body, str):
            text = body
        else:
            raise ContextError(f"body must be bytes or text, not {type(body).__name__}")
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        return _context(data, "")
    except ContextError:
        raise
    except UnicodeDecodeError:
        raise ContextError("body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ContextError(f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ContextError("body is nested too deeply") from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:  # belt and braces: never leak others
        raise ContextError(f"body cannot be read: {type(exc).__name__}") from None


def _reject_constant(name: str) -> Any:
    raise ContextError(f"body is not JSON: {name} is not a JSON value")


def _context(data: Any, where: str) -> ExecutionContext:
    if not isinstance(data, dict):
        raise ContextError(f"{where or 'body'} must be a JSON object (a RemoteExecutionContext), not {_kind(data)}")
    for key in ("MessageName", "PrimaryEntityName", "PrimaryEntityId"):
        if data.get(key) is None:
            raise ContextError(f"{where}{key} is missing")
    message = _text(data, "MessageName", where)
    entity = _text(data, "PrimaryEntityName", where)
    if not message or not entity:
        raise ContextError(f"{where}MessageName and PrimaryEntityName must not be empty")
    parent_raw = data.get("ParentContext")
    parent = _context(parent_raw, where + "ParentContext.") if parent_raw is not None else None
    created = data.get("OperationCreatedOn")
    created_on = None
    if created is not None:
        created_on = _date_value(created) if isinstance(created, str) else None
        if created_on is None:
            raise ContextError(f"{where}OperationCreatedOn must be a /Date(...)/ string")
    return ExecutionContext(
        message_name=message,
        primary_entity_name=entity,
        primary_entity_id=_guid(data["PrimaryEntityId"], where + "PrimaryEntityId"),
        mode=_int(data, "Mode", where),
        depth=_int(data, "Depth", where),
        stage=_int(data, "Stage", where),
        correlation_id=_id_text(data, "CorrelationId", where),
        operation_id=_id_text(data, "OperationId", where),
        organization_id=_id_text(data, "OrganizationId", where),
        organization_name=_text(data, "OrganizationName", where),
        user_id=_id_text(data, "UserId", where),
        initiating_user_id=_id_text(data, "InitiatingUserId", where),
        operation_created_on=created_on,
        input_parameters=_collection(data.get("InputParameters"), where + "InputParameters"),
        output_parameters=_collection(data.get("OutputParameters"), where + "OutputParameters"),
        shared_variables=_collection(data.get("SharedVariables"), where + "SharedVariables"),
        pre_images=_images(data.get("PreEntityImages"), where + "PreEntityImages"),
        post_images=_images(data.get("PostEntityImages"), where + "PostEntityImages"),
        parent=parent,
    )


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _text(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ContextError(f"{where}{key} must be a string, not {_kind(value)}")


def _id_text(data: dict[str, Any], key: str, where: str) -> str | None:
    value = _text(data, key, where)
    return value.lower() if value is not None else None


def _int(data: dict[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ContextError(f"{where}{key} must be an integer, not {_kind(value)}")


def _guid(value: Any, where: str) -> str:
    if isinstance(value, str) and GUID_PATTERN.fullmatch(value):
        return value.lower()
    shown = repr(value) if isinstance(value, str) and len(value) <= 60 else _kind(value)
    raise ContextError(f"{where} must be a GUID, not {shown}")


def _pairs(value: Any, where: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContextError(f"{where} must be an array of key/value pairs, not {_kind(value)}")
    pairs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "value" not in item:
            raise ContextError(f"{where}[{i}] must be an object with a string 'key' and a 'value'")
        pairs.append((item["key"], item["value"]))
    return pairs


def _collection(value: Any, where: str) -> dict[str, Any]:
    return {key: _value(raw, f"{where}.{key}") for key, raw in _pairs(value, where)}


def _images(value: Any, where: str) -> dict[str, Entity]:
    images = {}
    for key, raw in _pairs(value, where):
        if raw is None:
            continue
        image = _value(raw, f"{where}.{key}")
        if not isinstance(image, Entity):
            raise ContextError(f"{where}.{key} must be an Entity")
        images[key] = image
    return images


def _type_kind(value: dict[str, Any], where: str) -> str | None:
    kind = value.get("__type")
    if kind is None:
        return None
    if not isinstance(kind, str):
        raise ContextError(f"{where}.__type must be a string")
    return kind.split(":", 1)[0]


def _value(raw: Any, where: str) -> Any:
    """One value of a collection, typed by its ``__type`` (or by shape, for untyped images)."""
    if isinstance(raw, str):
        if raw.startswith("/Date("):
            parsed = _date_value(raw)
            if parsed is not None:
                return parsed
        return raw.lower() if GUID_PATTERN.fullmatch(raw) else raw
    if isinstance(raw, list):
        return [_value(item, f"{where}[{i}]") for i, item in enumerate(raw)]
    if not isinstance(raw, dict):
        return raw  # number (int or Decimal), boolean, null
    kind = _type_kind(raw, where)
    if kind == "Entity" or (kind is None and "Attributes" in raw and "LogicalName" in raw):
        return _entity(raw, where)
    if kind == "EntityReference" or (kind is None and set(raw) >= {"LogicalName", "Id"}):
        return EntityReference(
            logical_name=_required_text(raw, "LogicalName", where),
            id=_guid(raw.get("Id"), f"{where}.Id"),
            name=_text(raw, "Name", where + "."),
        )
    if kind == "OptionSetValue":
        value = raw.get("Value")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ContextError(f"{where}.Value of an OptionSetValue must be an integer")
        return OptionSetValue(value)
    if kind == "Money":
        return Money(_decimal(raw.get("Value"), f"{where}.Value"))
    if kind == "EntityCollection":
        entities = raw.get("Entities")
        if not isinstance(entities, list):
            raise ContextError(f"{where}.Entities must be an array")
        return [_entity(item, f"{where}.Entities[{i}]") for i, item in enumerate(entities)]
    # Anything else (KeyValuePairOfstringstring, types we do not use): keep its data, typed inside.
    return {k: _value(v, f"{where}.{k}") for k, v in raw.items() if k != "__type"}


def _required_text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ContextError(f"{where}.{key} must be a non-empty string")
    return value


def _entity(raw: Any, where: str) -> Entity:
    if not isinstance(raw, dict):
        raise ContextError(f"{where} must be an Entity object, not {_kind(raw)}")
    entity_id = raw.get("Id")
    formatted: dict[str, str] = {}
    for key, text in _pairs(raw.get("FormattedValues"), f"{where}.FormattedValues"):
        if text is None:
            continue
        if not isinstance(text, str):
            raise ContextError(f"{where}.FormattedValues.{key} must be a string")
        formatted[key] = text
    return Entity(
        logical_name=_required_text(raw, "LogicalName", where),
        id=None if entity_id is None else _guid(entity_id, f"{where}.Id"),
        attributes=_collection(raw.get("Attributes"), f"{where}.Attributes"),
        formatted_values=formatted,
    )


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ContextError(f"{where} must be a number")
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ContextError(f"{where} must be a number") from None
    if not result.is_finite():
        raise ContextError(f"{where} must be a finite number")
    return result


def _date_value(text: str) -> datetime | None:
    """``/Date(ms)/`` or ``/Date(ms±hhmm)/`` as an aware UTC datetime; None when not that form.

    WCF writes the milliseconds since the epoch in UTC whatever the suffix; the suffix only names
    the sender's zone, so it does not move the instant.
    """
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return _EPOCH + timedelta(milliseconds=int(match.group(1)))
    except OverflowError:
        raise ContextError(f"date {text!r} is out of range") from None


# ---------------------------------------------------------------------------------------------
# Classification


def _option_int(value: Any) -> int | None:
    if isinstance(value, OptionSetValue):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _state_values(ctx: ExecutionContext) -> list[int]:
    """Every statecode the delivery states: SetState's State, the Target's, then the post images'."""
    found: list[int] = []
    if ctx.message_name in _STATE_MESSAGES:
        state = _option_int(ctx.input_parameters.get("State"))
        if state is not None:
            found.append(state)
    target = ctx.target
    if isinstance(target, Entity):
        state = target.option("statecode")
        if state is not None:
            found.append(state)
    for image in ctx.post_images.values():
        state = image.option("statecode")
        if state is not None:
            found.append(state)
    return found


def _revision(ctx: ExecutionContext) -> int | None:
    sources = [ctx.target] if isinstance(ctx.target, Entity) else []
    sources += list(ctx.post_images.values())
    for entity in sources:
        value = entity.get("revisionnumber") if isinstance(entity, Entity) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def classify(ctx: ExecutionContext, size_exceeded: bool) -> Classification:
    """What the inbox should record for this delivery.

    ``size_exceeded`` is the ``x-ms-dynamics-msg-size-exceeded`` header: Sales then dropped the
    parameters and images, so the worker must read the row by PrimaryEntityId to learn its state.
    """
    table = ctx.primary_entity_name
    row_id = ctx.primary_entity_id
    message = ctx.message_name

    def result(event: str | None, reason: str, revision: int | None = None) -> Classification:
        return Classification(table=table, row_id=row_id, event=event, revision=revision, reason=reason)

    if table not in ("salesorder", "quote"):
        return result(None, f"table {table} is not handled")
    if message not in _HANDLED_MESSAGES:
        return result(None, f"message {message} on {table} is not handled")
    if size_exceeded:
        event = "submit" if table == "salesorder" else "check"
        return result(
            event, f"message size exceeded: Sales removed the context's data; read {table} {row_id} by PrimaryEntityId"
        )
    states = _state_values(ctx)
    if table == "salesorder":
        if 1 in states:
            return result("submit", f"salesorder {message} submits the order (statecode 1)")
        stated = f"statecode {states[0]}, not 1" if states else "no statecode in the message"
        return result(None, f"salesorder {message.lower()} is not a submission ({stated})")
    revision = _revision(ctx)
    state = states[0] if states else None
    if state == 1:
        return result("activate", f"quote {message} activates the quote (statecode 1)", revision)
    if state == 2:
        return result("win", f"quote {message} wins the quote (statecode 2)", revision)
    if state is None:
        return result(None, f"quote {message.lower()} carries no statecode", revision)
    label = QuoteState(state).caption if state in QuoteState._value2member_map_ else "unknown"
    return result(None, f"quote is {label} (statecode {state}): not processed", revision)
