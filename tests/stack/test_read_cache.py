"""The read cache across real Gunicorn workers: a write is seen by every worker at once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_redis
from tests.stack.conftest import StackFactory, app_log, each_request_a_new_connection, register

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

ROUNDS = 6
READERS = 8


async def anonymous_pages(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    responses = await asyncio.gather(*(client.get("/api/articles") for _ in range(READERS)))
    assert {response.status_code for response in responses} == {200}
    return [response.json() for response in responses]


def cache_lookups(exposition: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "fastboard_read_cache_lookups_total":
                found[sample.labels["result"]] = sample.value
    return found


async def test_every_worker_serves_each_write_at_once(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    stack = make_stack(workers=2)
    # Writes go through NGINX; reads open a connection each, so both workers answer them.
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        each_request_a_new_connection(stack) as reader,
    ):
        _, token = await register(client)
        headers = {"Authorization": f"Token {token}"}
        # The stack's database is shared with other stack tests: count from here.
        before = (await anonymous_pages(reader))[0]["articlesCount"]
        for round_ in range(1, ROUNDS + 1):
            await anonymous_pages(reader)  # cached by now, in Redis, for both workers
            article = {"title": f"Round {round_}", "description": "d", "body": "b"}
            created = await client.post("/api/articles", json={"article": article}, headers=headers)
            assert created.status_code == 201
            slug = created.json()["article"]["slug"]

            pages = await anonymous_pages(reader)
            assert {page["articlesCount"] for page in pages} == {before + round_}
            assert {page["articles"][0]["title"] for page in pages} == {f"Round {round_}"}

            favorited = await client.post(f"/api/articles/{slug}/favorite", headers=headers)
            assert favorited.status_code == 200
            pages = await anonymous_pages(reader)
            assert {page["articles"][0]["favoritesCount"] for page in pages} == {1}

        exposition = (await client.get("/metrics")).text

    lookups = cache_lookups(exposition)
    assert lookups.get("hit", 0) > 0
    assert lookups.get("miss", 0) > 0
    assert "unavailable" not in lookups
    served_by = {
        record["pid"]
        for record in app_log(stack)
        if record.get("logger") == "fastboard.access" and record.get("path") == "/api/articles"
    }
    assert len(served_by) == 2  # both workers answered reads
