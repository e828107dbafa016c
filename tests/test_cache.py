"""The read cache: anonymous reads served from Redis, never stale after a write; its
protocol (versions, races, lost keys) and the middleware. What each domain's writes
evict is tested beside the domain (tests/*/test_read_cache.py)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import httpx
import pytest
from fastapi import FastAPI
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from dev.stack import free_port, spawn, stop_process, wait_until
from fastboard.app import create_app
from fastboard.articles import repository as articles_repository
from fastboard.articles.models import Tag
from fastboard.cache import MIN_KEY_TTL_SECONDS, Found, Lookup, ReadCache
from fastboard.db import SessionDep
from fastboard.settings import Settings
from tests.articles.conftest import favorite, follow
from tests.conftest import (
    IN_CI,
    CachedReads,
    auth,
    create_article,
    make_settings,
    register,
    require_redis,
)
from tests.stack.forwarder import TcpForwarder, forwarding

pytestmark = pytest.mark.anyio


@pytest.fixture
def cache_on(redis_url: str | None, settings: Settings) -> Settings:
    require_redis(redis_url)
    assert settings.redis_url is not None
    return settings


@pytest.fixture
async def redis(cache_on: Settings) -> AsyncIterator[Redis]:
    assert cache_on.redis_url is not None
    client = Redis.from_url(cache_on.redis_url)
    yield client
    await client.aclose()


def cache_of(app: FastAPI) -> ReadCache:
    cache: ReadCache = app.state.read_cache
    return cache


async def get_json(client: httpx.AsyncClient, path: str, **kwargs: Any) -> Any:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_repeated_anonymous_list_is_answered_without_the_database(
    cache_on: Settings,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    count_queries: Any,
) -> None:
    await create_article(client, alice["token"], title="Cached", tagList=["x"])
    with count_queries() as first:
        miss = await client.get("/api/articles", params={"limit": 20})
    with count_queries() as second:
        hit = await client.get("/api/articles", params={"limit": 20})

    assert first.count >= 1
    assert second.count == 0
    assert hit.status_code == miss.status_code == 200
    assert hit.content == miss.content
    assert hit.headers["content-type"] == miss.headers["content-type"] == "application/json"
    assert hit.json()["articles"][0]["title"] == "Cached"


async def test_lookups_are_counted_in_the_metrics(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])
    for _ in range(3):
        await get_json(client, "/api/articles")
    # A signed-in list looks the anonymous page up too (and adds the viewer's flags).
    await get_json(client, "/api/articles", headers=auth(alice["token"]))

    exposition = (await client.get("/metrics")).text
    counted = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("fastboard_read_cache_lookups_total{")
    }
    assert counted == {"miss": 1.0, "hit": 3.0}
    # Hits are labelled with their route template like every other request.
    served = 'fastboard_http_requests_total{method="GET",route="/api/articles",status="200"}'
    assert f"{served} 4.0" in exposition


async def test_routes_the_cache_does_not_answer_are_not_looked_up(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """/api/articles/feed also fits /api/articles/{slug}; the router tries it first. (Its
    readers' own pages are cached, for readers with a token only.)"""
    await create_article(client, alice["token"])
    for path in ("/api/articles/feed", "/api/profiles/alice", "/health"):
        await client.get(path)
    exposition = (await client.get("/metrics")).text
    assert "fastboard_read_cache_lookups_total{" not in exposition


@pytest.mark.own_app  # a second app reads what the first one wrote
async def test_cached_bodies_are_what_the_uncached_app_answers(
    cache_on: Settings,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    tmp_path: Path,
) -> None:
    article = await create_article(client, alice["token"], tagList=["b", "a"])
    paths = [
        "/api/articles?limit=5",
        f"/api/articles/{article['slug']}",
        f"/api/articles/{article['slug']}/comments",
        "/api/tags",
    ]
    cached = [(await client.get(path)).content for path in paths]
    again = [(await client.get(path)).content for path in paths]

    plain = create_app(make_settings(cache_on.database_url, tmp_path / "plain", redis_url=None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=plain), base_url="http://test"
    ) as uncached:
        direct = [(await uncached.get(path)).content for path in paths]
    await plain.state.database.dispose()

    assert cached == again == direct


async def test_a_repeated_parameter_keeps_its_meaning(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """The last value of a repeated parameter counts, so the order is part of the key."""
    for _ in range(3):
        await create_article(client, alice["token"])
    for _ in range(2):
        one_then_two = await get_json(client, "/api/articles?limit=1&limit=2")
        two_then_one = await get_json(client, "/api/articles?limit=2&limit=1")
        assert len(one_then_two["articles"]) == 2
        assert len(two_then_one["articles"]) == 1


async def test_writes_show_at_once_in_anonymous_reads(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    """Every write a list, an article or the tags show is visible to the very next
    anonymous read, although the read before it was cached."""
    first = await create_article(client, alice["token"], title="First", tagList=["old"])
    slug = first["slug"]

    async def anonymous() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        page = await get_json(client, "/api/articles")
        article = (await get_json(client, f"/api/articles/{slug}"))["article"]
        tags = (await get_json(client, "/api/tags"))["tags"]
        return page, article, tags

    await anonymous()  # cached now
    await create_article(client, alice["token"], title="Second", tagList=["new"])
    page, _, tags = await anonymous()
    assert [a["title"] for a in page["articles"]] == ["Second", "First"]
    assert sorted(tags) == ["new", "old"]

    await anonymous()
    await favorite(client, bob["token"], slug)
    page, article, _ = await anonymous()
    assert article["favoritesCount"] == 1
    assert page["articles"][1]["favoritesCount"] == 1

    await anonymous()
    changed = {"article": {"body": "Edited", "tagList": ["edited"]}}
    response = await client.put(f"/api/articles/{slug}", json=changed, headers=auth(alice["token"]))
    assert response.status_code == 200
    _, article, tags = await anonymous()
    assert article["body"] == "Edited"
    assert article["tagList"] == ["edited"]
    assert "old" not in tags

    await anonymous()
    profile = {"user": {"bio": "Now with a bio"}}
    response = await client.put("/api/user", json=profile, headers=auth(alice["token"]))
    assert response.status_code == 200
    page, article, _ = await anonymous()
    assert article["author"]["bio"] == "Now with a bio"
    assert {a["author"]["bio"] for a in page["articles"]} == {"Now with a bio"}

    await anonymous()
    response = await client.delete(f"/api/articles/{slug}", headers=auth(alice["token"]))
    assert response.status_code == 204
    page = await get_json(client, "/api/articles")
    assert [a["title"] for a in page["articles"]] == ["Second"]
    assert (await client.get(f"/api/articles/{slug}")).status_code == 404


async def test_signed_in_readers_get_their_own_flags_and_anonymous_readers_none(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"])
    await favorite(client, bob["token"], article["slug"])
    await follow(client, bob["token"], "alice")

    anonymous = await get_json(client, "/api/articles")
    as_bob = await get_json(client, "/api/articles", headers=auth(bob["token"]))
    anonymous_again = await get_json(client, "/api/articles")

    assert as_bob["articles"][0]["favorited"] is True
    assert as_bob["articles"][0]["author"]["following"] is True
    for page in (anonymous, anonymous_again):
        assert page["articles"][0]["favorited"] is False
        assert page["articles"][0]["author"]["following"] is False


async def test_a_bad_token_is_still_refused_where_the_anonymous_page_is_cached(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])
    await get_json(client, "/api/articles")
    response = await client.get("/api/articles", headers=auth("not-a-token"))
    assert response.status_code == 401
    assert "token" in response.json()["errors"]


@pytest.mark.parametrize(
    ("path", "status"), [("/api/articles/not-there", 404), ("/api/articles?limit=-1", 422)]
)
async def test_errors_are_not_cached(
    cache_on: Settings, client: httpx.AsyncClient, count_queries: Any, path: str, status: int
) -> None:
    assert (await client.get("/api/tags")).status_code == 200  # the clock exists now
    for _ in range(2):
        with count_queries() as counter:
            response = await client.get(path)
        assert response.status_code == status
        assert "errors" in response.json()
    if status == 404:
        assert counter.count >= 1  # the second time too, the database was asked


async def stored(cache: ReadCache, key: str, keys: list[str], body: bytes = b"{}") -> bool:
    """Look ``key`` up, then store ``body`` for it as a reader would."""
    lookup = await cache.lookup(key)
    assert lookup.found is None
    assert lookup.noted is not None
    return await cache.store(key, lookup.noted, keys, body)


def clock_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:read-clock"


async def test_an_answer_is_served_until_a_key_it_shows_is_bumped(
    cache_on: Settings, app: FastAPI
) -> None:
    cache = cache_of(app)
    lookup = await cache.lookup("/page")
    assert lookup.noted is not None
    assert await cache.store("/page", lookup.noted, ["article:1", "articles"], b"[1]", b"x")
    assert (await cache.lookup("/page")).found == Found(b"[1]", b"x")

    await cache.invalidate(["article:2", "tags"])
    assert (await cache.lookup("/page")).found == Found(b"[1]", b"x")

    await cache.invalidate(["article:1"])
    assert (await cache.lookup("/page")).found is None


async def test_an_answer_read_before_a_write_is_never_stored(
    cache_on: Settings, app: FastAPI
) -> None:
    """The race: a reader looks up (miss) and reads the database; a write commits and
    bumps a key the answer shows; then the reader stores what it read before the write."""
    cache = cache_of(app)
    assert await stored(cache, "/warm", ["article:1", "articles"])  # the keys have versions
    lookup = await cache.lookup("/race")
    assert lookup.noted is not None

    await cache.invalidate(["article:1"])

    assert not await cache.store("/race", lookup.noted, ["article:1", "articles"], b"{}")
    assert (await cache.lookup("/race")).found is None
    assert await stored(cache, "/race", ["article:1", "articles"])  # read after the write


async def test_a_write_to_other_keys_meanwhile_does_not_stop_a_store(
    cache_on: Settings, app: FastAPI
) -> None:
    cache = cache_of(app)
    assert await stored(cache, "/warm", ["article:1"])
    lookup = await cache.lookup("/page")
    assert lookup.noted is not None

    await cache.invalidate(["article:2"])

    assert await cache.store("/page", lookup.noted, ["article:1"], b"{}")
    assert (await cache.lookup("/page")).found is not None


async def test_a_key_first_seen_while_others_were_bumped_is_stored_the_next_time(
    cache_on: Settings, app: FastAPI
) -> None:
    """A key without a version may have lost one bumped after the reader's lookup."""
    cache = cache_of(app)
    lookup = await cache.lookup("/page")
    assert lookup.noted is not None
    await cache.invalidate(["elsewhere"])

    assert not await cache.store("/page", lookup.noted, ["never-seen"], b"{}")
    assert await stored(cache, "/page", ["never-seen"])


async def test_a_lost_version_never_revives_old_answers(
    cache_on: Settings, app: FastAPI, redis: Redis
) -> None:
    """Redis evicted a key's version after a write bumped it."""
    cache = cache_of(app)
    assert await stored(cache, "/old", ["article:1"])
    await cache.invalidate(["article:1"])
    await redis.delete(cache.version_key("article:1"))

    assert (await cache.lookup("/old")).found is None
    assert await stored(cache, "/new", ["article:1"])  # the key gets a version again
    assert (await cache.lookup("/old")).found is None
    assert (await cache.lookup("/new")).found is not None


async def test_a_lost_clock_starts_again_above_every_version(
    cache_on: Settings, app: FastAPI, redis: Redis
) -> None:
    cache = cache_of(app)
    assert await stored(cache, "/page", ["article:1"])
    version = int(await redis.get(cache.version_key("article:1")) or 0)
    await redis.delete(clock_key(cache_on))

    await cache.invalidate(["article:1"])

    assert int(await redis.get(cache.version_key("article:1")) or 0) > version
    assert (await cache.lookup("/page")).found is None
    assert await stored(cache, "/page", ["article:1"])
    assert (await cache.lookup("/page")).found is not None


async def test_a_clock_not_written_by_us_is_no_error(
    cache_on: Settings, client: httpx.AsyncClient, redis: Redis, cached_reads: CachedReads
) -> None:
    await redis.set(clock_key(cache_on), b"garbage")
    for _ in range(2):
        assert (await get_json(client, "/api/tags"))["tags"] == []
    await cached_reads.warm("/api/tags")  # and the cache works again


async def test_entries_and_versions_expire(
    cache_on: Settings, app: FastAPI, redis: Redis, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])
    await get_json(client, "/api/articles")
    ttl = await redis.ttl(f"{cache_on.redis_prefix}:read:/api/articles?")
    assert 0 < ttl <= cache_on.cache_ttl_seconds
    version_ttl = await redis.ttl(cache_of(app).version_key("articles"))
    assert cache_on.cache_ttl_seconds < version_ttl <= MIN_KEY_TTL_SECONDS


async def test_keys_may_hold_any_character(cache_on: Settings, app: FastAPI) -> None:
    """Keys are listed in an entry separated by spaces."""
    cache = cache_of(app)
    odd = ["comments:a b", "comments:한국어", "comments:a\nb"]
    assert await stored(cache, "/odd", [*odd, "comments:a"])
    await cache.invalidate(["comments:a"])  # only "comments:a" itself
    assert (await cache.lookup("/odd")).found is None
    assert await stored(cache, "/odd", odd)
    for key in odd:
        await cache.invalidate(["comments:a"])
        assert (await cache.lookup("/odd")).found is not None
        await cache.invalidate([key])
        assert (await cache.lookup("/odd")).found is None
        assert await stored(cache, "/odd", odd)


@pytest.mark.own_app  # its route would outlive it in a shared app
async def test_a_write_that_names_no_keys_evicts_every_answer_read_from_its_table(
    cache_on: Settings,
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    cached_reads: CachedReads,
) -> None:
    """The safe default: a writer that does not say what it changed changes its table."""

    @app.post("/test-tag-write")
    async def tag_write(session: SessionDep) -> None:
        session.add(Tag(name="unnamed"))
        await session.flush()

    slug = (await create_article(client, alice["token"], tagList=["t"]))["slug"]
    read_from_tags = ["/api/tags", "/api/articles", f"/api/articles/{slug}"]
    other = [f"/api/articles/{slug}/comments"]
    await cached_reads.warm(*read_from_tags, *other)

    assert (await client.post("/test-tag-write")).status_code == 200

    served = await cached_reads.served(*read_from_tags, *other)
    assert served == {**dict.fromkeys(read_from_tags, False), **dict.fromkeys(other, True)}


async def test_writes_that_change_no_cached_answer_bump_nothing(
    cache_on: Settings,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
    redis: Redis,
    cached_reads: CachedReads,
) -> None:
    await create_article(client, alice["token"])
    await cached_reads.warm("/api/articles")
    before = await redis.get(clock_key(cache_on))
    assert before is not None

    await register(client, "carol")  # a new user shows nowhere yet
    login = {"user": {"email": "bob@example.com", "password": "correct-horse"}}
    assert (await client.post("/api/users/login", json=login)).status_code == 200
    assert await redis.get(clock_key(cache_on)) == before

    await follow(client, bob["token"], "alice")  # bob's feed only: anonymous readers follow nobody
    assert await cached_reads.served("/api/articles") == {"/api/articles": True}


@pytest.mark.own_app  # the write runs on a connection of its own, in the middle of a read
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
async def test_a_page_read_while_a_favorite_commits_is_not_served_after_it(
    cache_on: Settings,
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    signed_in: bool,
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    read_page = articles_repository.list_page
    raced: list[int] = []

    async def favorite_meanwhile() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as writer:
            await favorite(writer, bob["token"], slug)

    async def racing(*args: Any, **kwargs: Any) -> Any:
        page = await read_page(*args, **kwargs)
        if not raced:
            raced.append(1)
            # In a task of its own, as the server would run it.
            await asyncio.create_task(favorite_meanwhile(), context=contextvars.Context())
        return page

    monkeypatch.setattr(articles_repository, "list_page", racing)
    headers = auth(alice["token"]) if signed_in else {}

    raced_page = await get_json(client, "/api/articles", headers=headers)
    assert raced_page["articles"][0]["favoritesCount"] == 0  # read before the favorite
    assert raced
    for _ in range(2):
        page = await get_json(client, "/api/articles")
        assert page["articles"][0]["favoritesCount"] == 1


@pytest.mark.own_app  # a second app reads what the first one wrote
async def test_two_workers_share_the_cache_and_its_invalidation(
    cache_on: Settings,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
    count_queries: Any,
) -> None:
    other = create_app(cache_on)  # a second worker: same settings, its own pool and client
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as second:
        one = await create_article(client, alice["token"], title="One")
        assert (await get_json(second, "/api/articles"))["articlesCount"] == 1
        with count_queries() as counter:  # counts the first worker's statements
            assert (await get_json(client, "/api/articles"))["articlesCount"] == 1
        assert counter.count == 0  # served what the second worker cached

        await create_article(client, alice["token"], title="Two")
        assert (await get_json(second, "/api/articles"))["articlesCount"] == 2

        article_path = f"/api/articles/{one['slug']}"
        for worker in (client, second):
            await get_json(worker, article_path)
        await favorite(client, bob["token"], one["slug"])  # written through the first
        for worker in (second, client):
            assert (await get_json(worker, article_path))["article"]["favoritesCount"] == 1
            page = await get_json(worker, "/api/articles")
            assert page["articles"][1]["favoritesCount"] == 1
    await other.state.live.close()
    await other.state.read_cache.close()
    await other.state.database.dispose()


async def test_requests_are_answered_while_redis_is_unreachable(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    app.state.read_cache = ReadCache(
        settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    )
    user = await register(client)
    article = await create_article(client, user["token"], title="Still here", tagList=["kept"])
    await favorite(client, user["token"], article["slug"])
    for _ in range(2):
        page = await get_json(client, "/api/articles")
        assert page["articles"][0]["title"] == "Still here"
        assert (await get_json(client, "/api/tags"))["tags"] == ["kept"]
        signed_in = await get_json(client, "/api/articles", headers=auth(user["token"]))
        assert signed_in["articles"][0]["favorited"] is True
        assert (await get_json(client, f"/api/articles/{article['slug']}/comments")) == {
            "comments": []
        }
    await cache_of(app).close()


async def test_an_encoded_question_mark_in_the_path_is_not_a_query(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], title="A")
    assert article["slug"] == "a"
    assert (await client.get("/api/articles/a?b?")).status_code == 200  # cached as /api/articles/a
    assert (await client.get("/api/articles/a%3Fb?")).status_code == 404  # slug "a?b"


DOMAIN_IMPORTS = """
import sys
import fastboard.cache, fastboard.db, fastboard.middleware
domains = tuple(f"fastboard.{name}" for name in ("users", "profiles", "articles", "comments"))
print(sorted(name for name in sys.modules if name.startswith(domains)))
"""


def test_the_cache_and_the_data_layer_know_no_domain() -> None:
    """Routes declare what they read; the core learns it from the app, imports nothing."""
    result = subprocess.run(
        [sys.executable, "-c", DOMAIN_IMPORTS], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_attached_bytes_with_a_newline_are_not_stored(
    cache_on: Settings, app: FastAPI
) -> None:
    """The entry's own separator: the body would be read from the wrong place."""
    cache = cache_of(app)
    lookup = await cache.lookup("/page")
    assert lookup.noted is not None
    assert not await cache.store("/page", lookup.noted, ["k"], b"{}", b"a\nb")
    assert (await cache.lookup("/page")).found is None


# Redis goes away and comes back: a bump that could not be made must not let answers
# stored before it be served afterwards, by any worker.


@pytest.fixture
async def own_prefix(cache_on: Settings, redis: Redis) -> AsyncIterator[Settings]:
    """The suite's settings under a key prefix of the test's own, emptied at its end (the
    caches these tests make are not the app's)."""
    prefix = f"test-{uuid4().hex}"
    yield cache_on.model_copy(update={"redis_prefix": prefix})
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def through_forwarder(own_prefix: Settings) -> Iterator[tuple[TcpForwarder, Settings]]:
    """A forwarder to the suite's Redis, and the settings of a worker that goes through it."""
    assert own_prefix.redis_url is not None
    with forwarding(own_prefix.redis_url, 6379) as (forwarder, url):
        yield forwarder, own_prefix.model_copy(update={"redis_url": url})


async def answers_until_served(cache: ReadCache, key: str) -> list[Lookup]:
    """Look ``key`` up until the cache answers again (a hit or a miss); every lookup."""
    lookups: list[Lookup] = []
    with anyio.fail_after(15):
        while not lookups or lookups[-1].outcome == "unavailable":
            lookups.append(await cache.lookup(key))
            await asyncio.sleep(0.02)
    return lookups


async def test_a_bump_lost_while_redis_was_away_leaves_no_old_answer_served(
    through_forwarder: tuple[TcpForwarder, Settings],
) -> None:
    forwarder, settings = through_forwarder
    writer, reader = ReadCache(settings), ReadCache(settings)  # two workers
    try:
        assert await stored(reader, "/page", ["article:1"])
        assert (await writer.lookup("/page")).found is not None  # both serve it

        forwarder.stop()
        await writer.invalidate(["article:1"])  # committed and acknowledged; not bumped
        # The reader was asked meanwhile too (a full outage: every busy worker fails).
        assert (await reader.lookup("/page")).outcome == "unavailable"
        forwarder.start()

        for cache in (reader, writer):
            answers = await answers_until_served(cache, "/page")
            assert [answer.found for answer in answers] == [None] * len(answers)
            assert answers[-1].outcome == "miss"
        # A worker started afterwards, which knows nothing of the outage, neither.
        started_later = ReadCache(settings)
        assert (await started_later.lookup("/page")).found is None
        await started_later.close()
        # And the cache works again.
        assert await stored(reader, "/page", ["article:1"])
        assert (await writer.lookup("/page")).found is not None
    finally:
        await writer.close()
        await reader.close()


async def test_a_worker_that_alone_lost_redis_evicts_old_answers_when_it_is_back(
    through_forwarder: tuple[TcpForwarder, Settings], own_prefix: Settings
) -> None:
    """The writer's own Redis connection failed, the reader's never did."""
    forwarder, settings = through_forwarder
    writer, reader = ReadCache(settings), ReadCache(own_prefix)
    try:
        assert await stored(reader, "/page", ["article:1"])
        forwarder.stop()
        await writer.invalidate(["article:1"])
        assert (await reader.lookup("/page")).found is not None  # the window: no way to know
        forwarder.start()

        await answers_until_served(writer, "/page")  # the writer has caught up
        assert (await reader.lookup("/page")).found is None
    finally:
        await writer.close()
        await reader.close()


class RedisServer:
    """A Redis server of the test's own, which it may crash and start again from its
    snapshot."""

    def __init__(self, binary: str, directory: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self._command += ["--dir", str(directory), "--save", "", "--appendonly", "no", *options]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = spawn(self._command, output=Path(os.devnull))
        wait_until(self._answers, timeout=10, watch=self._process, what="redis-server")

    def _answers(self) -> bool:
        with SyncRedis.from_url(self.url, socket_connect_timeout=1) as client:
            try:
                return bool(client.ping())
            except RedisError:
                return False

    def crash(self) -> None:
        """Gone at once, saving nothing: what comes back is the last snapshot."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL, timeout=10)
            self._process = None


def redis_server(directory: Path, *options: str) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (required when CI=true)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary, directory, *options)
    server.start()
    yield server
    server.crash()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    yield from redis_server(tmp_path)


@pytest.fixture
def closing_idle_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server that closes connections idle for a second (its ``timeout``)."""
    yield from redis_server(tmp_path, "--timeout", "1")


async def test_redis_restored_from_an_older_snapshot_serves_no_answer_bumped_since(
    own_redis: RedisServer, settings: Settings
) -> None:
    cache = ReadCache(settings.model_copy(update={"redis_url": own_redis.url}))
    admin = Redis.from_url(own_redis.url)
    try:
        assert await stored(cache, "/page", ["article:1"])
        await admin.save()  # the snapshot holds the answer and its versions
        await cache.invalidate(["article:1"])  # bumped after the snapshot
        assert (await cache.lookup("/page")).found is None

        own_redis.crash()
        own_redis.start()  # restored from the snapshot: the bump is gone
        await admin.aclose()
        admin = Redis.from_url(own_redis.url)
        assert await admin.get(f"{settings.redis_prefix}:read:/page") is not None

        answers = await answers_until_served(cache, "/page")
        assert [answer.found for answer in answers] == [None] * len(answers)
    finally:
        await cache.close()
        await admin.aclose()


def generation_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:read-generation"


async def test_connections_redis_closed_while_idle_cost_nothing(
    closing_idle_redis: RedisServer, settings: Settings
) -> None:
    """Redis's ``timeout`` (or a managed Redis, a NAT) drops idle connections: no trouble,
    nothing evicted, the next lookup served from the cache."""
    settings = settings.model_copy(update={"redis_url": closing_idle_redis.url})
    idle, other = ReadCache(settings), ReadCache(settings)  # two workers
    admin = Redis.from_url(closing_idle_redis.url)
    try:
        assert await stored(other, "/page", ["article:1"])
        assert (await idle.lookup("/page")).found is not None
        generation = await admin.get(generation_key(settings))

        async def only_admin_connected() -> bool:
            return len(await admin.client_list()) == 1

        with anyio.fail_after(15):  # Redis checks idle clients a few times a second
            # Polling: Redis closes them in its own time, with no event to wait on.
            while not await only_admin_connected():  # noqa: ASYNC110
                await asyncio.sleep(0.1)

        for cache in (idle, other):
            assert (await cache.lookup("/page")).found is not None
            assert cache.in_sync
        assert await admin.get(generation_key(settings)) == generation
    finally:
        await idle.close()
        await other.close()
        await admin.aclose()


async def test_a_connection_cut_while_idle_is_reopened_at_once(
    through_forwarder: tuple[TcpForwarder, Settings], own_prefix: Settings, redis: Redis
) -> None:
    """Cut (reset) between two lookups, as a NAT or a Redis failover does."""
    forwarder, settings = through_forwarder
    cut, other = ReadCache(settings), ReadCache(own_prefix)
    try:
        assert await stored(other, "/page", ["article:1"])
        assert (await cut.lookup("/page")).found is not None
        generation = await redis.get(generation_key(own_prefix))

        forwarder.stop()
        forwarder.start()

        assert (await cut.lookup("/page")).found is not None
        assert cut.in_sync
        assert (await other.lookup("/page")).found is not None
        assert await redis.get(generation_key(own_prefix)) == generation
    finally:
        await cut.close()
        await other.close()


@pytest.mark.parametrize("fault", ["stop", "stall"])
async def test_a_failed_lookup_evicts_nothing(
    through_forwarder: tuple[TcpForwarder, Settings],
    own_prefix: Settings,
    redis: Redis,
    fault: str,
) -> None:
    """A lookup loses no invalidation: the worker that failed steps aside for a while,
    every other worker keeps serving, and so does it once Redis answers again."""
    forwarder, settings = through_forwarder
    failing, other = ReadCache(settings), ReadCache(own_prefix)
    try:
        assert await stored(other, "/page", ["article:1"])
        generation = await redis.get(generation_key(own_prefix))

        forwarder.stop() if fault == "stop" else forwarder.stall()
        assert (await failing.lookup("/page")).outcome == "unavailable"
        assert not failing.in_sync
        assert (await other.lookup("/page")).found is not None
        forwarder.start()

        answers = await answers_until_served(failing, "/page")
        assert answers[-1].found is not None  # served again, not evicted
        assert (await other.lookup("/page")).found is not None
        assert await redis.get(generation_key(own_prefix)) == generation
    finally:
        await failing.close()
        await other.close()


async def test_a_worker_closed_owing_an_advance_makes_it_on_closing(
    through_forwarder: tuple[TcpForwarder, Settings], own_prefix: Settings
) -> None:
    """Recycled (or HUP, TERM) after its bump failed, before its background advance."""
    forwarder, settings = through_forwarder
    writer, reader = ReadCache(settings), ReadCache(own_prefix)
    try:
        assert await stored(reader, "/page", ["article:1"])
        forwarder.stop()
        await writer.invalidate(["article:1"])  # acknowledged; not bumped
        assert not writer.in_sync
        forwarder.start()
        await writer.close()  # at once: the background advance had no turn yet

        assert (await reader.lookup("/page")).found is None
    finally:
        await writer.close()
        await reader.close()


async def test_the_generation_has_no_ttl_and_once_lost_revives_nothing(
    through_forwarder: tuple[TcpForwarder, Settings], own_prefix: Settings, redis: Redis
) -> None:
    """One key every entry depends on: were it to expire, every entry would be a miss at
    once. Lost anyway (evicted), it comes back above every value entries were stored with
    before the last advance."""
    forwarder, settings = through_forwarder
    writer, reader = ReadCache(settings), ReadCache(own_prefix)
    key = generation_key(own_prefix)
    try:
        assert await stored(reader, "/old", ["article:1"])
        assert await redis.ttl(key) == -1  # exists, no expiry
        forwarder.stop()
        await writer.invalidate(["other"])  # lost: the writer advances once back
        forwarder.start()
        await answers_until_served(writer, "/old")
        assert await redis.ttl(key) == -1

        await redis.delete(key)
        assert (await reader.lookup("/old")).found is None
        assert await stored(reader, "/new", ["article:1"])
        assert await redis.ttl(key) == -1
        assert (await reader.lookup("/old")).found is None
        assert (await reader.lookup("/new")).found is not None
    finally:
        await writer.close()
        await reader.close()


async def test_a_worker_closed_owing_an_advance_while_redis_is_away_says_so(
    through_forwarder: tuple[TcpForwarder, Settings],
    own_prefix: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its one attempt fails (bounded, the stop goes on): answers stored before the lost
    invalidation are served until they expire, and the log says so."""
    forwarder, settings = through_forwarder
    writer, reader = ReadCache(settings), ReadCache(own_prefix)
    try:
        assert await stored(reader, "/page", ["article:1"])
        forwarder.stop()
        await writer.invalidate(["article:1"])
        await writer.close()
        assert any("closed owing an advance" in r.getMessage() for r in caplog.records)
        forwarder.start()
        assert (await reader.lookup("/page")).found is not None  # the documented limit
    finally:
        await writer.close()
        await reader.close()
