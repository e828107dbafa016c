"""Redis goes away and comes back under load, and no reader is served what a write
acknowledged meanwhile changed.

Anonymous readers keep reading articles and a list (cached in Redis, answered by both
workers) while Redis, behind a forwarder the test cuts, disappears. Signed-in writes are
acknowledged during the outage (their cache bumps cannot be made); after Redis returns,
every read started after a write's acknowledgement must show that write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.stack.conftest import (
    StackFactory,
    app_errors,
    app_log,
    each_request_a_new_connection,
    register,
)
from tests.stack.forwarder import TcpForwarder
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

ARTICLES = 3
READERS = 4
WARM_READS = 60
DOWN_READS = 60
# Cache hits after Redis is back before the test stops reading: the cache serves again,
# on both workers, with whatever it kept.
HITS_AFTER = 30
PAUSE_SECONDS = 0.01


# What a reader must at least see of an article: (description version, favorites count).
State = tuple[int, int]


@dataclass(frozen=True)
class Read:
    phase: str
    path: str
    status: int | None
    stale: list[str]  # what in the answer is older than a write acknowledged before it


@dataclass
class Readers:
    client: httpx.AsyncClient
    paths: list[str]
    # Per slug, the newest state a write was acknowledged for.
    acknowledged: dict[str, State]
    phase: str = "warm"
    reads: list[Read] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, phase: str) -> int:
        return sum(read.phase == phase for read in self.reads)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        await asyncio.gather(*(self._read(index) for index in range(READERS)))

    async def _read(self, turn: int) -> None:
        while not self._stop.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            phase, least = self.phase, dict(self.acknowledged)
            try:
                response = await self.client.get(path)
            except httpx.HTTPError:
                self.reads.append(Read(phase, path, None, []))
                continue
            stale: list[str] = []
            if response.status_code == 200:
                stale = older_than(response.json(), least)
            self.reads.append(Read(phase, path, response.status_code, stale))
            await asyncio.sleep(PAUSE_SECONDS)


def older_than(answer: dict[str, Any], least: dict[str, State]) -> list[str]:
    articles = [answer["article"]] if "article" in answer else answer["articles"]
    found = []
    for article in articles:
        seen = (int(article["description"].removeprefix("v")), article["favoritesCount"])
        wanted = least.get(article["slug"], (0, 0))
        if seen[0] < wanted[0] or seen[1] < wanted[1]:
            found.append(f"{article['slug']}: {seen} older than {wanted}")
    return found


def cache_hits(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "fastboard_read_cache_lookups_total" and sample.labels["result"] == "hit"
    )


async def test_writes_acknowledged_while_redis_is_away_are_never_read_stale_after(
    make_stack: StackFactory, redis_forwarder: tuple[TcpForwarder, str]
) -> None:
    forwarder, through = redis_forwarder
    stack = make_stack(workers=2, FASTBOARD_REDIS_URL=through)
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        each_request_a_new_connection(stack) as reader,
    ):
        author, token = await register(client)
        _, fan_token = await register(client)
        as_author = {"Authorization": f"Token {token}"}
        as_fan = {"Authorization": f"Token {fan_token}"}
        slugs = []
        for n in range(ARTICLES):
            article = {"title": f"Cached {n}", "description": "v0", "body": "b"}
            created = await client.post(
                "/api/articles", json={"article": article}, headers=as_author
            )
            assert created.status_code == 201, created.text
            slugs.append(created.json()["article"]["slug"])
        acknowledged: dict[str, State] = dict.fromkeys(slugs, (0, 0))
        paths = [f"/api/articles/{slug}" for slug in slugs] + [f"/api/articles?author={author}"]
        readers = Readers(reader, paths, acknowledged)
        running = asyncio.create_task(readers.run())
        writes: list[int] = []
        try:
            await until(lambda: readers.count("warm") >= WARM_READS)
            hits_warm = cache_hits((await client.get("/metrics")).text)

            readers.phase = "down"
            forwarder.stop()
            for slug in slugs:
                edit = {"article": {"description": "v1"}}
                edited = await client.put(f"/api/articles/{slug}", json=edit, headers=as_author)
                writes.append(edited.status_code)
                acknowledged[slug] = (1, 0)
                favorited = await client.post(f"/api/articles/{slug}/favorite", headers=as_fan)
                writes.append(favorited.status_code)
                acknowledged[slug] = (1, 1)
            await until(lambda: readers.count("down") >= DOWN_READS)

            readers.phase = "back"
            forwarder.start()
            hits_back = cache_hits((await client.get("/metrics")).text)

            async def served_again() -> bool:
                hits = cache_hits((await client.get("/metrics")).text)
                return hits - hits_back >= HITS_AFTER

            with anyio.fail_after(30):  # a regression fails, not hangs
                # Polling: the hits are counted in the workers, with no event to wait on.
                while not await served_again():  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            # A write after the outage is seen at once, as always.
            edit = {"article": {"description": "v2"}}
            edited = await client.put(f"/api/articles/{slugs[0]}", json=edit, headers=as_author)
            writes.append(edited.status_code)
            acknowledged[slugs[0]] = (2, 1)
            settled = readers.count("back")
            await until(lambda: readers.count("back") >= settled + WARM_READS)
        finally:
            readers.stop()
            await running

    reads = readers.reads
    assert writes == [200] * (2 * ARTICLES + 1)
    assert {read.status for read in reads} == {200}, readers.reads
    assert [read for read in reads if read.stale] == []
    assert hits_warm > 0  # the cache served before the outage
    assert app_errors(stack) == []
    # A warning or two per worker for the whole outage, not one per request.
    warnings = [
        record
        for record in app_log(stack)
        if record.get("logger") == "fastboard.cache" and record.get("level") == "WARNING"
    ]
    assert len(warnings) <= 2 * 2, warnings
    down, back = readers.count("down"), readers.count("back")
    print(  # the figures for the report (pytest -s)
        f"\nreads: {len(reads)} ({down} while Redis was away, {back} after), all 200, 0 stale;"
        f" writes acknowledged while away: {2 * ARTICLES}"
    )
