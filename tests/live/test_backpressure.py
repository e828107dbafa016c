"""A client that reads nothing is cut (4408) while the others keep receiving everything."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from fastboard.db import SessionDep
from fastboard.live import events as live
from fastboard.metrics import metrics_for
from fastboard.responses import JSONBytes
from tests.live.conftest import LiveApps, receive, serving, subscribe

pytestmark = pytest.mark.anyio

READERS = 20
EVENTS = 150
PAYLOAD = "x" * 65_536


def masked_text(payload: bytes) -> bytes:
    """One client text frame (clients mask theirs), for a payload under 126 bytes."""
    mask = bytes([1, 2, 3, 4])
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


async def read_all(ws: ClientConnection) -> list[int]:
    return [(await receive(ws))["data"]["n"] for _ in range(EVENTS)]


async def test_a_slow_consumer_is_cut_and_the_others_get_every_event(
    live_apps: LiveApps,
) -> None:
    app = live_apps(live_send_queue=16)

    @app.post("/test/event")
    async def one_event(session: SessionDep, n: int) -> JSONBytes:
        live.publish(session, "articles", "test.event", {"n": n, "padding": PAYLOAD})
        return JSONBytes({})

    await app.state.database.dispose()
    with serving(app) as address, socket.socket() as slow_socket:
        url = f"ws://{address}/api/live"
        # A tiny receive buffer, and a client that stops reading: the server's buffers fill.
        slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_socket.connect(("127.0.0.1", int(address.rpartition(":")[2])))
        handshake = (
            f"GET /api/live HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        slow_socket.sendall(handshake.encode())
        assert slow_socket.recv(4096).startswith(b"HTTP/1.1 101")
        slow_socket.sendall(masked_text(b'{"type": "subscribe", "topics": ["articles"]}'))
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=15) as http:
            readers = [await connect(url) for _ in range(READERS)]
            try:
                for ws in readers:
                    await subscribe(ws, "articles")
                reading = [asyncio.ensure_future(read_all(ws)) for ws in readers]
                for n in range(EVENTS):
                    response = await http.post("/test/event", params={"n": n})
                    assert response.status_code == 200
                received = await asyncio.gather(*reading)
            finally:
                for ws in readers:
                    await ws.close()
            # Now it reads: what was buffered, then no more (the server dropped it).
            slow_socket.settimeout(15)
            while slow_socket.recv(1 << 20):
                pass

    assert received == [list(range(EVENTS))] * READERS
    metrics = metrics_for(app)
    assert metrics.live_slow_closes._value.get() == 1
    assert metrics.live_dropped._value.get() > 0
