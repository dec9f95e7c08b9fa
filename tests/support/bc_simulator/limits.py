"""BC online's operational limits, per user or app: a sliding-window rate limit, at most N requests
processing at once with a bounded queue behind them, and the statistics tests assert on.

Rate window and Retry-After read the simulator's clock (time travel empties the window); how long a
request may wait in the queue is measured in real seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from .clock import SimClock
from .config import SimConfig
from .errors import ApiError


@dataclass
class IdentityStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    queued: int = 0
    max_queued: int = 0
    rate_limited: int = 0
    queue_full: int = 0
    queue_timeouts: int = 0


@dataclass
class _State:
    window: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class Limiter:
    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self._states: dict[str, _State] = {}
        self.stats: dict[str, IdentityStats] = {}

    def _get(self, name: str) -> tuple[_State, IdentityStats]:
        return self._states.setdefault(name, _State()), self.stats.setdefault(name, IdentityStats())

    def _rate(self, state: _State, stats: IdentityStats) -> None:
        now = self.clock.monotonic()
        window, limit, span = state.window, self.config.rate_limit, self.config.rate_window
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= limit:
            stats.rate_limited += 1
            retry = max(1, math.ceil(window[0] + span - now))
            raise ApiError(
                429,
                "Application_TooManyRequests",
                f"Too many requests reached.  Actual ({len(window) + 1}). Maximum ({limit}).",
                {"Retry-After": str(retry)},
            )
        window.append(now)

    async def acquire(self, name: str) -> None:
        state, stats = self._get(name)
        stats.requests += 1
        self._rate(state, stats)
        if state.in_flight >= self.config.max_concurrent:
            if len(state.waiters) >= self.config.max_queue:
                stats.queue_full += 1
                raise ApiError(
                    429,
                    "Application_TooManyRequests",
                    "The request was rejected because too many requests are waiting to be processed.",
                    {"Retry-After": "1"},
                )
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            state.waiters.append(waiter)
            stats.queued = len(state.waiters)
            stats.max_queued = max(stats.max_queued, stats.queued)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), self.config.queue_timeout)
            except BaseException as exc:
                granted = waiter.done() and not waiter.cancelled()
                if not granted:
                    waiter.cancel()
                with contextlib.suppress(ValueError):
                    state.waiters.remove(waiter)
                stats.queued = len(state.waiters)
                if granted:
                    self.release(name)  # granted at the last moment: hand the slot on
                if not isinstance(exc, TimeoutError):
                    raise
                stats.queue_timeouts += 1
                raise ApiError(
                    503,
                    "Internal_ServiceUnavailable",
                    "The request waited too long to be processed and was cancelled.",
                    {"Retry-After": "1"},
                ) from None
            stats.queued = len(state.waiters)
            # The releasing request handed its slot over: in_flight already counts us.
        else:
            state.in_flight += 1
        stats.in_flight = state.in_flight
        stats.max_in_flight = max(stats.max_in_flight, state.in_flight)

    def release(self, name: str) -> None:
        state, stats = self._get(name)
        while state.waiters:
            waiter = state.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                stats.queued = len(state.waiters)
                return
        state.in_flight -= 1
        stats.in_flight = state.in_flight

    def reset_stats(self) -> None:
        """Counters back to zero; what is in flight or queued right now stays counted."""
        for name in list(self.stats):
            state = self._states.get(name)
            busy = state.in_flight if state else 0
            self.stats[name] = IdentityStats(
                in_flight=busy, max_in_flight=busy, queued=len(state.waiters) if state else 0
            )

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(stats) for name, stats in self.stats.items()}
