"""Gunicorn managing Uvicorn workers behind NGINX: a worker dies, the code is reloaded,
the service is stopped, workers are recycled — under a small, bounded load.

Outcomes are counted, never timed: which requests failed, in which phase, and how many
could have failed at most.
"""

from __future__ import annotations

import json
import os
import signal
from uuid import uuid4

import anyio
import anyio.abc
import anyio.to_thread
import httpx
import pytest

from dev.stack import RunningStack
from tests.stack.conftest import StackFactory, app_errors, app_log
from tests.stack.load import Load, Outcome
from tests.stack.processes import children, wait_for_workers
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

# Reads that touch the database and one that does not. NGINX retries these on another
# worker when the one it picked goes away under them (they are idempotent).
READS = [
    ("GET", "/api/articles?limit=5"),
    ("GET", "/api/tags"),
    ("GET", "/health"),
    ("GET", "/api/articles?limit=1&offset=1"),
]
# A write NGINX must never retry: unauthenticated, so the answer is a cheap 401.
WRITE = ("POST", "/api/articles")
CONCURRENCY = 4


async def wait_for_startups(stack: RunningStack, count: int) -> None:
    """Until ``count`` workers in all have completed the app's start-up (the lifespan)."""
    await until(lambda: len(startups(stack)) >= count, seconds=60)


def startups(stack: RunningStack) -> list[dict[str, object]]:
    return [r for r in app_log(stack) if r.get("message") == "Application startup complete."]


def diagnosis(load: Load, stack: RunningStack) -> str:
    return f"{load.summary()}\napp errors: {app_errors(stack)[:2]}"


def waiting_for_connections(record: dict[str, object]) -> bool:
    return "Waiting for connections to close" in str(record.get("message"))


def cut_short(outcome: Outcome) -> bool:
    return outcome.status is None and "RemoteProtocolError" in str(outcome.error)


def load_client(stack: RunningStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.url, timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)
    )


async def test_killed_worker_is_replaced_and_only_its_requests_fail(
    make_stack: StackFactory,
) -> None:
    """At most the requests in flight when the worker died fail. Reads among them are
    usually resent by NGINX to the other worker; the writes in the mix never are."""
    stack = make_stack(workers=2)
    master = stack.gunicorn.pid
    workers = await wait_for_workers(master, 2)
    await wait_for_startups(stack, 2)
    victim = min(workers)
    async with load_client(stack) as client, anyio.create_task_group() as tasks:
        load = Load(client, [*READS, WRITE], concurrency=CONCURRENCY, max_requests=5000)
        tasks.start_soon(load.run)
        await load.wait_completed(100)
        # No await between these lines: nothing starts or ends in between, so
        # `in_flight` bounds what the victim was serving when it died.
        load.phase = "after kill"
        in_flight_at_kill = load.in_flight
        os.kill(victim, signal.SIGKILL)

        replacement = await wait_for_workers(master, 2, excluding={victim})
        await wait_for_startups(stack, 3)
        load.phase = "after replacement"
        await load.wait_completed(200, phase="after replacement")
        load.stop()

    failures = load.failures()
    assert len(failures) <= in_flight_at_kill, diagnosis(load, stack)
    # Either NGINX answered for the dead worker (502) or, when the worker died between
    # the headers and the body of its answer, the response was cut short.
    assert all(f.status == 502 or cut_short(f) for f in failures), diagnosis(load, stack)
    assert load.failures("after replacement") == [], diagnosis(load, stack)
    assert len(load.in_phase("after replacement")) >= 200
    assert stack.gunicorn.poll() is None
    assert victim not in replacement
    assert len(replacement & workers) == 1


async def test_hup_replaces_every_worker_without_failing_a_request(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=2)
    master = stack.gunicorn.pid
    old = await wait_for_workers(master, 2)
    await wait_for_startups(stack, 2)
    async with load_client(stack) as client, anyio.create_task_group() as tasks:
        load = Load(client, READS, concurrency=CONCURRENCY, max_requests=5000)
        tasks.start_soon(load.run)
        await load.wait_completed(100)
        load.phase = "reloading"
        os.kill(master, signal.SIGHUP)
        new = await wait_for_workers(master, 2, excluding=old)
        await wait_for_startups(stack, 4)
        load.phase = "reloaded"
        await load.wait_completed(200, phase="reloaded")
        load.stop()

    assert load.failures() == [], diagnosis(load, stack)
    assert len(load.in_phase("reloading")) > 0
    assert len(load.in_phase("reloaded")) >= 200
    assert new.isdisjoint(old)
    assert stack.gunicorn.poll() is None


