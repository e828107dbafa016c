"""The read cache: anonymous reads served from Redis, never stale after a write."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from fastboard.app import create_app
from fastboard.cache import ReadCache
from fastboard.settings import Settings
from tests.articles.conftest import favorite, follow
from tests.conftest import auth, create_article, make_settings, register, require_redis

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
    await get_json(client, "/api/articles", headers=auth(alice["token"]))  # not looked up

    exposition = (await client.get("/metrics")).text
    counted = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("fastboard_read_cache_lookups_total{")
    }
    assert counted == {"miss": 1.0, "hit": 2.0}
    # Hits are labelled with their route template like every other request.
    served = 'fastboard_http_requests_total{method="GET",route="/api/articles",status="200"}'
    assert f"{served} 4.0" in exposition


async def test_routes_the_cache_does_not_answer_are_not_looked_up(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """/api/articles/feed also fits /api/articles/{slug}; the router tries it first."""
    article = await create_article(client, alice["token"])
    for path in ("/api/articles/feed", f"/api/articles/{article['slug']}/comments", "/health"):
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
    paths = ["/api/articles?limit=5", f"/api/articles/{article['slug']}", "/api/tags"]
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


async def test_signed_in_readers_never_get_or_give_cached_responses(
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
    assert (await client.get("/api/tags")).status_code == 200  # the generation exists now
    for _ in range(2):
        with count_queries() as counter:
            response = await client.get(path)
        assert response.status_code == status
        assert "errors" in response.json()
    if status == 404:
        assert counter.count >= 1  # the second time too, the database was asked


async def test_writes_to_other_tables_keep_the_cache(
    cache_on: Settings,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
    redis: Redis,
) -> None:
    article = await create_article(client, alice["token"])
    await get_json(client, "/api/articles")
    key = f"{cache_on.redis_prefix}:read-generation"
    before = await redis.get(key)
    assert before is not None

    comment = {"comment": {"body": "Nice"}}
    path = f"/api/articles/{article['slug']}/comments"
    assert (await client.post(path, json=comment, headers=auth(bob["token"]))).status_code == 200
    await follow(client, bob["token"], "alice")
    login = {"user": {"email": "bob@example.com", "password": "correct-horse"}}
    assert (await client.post("/api/users/login", json=login)).status_code == 200

    assert await redis.get(key) == before


async def test_a_page_read_before_a_write_is_never_served_after_it(
    cache_on: Settings, app: FastAPI, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """The race: a reader looks up (miss), a write commits and bumps, then the reader
    stores what it read before the write. That page must not be served."""
    cache = cache_of(app)
    await create_article(client, alice["token"])
    await get_json(client, "/api/articles")  # the generation exists now
    body, generation = await cache.lookup("/race")
    assert body is None
    assert generation is not None

    await cache.invalidate()
    await cache.store("/race", generation, b'{"stale": true}')

    assert await cache.lookup("/race") == (None, generation + 1)


async def test_entries_expire(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any], redis: Redis
) -> None:
    await create_article(client, alice["token"])
    await get_json(client, "/api/articles")
    ttl = await redis.ttl(f"{cache_on.redis_prefix}:read:/api/articles?")
    assert 0 < ttl <= cache_on.cache_ttl_seconds


async def test_a_lost_generation_never_revives_old_pages(
    cache_on: Settings, app: FastAPI, client: httpx.AsyncClient, redis: Redis
) -> None:
    """Redis restarted or evicted the generation while pages survived elsewhere."""
    cache = cache_of(app)
    key = f"{cache_on.redis_prefix}:read-generation"
    await redis.delete(key)
    await redis.set(f"{cache_on.redis_prefix}:read:/old", b"0:{}")
    await redis.set(f"{cache_on.redis_prefix}:read:/older", b"1:{}")
    await redis.set(f"{cache_on.redis_prefix}:read:/foreign", b"not ours")

    body, generation = await cache.lookup("/old")  # starts a new generation
    assert body is None
    assert generation not in (None, 0, 1)
    assert await redis.get(key) == str(generation).encode()
    assert await cache.lookup("/old") == (None, generation)
    assert await cache.lookup("/older") == (None, generation)
    assert await cache.lookup("/foreign") == (None, generation)


@pytest.mark.own_app  # a second app reads what the first one wrote
async def test_two_workers_share_the_cache_and_its_invalidation(
    cache_on: Settings, client: httpx.AsyncClient, alice: dict[str, Any], count_queries: Any
) -> None:
    other = create_app(cache_on)  # a second worker: same settings, its own pool and client
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as second:
        await create_article(client, alice["token"], title="One")
        assert (await get_json(second, "/api/articles"))["articlesCount"] == 1
        with count_queries() as counter:  # counts the first worker's statements
            assert (await get_json(client, "/api/articles"))["articlesCount"] == 1
        assert counter.count == 0  # served what the second worker cached

        await create_article(client, alice["token"], title="Two")
        assert (await get_json(second, "/api/articles"))["articlesCount"] == 2
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
    await create_article(client, user["token"], title="Still here", tagList=["kept"])
    for _ in range(2):
        page = await get_json(client, "/api/articles")
        assert page["articles"][0]["title"] == "Still here"
        assert (await get_json(client, "/api/tags"))["tags"] == ["kept"]
    await cache_of(app).close()


async def test_a_write_after_the_generation_was_lost_starts_a_random_one(
    cache_on: Settings, app: FastAPI, redis: Redis
) -> None:
    key = f"{cache_on.redis_prefix}:read-generation"
    await redis.delete(key)
    await cache_of(app).invalidate()
    assert await redis.get(key) not in (None, b"0", b"1", b"2")


async def test_a_generation_not_written_by_us_is_no_error(
    cache_on: Settings, client: httpx.AsyncClient, redis: Redis
) -> None:
    await redis.set(f"{cache_on.redis_prefix}:read-generation", b"garbage")
    for _ in range(2):
        assert (await get_json(client, "/api/tags"))["tags"] == []


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
