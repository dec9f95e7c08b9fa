"""The one retry and backoff policy, built on tenacity's wait strategies.

Every retry in order processing waits the same way: exponential backoff with "equal jitter" —
half of the exponential delay fixed, the other half random — so retries spread out (no thundering
herd after an outage) but never come sooner than half the nominal delay. The Dataverse client
sleeps by it between attempts; the inbox schedules a row's next attempt by it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential, wait_random_exponential
from tenacity.wait import wait_base


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base`` seconds before the second attempt, doubling each time, at most ``cap`` seconds."""

    base: float
    cap: float

    def wait(self) -> wait_base:
        """The tenacity wait strategy (for a tenacity Retrying loop)."""
        half, half_cap = self.base / 2, self.cap / 2
        return wait_exponential(multiplier=half, max=half_cap) + wait_random_exponential(multiplier=half, max=half_cap)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 is the first)."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempt)
        return float(self.wait()(state))

    def next_attempt_at(self, attempt: int, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.delay(attempt))


# Scheduled retries of inbox rows and write-backs: from BCGW_RETRY_BASE_DELAY, at most an hour.
ROW_RETRY_CAP = 3600.0
