"""Live updates through real NGINX and two Gunicorn workers sharing Redis."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import require_redis
from tests.stack.conftest import StackFactory, app_log, each_request_a_new_connection, register

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

CLIENTS = 8


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(15):
        message: dict[str, Any] = orjson.loads(await ws.recv())
    return message


def live_connections_by_worker(exposition: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "fastboard_live_connections":
                found[sample.labels["pid"]] = sample.value
    return found


async def test_a_write_on_one_worker_reaches_clients_of_both_through_nginx(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    stack = make_stack(workers=2)
    live_url = stack.url.replace("http://", "ws://") + "/api/live"
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        each_request_a_new_connection(stack) as writer,
    ):
        _, token = await register(client)
        clients = [await connect(live_url) for _ in range(CLIENTS)]
        try:
            for ws in clients:
                await ws.send('{"type": "subscribe", "topics": ["articles"]}')
                assert await receive(ws) == {"type": "subscribed", "topics": ["articles"]}

            # Each handshake was a new upstream connection: both workers hold some.
            async def spread() -> bool:
                figures = live_connections_by_worker((await client.get("/metrics")).text)
                return len([n for n in figures.values() if n > 0]) == 2

            if not await spread():
                pytest.skip("every live connection landed on one worker")
            article = {"article": {"title": "Across workers", "description": "d", "body": "b"}}
            created = await writer.post(
                "/api/articles", json=article, headers={"Authorization": f"Token {token}"}
            )
            assert created.status_code == 201
            events = [await receive(ws) for ws in clients]
        finally:
            for ws in clients:
                await ws.close()

    assert {event["data"]["slug"] for event in events} == {created.json()["article"]["slug"]}
    assert {event["event"] for event in events} == {"article.created"}
    writers = {
        record["pid"]
        for record in app_log(stack)
        if record.get("logger") == "fastboard.access" and record.get("path") == "/api/articles"
    }
    assert len(writers) == 1  # one worker served the write; clients of both got it


async def test_a_stopping_worker_closes_its_clients_with_1012(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    stack = make_stack(workers=1)
    live_url = stack.url.replace("http://", "ws://") + "/api/live"
    async with connect(live_url) as ws:
        await ws.send('{"type": "subscribe", "topics": ["articles"]}')
        await receive(ws)
        stack.gunicorn.send_signal(signal.SIGHUP)  # graceful reload: the worker is replaced
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
