"""Prometheus figures scraped through NGINX add up the requests of every worker."""

from __future__ import annotations

import asyncio
import re
from functools import partial

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dev.stack import RunningStack
from tests.stack.conftest import StackFactory, app_log, each_request_a_new_connection
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
