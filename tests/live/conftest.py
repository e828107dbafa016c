"""Live tests talk to a real Uvicorn server (in a thread, its own event loop) with the
``websockets`` client, over loopback: real handshakes, frames and close codes.

Each test gets apps of its own whose requests really commit (on the suite's database,
emptied before and after), once with the in-process broker and once with Redis.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from fastboard.app import create_app
from fastboard.settings import Settings
from tests.conftest import _close, _empty_all_tables, require_redis

RECEIVE_TIMEOUT = 10.0


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with Uvicorn on a free loopback port; yields its ``host:port``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app, ws="websockets-sansio", lifespan="on", log_level="warning", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


LiveApps = Callable[..., FastAPI]


@pytest.fixture(params=["memory", "redis"])
async def live_apps(
    request: pytest.FixtureRequest, session_settings: Settings, redis_url: str | None
) -> AsyncIterator[LiveApps]:
    """``make(**settings)``: an app on the suite's database, with the broker of this run;
    apps made by one test share one Redis prefix, as a deployment's workers do."""
    base: dict[str, Any]
    if request.param == "redis":
        base = {"redis_url": require_redis(redis_url), "redis_prefix": f"live-{uuid4().hex}"}
    else:
        base = {"redis_url": None}
    made: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        settings = session_settings.model_copy(update={**base, **overrides})
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    for app in made:
        await _empty_all_tables(app)
        await _close(app)


@pytest.fixture
async def live_app(live_apps: LiveApps) -> FastAPI:
    app = live_apps()
    await _empty_all_tables(app)
    # The server's own event loop opens its connections.
    await app.state.database.dispose()
    return app


@pytest.fixture
def live_server(live_app: FastAPI) -> Iterator[str]:
    with serving(live_app) as address:
        yield address


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        message: dict[str, Any] = orjson.loads(await ws.recv())
    return message


async def send(ws: ClientConnection, message: Any) -> None:
    await ws.send(orjson.dumps(message).decode())


async def subscribe(ws: ClientConnection, *topics: str, since: int | None = None) -> None:
    message: dict[str, Any] = {"type": "subscribe", "topics": list(topics)}
    if since is not None:
        message["since"] = since
    await send(ws, message)
    assert await receive(ws) == {"type": "subscribed", "topics": list(topics)}


async def quiet(ws: ClientConnection) -> None:
    """Nothing is waiting for ``ws``: a ping's pong is the next message. (In-process
    events are queued before the write's response; through Redis they could still be on
    their way: callers wait for a later event instead.)"""
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
