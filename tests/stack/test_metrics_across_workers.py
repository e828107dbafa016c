"""Prometheus figures scraped through NGINX add up the requests of every worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import Callable
from functools import partial

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from dev.stack import RunningStack
from tests.conftest import require_redis
from tests.stack.conftest import StackFactory, app_log, each_request_a_new_connection, register
from tests.stack.processes import children
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

CLIENTS = 8
REQUESTS_PER_CLIENT = 15
MAX_ROUNDS = 5


def requests_counted(exposition: str, route: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "fastboard_http_requests_total" and sample.labels["route"] == route:
                total += sample.value
    return total


def app_requests(stack: RunningStack, path: str = "/api/tags") -> list[dict[str, object]]:
    return [
        record
        for record in app_log(stack)
        if record.get("logger") == "fastboard.access" and record.get("path") == path
    ]


def all_logged(stack: RunningStack, sent: int) -> bool:
    return len(app_requests(stack)) == sent


def serving_pids(stack: RunningStack, path: str) -> set[object]:
    return {record["pid"] for record in app_requests(stack, path)}


async def _hammer(stack: RunningStack) -> list[int]:
    # A new connection per request, straight to Gunicorn: NGINX's kept-alive upstream
    # connections may all belong to one worker, and the point is that both serve.
    async def one_client() -> list[int]:
        async with each_request_a_new_connection(stack) as client:
            return [(await client.get("/api/tags")).status_code for _ in range(REQUESTS_PER_CLIENT)]

    batches = await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return [status for batch in batches for status in batch]


async def test_metrics_through_nginx_count_the_requests_of_both_workers(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=2)
    statuses: list[int] = []
    # Which worker accepts a connection is up to the kernel: send rounds until the logs
    # show both workers served some (bounded), then check the scrape counts every one.
    for _ in range(MAX_ROUNDS):
        statuses += await _hammer(stack)
        await until(partial(all_logged, stack, len(statuses)), seconds=10)
        if len(serving_pids(stack, "/api/tags")) == 2:
            break

    assert statuses == [200] * len(statuses)
    assert len(serving_pids(stack, "/api/tags")) == 2
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert requests_counted(scraped.text, "/api/tags") == len(statuses)
    # Labelled by route template, never by a raw path.
    assert not re.search(r'route="/api/articles/[^{"]', scraped.text)


def live_figures(exposition: str) -> tuple[dict[str, float], dict[str, float]]:
    """(open connections by worker pid, the live counters summed over the workers)."""
    connections: dict[str, float] = {}
    counters = dict.fromkeys(LIVE_COUNTERS, 0.0)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "fastboard_live_connections":
                connections[sample.labels["pid"]] = sample.value
            elif sample.name in counters:
                counters[sample.name] += sample.value
    return connections, counters


LIVE_COUNTERS = (
    "fastboard_live_messages_sent_total",
    "fastboard_live_messages_dropped_total",
    "fastboard_live_slow_consumer_closes_total",
)
LIVE_CLIENTS = 6
# Big events and a short send queue: a client that reads nothing is cut after a few.
SLOW_QUEUE = 4
BIG_EVENTS = 40
PADDING = "x" * 60_000


Figures = tuple[dict[str, float], dict[str, float]]


async def scrape_until(
    client: httpx.AsyncClient, condition: Callable[[dict[str, float], dict[str, float]], bool]
) -> Figures:
    """Scrape /metrics until ``condition(connections, counters)`` holds (bounded)."""
    with anyio.fail_after(30):
        while True:
            figures = live_figures((await client.get("/metrics")).text)
            if condition(*figures):
                return figures
            await anyio.sleep(0.1)


def reads_nothing(stack: RunningStack) -> socket.socket:
    """A live client straight on Gunicorn's socket that subscribes to ``articles`` and
    never reads again, with a tiny receive buffer: its worker's queue for it fills."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(stack.socket))
    sock.sendall(
        b"GET /api/live HTTP/1.1\r\nHost: fastboard\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    payload = b'{"type": "subscribe", "topics": ["articles"]}'
    mask = bytes([1, 2, 3, 4])
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


async def test_live_metrics_through_nginx_add_up_every_worker(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    stack = make_stack(workers=2, FASTBOARD_LIVE_SEND_QUEUE=str(SLOW_QUEUE))
    workers = {str(pid) for pid in children(stack.gunicorn.pid)}
    live = stack.url.replace("http://", "ws://") + "/api/live"
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        each_request_a_new_connection(stack) as writer,
    ):
        _, token = await register(client)
        auth = {"Authorization": f"Token {token}"}
        async with contextlib.AsyncExitStack() as opened:
            clients = [await opened.enter_async_context(connect(live)) for _ in range(LIVE_CLIENTS)]
            for ws in clients:
                await ws.send('{"type": "subscribe", "topics": ["board:general"]}')
                assert json.loads(await ws.recv())["type"] == "subscribed"
            article = {"article": {"title": "Counted", "description": "d", "body": "b"}}
            created = await writer.post("/api/articles", json=article, headers=auth)
            assert created.status_code == 201
            for ws in clients:
                assert json.loads(await ws.recv())["event"] == "article.created"

            def all_counted(_: dict[str, float], figures: dict[str, float]) -> bool:
                # A worker counts a message once its write returns, maybe a moment after
                # the client read it.
                return figures["fastboard_live_messages_sent_total"] >= 2 * LIVE_CLIENTS

            open_, counted = await scrape_until(client, all_counted)

        with reads_nothing(stack):
            for n in range(BIG_EVENTS):
                article = {"article": {"title": f"Big {n}", "description": "d", "body": PADDING}}
                created = await writer.post("/api/articles", json=article, headers=auth)
                assert created.status_code == 201

            def cut(_: dict[str, float], figures: dict[str, float]) -> bool:
                return figures["fastboard_live_slow_consumer_closes_total"] > 0

            await scrape_until(client, cut)

        def all_closed(connections: dict[str, float], _: dict[str, float]) -> bool:
            return sum(connections.values()) == 0

        # The gauges drop as each worker sees its clients go.
        after_open, after = await scrape_until(client, all_closed)

    # One gauge per live worker, adding up to the clients; every message counted once.
    assert set(open_) <= workers
    assert sum(open_.values()) == LIVE_CLIENTS
    assert counted["fastboard_live_messages_sent_total"] == 2 * LIVE_CLIENTS  # subscribed + event
    assert counted["fastboard_live_messages_dropped_total"] == 0
    assert counted["fastboard_live_slow_consumer_closes_total"] == 0
    # The slow client was cut (once, whichever worker held it) and what it left unsent
    # counted as dropped; the counters keep what the first clients were sent.
    assert after["fastboard_live_slow_consumer_closes_total"] == 1
    assert after["fastboard_live_messages_dropped_total"] >= SLOW_QUEUE
    sent = "fastboard_live_messages_sent_total"
    assert after[sent] >= counted[sent]
    assert set(after_open) <= workers
