"""The read cache and articles: a write evicts the cached answers that show what it
changed, and keeps the others; the signed-in list is the cached page plus the viewer's
flags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard.cache import ReadCache
from fastboard.security import create_token
from fastboard.settings import Settings
from tests.articles.conftest import favorite, follow
from tests.articles.test_queries import TRANSACTION_CONTROL
from tests.conftest import CachedReads, auth, create_article, register

pytestmark = pytest.mark.anyio

# One article per page, newest first: offset 0 shows "three", 1 "two", 2 "one".
PAGE = "/api/articles?limit=1&offset={}"
FEED = "/api/articles/feed"


@pytest.fixture
async def board(client: httpx.AsyncClient, alice: dict[str, Any]) -> dict[str, str]:
    """Three articles by alice, tagged a, b and both; their slugs by title."""
    slugs: dict[str, str] = {}
    for title, tags in (("one", ["a"]), ("two", ["b"]), ("three", ["a", "b"])):
        article = await create_article(client, alice["token"], title=title, tagList=tags)
        slugs[title] = article["slug"]
    return slugs


def expect(evicted: list[str], kept: list[str]) -> dict[str, bool]:
    return {**dict.fromkeys(evicted, False), **dict.fromkeys(kept, True)}


async def test_a_favorite_evicts_the_pages_that_show_its_article_and_nothing_else(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
) -> None:
    one = board["one"]
    evicted = [
        PAGE.format(2),
        "/api/articles",
        f"/api/articles/{one}",
        "/api/articles?tag=a",
        # Lists filtered by favorites: a favorite changes which articles they hold.
        "/api/articles?favorited=bob",
        "/api/articles?favorited=alice",
    ]
    kept = [
        PAGE.format(0),
        PAGE.format(1),
        f"/api/articles/{board['two']}",
        "/api/articles?tag=b",
        "/api/articles?author=alice&limit=2",
        "/api/tags",
        f"/api/articles/{one}/comments",
    ]
    await cached_reads.warm(*evicted, *kept)

    await favorite(client, bob["token"], one)

    assert await cached_reads.served(*evicted, *kept) == expect(evicted, kept)
    page = (await client.get(PAGE.format(2))).json()
    assert page["articles"][0]["favoritesCount"] == 1
    favorites = (await client.get("/api/articles?favorited=bob")).json()
    assert [article["slug"] for article in favorites["articles"]] == [one]

    # Unfavoriting evicts the same pages; favoriting twice changes, and evicts, nothing.
    await cached_reads.warm(*evicted)
    response = await client.delete(f"/api/articles/{one}/favorite", headers=auth(bob["token"]))
    assert response.status_code == 200
    assert await cached_reads.served(*evicted) == dict.fromkeys(evicted, False)
    await favorite(client, bob["token"], one)
    await cached_reads.warm(*evicted)
    await favorite(client, bob["token"], one)
    assert await cached_reads.served(*evicted) == dict.fromkeys(evicted, True)


async def test_an_edit_evicts_the_pages_that_show_the_article(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
) -> None:
    one = board["one"]
    evicted = [PAGE.format(2), "/api/articles", f"/api/articles/{one}", "/api/articles?tag=a"]
    kept = [PAGE.format(0), f"/api/articles/{board['two']}", "/api/articles?tag=b", "/api/tags"]
    await cached_reads.warm(*evicted, *kept)

    edit = {"article": {"description": "Edited"}}
    response = await client.put(f"/api/articles/{one}", json=edit, headers=auth(alice["token"]))
    assert response.status_code == 200

    assert await cached_reads.served(*evicted, *kept) == expect(evicted, kept)
    page = (await client.get(PAGE.format(2))).json()
    assert page["articles"][0]["description"] == "Edited"


async def test_new_tags_on_an_article_evict_every_list_and_the_tags(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
) -> None:
    """Which articles a tag filter finds, and every count, may change."""
    evicted = [PAGE.format(0), "/api/articles?tag=b", "/api/articles?tag=c", "/api/tags"]
    kept = [f"/api/articles/{board['two']}", f"/api/articles/{board['one']}/comments"]
    await cached_reads.warm(*evicted, *kept)

    edit = {"article": {"tagList": ["c"]}}
    path = f"/api/articles/{board['one']}"
    assert (await client.put(path, json=edit, headers=auth(alice["token"]))).status_code == 200

    assert await cached_reads.served(*evicted, *kept) == expect(evicted, kept)
    tagged = (await client.get("/api/articles?tag=c")).json()
    assert [article["slug"] for article in tagged["articles"]] == [board["one"]]
    assert sorted((await client.get("/api/tags")).json()["tags"]) == ["a", "b", "c"]


async def test_a_new_title_evicts_the_old_slug(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
) -> None:
    one = board["one"]
    await cached_reads.warm(f"/api/articles/{one}", f"/api/articles/{one}/comments")

    edit = {"article": {"title": "Renamed"}}
    response = await client.put(f"/api/articles/{one}", json=edit, headers=auth(alice["token"]))
    assert response.status_code == 200
    assert response.json()["article"]["slug"] == "renamed"

    assert (await client.get(f"/api/articles/{one}")).status_code == 404
    assert (await client.get(f"/api/articles/{one}/comments")).status_code == 404
    assert (await client.get(PAGE.format(2))).json()["articles"][0]["slug"] == "renamed"


async def test_a_new_article_evicts_the_lists_and_the_tags_only(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
) -> None:
    evicted = [PAGE.format(0), PAGE.format(2), "/api/articles?tag=a", "/api/tags"]
    kept = [f"/api/articles/{slug}" for slug in board.values()]
    await cached_reads.warm(*evicted, *kept)

    await create_article(client, bob["token"], title="four", tagList=["d"])

    assert await cached_reads.served(*evicted, *kept) == expect(evicted, kept)
    assert (await client.get(PAGE.format(0))).json()["articles"][0]["title"] == "four"


async def test_a_deleted_article_leaves_every_cached_answer_that_showed_it(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
) -> None:
    one = board["one"]
    evicted = [
        PAGE.format(0),
        "/api/articles?tag=a",
        "/api/tags",
        f"/api/articles/{one}",
        f"/api/articles/{one}/comments",
    ]
    kept = [f"/api/articles/{board['two']}", f"/api/articles/{board['two']}/comments"]
    await cached_reads.warm(*evicted, *kept)

    response = await client.delete(f"/api/articles/{one}", headers=auth(alice["token"]))
    assert response.status_code == 204

    assert await cached_reads.served(*evicted, *kept) == expect(evicted, kept)
    assert (await client.get(f"/api/articles/{one}")).status_code == 404
    assert (await client.get(f"/api/articles/{one}/comments")).status_code == 404
    assert (await client.get("/api/articles")).json()["articlesCount"] == 2


# The signed-in list ---------------------------------------------------------------------


async def test_a_signed_in_list_on_a_cached_page_costs_the_flags_query_alone(
    cached_reads: CachedReads,
    app: FastAPI,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
    settings: Settings,
    count_queries: Any,
) -> None:
    await favorite(client, bob["token"], board["two"])
    await follow(client, bob["token"], "alice")
    await cached_reads.warm("/api/articles?limit=2")

    with count_queries() as counter:
        cached = await client.get("/api/articles?limit=2", headers=auth(bob["token"]))

    assert cached.status_code == 200
    queries = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    assert len(queries) == 1, queries
    flags = [
        (a["slug"], a["favorited"], a["author"]["following"]) for a in cached.json()["articles"]
    ]
    assert flags == [(board["three"], False, True), (board["two"], True, True)]
    # Byte for byte what the app answers without the cache.
    app.state.read_cache = ReadCache(settings.model_copy(update={"redis_url": None}))
    uncached = await client.get("/api/articles?limit=2", headers=auth(bob["token"]))
    assert cached.content == uncached.content


async def test_a_signed_in_read_caches_the_page_for_everyone(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
) -> None:
    await favorite(client, bob["token"], board["three"])
    signed_in = await client.get(PAGE.format(0), headers=auth(bob["token"]))
    assert signed_in.json()["articles"][0]["favorited"] is True

    response, cached = await cached_reads.get(PAGE.format(0))

    assert cached
    assert response.json()["articles"][0]["favorited"] is False
    assert response.json()["articles"][0]["favoritesCount"] == 1


async def test_a_viewers_own_flags_are_never_served_stale(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    headers = auth(bob["token"])
    await cached_reads.warm("/api/articles")
    await favorite(client, bob["token"], board["one"])
    await follow(client, bob["token"], "alice")

    for _ in range(2):  # the first rebuilds the page, the second reads it from the cache
        page = (await client.get("/api/articles", headers=headers)).json()
        one = next(a for a in page["articles"] if a["slug"] == board["one"])
        assert (one["favorited"], one["favoritesCount"], one["author"]["following"]) == (
            True,
            1,
            True,
        )
    response = await client.delete("/api/profiles/alice/follow", headers=headers)
    assert response.status_code == 200
    page = (await client.get("/api/articles", headers=headers)).json()
    assert {article["author"]["following"] for article in page["articles"]} == {False}


@pytest.mark.parametrize("path", ["/api/articles", "/api/articles?offset=50"])
async def test_a_token_whose_user_is_gone_is_refused_on_a_cached_page(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    settings: Settings,
    path: str,
) -> None:
    await cached_reads.warm(path)

    response = await client.get(path, headers=auth(create_token(987_654, settings)))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["token is invalid or has expired"]}}


async def test_a_cached_page_without_its_ids_is_read_anew_for_a_viewer(
    cached_reads: CachedReads,
    app: FastAPI,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
) -> None:
    """Say an older release stored the page: the viewer's flags need its articles' ids."""
    await favorite(client, bob["token"], board["three"])
    cache: ReadCache = app.state.read_cache
    lookup = await cache.lookup("/api/articles?")
    assert lookup.noted is not None
    assert await cache.store("/api/articles?", lookup.noted, ["articles"], b'{"articles":[]}')

    page = (await client.get("/api/articles", headers=auth(bob["token"]))).json()

    assert page["articlesCount"] == 3
    assert [a["favorited"] for a in page["articles"]] == [True, False, False]


# The feed: each reader's own page, cached as such ------------------------------------------


async def statements(
    client: httpx.AsyncClient, count_queries: Any, path: str, token: str
) -> tuple[dict[str, Any], int]:
    with count_queries() as counter:
        response = await client.get(path, headers=auth(token))
    assert response.status_code == 200, response.text
    queries = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    page: dict[str, Any] = response.json()
    return page, len(queries)


async def test_a_feed_is_cached_for_its_reader_alone(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
    count_queries: Any,
) -> None:
    carol = await register(client, "carol")
    await follow(client, bob["token"], "alice")
    await favorite(client, bob["token"], board["two"])

    first, first_count = await statements(client, count_queries, FEED, bob["token"])
    again, again_count = await statements(client, count_queries, FEED, bob["token"])
    others, _ = await statements(client, count_queries, FEED, carol["token"])

    assert (first_count, again_count) == (2, 1)  # the page and the flags; the flags alone
    assert first == again
    flags = [(a["slug"], a["favorited"], a["author"]["following"]) for a in again["articles"]]
    assert flags == [
        (board["three"], False, True),
        (board["two"], True, True),
        (board["one"], False, True),
    ]
    assert others == {"articles": [], "articlesCount": 0}
    # Anonymous readers get no feed, cached or not.
    assert (await client.get(FEED)).status_code == 401


async def test_following_evicts_the_followers_feed_alone(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    bob: dict[str, Any],
    count_queries: Any,
) -> None:
    carol = await register(client, "carol")
    dave = await register(client, "dave")
    await create_article(client, dave["token"], title="By Dave")
    for reader in (bob, carol):
        await follow(client, reader["token"], "alice")
        await statements(client, count_queries, FEED, reader["token"])  # cached now

    await follow(client, bob["token"], "dave")

    page, count = await statements(client, count_queries, FEED, bob["token"])
    assert count == 2
    assert page["articles"][0]["title"] == "By Dave"
    _, count = await statements(client, count_queries, FEED, carol["token"])
    assert count == 1
    response = await client.delete("/api/profiles/dave/follow", headers=auth(bob["token"]))
    assert response.status_code == 200
    page, _ = await statements(client, count_queries, FEED, bob["token"])
    assert "By Dave" not in {article["title"] for article in page["articles"]}


async def test_a_new_article_shows_in_the_cached_feeds_of_its_authors_followers(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    board: dict[str, str],
    alice: dict[str, Any],
    bob: dict[str, Any],
    count_queries: Any,
) -> None:
    await follow(client, bob["token"], "alice")
    await statements(client, count_queries, FEED, bob["token"])

    await create_article(client, alice["token"], title="Fresh")

    page, _ = await statements(client, count_queries, FEED, bob["token"])
    assert page["articles"][0]["title"] == "Fresh"
    assert page["articlesCount"] == 4
