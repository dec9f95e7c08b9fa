"""Property and fuzz tests over real HTTP: hypothesis drives blocking requests (http.client) from a
worker thread while the server under test runs on the test's event loop.

The number of examples per test comes from BCGW_FUZZ_EXAMPLES (CI's default is small; `make
fuzz` sets 100,000). A request that gets no answer within HANG_SECONDS fails the example: a
connection left hanging is a defect (issue 9, item 4), not a slow answer.
"""

from __future__ import annotations

import asyncio
import http.client
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, settings

T = TypeVar("T")

DEFAULT_EXAMPLES = 200
HANG_SECONDS = 30.0


def fuzz_examples(default: int = DEFAULT_EXAMPLES) -> int:
    return int(os.environ.get("BCGW_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int = DEFAULT_EXAMPLES) -> settings:
    """Many examples, no deadline (a database round trip varies), no example database on disk,
    no shrinking time wasted past the first failure's report."""
    return settings(
        max_examples=fuzz_examples(default),
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class SyncClient:
    """One keep-alive connection to the server, as Sales or a fuzzer would hold it."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=HANG_SECONDS)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
        except TimeoutError:
            self.close()
            raise AssertionError(
                f"{method} {path}: no answer within {HANG_SECONDS:.0f} s (a hung connection)"
            ) from None
        except (ConnectionError, http.client.HTTPException):
            # The server closed after an error answer: the next request opens a new connection.
            self.close()
            raise
        answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        if answer.headers.get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class LoopBridge:
    """Runs the test's coroutines (database checks) from the hypothesis thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=HANG_SECONDS)


async def run_property(test: Callable[[LoopBridge], None]) -> None:
    """Run a (hypothesis-decorated) blocking test in a thread while this loop serves."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, test, LoopBridge(loop))
