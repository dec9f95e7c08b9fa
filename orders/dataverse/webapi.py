"""The Dataverse Web API transport: OAuth client credentials, retries with backoff, paging, and
errors that tell "try later" (DataverseUnavailable) from "Sales said no".

Rows come back as Dataverse returns them (JSON objects; lookups as ``_<name>_value`` with the
``@Microsoft.Dynamics.CRM.lookuplogicalname`` annotation), except that JSON numbers with a fraction
are read as ``Decimal`` so money never passes through a float.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote as urlquote

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from yarl import URL

from orders.dataverse.deadline import (
    _AsksTooLong,
    _deadline_passed,
    _PastDeadline,
    _Retry,
    _time_left,
    deadline,
)
from orders.dataverse.errors import (
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseUnavailable,
    _path,
    connection_failure,
    dataverse_error_text,
    oauth_error_text,
)
from orders.dataverse.wire import _json_default, _loads, checked_guid, odata_string
from orders.retry import Backoff

__all__ = [
    "API_PATH",
    "MAX_CONCURRENT_REQUESTS",
    "DataverseError",
    "DataverseNotFound",
    "DataversePreconditionFailed",
    "DataverseUnavailable",
    "WebApiSession",
    "connection_failure",
    "dataverse_error_text",
    "deadline",
    "oauth_error_text",
    "odata_string",
]

log = logging.getLogger(__name__)

API_PATH = "/api/data/v9.2/"
LOOKUP_ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'
# Passing failures: throttling, and the server's own errors. A 500 is Dataverse's answer to many
# a passing fault (a plug-in timing out, SQL deadlocks), so it is retried like 502-504 — for
# idempotent calls; a POST that got a 500 may have been carried out and is not repeated here.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# The longest Retry-After slept inside one request; a longer one is handed to the caller
# (DataverseUnavailable.retry_after), who reschedules instead of holding a worker slot.
MAX_RETRY_AFTER = 30.0
# Dataverse's service protection allows 52 concurrent requests per user; more are answered 429.
MAX_CONCURRENT_REQUESTS = 52

# Salesorder states and statuses used by the write-back (dataverse.md §2).
_FILTER_SAFE = "'(),:"  # readable in logs; everything else percent-encoded


class WebApiSession:
    """The Web API transport: OAuth client-credentials token, retries, errors, paging."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        org_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 30.0,
        max_retry_after: float = MAX_RETRY_AFTER,
        page_size: int | None = None,
        max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        now: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``sleep``/``now``/``wall_clock``/``rand`` are injectable for tests: ``now`` times the
        token cache, ``wall_clock`` reads an HTTP-date Retry-After, ``rand`` draws the jitter.
        Retries wait by :class:`orders.retry.Backoff`
        from ``base_delay`` up to ``max_delay`` seconds; ``timeout`` bounds each attempt; a
        Retry-After longer than ``max_retry_after`` is not slept but raised (DataverseUnavailable
        with ``retry_after``). At most ``max_concurrent_requests`` requests are in flight at once
        (Dataverse's limit per user is 52); the others wait their turn before being sent."""
        self._session = session
        self.org_url = org_url.rstrip("/")
        self.base_url = self.org_url + API_PATH
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.max_attempts = max(1, max_attempts)
        self.retry_policy = Backoff(base_delay, max_delay, rand)
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self.page_size = page_size
        self._sleep = sleep
        self._now = now
        self._wall_clock = wall_clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.max_concurrent_requests = max(1, max_concurrent_requests)
        self._in_flight = asyncio.Semaphore(self.max_concurrent_requests)

    def __repr__(self) -> str:  # never show the secret or the token
        return f"DataverseClient({self.org_url!r}, client_id={self._client_id!r})"

    # -- token --------------------------------------------------------------------------------

    async def _get_token(self) -> str:
        async with self._token_lock:  # one token request at a time; the others wait and reuse it
            if self._token is not None and self._now() < self._token_expires:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": self.org_url + "/.default",
            }
            body = await self._with_retries("POST", self._token_url, self._token_attempt, form, idempotent=True)
            token = body.get("access_token") if isinstance(body, dict) else None
            expires_in = body.get("expires_in") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise DataverseError(None, "invalid_token_response", "the token endpoint sent no access_token")
            try:
                lifetime = float(expires_in) if expires_in is not None else 3600.0
            except (TypeError, ValueError):
                lifetime = 3600.0
            # Renew a little early (60 s, or 10% of a short lifetime) so a token never expires in flight.
            self._token = token
            self._token_expires = self._now() + lifetime - min(60.0, lifetime * 0.1)
            log.debug("dataverse token acquired, valid %.0f s", lifetime)
            return token

    def _drop_token(self, token: str) -> None:
        if self._token == token:  # another caller may already have fetched a newer one
            self._token = None

    async def _token_attempt(self, method: str, url: str, form: dict[str, str]) -> Any:
        async with self._session.request(
            method, url, data=form, headers={"Accept": "application/json"}, timeout=self._client_timeout()
        ) as resp:
            text = await resp.text()
            if resp.status < 300:
                return _loads(text) if text else {}
            code, message = oauth_error_text(text)
            if resp.status in _RETRY_STATUSES:
                raise _Retry(
                    DataverseUnavailable(resp.status, code, f"token endpoint: {message}"), _retry_after(resp, self)
                )
            raise DataverseError(resp.status, code, f"token endpoint: {message}")

    # -- HTTP with retries --------------------------------------------------------------------

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        left = _time_left()
        return aiohttp.ClientTimeout(total=self.timeout if left is None else max(0.001, min(self.timeout, left)))

    async def _with_retries(
        self,
        method: str,
        url: str,
        attempt_fn: Callable[..., Awaitable[Any]],
        *args: Any,
        idempotent: bool = True,
    ) -> Any:
        """Run one attempt after another by the retry policy until one succeeds or gives a final
        answer; a failure worth another try is a ``_Retry`` inside, DataverseUnavailable outside."""

        call = f"{method} {_path(url)}"
        attempts = 0

        async def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            left = _time_left()
            if left is not None and left <= 0:
                raise _deadline_passed(call)
            try:
                return await attempt_fn(method, url, *args)
            except DataverseError as exc:
                exc.call = exc.call or call
                raise
            except _Retry as retry:
                retry.error.call = retry.error.call or call
                raise
            except (TimeoutError, aiohttp.ServerTimeoutError):
                left = _time_left()
                if left is not None and left <= 0.001:
                    raise _deadline_passed(call) from None
                error = DataverseUnavailable(None, "timeout", f"no answer within {self.timeout:g} s", call=call)
                if not idempotent:
                    raise error from None
                raise _Retry(error) from None
            except aiohttp.ClientConnectorError as exc:
                # Not connected at all: nothing was sent, so even a POST may be repeated.
                raise _Retry(DataverseUnavailable(None, "connection", connection_failure(exc), call=call)) from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                error = DataverseUnavailable(None, "connection", connection_failure(exc), call=call)
                if not idempotent:
                    raise error from None
                raise _Retry(error) from None

        policy = self.retry_policy.wait()

        def wait(state: RetryCallState) -> float:
            delay = float(policy(state))
            retry = state.outcome.exception() if state.outcome is not None else None
            if isinstance(retry, _Retry) and retry.retry_after is not None:
                delay = max(delay, retry.retry_after)  # never sooner than Sales asked
            return delay

        def before_sleep(state: RetryCallState) -> None:
            retry = state.outcome.exception() if state.outcome is not None else None
            log.info(
                "dataverse %s failed, retry %d of %d in %.2f s",
                retry.error.describe() if isinstance(retry, _Retry) else call,
                state.attempt_number,
                self.max_attempts - 1,
                state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | _AsksTooLong(self.max_retry_after) | _PastDeadline(),
            wait=wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except _Retry as last:
            last.error.retry_after = last.retry_after
            if last.retry_after is not None and last.retry_after > self.max_retry_after:
                log.info(
                    "dataverse %s: Sales asks to wait %.0f s; not waiting inside the request",
                    last.error.describe(),
                    last.retry_after,
                )
            else:
                log.warning("dataverse %s; gave up after %d attempt(s)", last.error.describe(), attempts)
            raise last.error from None

    async def _api_attempt(
        self, method: str, url: str, body: Any, headers: dict[str, str], idempotent: bool, raw: bool = False
    ) -> tuple[int, dict[str, str], Any]:
        """One attempt. ``raw``: ``body`` is sent as the bytes given and the answer's text is returned
        unparsed, whatever its status (a $batch answers 200 or 400 with a multipart body) unless
        the answer is a JSON error (throttling, authentication)."""
        refreshed = False
        while True:
            token = await self._get_token()
            request_headers = {
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
                "Authorization": f"Bearer {token}",
                **headers,
            }
            if body is not None and not raw:
                request_headers.setdefault("Content-Type", "application/json")
            data = body if raw else (None if body is None else json.dumps(body, default=_json_default).encode())
            # The token is fetched outside the slot, so waiting for a token never holds one.
            async with (
                self._in_flight,
                self._session.request(
                    method,
                    URL(url, encoded=True),
                    data=data,
                    headers=request_headers,
                    timeout=self._client_timeout(),
                    allow_redirects=False,
                ) as resp,
            ):
                text = await resp.text()
                log.debug("dataverse %s %s -> %s", method, _path(url), resp.status)
                if resp.status == 401 and not refreshed:
                    # The token was revoked or expired early: fetch a fresh one, once.
                    self._drop_token(token)
                    refreshed = True
                    continue
                if resp.status < 300:
                    return resp.status, dict(resp.headers), (text if raw else _loads(text) if text.strip() else None)
                if raw and resp.content_type.startswith("multipart/") and resp.status not in _RETRY_STATUSES:
                    return resp.status, dict(resp.headers), text
                code, message = dataverse_error_text(text, resp.status)
                if resp.status == 429 or (resp.status in _RETRY_STATUSES and idempotent):
                    raise _Retry(DataverseUnavailable(resp.status, code, message), _retry_after(resp, self))
                if resp.status in _RETRY_STATUSES:
                    raise DataverseUnavailable(resp.status, code, message)
                if resp.status == 404:
                    raise DataverseNotFound(resp.status, code, message)
                if resp.status == 412:
                    raise DataversePreconditionFailed(resp.status, code, message)
                raise DataverseError(resp.status, code, message)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> tuple[int, dict[str, str], Any]:
        """One Web API call with retries. ``path`` is relative to ``<org>/api/data/v9.2/`` (already
        percent-encoded) or an absolute URL on the organisation (a nextLink). Returns
        (status, headers, parsed JSON or None)."""
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if not url.startswith(self.base_url):
            # A nextLink elsewhere would receive our bearer token.
            raise DataverseError(None, "bad_url", f"refusing to call {URL(url).origin()} with the Sales token")
        return await self._with_retries(
            method, url, self._api_attempt, body, dict(headers or {}), idempotent, idempotent=idempotent
        )

    async def request_raw(
        self, method: str, path: str, data: bytes, headers: dict[str, str], *, idempotent: bool
    ) -> tuple[int, dict[str, str], str]:
        """Like :meth:`request`, for a body that is not JSON (a ``$batch``): ``data`` is sent as it
        is, and the answer's text comes back unparsed — also a multipart answer with an error
        status, which a ``$batch`` that stopped at a failed operation gives."""
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if not url.startswith(self.base_url):
            raise DataverseError(None, "bad_url", f"refusing to call {URL(url).origin()} with the Sales token")
        status, answer_headers, text = await self._with_retries(
            method, url, self._api_attempt, data, dict(headers), idempotent, True, idempotent=idempotent
        )
        return status, answer_headers, str(text)

    # -- reads --------------------------------------------------------------------------------

    def _read_headers(self) -> dict[str, str]:
        prefer = [LOOKUP_ANNOTATIONS]
        if self.page_size:
            prefer.append(f"odata.maxpagesize={self.page_size}")
        return {"Prefer": ",".join(prefer)}

    async def get_row(self, entity_set: str, row_id: str, select: list[str] | None = None) -> dict[str, Any]:
        """GET ``<entity_set>(<id>)``; DataverseNotFound when there is no such row."""
        path = f"{entity_set}({checked_guid(row_id)})"
        if select:
            path += "?$select=" + ",".join(select)
        _status, _headers, data = await self.request("GET", path, headers=self._read_headers())
        if not isinstance(data, dict):
            raise DataverseError(200, "bad_response", f"GET {entity_set} did not answer a JSON object")
        return data

    async def iter_rows(self, entity_set: str, filter_: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """The rows of a collection, following ``@odata.nextLink`` to the last page."""
        path: str | None = entity_set
        if filter_:
            path = f"{entity_set}?$filter={urlquote(filter_, safe=_FILTER_SAFE)}"
        while path is not None:
            _status, _headers, data = await self.request("GET", path, headers=self._read_headers())
            if not isinstance(data, dict) or not isinstance(data.get("value"), list):
                raise DataverseError(200, "bad_response", f"GET {entity_set} did not answer a collection")
            for row in data["value"]:
                yield row
            next_link = data.get("@odata.nextLink")
            path = next_link if isinstance(next_link, str) and next_link else None

    async def list_rows(self, entity_set: str, filter_: str | None = None) -> list[dict[str, Any]]:
        return [row async for row in self.iter_rows(entity_set, filter_)]


# -- helpers ----------------------------------------------------------------------------------


def _retry_after(resp: aiohttp.ClientResponse, client: WebApiSession) -> float | None:
    """``Retry-After`` in seconds, or as an HTTP date (then measured against the wall clock)."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):  # not seconds: an HTTP date
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - client._wall_clock())
