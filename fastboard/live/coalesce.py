"""Counts that change in bursts (favorites) go out at most once per window per key.

The first change of a quiet key is published at once and opens a window; changes inside
it only replace the pending value, which is published when the window ends (opening the
next). So a burst costs two events, the last carrying the final value, and nothing is
held back longer than one window. Per worker: with N workers, up to N per window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence

from redis.exceptions import RedisError

from fastboard.live.broker import Published

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Published]], Awaitable[None]]


class Coalescer:
    def __init__(self, publish: Publish, window_seconds: float) -> None:
        self._publish = publish
        self._window = window_seconds
        # Keys inside a window, with the value waiting for its end (None: nothing new).
        self._open: dict[Hashable, Published | None] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def offer(self, key: Hashable, item: Published) -> None:
        if key in self._open:
            self._open[key] = item
            return
        self._open[key] = None
        asyncio.get_running_loop().call_later(self._window, self._window_ended, key)
        await self._publish([item])

    def _window_ended(self, key: Hashable) -> None:
        pending = self._open.pop(key, None)
        if pending is None:
            return
        task = asyncio.ensure_future(self._send_later(key, pending))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send_later(self, key: Hashable, item: Published) -> None:
        try:
            await self.offer(key, item)
        except (RedisError, OSError):
            # The broker marked the gap: clients replaying over it are told to resync.
            log.warning("live: a coalesced event was lost", exc_info=True)

    async def close(self) -> None:
        """Publish what is pending now (shutdown): the last value is not lost."""
        pending = [item for item in self._open.values() if item is not None]
        self._open.clear()
        for task in tuple(self._flushes):
            task.cancel()
        if pending:
            await self._publish(pending)
