"""Bounded waits for things outside the test's process: files, logs, other processes.

A wait that runs out fails the test with a TimeoutError; its length is a safety net,
never the thing under test.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio


async def until(condition: Callable[[], bool], *, seconds: float = 30) -> None:
    with anyio.fail_after(seconds):
        # Polling: what is awaited happens in another process, with no event to wait on.
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.05)
