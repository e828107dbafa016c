"""Workers recycled again and again under load cost no request, straight to Gunicorn's
socket or through NGINX: every request of keep-alive clients gets a 200.

A worker that stops drains its connections (fastboard.worker.DrainingHttpProtocol) instead
of closing idle ones under a client that has just sent its next request on one.
"""

from __future__ import annotations

import sys
from collections import Counter

import anyio
import httpx
import pytest

from dev.stack import RunningStack
from tests.stack.conftest import StackFactory, app_errors, app_log
from tests.stack.load import Load
from tests.stack.processes import children, wait_for_workers
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

READS = [("GET", "/health"), ("GET", "/api/tags"), ("GET", "/api/articles?limit=2")]
# NGINX must never resend this one, so it must never reach a connection being closed:
# unauthenticated, a cheap 401 from the app.
WRITE = ("POST", "/api/articles")
EXPECTED = {**dict.fromkeys(READS, 200), WRITE: 401}
# A worker retires after 150 to 187 requests, so each recycles every second or two of the
# load; a replacement takes a few seconds to boot, and workers retire one at a time.
RECYCLE_AFTER = 150
CLIENTS = 4  # per route to the app, each on a keep-alive connection
RECYCLES = 4


def recycles(stack: RunningStack) -> list[dict[str, object]]:
    return [r for r in app_log(stack) if "Maximum request limit" in str(r.get("message"))]


async def watch_workers(master: int, seen: set[int]) -> None:
    """Every worker pid the master has had, until cancelled."""
    while True:
        seen |= children(master)
        await anyio.sleep(0.02)


def unexpected(load: Load) -> Counter[tuple[str, object]]:
    """Outcomes other than the route's own status: errors below HTTP, 5xx, anything."""
    return Counter(
        (f"{o.request[0]} {o.request[1]}", o.error or o.status)
        for o in load.outcomes
        if o.error is not None or o.status != EXPECTED[o.request]
    )


async def test_recycled_workers_cost_no_request_direct_or_through_nginx(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(
        workers=2,
        FASTBOARD_MAX_REQUESTS=str(RECYCLE_AFTER),
        FASTBOARD_MAX_REQUESTS_JITTER=str(RECYCLE_AFTER // 4),
    )
    master = stack.gunicorn.pid
    first = await wait_for_workers(master, 2)
    seen: set[int] = set(first)
    direct = httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=str(stack.socket)),
        base_url="http://fastboard",
        timeout=30,
    )
    proxied = httpx.AsyncClient(base_url=stack.url, timeout=30)
    async with direct, proxied, anyio.create_task_group() as tasks:
        tasks.start_soon(watch_workers, master, seen)
        loads = [
            Load(client, [*READS, WRITE], concurrency=CLIENTS, max_requests=50_000)
            for client in (direct, proxied)
        ]
        for load in loads:
            tasks.start_soon(load.run)
        await until(lambda: len(seen - first) >= RECYCLES, seconds=120)
        for load in loads:
            load.stop()
        await until(lambda: all(load.in_flight == 0 for load in loads))
        tasks.cancel_scope.cancel()

    story = f"{[load.summary() for load in loads]}; app errors: {app_errors(stack)[:2]}"
    assert unexpected(loads[0]) == {}, story
    assert unexpected(loads[1]) == {}, story
    assert all(len(load.outcomes) > RECYCLES * RECYCLE_AFTER / 2 for load in loads), story
    # Each new worker replaced one that retired, and said why.
    assert len(recycles(stack)) >= RECYCLES, story
    assert stack.gunicorn.poll() is None
    # Figures for the README, not assertions.
    print(
        f"\n{len(recycles(stack))} recycles; direct: {len(loads[0].outcomes)} requests, "
        f"{sum(unexpected(loads[0]).values())} failed; through NGINX: "
        f"{len(loads[1].outcomes)} requests, {sum(unexpected(loads[1]).values())} failed",
        file=sys.stderr,
    )
