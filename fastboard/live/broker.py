"""Where live events travel between workers: Redis Streams, or one process's memory.

Both brokers give every event an id one above the last, keep a bounded backlog for
clients that reconnect with ``since``, and hand each event to the worker's ``deliver``
callback. An id that skips (events lost while Redis was failing, a backlog that was
trimmed or emptied) makes a replay answer None: the client must resync; a worker's hub
that sees one arrive live tells its clients to resync (hub.py).

Redis failing never fails or holds up a write: the first publish that fails gives up
after ``PUBLISH_TIMEOUT_SECONDS``, later ones are dropped at once while a background task
probes Redis with a growing back-off; once it answers, the task records the hole the
dropped events left (so nobody misses them silently) and publishing resumes. One warning
when it starts failing, one line when it is back: no log line per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Published = tuple[str, str, Any]  # topic, event name, data


class Event:
    """One event as every subscriber gets it; its wire text is encoded once, for all."""

    __slots__ = ("_text", "data", "event", "id", "topic")

    def __init__(self, id: int, topic: str, event: str, data: Any) -> None:
        self.id = id
        self.topic = topic
        self.event = event
        self.data = data
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            topic = wire_topic(self.topic)
            message = {"type": "event", "id": self.id, "topic": topic, "event": self.event}
            self._text = orjson.dumps({**message, "data": self.data}).decode()
        return self._text


def wire_topic(topic: str) -> str:
    """A topic as the client knows it: a user's own topic is "me" on the wire."""
    return "me" if topic.startswith("user:") else topic


Deliver = Callable[[Event], None]
Down = Callable[[], None]
# Events between these two ids (both excluded) never arrived: lost while publishing failed,
# or trimmed from the backlog before this worker read them.
Lost = Callable[[int, int], None]


def first_id() -> int:
    """Where ids start in an empty backlog: the time in microseconds, above every id an
    earlier backlog reached (it started the same way and never gained a million a
    second), so a client's old ``since`` reads as a gap, never as a recent id."""
    return time.time_ns() // 1000


def contiguous(events: Sequence[Event], since: int, last: int) -> bool:
    """Whether ``events`` are every event after ``since`` up to ``last``."""
    expected = since
    for event in events:
        expected += 1
        if event.id != expected:
            return False
    return expected == last


class Broker(Protocol):
    @property
    def available(self) -> bool: ...

    async def start(self, deliver: Deliver, down: Down, lost: Lost) -> None: ...

    async def publish(self, events: Sequence[Published]) -> None:
        """Send ``events`` to every worker; never raises (lost events leave a hole)."""

    async def replay(self, since: int) -> list[Event] | None:
        """Every event after ``since``; None when the backlog no longer holds them all."""

    async def close(self) -> None: ...


class MemoryBroker:
    """One process (``make run``, tests): events go straight to this worker's clients."""

    def __init__(self, backlog: int) -> None:
        self._backlog: deque[Event] = deque(maxlen=backlog)
        self._last = first_id()
        self._deliver: Deliver | None = None

    @property
    def available(self) -> bool:
        return True

    async def start(self, deliver: Deliver, down: Down, lost: Lost) -> None:
        self._deliver = deliver

    async def publish(self, events: Sequence[Published]) -> None:
        for topic, name, data in events:
            self._last += 1
            event = Event(self._last, topic, name, data)
            self._backlog.append(event)
            if self._deliver is not None:
                self._deliver(event)

    async def replay(self, since: int) -> list[Event] | None:
        events = [event for event in self._backlog if event.id > since]
        return events if contiguous(events, since, self._last) else None

    async def close(self) -> None:
        self._deliver = None


# Appends events with ids one above the stream's last (or from first_id() in an empty
# stream), ARGV[2] more after events this worker failed to publish: the hole makes
# replays across it answer "resync". Ids are stream ids "<n>-0", n below 2^53.
_PUBLISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local n
if last[1] then
  n = tonumber(string.match(last[1][1], '^(%d+)'))
else
  local time = redis.call('TIME')
  n = tonumber(time[1]) * 1000000 + tonumber(time[2]) - 1