async def test_max_requests_recycles_workers_without_failing_a_request(
    make_stack: StackFactory,
) -> None:
    """One client at a time, through NGINX (tests/stack/test_recycling.py puts keep-alive
    clients straight on the socket and through NGINX). Workers retire one at a time, a
    worker past its limit serving on until its turn, so recycles are counted, not derived
    from the request count."""
    stack = make_stack(workers=2, FASTBOARD_MAX_REQUESTS="40", FASTBOARD_MAX_REQUESTS_JITTER="10")
    async with load_client(stack) as client, anyio.create_task_group() as tasks:
        load = Load(client, READS, concurrency=1, max_requests=20_000)
        tasks.start_soon(load.run)
        await until(lambda: len(recycles(stack)) >= 3, seconds=120)
        load.stop()

    assert load.failures() == [], diagnosis(load, stack)
    assert len(load.outcomes) >= 3 * 40
    assert stack.gunicorn.poll() is None


def recycles(stack: RunningStack) -> list[dict[str, object]]:
    return [r for r in app_log(stack) if "Maximum request limit" in str(r.get("message"))]


async def _read_head(stream: anyio.abc.ByteStream, buffer: bytearray) -> bytes:
    while b"\r\n\r\n" not in buffer:
        buffer.extend(await stream.receive())
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


async def _read_response(stream: anyio.abc.ByteStream) -> tuple[int, bytes]:
    buffer = bytearray()
    head = await _read_head(stream, buffer)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    length = int(headers["content-length"])
    while len(buffer) < length:
        buffer.extend(await stream.receive())
    return int(lines[0].split()[1]), bytes(buffer[:length])


async def test_term_lets_the_request_in_flight_finish_then_exits(make_stack: StackFactory) -> None:
    """Straight to the Gunicorn socket, to hold a request open inside a worker on purpose."""
    stack = make_stack(workers=2)
    master = stack.gunicorn.pid
    await wait_for_workers(master, 2)
    name = f"u{uuid4().hex[:12]}"
    body = json.dumps(
        {"user": {"username": name, "email": f"{name}@example.org", "password": "pw-" + name}}
    ).encode()
    head = (
        "POST /api/users HTTP/1.1\r\nHost: fastboard\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()

    async with await anyio.connect_unix(stack.socket) as stream:
        await stream.send(head)
        # "100 Continue" is sent when the app starts reading the body: from here on the
        # request is in flight inside a worker, and stays so until we send the body.
        interim = await _read_head(stream, bytearray())
        assert interim.startswith(b"HTTP/1.1 100")

        os.kill(master, signal.SIGTERM)
        await until(lambda: any(waiting_for_connections(r) for r in app_log(stack)))
        # Shutting down, new connections refused, and yet waiting for our request.
        assert not stack.socket.exists()
        assert stack.gunicorn.poll() is None

        await stream.send(body)
        status, payload = await _read_response(stream)

    assert status == 201, payload
    assert json.loads(payload)["user"]["username"] == name
    exit_status = await anyio.to_thread.run_sync(stack.gunicorn.wait, 30)
    assert exit_status == 0
    assert children(master) == set()


async def test_quit_stops_at_once_without_waiting_for_requests(make_stack: StackFactory) -> None:
    """The quick stop: even with an hour of graceful timeout, a held request is dropped."""
    stack = make_stack(workers=2, FASTBOARD_GRACEFUL_TIMEOUT="3600")
    master = stack.gunicorn.pid
    await wait_for_workers(master, 2)
    head = (
        b"POST /api/users HTTP/1.1\r\nHost: fastboard\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"
    )
    async with await anyio.connect_unix(stack.socket) as stream:
        await stream.send(head)
        assert (await _read_head(stream, bytearray())).startswith(b"HTTP/1.1 100")
        os.kill(master, signal.SIGQUIT)
        exit_status = await anyio.to_thread.run_sync(stack.gunicorn.wait, 60)
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
    assert exit_status == 0
    assert children(master) == set()
