"""The one retry and backoff policy, built on tenacity's wait strategies.

Every retry in order processing waits the same way: exponential backoff (tenacity's
``wait_exponential``) with "equal jitter" — a random point in the upper half of the exponential
delay — so retries spread out (no thundering herd after an outage) but never come sooner than half
the nominal delay. The Dataverse client sleeps by it between attempts (a tenacity ``AsyncRetrying``
loop); the inbox schedules a row's next attempt by it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import RetryCallState, wait_exponential
from tenacity.wait import wait_base


class _EqualJitter(wait_base):
    """tenacity's exponential wait, then a random point in its upper half."""

    def __init__(self, exponential: wait_exponential, rand: Callable[[], float]) -> None:
        self.exponential = exponential
        self.rand = rand

    def __call__(self, retry_state: RetryCallState) -> float:
        nominal = float(self.exponential(retry_state))
        return nominal / 2 + nominal / 2 * self.rand()


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base`` seconds after the first failed attempt, doubling each time, at most ``cap``.

    ``rand`` draws the jitter (injectable: ``lambda: 1.0`` gives the nominal delays exactly).
    """

    base: float
    cap: float
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def wait(self) -> wait_base:
        """The tenacity wait strategy (for a tenacity Retrying loop)."""
        return _EqualJitter(wait_exponential(multiplier=self.base, max=self.cap), self.rand)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 is the first)."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempt)
        return float(self.wait()(state))

    def next_attempt_at(self, attempt: int, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.delay(attempt))


# Scheduled retries of inbox rows and write-backs: from BCGW_RETRY_BASE_DELAY, at most an hour.
ROW_RETRY_CAP = 3600.0