end
n = n + tonumber(ARGV[2])
for i = 3, #ARGV do
  n = n + 1
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('%d', n) .. '-0', 'e', ARGV[i])
end
return n
"""

# Redis sits next to the app: a publish slower than this means trouble, not load.
PUBLISH_TIMEOUT_SECONDS = 0.5
# How long one XREAD waits for events; the reader's socket timeout is longer.
BLOCK_MILLISECONDS = 5_000
RETRY_SECONDS = 1.0
# While publishing fails: the first probe after this long, then twice as long each time,
# up to the maximum.
PUBLISH_BACKOFF_SECONDS = 0.5
PUBLISH_BACKOFF_MAX_SECONDS = 4.0
# The event whose only job is to carry the hole left by events that were lost (its id
# is one above the hole). Every hub ignores it; its id tells them events went missing.
GAP_EVENT = "live.gap"


def _stream_id(raw: bytes | str) -> int:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return int(text.partition("-")[0])


def _event(raw_id: bytes | str, fields: dict[bytes, bytes]) -> Event:
    topic, name, data = orjson.loads(fields[b"e"])
    return Event(_stream_id(raw_id), topic, name, data)


class RedisBroker:
    """Every worker of every host: one Redis Stream, capped at ``backlog`` entries (about),
    read by one task per worker (XREAD BLOCK) that fans out to the worker's clients."""

    def __init__(self, url: str, prefix: str, backlog: int, control_topic: str) -> None:
        self._url = url
        self._stream = f"{prefix}:live"
        self._backlog = backlog
        self._client: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._up = False
        self._control_topic = control_topic
        self._skip = 0  # 1 after events were lost: the next id published skips one
        self._lost = 0  # events dropped while publishing failed, for the log
        self._recovery: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        return self._up

    def _commands(self) -> Redis:
        if self._client is None:
            self._client = Redis.from_url(
                self._url,
                socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            )
        return self._client

    async def start(self, deliver: Deliver, down: Down, lost: Lost) -> None:
        """Start reading from the stream's current end; returns once the first read is
        about to begin, or Redis has failed (the reader keeps retrying)."""
        if self._reader is not None:
            return
        ready = asyncio.Event()
        reading = self._read(deliver, down, lost, ready)
        self._reader = asyncio.create_task(reading, name="live-reader")
        await ready.wait()

    async def _read(self, deliver: Deliver, down: Down, lost: Lost, ready: asyncio.Event) -> None:
        client = Redis.from_url(
            self._url,
            socket_timeout=BLOCK_MILLISECONDS / 1000 + 5,
            socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
        )
        position: str | None = None
        try:
            while True:
                try:
                    if position is None:
                        newest: Any = await client.xrevrange(self._stream, count=1)
                        position = newest[0][0].decode() if newest else "0-0"
                    if not self._up and ready.is_set():
                        log.info("live updates available again: Redis answers")
                    self._up = True
                    ready.set()
                    found: Any = await client.xread(
                        {self._stream: position}, count=1000, block=BLOCK_MILLISECONDS
                    )
                except (RedisError, OSError) as error:
                    if self._up or not ready.is_set():
                        log.warning("live updates unavailable, Redis failed: %r", error)
                    self._up = False
                    ready.set()
                    down()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                for _stream, entries in found:
                    for raw_id, fields in entries:
                        event = _event(raw_id, fields)
                        # Ids are consecutive; "0-0" (an empty stream) knows no last one.
                        last = _stream_id(position)
                        if last and event.id != last + 1:
                            lost(last, event.id)
                        position = raw_id.decode()
                        deliver(event)
        finally:
            await client.aclose()

    async def publish(self, events: Sequence[Published]) -> None:
        """Append ``events``; never raises and never waits on a failing Redis longer than
        once: while it fails, events are dropped (and their hole recorded later)."""
        if self._recovery is not None:
            self._lost += len(events)
            return
        try:
            await self._append([orjson.dumps(list(event)) for event in events])
        except (RedisError, OSError, TimeoutError) as error:
            self._lost += len(events)
            log.warning(
                "live events are not being published, Redis failed: %r; they are dropped "
                "(clients will be told to resync) while Redis is retried in the background",
                error,
            )
            self._recovery = asyncio.create_task(self._recover(), name="live-publish-recovery")

    async def _append(self, payloads: Sequence[bytes]) -> None:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            try:
                await self._commands().eval(
                    _PUBLISH, 1, self._stream, self._backlog, self._skip, *payloads
                )
            except BaseException:
                # Maybe appended, maybe not: a hole next time marks them possibly lost.
                self._skip = 1
                raise
        self._skip = 0

    async def _recover(self) -> None:
        """Probe Redis with a growing back-off until the hole is recorded; then resume."""
        delay = PUBLISH_BACKOFF_SECONDS
        gap = orjson.dumps([self._control_topic, GAP_EVENT, None])
        while True:
            await asyncio.sleep(delay)
            try:
                await self._append([gap])
            except (RedisError, OSError, TimeoutError):
                delay = min(delay * 2, PUBLISH_BACKOFF_MAX_SECONDS)
                continue
            break
        log.info("live events are published again; %d were lost meanwhile", self._lost)
        self._lost = 0
        self._recovery = None

    async def replay(self, since: int) -> list[Event] | None:
        client = self._commands()
        # The end first: what is added meanwhile reaches the client live.
        top: Any = await client.xrevrange(self._stream, count=1)
        if not top:  # emptied (Redis restarted without its data): nothing to go on
            return None
        last = _stream_id(top[0][0])
        if last <= since:
            return [] if last == since else None
        entries: Any = await client.xrange(
            self._stream, min=f"{since + 1}-0", max=f"{last}-0", count=self._backlog + 1
        )
        events = [_event(raw_id, fields) for raw_id, fields in entries]
        return events if contiguous(events, since, last) else None

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
            self._recovery = None
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._up = False
