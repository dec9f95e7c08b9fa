"""One HTTP call to BC: credentials, pacing, retries, and what a failure means.

Every attempt takes an in-flight place and a window slot from the identity's limiter
(:mod:`orders.bc_link.limits`), sends, and classifies the outcome. Retries wait by the one backoff
policy, :class:`orders.retry.Backoff` (a tenacity ``AsyncRetrying`` loop with its ``wait()``), and
never sooner than BC's ``Retry-After``; a ``Retry-After`` beyond ``max_retry_after`` is not slept
on but raised as :class:`BcUnavailable` with ``retry_after``, so the caller can reschedule.

Which failures are retried depends on whether repeating the request is safe
(``docs/reference/bc-api.md §5, §7``). *Idempotent* calls are GET, PATCH/DELETE with If-Match and
a ``$batch`` of GETs; a POST (create, bound action, ``$batch`` with writes) is not: BC has no
idempotency key, so a POST that may have reached BC is **never repeated blindly**.

- 401: the token is dropped and fetched anew, and the request sent once more (OAuth only; BC
  refused it before doing anything, so a POST too); a second 401 is BcAuthenticationError.
- 429: retried, POST too: BC throttles before processing.
- 503: retried, POST too: BC's 503 is a request that waited 8 minutes in its queue and was never
  processed (§5).
- 502, 504, 408: idempotent calls retried; a POST raises **BcIndeterminate** (a gateway lost BC's
  answer, or BC ran past its time limits: it may have committed).
- other 5xx: BcUnavailable without retrying at once (BC's 500 is rarely passing); a POST raises
  **BcIndeterminate**.
- DNS failure, connection refused, connect timeout: retried, POST too: nothing was sent.
- TLS or certificate failure: BcUnavailable at once (retrying now cannot fix it).
- timeout or connection lost after sending: idempotent calls retried; a POST raises
  **BcIndeterminate** (the simulator's commit-then-drop).
- other 4xx: BcRejected and its subclasses, never retried.

A retried PATCH whose first attempt may have landed can end in 409 ``Request_EntityChanged`` caused
by itself; the caller re-reads as after any 409. A retried DELETE can likewise find the record gone
(404): ``BcApiClient.delete(..., missing_ok=True)`` takes that as done. (aiohttp itself repeats a
GET or DELETE once when a reused keep-alive connection turns out closed; never a POST or PATCH.)
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from yarl import URL

from orders.bc_link.auth import Authorizer
from orders.bc_link.config import BcLimits
from orders.bc_link.errors import (
    BcError,
    BcIndeterminate,
    BcProtocolError,
    BcUnavailable,
    error_for_status,
    parse_error_body,
)
from orders.bc_link.limits import IdentityLimiter
from orders.bc_link.odata import loads
from orders.retry import Backoff

__all__ = ["BcCall", "BcResponse", "Transport"]

log = logging.getLogger("orders.bc_link")

_RETRY_ALWAYS = frozenset({429, 503})  # BC did nothing: safe to repeat, even a POST
_RETRY_IF_IDEMPOTENT = frozenset({408, 502, 504})


@dataclass(frozen=True, slots=True)
class BcResponse:
    """A successful answer: status, headers (case-insensitive) and body (parsed JSON, text, or None)."""

    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class BcCall:
    """One HTTP attempt, as the ``observer`` hook sees it (status None: no answer)."""

    method: str
    path: str
    status: int | None
    seconds: float
    attempt: int


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, error: BcUnavailable, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


@dataclass
class _CallState:
    refreshed: bool = False  # the token was renewed once after a 401
    attempt: int = 0


class Transport:
    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        authorizer: Authorizer,
        limiter: IdentityLimiter,
        limits: BcLimits,
        *,
        language: str,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        observer: Callable[[BcCall], None] | None = None,
    ) -> None:
        self._session = session
        self.authorizer = authorizer
        self.limiter = limiter
        self.limits = limits
        self.language = language
        self.backoff = Backoff(limits.base_delay, limits.max_delay, rand)
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._observer = observer

    def _timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.limits.timeout, connect=self.limits.connect_timeout)

    # -- the BC API ---------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> BcResponse:
        """``url`` absolute and already percent-encoded (it is sent exactly as given)."""
        state = _CallState()
        extra = dict(headers or {})

        async def attempt() -> BcResponse:
            return await self._attempt(method, url, body, extra, idempotent, state)

        return await self._with_retries(method, url, attempt)

    async def _attempt(
        self,
        method: str,
        url: str,
        body: bytes | None,
        extra: dict[str, str],
        idempotent: bool,
        state: _CallState,
    ) -> BcResponse:
        path = URL(url, encoded=True).path
        while True:
            state.attempt += 1
            authorization = await self.authorizer.header()
            request_headers = {
                "Accept": "application/json",
                "Accept-Language": self.language,
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
                **extra,
                "Authorization": authorization,
            }
            if body is not None:
                request_headers.setdefault("Content-Type", "application/json")
            started = time.monotonic()
            status: int | None = None
            try:
                async with (
                    self.limiter.slot(),
                    self._session().request(
                        method,
                        URL(url, encoded=True),
                        data=body,
                        headers=request_headers,
                        timeout=self._timeout(),
                        allow_redirects=False,  # a redirect must not carry our credentials elsewhere
                    ) as resp,
                ):
                    raw = await resp.read()
                    status = resp.status
                    answer_headers = CIMultiDict(resp.headers)
            except Exception as exc:
                self._observe(method, path, None, started, state.attempt)
                raise self._failure(exc, method, path, idempotent) from None
            self._observe(method, path, status, started, state.attempt)
            text = raw.decode("utf-8", errors="replace")
            if status == 401 and self.authorizer.can_refresh and not state.refreshed:
                # Revoked or expired early: one fresh token, then BC's answer stands (bc-api §2.1).
                self.authorizer.invalidate(authorization)
                state.refreshed = True
                continue
            if status < 300:
                return _success(status, answer_headers, text, method, path)
            raise self._refusal(status, answer_headers, text, method, path, idempotent)

    def _refusal(
        self, status: int, headers: Mapping[str, str], text: str, method: str, path: str, idempotent: bool
    ) -> Exception:
        retry_after = self._retry_after(headers)
        if status == 429:
            self.limiter.counters.throttled += 1
        error = error_for_status(status, text, method=method, path=path, retry_after=retry_after)
        if not isinstance(error, BcUnavailable):
            return error
        if status in _RETRY_ALWAYS or (idempotent and status in _RETRY_IF_IDEMPOTENT):
            if retry_after is not None and retry_after > self.limits.max_retry_after:
                return error  # too long to sleep on: the caller reschedules
            return _Retry(error, retry_after)
        if not idempotent:
            return self._indeterminate(error, f"BC answered {status}: {error.message}")
        return error

    def _failure(self, exc: Exception, method: str, path: str, idempotent: bool) -> Exception:
        """An attempt that got no answer."""
        if isinstance(exc, aiohttp.ClientSSLError):
            reason = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None) or exc
            return BcUnavailable(None, "tls", f"TLS failed: {reason}", method=method, path=path)
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return _Retry(BcUnavailable(None, "dns", f"{exc.host} does not resolve", method=method, path=path))
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _Retry(BcUnavailable(None, "timeout", "connecting timed out", method=method, path=path))
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or exc.os_error.__class__.__name__
            message = f"cannot connect to {exc.host}:{exc.port}: {reason}"
            return _Retry(BcUnavailable(None, "connect", message, method=method, path=path))
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            error = BcUnavailable(
                None, "timeout", f"no answer within {self.limits.timeout:g} s", method=method, path=path
            )
        elif isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            error = BcUnavailable(
                None, "connection_lost", f"connection lost ({exc.__class__.__name__})", method=method, path=path
            )
        else:
            raise exc  # a bug of ours or aiohttp's: not BC's failure
        if not idempotent:
            return self._indeterminate(error, f"{error.message} after the request was sent")
        return _Retry(error)

    def _indeterminate(self, error: BcError, message: str) -> BcIndeterminate:
        self.limiter.counters.indeterminate += 1
        return BcIndeterminate(
            error.status,
            error.code,
            f"{message}; BC may or may not have carried it out: look it up before trying again",
            correlation_id=error.correlation_id,
            method=error.method,
            path=error.path,
        )

    # -- the token endpoint -------------------------------------------------------------------

    async def fetch_token(self, token_url: str, form: dict[str, str]) -> tuple[int, str]:
        """POST the client-credentials form; (status, body). Repeating it is harmless, so every
        passing failure is retried like an idempotent call. Not paced: Entra is not BC."""

        async def attempt() -> tuple[int, str]:
            self.limiter.counters.token_requests += 1
            path = URL(token_url).path
            try:
                async with self._session().post(
                    token_url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout()
                ) as resp:
                    status, text = resp.status, await resp.text()
                    headers = CIMultiDict(resp.headers)
            except Exception as exc:
                raise self._failure(exc, "POST", path, True) from None
            if status in _RETRY_ALWAYS or status in _RETRY_IF_IDEMPOTENT or status >= 500:
                code, message, _ = parse_error_body(text, status)
                retry_after = self._retry_after(headers)
                error = BcUnavailable(
                    status, code, f"token endpoint: {message}", retry_after=retry_after, method="POST", path=path
                )
                if retry_after is not None and retry_after > self.limits.max_retry_after:
                    raise error
                raise _Retry(error, retry_after)
            return status, text

        return await self._with_retries("POST", token_url, attempt)

    # -- retries ------------------------------------------------------------------------------

    async def _with_retries(self, method: str, url: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        policy = self.backoff.wait()
        path = URL(url, encoded=True).path

        def wait(state: RetryCallState) -> float:
            delay = float(policy(state))
            retry = state.outcome.exception() if state.outcome is not None else None
            if isinstance(retry, _Retry) and retry.retry_after is not None:
                delay = max(delay, retry.retry_after)  # never sooner than BC asked
            return delay

        def before_sleep(state: RetryCallState) -> None:
            self.limiter.counters.retries += 1
            retry = state.outcome.exception() if state.outcome is not None else None
            error = retry.error if isinstance(retry, _Retry) else None
            log.info(
                "BC %s %s failed (%s %s), retry %d in %.2f s",
                method,
                path,
                error.status if error else None,
                error.code if error else None,
                state.attempt_number,
                state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.limits.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except _Retry as last:
            self.limiter.counters.errors += 1
            last.error.retry_after = last.retry_after
            log.warning("BC %s %s gave up after %d attempts: %s", method, path, self.limits.max_attempts, last.error)
            raise last.error from None
        except BcError as error:
            self.limiter.counters.errors += 1
            # BC saying no is the caller's news to report; BC away or an unknown outcome is ours.
            level = logging.WARNING if isinstance(error, BcUnavailable | BcIndeterminate) else logging.DEBUG
            log.log(level, "BC %s %s: %s", method, path, error)
            raise

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        """``Retry-After`` in seconds, or as an HTTP date (measured against the wall clock)."""
        value = (headers.get("Retry-After") or "").strip()
        if not value:
            return None
        with contextlib.suppress(ValueError):
            return max(0.0, float(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - self._wall_clock())

    def _observe(self, method: str, path: str, status: int | None, started: float, attempt: int) -> None:
        seconds = time.monotonic() - started
        log.debug("BC %s %s -> %s in %.3f s", method, path, status, seconds)
        if self._observer is not None:
            self._observer(BcCall(method, path, status, seconds, attempt))


def _success(status: int, headers: Mapping[str, str], text: str, method: str, path: str) -> BcResponse:
    content_type = headers.get("Content-Type", "").lower()
    if not text.strip():
        return BcResponse(status, headers, None)
    if "html" in content_type:
        # BC's API never answers HTML: a proxy or a sign-in page is in the way.
        _code, message, _ = parse_error_body(text, status)
        raise BcProtocolError(
            status, "not_json", f"the answer is a web page, not BC's API: {message}", method=method, path=path
        )
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return BcResponse(status, headers, loads(text))
        except ValueError:
            raise BcProtocolError(
                status, "bad_json", "the answer is not valid JSON", method=method, path=path
            ) from None
    return BcResponse(status, headers, text)  # e.g. $count: text/plain
