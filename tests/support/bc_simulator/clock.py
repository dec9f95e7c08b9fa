"""The simulator's notion of time.

Everything that BC does "later" (webhook merge windows, retries, subscription expiry, token
lifetime, the rate-limit window) reads this clock, so a test can jump hours ahead with
``advance()`` instead of sleeping. Time still flows in real time between jumps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta


def truncate_ms(moment: datetime) -> datetime:
    """BC keeps datetimes to the millisecond; truncating here keeps `gt` filters on values read back exact."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class SimClock:
    """Real time plus an offset that only grows (time travel forwards)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = 0.0
        if start is not None:
            self._offset = start.astimezone(UTC).timestamp() - time.time()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return truncate_ms(datetime.fromtimestamp(time.time() + self._offset, UTC))

    def today(self) -> date:
        return self.now().date()

    def monotonic(self) -> float:
        """Seconds for measuring windows; jumps with advance() like the wall clock does."""
        return time.monotonic() + self._offset

    def advance(self, seconds: float | timedelta) -> None:
        delta = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if delta < 0:
            raise ValueError("the simulator's clock only moves forwards")
        self._offset += delta
        for listener in list(self._listeners):
            listener()

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Called after every jump (the webhook loop wakes up to look at what fell due)."""
        self._listeners.append(listener)
