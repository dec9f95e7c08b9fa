"""Faults a test asks for: the next matching requests fail (an HTTP status, Dataverse's
throttling answer, a slow answer, a dropped connection) instead of being answered."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.sales_simulator.errors import error_response

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

# Dataverse's service protection answer (docs/reference/dataverse.md §3.5).
THROTTLED = ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")


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
