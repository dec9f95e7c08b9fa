"""How long one order's Sales calls may take together (a deadline per task) and when the retry
policy stops: past the deadline, or when Sales asks for a wait longer than we keep a row waiting."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from tenacity import RetryCallState
from tenacity.stop import stop_base

from orders.dataverse.errors import DataverseUnavailable

# The monotonic time by which the current task's Sales calls must end (see `deadline`).
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("dataverse_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Every Sales call made inside this block, in this task, ends within ``seconds`` from now —
    retries, backoff and token requests included: an attempt's timeout is cut to what is left, and
    no retry is started that could not finish in time. A context variable, so that concurrent
    tasks sharing one client each keep their own deadline. Nested, the earlier deadline holds."""
    outer = _DEADLINE.get()
    if seconds is None:
        value = outer
    else:
        value = (time.monotonic() + seconds, seconds)
        if outer is not None and outer[0] < value[0]:
            value = outer  # an inner block never outlives the one it is in
    token = _DEADLINE.set(value)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left() -> float | None:
    current = _DEADLINE.get()
    return None if current is None else current[0] - time.monotonic()


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, error: DataverseUnavailable, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class _AsksTooLong(stop_base):
    """Stop when Sales asks for a longer pause than a request may hold its caller: hand it back."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        retry = outcome.exception() if outcome is not None else None
        return isinstance(retry, _Retry) and (retry.retry_after or 0.0) > self.limit


class _PastDeadline(stop_base):
    """Stop when the pause before the next try would end after the task's deadline."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = _time_left()
        return left is not None and (retry_state.upcoming_sleep or 0.0) >= left


def _deadline_passed(call: str) -> DataverseUnavailable:
    current = _DEADLINE.get()
    limit = f" of {current[1]:g} s" if current is not None else ""
    return DataverseUnavailable(None, "deadline", f"the deadline{limit} for this order's Sales calls passed", call=call)
