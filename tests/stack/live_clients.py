"""WebSocket clients of ``/api/live`` for the stack tests: one that records what it gets
and reconnects with ``since`` when the server closes it, as a well-behaved client does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

RECEIVE_TIMEOUT = 15.0


def live_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/api/live"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        message: dict[str, Any] = orjson.loads(await ws.recv())
    return message


async def subscribe(ws: ClientConnection, *topics: str, since: int | None = None) -> None:
    message: dict[str, Any] = {"type": "subscribe", "topics": list(topics)}
    if since is not None:
        message["since"] = since
    await ws.send(orjson.dumps(message).decode())
    assert await receive(ws) == {"type": "subscribed", "topics": list(topics)}


async def closed_with(ws: ClientConnection) -> int | None:
    """Read until the server closes ``ws``; its close code."""
    try:
        while True:
            await receive(ws)
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code


@dataclass
class Follower:
    """Stays subscribed to ``topic`` through closes: on each, reconnects and subscribes
    with ``since`` = the last event id it got."""

    url: str
    topic: str
    events: list[dict[str, Any]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)  # resync, error, …
    closes: list[int | None] = field(default_factory=list)
    connections: int = 0
    refused: int = 0  # handshakes that failed (no worker to take them at that moment)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last(self) -> int | None:
        return self.events[-1]["id"] if self.events else None

    async def run(self) -> None:
        while True:
            try:
                async with connect(self.url, open_timeout=5) as ws:
                    self.connections += 1
                    await subscribe(ws, self.topic, since=self.last)
                    self.subscribed.set()
                    while True:
                        message = orjson.loads(await ws.recv())
                        if message["type"] == "event":
                            self.events.append(message)
                        else:
                            self.others.append(message)
            except ConnectionClosed as closed:
                self.closes.append(None if closed.rcvd is None else closed.rcvd.code)
            except (OSError, InvalidHandshake, TimeoutError):
                self.refused += 1
                await asyncio.sleep(0.1)
