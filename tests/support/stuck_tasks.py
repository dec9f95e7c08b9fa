"""When a test (or its teardown) is stuck, show what its event loop's tasks are waiting on.

pytest-timeout prints the threads' stacks, but a stuck asyncio test sits in the selector: the
interesting stacks are the tasks'. A watchdog thread prints every pending task's stack shortly
before pytest-timeout fails the test (``STUCK_AFTER`` seconds into the test)."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
from collections.abc import Iterator

import pytest

# pytest-timeout ends a test at 300 s (pyproject.toml); BCGW_STUCK_AFTER tries it sooner.
STUCK_AFTER = float(os.environ.get("BCGW_STUCK_AFTER", "240"))


def _dump() -> None:
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    out = sys.__stderr__ or sys.stderr
    for loop in loops:
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed while we read it: once more
            tasks = list(asyncio.all_tasks(loop))
        print(f"\n--- {len(tasks)} pending asyncio task(s) of a stuck test ---", file=out)
        for task in tasks:
            print(f"* {task!r}", file=out)
            task.print_stack(limit=12, file=out)
    out.flush()


@pytest.fixture(autouse=True)
def dump_stuck_tasks() -> Iterator[None]:
    timer = threading.Timer(STUCK_AFTER, _dump)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
