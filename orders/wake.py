"""Waiting for a wake-up or a time-out, in a loop that a stop must be able to cancel.

Not ``asyncio.wait_for(event.wait(), timeout)``: on Python 3.11 it swallows a cancellation that
arrives as the event is set (it returns the inner result instead of raising), so a loop built on
it runs on after its task was cancelled and whoever awaits the task waits for ever. ``asyncio.wait``
lets the cancellation through; the waiter is cancelled in every case."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Until ``event`` is set or ``seconds`` have passed; True when it was set."""
    waiter = asyncio.create_task(event.wait())
    try:
        done, _pending = await asyncio.wait({waiter}, timeout=seconds)
        return waiter in done
    finally:
        waiter.cancel()
        # gather hands back the waiter's own cancellation as a result and lets ours through.
        await asyncio.gather(waiter, return_exceptions=True)
