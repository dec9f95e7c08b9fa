"""Pacing one identity's requests under BC's operational limits, and counting what happens.

BC online processes at most 5 requests at once per user or app, queues the rest (503 after 8
minutes in the queue) and allows 6,000 requests per 5-minute sliding window (429 beyond;
``docs/reference/bc-api.md §5``). :class:`IdentityLimiter` keeps every caller of one identity
inside both: a semaphore for the requests in flight, and a sliding window that makes a caller
*wait for a slot* instead of spending a request on a 429. Limits are per identity in BC, so all
code using one identity must share one limiter (normally by sharing one ``BcApiClient``).

:class:`BcMetrics` is what a caller can read (``mirror status``, benchmarks): requests, retries,
throttled waits, the most requests in flight at once. :class:`SingleFlight` lets concurrent callers
share one run of a piece of work (the token request, the company lookup) and its outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["BcMetrics", "IdentityLimiter", "SingleFlight", "SlidingWindow"]

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class BcMetrics:
    """Counters since the client was made (a snapshot: read ``client.metrics()`` again for news).

    ``requests``: HTTP requests sent to BC (retries included, token requests not);
    ``token_requests``: calls of the token endpoint; ``retries``: attempts repeated after a
    passing failure; ``throttled``: answers 429 from BC; ``window_waits`` / ``window_wait_seconds``:
    times and seconds callers waited for a slot in the sliding window; ``in_flight`` /
    ``max_in_flight``: requests being processed now / at most at once; ``indeterminate``: POSTs
    whose outcome was unknown; ``errors``: calls that ended in an error.
    """

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    throttled: int = 0
    window_waits: int = 0
    window_wait_seconds: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    indeterminate: int = 0
    errors: int = 0


class _Counters:
    """The mutable side of BcMetrics (one event loop: no locking needed)."""

    def __init__(self) -> None:
        self.requests = 0
        self.token_requests = 0
        self.retries = 0
        self.throttled = 0
        self.window_waits = 0
        self.window_wait_seconds = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.indeterminate = 0
        self.errors = 0

    def snapshot(self) -> BcMetrics:
        return BcMetrics(**vars(self))


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window`` seconds; a caller past it sleeps until the
    oldest acquisition leaves the window. Waiters are served in arrival order (asyncio.Lock is FIFO)."""

    def __init__(self, limit: int, window: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _evict(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    async def acquire(self) -> float:
        """Take a slot; returns the seconds waited for it."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                self._evict(now)
                if len(self._times) < self.limit:
                    self._times.append(now)
                    return waited
                delay = max(self._times[0] + self.window - now, 0.001)
                await self._sleep(delay)
                waited += delay

    @property
    def used(self) -> int:
        """Slots taken within the current window."""
        self._evict(self._clock())
        return len(self._times)


class IdentityLimiter:
    """The in-flight semaphore and the sliding window of one BC identity, with its counters."""

    def __init__(
        self,
        max_in_flight: int = 5,
        rate_limit: int = 6000,
        rate_window: float = 300.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_in_flight = max_in_flight
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self.window = SlidingWindow(rate_limit, rate_window, clock=clock, sleep=sleep)
        self.counters = _Counters()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the in-flight places for one HTTP request to BC.

        The window slot is taken *after* the in-flight place, right before sending: the instant we
        record is then the instant BC counts, so our window never runs ahead of BC's.
        """
        counters = self.counters
        async with self._semaphore:
            waited = await self.window.acquire()
            if waited:
                counters.window_waits += 1
                counters.window_wait_seconds += waited
            counters.requests += 1
            counters.in_flight += 1
            counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
            try:
                yield
            finally:
                counters.in_flight -= 1

    def metrics(self) -> BcMetrics:
        return self.counters.snapshot()


class SingleFlight(Generic[T]):
    """One run of ``work`` at a time, its outcome (result or error) shared by every caller waiting
    for it; the next call after it ends starts a new run. For the token and the company lookup:
    fifty callers at start-up, or while Entra is away, cost one request, not fifty."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._pending: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._pending is None:
            pending = asyncio.ensure_future(self._work())
            pending.add_done_callback(self._settled)
            self._pending = pending
        # Shielded: a caller that gives up (cancelled) must not cancel the others' run.
        return await asyncio.shield(self._pending)

    def _settled(self, pending: asyncio.Future[T]) -> None:
        if self._pending is pending:
            self._pending = None
        if not pending.cancelled():
            pending.exception()  # retrieved here too, in case every waiter was cancelled
