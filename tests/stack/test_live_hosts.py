"""Two hosts: two Gunicorn instances, each on its own socket with its own workers and
metrics, behind one NGINX upstream, sharing PostgreSQL and Redis. A write served by one
reaches the live clients held by the other."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.conftest import require_redis
from tests.stack.conftest import StackFactory, register
from tests.stack.live_clients import live_url, receive, subscribe

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

CLIENTS = 6


def straight_to(socket: Path) -> httpx.AsyncClient:
    """A client of one host's Gunicorn socket: what it serves, that host served."""
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url="http://fastboard", timeout=15)


async def live_connections(host: httpx.AsyncClient) -> float:
    scraped = await host.get("/metrics")
    assert scraped.status_code == 200
    return sum(
        sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "fastboard_live_connections"
    )


async def test_a_write_on_one_host_reaches_clients_held_by_the_other(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    stack = make_stack(workers=1, hosts=2)
    sockets = [stack.socket, *(path for _, path in stack.more)]
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        straight_to(sockets[0]) as first,
        straight_to(sockets[1]) as second,
        contextlib.AsyncExitStack() as opened,
    ):
        _, token = await register(client)
        auth = {"Authorization": f"Token {token}"}
        clients = [
            await opened.enter_async_context(connect(live_url(stack.url))) for _ in range(CLIENTS)
        ]
        for ws in clients:
            await subscribe(ws, "articles")
        # The client offered permessage-deflate (as browsers do); the workers decline it.
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        # NGINX spread the handshakes over its upstream: each host holds some clients.
        held = [await live_connections(first), await live_connections(second)]

        events = {}
        for name, host in (("first", first), ("second", second)):
            article = {"article": {"title": f"Written on the {name} host", "description": "d"}}
            article["article"]["body"] = "b"
            created = await host.post("/api/articles", json=article, headers=auth)
            assert created.status_code == 201, created.text
            events[created.json()["article"]["slug"]] = [await receive(ws) for ws in clients]

    assert sum(held) == CLIENTS
    assert all(count > 0 for count in held), held
    # Every client, on either host, got the article written on each host.
    for slug, received in events.items():
        assert [event["data"]["slug"] for event in received] == [slug] * CLIENTS
        assert {event["event"] for event in received} == {"article.created"}
