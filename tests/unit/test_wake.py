"""orders/wake.py: a loop's wait lets a stop through, even one that comes as the wake-up does."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from orders.wake import woken


async def test_woken_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 5) is True


async def _loop_on(wait: object, event: asyncio.Event, rounds: list[int]) -> None:
    while True:  # as the change feed, the mirror, the scheduler and the worker loop
        rounds.append(1)
        await wait(event)  # type: ignore[operator]
        event.clear()


async def _cancelled_as_woken(wait: object) -> bool:
    """Cancel the loop in the same turn as its event is set; True when the task ended."""
    event, rounds = asyncio.Event(), []
    task = asyncio.create_task(_loop_on(wait, event, rounds))
    await asyncio.sleep(0.01)  # the loop waits
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    ended = bool(done)
    while not task.done():  # a loop that lost its cancellation: stop it for good (no event now)
        task.cancel()
        await asyncio.wait({task}, timeout=1)
    return ended


async def test_a_cancellation_that_comes_with_the_wake_up_ends_the_loop() -> None:
    assert await _cancelled_as_woken(lambda event: woken(event, 10))


@pytest.mark.skipif(__import__("sys").version_info >= (3, 12), reason="Python 3.12's wait_for no longer loses it")
async def test_wait_for_on_this_python_loses_that_cancellation() -> None:
    # Why orders/wake.py exists: the loop built on wait_for runs on after its cancellation.
    async def wait_for(event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 10)

    assert not await _cancelled_as_woken(wait_for)
