"""Slow clients are NGINX's to hold, never a Gunicorn worker's: hundreds of connections
sending their headers a byte a second (slowloris) and uploads that trickle then stall,
while a normal client is answered as usual, and NGINX closes the slow ones itself.

Upstream connections are counted on Gunicorn's unix socket (/proc/net/unix: every
connection a worker accepted carries the socket's path).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from dev.nginx import UNLIMITED
from dev.stack import RunningStack
from tests.stack.conftest import StackFactory

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

SLOWLORIS = [f"127.0.0.{n}" for n in range(11, 15)]  # 50 connections each
UPLOADERS = [f"127.0.0.{n}" for n in range(31, 34)]  # 10 uploads each
GREEDY = "127.0.0.40"  # more uploads at once than one address may have in progress
NORMAL = "127.0.0.2"
PER_ADDRESS = 12  # requests in progress per address (connections=…)
CONNECTED = 3  # /proc/net/unix state SS_CONNECTED


def upstream_connections(sock: Path) -> int:
    """Connections open on Gunicorn's socket: accepted ones carry its path."""
    count = 0
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and fields[7] == str(sock) and int(fields[5], 16) == CONNECTED:
            count += 1
    return count


@dataclass
class Slow:
    """What happened to the slow connections, as they saw it."""

    opened: int = 0
    closed_by_server: int = 0
    answers: Counter[str] = field(default_factory=Counter)


async def _closed(reader: asyncio.StreamReader, slow: Slow) -> bool:
    """True once the server has answered or closed (anything read, or end of stream)."""
    try:
        data = await asyncio.wait_for(reader.read(4096), timeout=1)
    except TimeoutError:
        return False
    except ConnectionError:
        data = b""
    slow.answers[data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"] += 1
    slow.closed_by_server += 1
    return True


async def slowloris(url: httpx.URL, address: str, slow: Slow) -> None:
    """Headers a byte a second, for as long as the server keeps the connection."""
    reader, writer = await asyncio.open_connection(url.host, url.port, local_addr=(address, 0))
    slow.opened += 1
    request = b"GET /api/tags HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: slow\r\n" * 200
    try:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            if await _closed(reader, slow):
                return
        raise AssertionError("the server read a 3 KB header for minutes")
    except ConnectionError:
        slow.closed_by_server += 1
        slow.answers["reset"] += 1
    finally:
        writer.close()


async def slow_upload(url: httpx.URL, address: str, slow: Slow) -> None:
    """An article body that trickles for a few seconds, then stalls half-sent."""
    reader, writer = await asyncio.open_connection(url.host, url.port, local_addr=(address, 0))
    slow.opened += 1
    writer.write(
        b"POST /api/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    try:
        for _ in range(3):
            writer.write(b" ")
            await writer.drain()
            if await _closed(reader, slow):
                return
        while not await _closed(reader, slow):
            pass
    except ConnectionError:
        slow.closed_by_server += 1
        slow.answers["reset"] += 1
    finally:
        writer.close()


async def test_slow_clients_hold_no_worker_and_are_closed_by_nginx(
    make_stack: StackFactory,
) -> None:
    stack: RunningStack = make_stack(
        workers=1, limits=dataclasses.replace(UNLIMITED, connections=PER_ADDRESS)
    )
    url = httpx.URL(stack.url)
    idle = upstream_connections(stack.socket)  # NGINX's pool after the start-up probe
    slow = Slow()
    attackers = [
        *(slowloris(url, address, slow) for address in SLOWLORIS for _ in range(50)),
        *(slow_upload(url, address, slow) for address in UPLOADERS for _ in range(10)),
        *(slow_upload(url, GREEDY, slow) for _ in range(PER_ADDRESS + 3)),
    ]
    attack = asyncio.gather(*(asyncio.create_task(one) for one in attackers))
    # Polling: the attackers connect on their own, with no event to wait on.
    while slow.opened < len(attackers):  # noqa: ASYNC110
        await asyncio.sleep(0.05)

    upstream: list[int] = []
    # Slow connections still open as each normal answer arrives. NGINX closes them after
    # client_header_timeout / client_body_timeout (10 s), however long the normal client
    # takes: the first answers are what show it served while they were all held.
    slow_open: list[int] = []
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    transport = httpx.AsyncHTTPTransport(local_address=NORMAL)
    async with httpx.AsyncClient(base_url=stack.url, transport=transport, timeout=15) as client:

        async def normal_client() -> None:
            for _ in range(50):
                started = time.perf_counter()
                response = await client.get("/api/tags")
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1
                slow_open.append(len(attackers) - slow.closed_by_server)
                upstream.append(upstream_connections(stack.socket))

        await asyncio.gather(*(normal_client() for _ in range(4)))
    await asyncio.wait_for(attack, timeout=45)

    latencies.sort()
    p50, p99 = (latencies[int(len(latencies) * share)] * 1000 for share in (0.5, 0.99))
    print(
        f"slow clients: {len(attackers)} ({slow_open[0]} open at the normal client's first "
        f"answer, {slow_open[-1]} at its {sum(statuses.values())}th); upstream connections at most "
        f"{max(upstream)} ({idle} before); normal p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"answers {dict(slow.answers)}"
    )
    assert statuses == Counter({200: 200})
    # Hundreds of slow connections were open; the worker saw the normal client's only
    # (at most one connection per concurrent request, kept alive by NGINX's pool). Not
    # "still open after all 200": on a busy machine those may outlast NGINX's timeouts.
    assert max(slow_open) >= 200
    assert max(upstream) <= idle + 4
    # NGINX closed every slow connection itself (the clients would have gone on): the
    # slowloris ones at client_header_timeout, the stalled uploads at client_body_timeout
    # (without a word: reset_timedout_connection), the greedy address's extra ones at once.
    assert slow.closed_by_server == len(attackers)
    assert slow.answers["HTTP/1.1 429 Too Many Requests"] == 3
    assert not [answer for answer in slow.answers if answer.startswith("HTTP/1.1 2")]
