"""The read cache answers anonymous tree and board reads, and never serves them stale."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.settings import Settings
from tests.boards.conftest import new_board, tree
from tests.conftest import auth, create_article, require_redis

pytestmark = pytest.mark.anyio


@pytest.fixture
def cache_on(redis_url: str | None, settings: Settings) -> Settings:
    require_redis(redis_url)
    assert settings.redis_url is not None
    return settings


async def _counted(client: httpx.AsyncClient, count_queries: Any, path: str, **params: Any) -> Any:
    with count_queries() as counter:
        response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json(), counter.count


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/categories", {}), ("/api/boards/general", {}), ("/api/articles", {"board": "x"})],
)
async def test_a_repeated_anonymous_read_is_answered_from_the_cache(
    cache_on: Settings,
    client: httpx.AsyncClient,
    count_queries: Any,
    path: str,
    params: dict[str, str],
) -> None:
    first, miss = await _counted(client, count_queries, path, **params)
    again, hit = await _counted(client, count_queries, path, **params)

    assert again == first
    assert miss >= 1
    assert hit == 0


async def test_admin_changes_are_seen_by_the_next_anonymous_read(
    cache_on: Settings, client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    await tree(client)  # cached
    assert (await client.get("/api/boards/general")).json()["board"]["name"] == "General"

    await new_board(client, admin["token"], "Cooking")
    renamed = await client.put(
        "/api/boards/general", json={"board": {"name": "Lobby"}}, headers=auth(admin["token"])
    )
    assert renamed.status_code == 200

    assert [b["slug"] for b in (await tree(client))[0]["boards"]] == ["general", "cooking"]
    assert (await client.get("/api/boards/general")).json()["board"]["name"] == "Lobby"
    archived = await client.delete("/api/boards/cooking", headers=auth(admin["token"]))
    assert archived.status_code == 204
    assert [b["slug"] for b in (await tree(client))[0]["boards"]] == ["general"]


async def test_article_writes_are_seen_in_counts_and_board_lists(
    cache_on: Settings, client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    await new_board(client, admin["token"], "Cooking")
    assert (await tree(client))[0]["boards"][1]["articlesCount"] == 0
    assert (await client.get("/api/articles", params={"board": "cooking"})).json()[
        "articlesCount"
    ] == 0
    article = await create_article(client, alice["token"])
    before = (await client.get(f"/api/articles/{article['slug']}")).json()["article"]
    assert before["board"] == "general"  # cached now

    moved = await client.put(
        f"/api/articles/{article['slug']}",
        json={"article": {"board": "cooking"}},
        headers=auth(alice["token"]),
    )
    assert moved.status_code == 200

    boards = (await tree(client))[0]["boards"]
    assert [(b["slug"], b["articlesCount"]) for b in boards] == [("general", 0), ("cooking", 1)]
    listed = (await client.get("/api/articles", params={"board": "cooking"})).json()
    assert [a["slug"] for a in listed["articles"]] == [article["slug"]]
    single = (await client.get(f"/api/articles/{article['slug']}")).json()["article"]
    assert single["board"] == "cooking"


async def test_a_new_slug_reaches_cached_articles_and_a_new_article_leaves_them_be(
    cache_on: Settings,
    client: httpx.AsyncClient,
    count_queries: Any,
    admin: dict[str, Any],
    alice: dict[str, Any],
) -> None:
    await new_board(client, admin["token"], "Cooking")
    article = await create_article(client, alice["token"], board="cooking")
    path = f"/api/articles/{article['slug']}"
    await client.get(path)  # cached
    await client.get("/api/articles")

    # Another article changes the boards' counts only: the cached article stays.
    await create_article(client, alice["token"], board="cooking")
    kept, queries = await _counted(client, count_queries, path)
    assert kept["article"]["board"] == "cooking"
    assert queries == 0

    reslugged = await client.put(
        "/api/boards/cooking", json={"board": {"slug": "kitchen"}}, headers=auth(admin["token"])
    )
    assert reslugged.status_code == 200, reslugged.text
    assert (await client.get(path)).json()["article"]["board"] == "kitchen"
    listed = (await client.get("/api/articles")).json()["articles"]
    assert {a["board"] for a in listed} == {"kitchen"}
