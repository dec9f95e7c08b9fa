"""Errors of the BC link, and how an answer of BC's becomes one.

Callers need to know *what to do next*, so every error has a :class:`BcFailure` kind:

- :class:`BcRejected` (``rule``): BC refused the request (4xx: ``Application_*``, ``BadRequest_*``,
  ``Internal_*`` rules). Show BC's message; a person fixes the cause. Its subclasses:
  - :class:`BcNotFound` (``not_found``): 404, no such entity, entity set or published page;
    :class:`BcCompanyNotFound` when the configured company is not among ``companies``
    (``available`` lists those that are);
  - :class:`BcConflict` (``conflict``): 409, a stale ETag (``Request_EntityChanged``) or a
    duplicate key: re-read, merge, retry (bc-api §7.3);
  - :class:`BcAuthenticationError` (``authentication``): 401 after one token refresh, or the
    token endpoint refused our client credentials;
  - :class:`BcPermissionError` (``permission``): 403, the identity lacks a permission set.
- :class:`BcUnavailable` (``transient``): 429/502/503/504/408, timeouts, connection failures,
  after the retries; or a ``Retry-After`` beyond our cap. Try again later (after ``retry_after``
  when BC named a wait).
- :class:`BcIndeterminate` (``indeterminate``): a POST (create, bound action, ``$batch`` with
  writes) whose fate is unknown. Look the record up by its key before any retry (bc-api §7.2).
- :class:`BcProtocolError` (``rule``): an answer that is not BC's API (an HTML page, a redirect,
  a nextLink to another host). Fix the URL or the proxy.

BC's message usually ends in ``"  CorrelationId:  {guid}."`` (bc-api §4): it is cut off the message
(people and our rules compare the text) and kept as ``correlation_id`` for Microsoft support.
Messages never contain credentials: only BC's own text, the method and the URL path.
"""

from __future__ import annotations

import html
import json
import re
from enum import StrEnum
from typing import Any

__all__ = [
    "BcAuthenticationError",
    "BcCompanyNotFound",
    "BcConflict",
    "BcError",
    "BcFailure",
    "BcIndeterminate",
    "BcNotFound",
    "BcPermissionError",
    "BcProtocolError",
    "BcRejected",
    "BcUnavailable",
    "error_for_status",
    "parse_error_body",
    "split_correlation_id",
]

_CORRELATION = re.compile(r"\s*CorrelationId:\s*([0-9A-Fa-f-]{36})\.?\s*$")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SNIPPET = 200


class BcFailure(StrEnum):
    """What kind of failure an error is; ``rule`` and ``transient`` match the inbox's FailureKind."""

    RULE = "rule"
    TRANSIENT = "transient"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    INDETERMINATE = "indeterminate"


