"""Faults a test asks for: the next matching requests fail (an HTTP status, Dataverse's
throttling answer, a slow answer, a dropped connection) instead of being answered; and Dataverse's
service protection limits (docs/reference/dataverse.md §3.5): at most ``max_concurrent_requests``
(52) Web API requests at once, and, when a test sets one, a number of requests per time window.
Both answer 429 with Dataverse's code, message and a ``Retry-After`` header."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.sales_simulator.errors import error_response

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

# Dataverse's service protection answers (docs/reference/dataverse.md §3.5).
THROTTLED = ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
CONCURRENCY = ("0x80072326", "Number of concurrent requests exceeded the limit of 52.")
MAX_CONCURRENT_REQUESTS = 52


class ServiceProtection:
    """Dataverse's per-user limits on the Web API: concurrent requests, and requests per window."""

    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.max_concurrent = MAX_CONCURRENT_REQUESTS
        self.concurrency_retry_after = 1
        self.in_flight = 0
        self.peak = 0
        self.refused = 0  # requests answered 429 by these limits
        self._count = 0
        self._window = 300.0
        self._retry_after: float | None = None
        self._seen: deque[float] = deque()
        self.changed = asyncio.Event()  # set whenever a request is let in or refused (tests wait on it)

    def limit(self, count: int, window: float, retry_after: float | None) -> None:
        self._count, self._window, self._retry_after = count, window, retry_after
        self._seen.clear()

    def _window_full(self) -> float | None:
        """Seconds until the window has room, when it is full (None: the request may go)."""
        if self._count <= 0:
            return None
        now = time.monotonic()
        while self._seen and self._seen[0] <= now - self._window:
            self._seen.popleft()
        if len(self._seen) < self._count:
            self._seen.append(now)
            return None
        return max(0.0, self._seen[0] + self._window - now)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        from tests.support.sales_simulator.webapi import API

        if not request.path.startswith(API):
            return await handler(request)
        if self.in_flight >= self.max_concurrent:
            self.refused += 1
            self.changed.set()
            code, message = CONCURRENCY
            message = message.replace("52", str(self.max_concurrent))
            return error_response(429, code, message, {"Retry-After": str(self.concurrency_retry_after)})
        wait = self._window_full()
        if wait is not None:
            self.refused += 1
            self.changed.set()
            seconds = self._retry_after if self._retry_after is not None else wait
            return error_response(429, *THROTTLED, {"Retry-After": str(max(1, math.ceil(seconds)))})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.changed.set()
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int
    status: int | str
    retry_after: str | None
    delay: float


class Faults:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.faults: list[Fault] = []
        self.gate = asyncio.Event()  # "hold" faults wait for it

    def add(
        self,
        method: str,
        path_regex: str,
        count: int,
        status: int | str,
        retry_after: str | float | None,
        delay: float | None,
    ) -> None:
        self.faults.append(
            Fault(
                method.upper(),
                re.compile(path_regex),
                count,
                status,
                None if retry_after is None else str(retry_after),
                self.sim.timeout_delay if delay is None else delay,
            )
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        for fault in self.faults:
            if fault.remaining <= 0 or fault.method not in ("*", request.method):
                continue
            if not fault.pattern.search(request.path):
                continue
            fault.remaining -= 1
            if fault.status == "hold":
                await self.gate.wait()
                return await handler(request)
            if fault.status == "timeout":
                await asyncio.sleep(fault.delay)
                return await handler(request)
            if fault.status == "disconnect":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # never reaches the client: the connection is gone
            status = int(fault.status)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            if status == 429:
                return error_response(429, *THROTTLED, headers)
            return error_response(status, "0x80040216", f"simulated failure {status}", headers)
        return await handler(request)
