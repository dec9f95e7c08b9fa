"""What Dataverse's errors mean, for people and for the retry policy: the exception types, and
Dataverse's, OAuth's and the network's failures in one line. Re-exported by webapi.py."""

from __future__ import annotations

import json
import socket
import ssl

import aiohttp
from yarl import URL


class DataverseError(Exception):
    """Sales answered with an error (or could not be reached: see DataverseUnavailable).

    ``call`` names the request ("GET /api/data/v9.2/salesorders(...)") once the transport knows it.
    """

    def __init__(self, status: int | None, code: str, message: str, call: str = "") -> None:
        super().__init__(" ".join(part for part in ("Dataverse", str(status or ""), code) if part) + f": {message}")
        self.status = status
        self.code = code
        self.message = message
        self.call = call

    def describe(self) -> str:
        """What failed, in one line for logs and people: the call, the HTTP status and Dataverse's
        code, then the message (e.g. "GET /api/data/v9.2/salesorders(…): HTTP 503 0x80040216:
        simulated failure 503"; without an answer: "…: no answer within 30 s")."""
        answer = " ".join(part for part in (f"HTTP {self.status}" if self.status else "", self._code()) if part)
        head = ": ".join(part for part in (self.call, answer) if part)
        return f"{head}: {self.message}" if head else self.message

    def _code(self) -> str:
        # "timeout", "connection" and "deadline" are ours, not Dataverse's: the message says it.
        return "" if self.code in ("timeout", "connection", "deadline") else self.code


class DataverseNotFound(DataverseError):
    """404: the row (or entity set) does not exist."""


class DataversePreconditionFailed(DataverseError):
    """412: ``If-Match`` named a version the row no longer has (someone changed it since it was
    read), or Dataverse found a duplicate of a key that must be unique (code 0x80040237)."""


class DataverseUnavailable(DataverseError):
    """Sales could not be reached or kept refusing (timeouts, 429, 502/503/504): try again later.

    ``retry_after`` is the wait Sales last asked for, in seconds, when it asked for one.
    """

    def __init__(
        self, status: int | None, code: str, message: str, retry_after: float | None = None, call: str = ""
    ) -> None:
        super().__init__(status, code, message, call)
        self.retry_after = retry_after


def connection_failure(exc: BaseException) -> str:
    """Why no answer came, in words: DNS, TLS, refused, reset ... (never a URL's query or a header)."""
    key = getattr(exc, "_conn_key", None)
    where = f"{key.host}:{key.port}" if key is not None else ""
    os_error = getattr(exc, "os_error", None)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = getattr(exc, "certificate_error", None)
        return f"the TLS certificate of {where} is not trusted ({cert or 'verification failed'})"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError) or isinstance(os_error, ssl.SSLError):
        reason = getattr(os_error if isinstance(os_error, ssl.SSLError) else exc, "reason", None) or exc
        return f"the TLS handshake with {where or 'the server'} failed ({reason})"
    if isinstance(os_error, socket.gaierror):
        host = key.host if key is not None else "the host"
        return f"the host name {host} cannot be resolved (DNS: {os_error.strerror or os_error})"
    if isinstance(os_error, ConnectionRefusedError):
        return f"{where} refused the connection (nothing listens there)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {where}: {(os_error and os_error.strerror) or exc}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Sales closed the connection before answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer was cut off ({type(exc).__name__})"
    return f"the connection failed ({type(exc).__name__}: {exc})"


def _path(url: str) -> str:
    # Log the path only: never a query string a secret could hide in, never headers.
    return URL(url).path


def dataverse_error_text(text: str, status: int) -> tuple[str, str]:
    """(code, message) of a Web API error body ``{"error": {"code", "message"}}``, or a snippet."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code is not None else "", str(message) if message else f"HTTP {status}")
    snippet = " ".join(text.split())[:200]
    return "", snippet or f"HTTP {status}"


def oauth_error_text(text: str) -> tuple[str, str]:
    """(error, first line of error_description) of an OAuth error body, or a snippet."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        description = data.get("error_description")
        return data["error"], str(description).splitlines()[0] if description else data["error"]
    return "", " ".join(text.split())[:200] or "no answer"