class BcError(Exception):
    """BC answered with an error, or could not be asked.

    ``status`` is the HTTP status (None when there was no answer), ``code`` BC's error code (e.g.
    ``Application_DialogException``; for a failure without an answer one of ``dns``, ``connect``,
    ``tls``, ``timeout``, ``connection_lost``), ``message`` BC's text without the correlation id,
    ``correlation_id`` that id when BC gave one, ``method`` and ``path`` the request it answers.
    ``completed``: for a ``$batch`` sent as several calls, the results (``BatchResult``) of the
    calls that were answered before this one failed — what they did stands.
    """

    kind: BcFailure = BcFailure.RULE

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        correlation_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.method = method
        self.path = path
        self.completed: tuple[Any, ...] = ()
        super().__init__(self._text())

    def _text(self) -> str:
        head = " ".join(part for part in ("BC", str(self.status or ""), self.code) if part)
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{head}: {self.message}{where}"

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed without anyone changing anything."""
        return self.kind is BcFailure.TRANSIENT


class BcRejected(BcError):
    """BC said no (a 4xx answer): one of its rules refused the request. Waits for a person."""


class BcNotFound(BcRejected):
    """404: the entity, entity set, company or published page does not exist."""

    kind = BcFailure.NOT_FOUND


class BcCompanyNotFound(BcNotFound):
    """The configured company is not in ``GET companies``; ``available`` names those that are."""

    def __init__(self, company: str, available: tuple[str, ...]) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(
            None, "Internal_CompanyNotFound", f"The company '{company}' does not exist. Companies: {listed}."
        )
        self.company = company
        self.available = available


class BcConflict(BcRejected):
    """409: the record changed since it was read (``Request_EntityChanged``), or the key exists."""

    kind = BcFailure.CONFLICT


class BcAuthenticationError(BcRejected):
    """401 (after one token refresh), or the token endpoint refused our client credentials."""

    kind = BcFailure.AUTHENTICATION


class BcPermissionError(BcRejected):
    """403: the identity is not allowed this read or write (BC's permission sets)."""

    kind = BcFailure.PERMISSION


class BcProtocolError(BcError):
    """The answer is not one BC's API gives: an HTML page, a redirect, a nextLink to another host."""


class BcUnavailable(BcError):
    """A passing failure: BC throttled us, was away or too slow, or could not be reached.

    ``retry_after`` is the wait in seconds BC last asked for, when it asked for one.
    """

    kind = BcFailure.TRANSIENT

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        correlation_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(status, code, message, correlation_id=correlation_id, method=method, path=path)
        self.retry_after = retry_after


class BcIndeterminate(BcError):
    """A request that may have changed BC (a POST) got no clear answer: it timed out, lost its
    connection after sending, or got a 5xx. BC may or may not have done it, so it is **not**
    repeated: look the record up by its key (``externalDocumentNumber``) before any retry.
    """

    kind = BcFailure.INDETERMINATE


def split_correlation_id(message: str) -> tuple[str, str | None]:
    """BC's message without its trailing ``"  CorrelationId:  {guid}."``, and that id."""
    match = _CORRELATION.search(message)
    if match is None:
        return message.strip(), None
    return message[: match.start()].rstrip(), match.group(1).lower()


def parse_error_body(text: str, status: int) -> tuple[str, str, str | None]:
    """(code, message, correlation id) from an error body: BC's ``{"error": {...}}``, an OAuth
    error, or anything else (a proxy's or sign-in page's HTML: its title or first words)."""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message, correlation = split_correlation_id(str(error.get("message") or ""))
            return (str(code) if code is not None else "", message or f"HTTP {status}", correlation)
        if isinstance(error, str):  # OAuth: {"error": "invalid_client", "error_description": "..."}
            description = data.get("error_description")
            first = str(description).strip().splitlines()[0] if description else error
            return error, first, None
    return "", _snippet(text) or f"HTTP {status} with no body", None


def _snippet(text: str) -> str:
    title = _TITLE.search(text)
    if title is not None:
        found = " ".join(html.unescape(_TAGS.sub(" ", title.group(1))).split())
        if found:
            return found[:_SNIPPET]
    return " ".join(html.unescape(_TAGS.sub(" ", text)).split())[:_SNIPPET]


def error_for_status(
    status: int, text: str, *, method: str = "", path: str = "", retry_after: float | None = None
) -> BcError:
    """The error for a final (not retried) answer ``status`` with body ``text``.

    5xx and 408/429 become :class:`BcUnavailable`; the caller turns them into
    :class:`BcIndeterminate` for a request that may have changed BC.
    """
    code, message, correlation = parse_error_body(text, status)
    cls: type[BcError]
    if status in (408, 429) or status >= 500:
        return BcUnavailable(
            status, code, message, retry_after=retry_after, correlation_id=correlation, method=method, path=path
        )
    if status == 401:
        cls = BcAuthenticationError
    elif status == 403:
        cls = BcPermissionError
    elif status == 404:
        cls = BcNotFound
    elif status in (409, 412):  # BC answers 409 for a stale ETag; handle 412 anyway (bc-api §1.5)
        cls = BcConflict
    elif 300 <= status < 400:
        return BcProtocolError(
            status, code or "redirect", f"redirected ({message})", correlation_id=correlation, method=method, path=path
        )
    else:
        cls = BcRejected
    return cls(status, code, message, correlation_id=correlation, method=method, path=path)
