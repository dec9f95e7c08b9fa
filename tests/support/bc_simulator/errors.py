"""BC's error answers: ``{"error": {"code", "message"}}`` with the codes and texts BC uses."""

from __future__ import annotations

import uuid
from typing import Any


class ApiError(Exception):
    """An answer BC gives instead of doing what was asked."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, correlation: bool = True) -> dict[str, Any]:
        message = self.message
        if correlation:
            message = f"{message}  CorrelationId:  {uuid.uuid4()}."
        return {"error": {"code": self.code, "message": message}}


def dialog(message: str) -> ApiError:
    """An AL Error(): a business rule refused the change."""
    return ApiError(400, "Application_DialogException", message)


def read_only(name: str) -> ApiError:
    return ApiError(400, "BadRequest_InvalidOperation", f"Control '{name}' is read-only.")


def too_long(value: str, length: int) -> ApiError:
    return ApiError(
        400,
        "Application_StringExceededLength",
        f"The length of the string is {len(value)}, but it must be less than or equal to {length} characters. "
        f"Value: {value}",
    )


def unknown_property(name: str, entity: str) -> ApiError:
    return ApiError(
        400,
        "BadRequest",
        f"The property '{name}' does not exist on type 'Microsoft.NAV.{entity}'. "
        "Make sure to only use property names that are defined by the type.",
    )


def bad_value(value: Any, edm_type: str) -> ApiError:
    return ApiError(400, "BadRequest", f"Cannot convert the literal '{value}' to the expected type '{edm_type}'.")


def not_an_option(value: str, options: tuple[str, ...]) -> ApiError:
    listed = ",".join(o.strip() for o in options)
    return ApiError(400, "Unknown", f"'{value}' is not an option. The existing options are: {listed}")


def record_not_found(caption: str, fields: str) -> ApiError:
    return ApiError(
        404, "Internal_RecordNotFound", f"The {caption} does not exist. Identification fields and values: {fields}"
    )


def already_exists(caption: str, fields: str) -> ApiError:
    return ApiError(
        409,
        "Internal_EntityWithSameKeyExists",
        f"The {caption} already exists. Identification fields and values: {fields}",
    )


def table_relation(field: str, table: str, value: str, related: str) -> ApiError:
    return ApiError(
        400,
        "Internal_InvalidTableRelation",
        f"The field {field} of table {table} contains a value ({value}) that cannot be found in the related table "
        f"({related}).",
    )


def field_must_be(field: str, expected: str, table: str, key: str, current: str) -> ApiError:
    """An AL TestField failure."""
    return ApiError(
        400,
        "Application_FieldValidationException",
        f"{field} must be equal to '{expected}' in {table}: {key}. Current value is '{current}'.",
    )


def resource_not_found(segment: str) -> ApiError:
    return ApiError(404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{segment}'.")


def query_syntax(detail: str | None = None) -> ApiError:
    message = "Bad Request - Error in query syntax."
    if detail:
        message = f"{message} {detail}"
    return ApiError(400, "BadRequest_NotFound", message)


def method_not_allowed(method: str, what: str, edm_type: str = "Entity") -> ApiError:
    return ApiError(
        405,
        "BadRequest_MethodNotAllowed",
        f"'{method}' requests for '{what}' of EdmType '{edm_type}' are not allowed within Dynamics 365 "
        "Business Central OData web services.",
    )


def permission(table_no: int, caption: str, verb: str) -> ApiError:
    return ApiError(
        403,
        "Authorization_InsufficientPermissions",
        "Sorry, the current permissions prevented the action. "
        f"(TableData {table_no} {caption} {verb}: Base Application)",
    )


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "Authentication_InvalidCredentials",
        "The server has rejected the client credentials.",
        {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'},
    )


def entity_changed() -> ApiError:
    return ApiError(409, "Request_EntityChanged", "Another user has already changed the record.")


def invalid_token() -> ApiError:
    return ApiError(
        400,
        "BadRequest_InvalidToken",
        "Could not validate the client concurrency token required by the service. "
        "Please provide a valid token in the client request.",
    )


def must_have_value(caption: str, table: str, key: str) -> ApiError:
    """An AL TestField on a blank field."""
    return ApiError(
        400,
        "Application_FieldValidationException",
        f"{caption} must have a value in {table}: {key}. It cannot be zero or empty.",
    )


def manual_numbers(series: str) -> ApiError:
    return dialog(
        "You may not enter numbers manually. If you want to enter numbers manually, "
        f"please activate Manual Nos. in No. Series {series}."
    )
