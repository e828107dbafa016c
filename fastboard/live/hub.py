"""One worker's live clients: who listens to which topic, and each client's send queue.

The hub is built with the app but starts nothing until the first client connects, in
the worker's event loop (never before Gunicorn forks): then the broker's reader starts.
Every event is encoded once and put on each subscriber's bounded queue without waiting;
a client whose queue is full is cut (4408), so one slow reader never holds up the others
or grows the worker's memory.

Event ids are consecutive: when the broker finds a hole between two (events lost while
Redis failed, or trimmed before this worker read them), the hub tells every client to
resync each of its topics, so no loss goes unnoticed. When the broker cannot deliver at
all (Redis down), every client is closed with 1013, and new ones are turned away with it
until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from fastboard.live import protocol
from fastboard.live.broker import (
    GAP_EVENT,
    Broker,
    Event,
    MemoryBroker,
    Published,
    RedisBroker,
    wire_topic,
)
from fastboard.live.coalesce import Coalescer
from fastboard.live.protocol import Close
from fastboard.metrics import Metrics
from fastboard.settings import Settings

log = logging.getLogger(__name__)

# Internal events every worker's hub acts on; clients cannot name it (protocol.py).
CONTROL = "live:control"

# How long a closing handshake may wait for a client that reads nothing before the
# connection is dropped without one.
CLOSE_TIMEOUT_SECONDS = 5.0


class Connection:
    """One client: its topics (``user:<id>`` for its ``me``), its queue and its sender."""

    def __init__(self, websocket: WebSocket, hub: Hub, queue_size: int) -> None:
        self.websocket = websocket
        self.hub = hub
        self.topics: set[str] = set()
        self.user_id: int | None = None
        self.token_version = 0  # of the token it signed in with
        self._queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        # Topics being replayed: their live events wait here, then go out after the replay.
        self._held: dict[str, list[Event]] = {}
        # Per topic, the last id already sent by a replay: live copies of those are skipped.
        self._floor: dict[str, int] = {}
        self.closing: tuple[int, str] | None = None
        self._stop = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue ``event`` for this client; never waits."""
        if event.id <= self._floor.get(event.topic, 0):
            return
        held = self._held.get(event.topic)
        if held is not None:
            held.append(event)
            return
        self.send(event.text)

    def send(self, text: str) -> None:
        if self.closing is not None:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            metrics = self.hub.metrics()
            metrics.live_slow_closes.inc()
            metrics.live_dropped.inc(self._queue.qsize() + 1)
            self.close(Close.TOO_SLOW, "too slow, resync")

    def resync(self) -> None:
        """Events of any of this client's topics may have been lost: it refetches them."""
        for topic in sorted(self.topics):
            self.send(protocol.encode({"type": "resync", "topic": wire_topic(topic)}))

    def hold(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self._held.setdefault(topic, [])

    def release(self, topics: Iterable[str], replayed: Sequence[Event]) -> None:
        """Send ``replayed`` (theirs among them), then what arrived live meanwhile."""
        topics = set(topics)
        last = 0
        for event in replayed:
            if event.topic in topics:
                self.send(event.text)
            last = max(last, event.id)
        for topic in topics:
            self._floor[topic] = max(self._floor.get(topic, 0), last)
            for event in self._held.pop(topic, []):
                self.offer(event)

    def close(self, code: int, reason: str) -> None:
        """End this connection with ``code``; whatever is still queued is dropped."""
        if self.closing is None:
            self.closing = (code, reason)
            self._stop.set()

    async def run(self, receive: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Send from the queue while ``receive`` handles the client's messages, until
        either ends or ``close`` is called; then the closing handshake, if any is due."""
        tasks = {
            asyncio.ensure_future(self._send_loop()),
            asyncio.ensure_future(receive()),
            asyncio.ensure_future(self._stop.wait()),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        disconnected = any(isinstance(result, WebSocketDisconnect) for result in results)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect):
                log.error("live connection failed", exc_info=result)
                self.close(Close.INTERNAL_ERROR, "internal error")
        if self.closing is not None and not disconnected:
            code, reason = self.closing
            # A client that reads nothing never takes the close frame: drop it instead.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await self.websocket.close(code, reason)

    async def _send_loop(self) -> None:
        metrics = self.hub.metrics()
        while True:
            text = await self._queue.get()
            await self.websocket.send_text(text)
            metrics.live_sent.inc()


class Hub:
    def __init__(self, settings: Settings, metrics: Callable[[], Metrics]) -> None:
        self.settings = settings
        self.metrics = metrics
        self._broker: Broker | None = None
        self._started = False
        self._starting: asyncio.Lock | None = None
        self._connections: set[Connection] = set()
        self._subscribers: dict[str, set[Connection]] = {}
        self._coalescer = Coalescer(self.publish, settings.live_coalesce_seconds)

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            url = self.settings.redis_url
            backlog = self.settings.live_backlog
            if url:
                self._broker = RedisBroker(url, self.settings.redis_prefix, backlog, CONTROL)
            else:
                self._broker = MemoryBroker(backlog)
        return self._broker

    @property
    def available(self) -> bool:
        return self.broker.available

    async def start(self) -> None:
        """Start receiving events, once per worker (on its first client)."""
        if self._started:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self._started:
                await self.broker.start(self._deliver, self._broker_down, self._lost)
                self._started = True

    def _deliver(self, event: Event) -> None:
        if event.topic == CONTROL:
            self._control(event)
            return
        for connection in tuple(self._subscribers.get(event.topic, ())):
            connection.offer(event)

    def _control(self, event: Event) -> None:
        data = event.data
        if event.event == GAP_EVENT:  # its id carried the hole (broker.py)
            return
        if event.event != "account.closed" or not isinstance(data, dict):
            log.warning("live: unknown control event %r", event.event)
            return
        below = data.get("below")
        for connection in tuple(self._connections):
            if connection.user_id != data["user"]:
                continue
            if below is None or connection.token_version < below:
                connection.close(data["code"], data["reason"])

    def _lost(self, last: int, received: int) -> None:
        log.warning(
            "live: up to %d events before id %d were lost; %d clients are told to resync",
            received - last - 1,
            received,
            len(self._connections),
        )
        for connection in tuple(self._connections):
            connection.resync()

    def _broker_down(self) -> None:
        for connection in tuple(self._connections):
            connection.close(Close.TRY_AGAIN_LATER, "live updates unavailable, reconnect later")

    def add(self, connection: Connection) -> None:
        self._connections.add(connection)
        self.metrics().live_connections.inc()

    def remove(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            self.metrics().live_connections.dec()
        self.unsubscribe(connection, tuple(connection.topics))

    def subscribe(self, connection: Connection, topics: Iterable[str]) -> None:
        for topic in topics:
            connection.topics.add(topic)
            self._subscribers.setdefault(topic, set()).add(connection)

    def unsubscribe(self, connection: Connection, topics: Iterable[str]) -> None:
        for topic in topics:
            connection.topics.discard(topic)
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(connection)
                if not subscribers:
                    del self._subscribers[topic]

    async def publish(self, events: Sequence[Published]) -> None:
        await self.broker.publish(events)

    async def publish_coalesced(self, event: Published) -> None:
        """``event`` at most once per window per topic and name (the latest value wins)."""
        await self._coalescer.offer(event[:2], event)

    async def replay(self, since: int) -> list[Event] | None:
        return await self.broker.replay(since)

    async def close(self) -> None:
        """At shutdown: every client is told the service restarts (1012)."""
        for connection in tuple(self._connections):
            connection.close(Close.SERVICE_RESTART, "service restart, reconnect with since")
        try:
            await self._coalescer.close()
        except (RedisError, OSError):
            log.warning("live: pending coalesced events were lost at shutdown", exc_info=True)
        if self._broker is not None:
            await self._broker.close()
        self._started = False
