"""OData errors: `{"error": {"code": ..., "message": ...}}` with BC-style codes."""

from __future__ import annotations

from collections.abc import Mapping


class ODataError(Exception):
    """An answer that is an error. Raised anywhere in a request; rendered in one place."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str, code: str = "BadRequest") -> ODataError:
    return ODataError(400, code, message)


def not_found(message: str) -> ODataError:
    return ODataError(404, "BadRequest_NotFound", message)


def not_implemented(message: str) -> ODataError:
    return ODataError(501, "Internal_NotImplemented", message)


def not_acceptable(message: str) -> ODataError:
    return ODataError(406, "BadRequest_NotAcceptable", message)


def method_not_allowed(method: str, allowed: str = "GET, HEAD") -> ODataError:
    return ODataError(
        405,
        "BadRequest_MethodNotAllowed",
        f"The HTTP method '{method}' is not allowed on this resource; it is read-only.",
        headers={"Allow": allowed},
    )


def unauthorized(realm: str, message: str = "The server has rejected the client credentials.") -> ODataError:
    return ODataError(
        401,
        "Authentication_InvalidCredentials",
        message,
        headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
    )


def forbidden(message: str) -> ODataError:
    return ODataError(403, "Authorization_Forbidden", message)


def service_unavailable(message: str, retry_after: int = 5) -> ODataError:
    """The service cannot answer now (its database is away, say): try again."""
    return ODataError(503, "Internal_ServiceUnavailable", message, headers={"Retry-After": str(retry_after)})


def too_many_requests(retry_after: int, message: str) -> ODataError:
    return ODataError(429, "Application_TooManyRequests", message, headers={"Retry-After": str(retry_after)})
