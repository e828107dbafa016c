"""POST and DELETE /api/articles/{slug}/favorite."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.articles.conftest import ARTICLE_KEYS, favorite, get_article
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio


async def unfavorite(client: httpx.AsyncClient, token: str, slug: str) -> dict[str, Any]:
    response = await client.delete(f"/api/articles/{slug}/favorite", headers=auth(token))
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def test_favoriting_returns_the_article_marked_favorited(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    response = await client.post(
        f"/api/articles/{created['slug']}/favorite", headers=auth(bob["token"])
    )

    assert response.status_code == 200
    article = response.json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert article["slug"] == created["slug"]
    assert article["body"] == created["body"]
    assert article["favorited"] is True
    assert article["favoritesCount"] == 1
    assert (await get_article(client, created["slug"], bob["token"]))["favorited"] is True


async def test_favoriting_twice_counts_once(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    await favorite(client, bob["token"], created["slug"])
    again = await favorite(client, bob["token"], created["slug"])

    assert again["favorited"] is True
    assert again["favoritesCount"] == 1
    # A favorite is not an edit of the article.
    assert again["updatedAt"] == created["updatedAt"]
    assert (await get_article(client, created["slug"]))["favoritesCount"] == 1


async def test_unfavoriting_removes_the_favorite(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])
    await favorite(client, bob["token"], created["slug"])

    article = await unfavorite(client, bob["token"], created["slug"])

    assert set(article) == ARTICLE_KEYS
    assert article["favorited"] is False
    assert article["favoritesCount"] == 0
    fetched = await get_article(client, created["slug"], bob["token"])
    assert (fetched["favorited"], fetched["favoritesCount"]) == (False, 0)


async def test_unfavoriting_an_article_not_favorited_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])
    await favorite(client, alice["token"], created["slug"])

    first = await unfavorite(client, bob["token"], created["slug"])
    second = await unfavorite(client, bob["token"], created["slug"])

    assert (first["favorited"], first["favoritesCount"]) == (False, 1)
    assert (second["favorited"], second["favoritesCount"]) == (False, 1)
    assert (await get_article(client, created["slug"], alice["token"]))["favorited"] is True


async def test_favorites_count_adds_up_over_several_users(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    carol = await register(client, "carol")
    created = await create_article(client, alice["token"])
    other = await create_article(client, alice["token"])
    slug = created["slug"]

    assert (await favorite(client, alice["token"], slug))["favoritesCount"] == 1
    assert (await favorite(client, bob["token"], slug))["favoritesCount"] == 2
    assert (await favorite(client, carol["token"], slug))["favoritesCount"] == 3
    assert (await unfavorite(client, bob["token"], slug))["favoritesCount"] == 2

    views = {
        name: await get_article(client, slug, token)
        for name, token in (
            ("alice", alice["token"]),
            ("bob", bob["token"]),
            ("carol", carol["token"]),
        )
    }
    assert {name: view["favorited"] for name, view in views.items()} == {
        "alice": True,
        "bob": False,
        "carol": True,
    }
    assert {view["favoritesCount"] for view in views.values()} == {2}
    anonymous = await get_article(client, slug)
    assert (anonymous["favorited"], anonymous["favoritesCount"]) == (False, 2)
    assert (await get_article(client, other["slug"]))["favoritesCount"] == 0


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_concurrent_favorites_by_many_users_are_all_counted(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    fans = await asyncio.gather(*(register(client, f"fan{i}") for i in range(8)))
    slug = (await create_article(client, alice["token"]))["slug"]

    responses = await asyncio.gather(
        *(client.post(f"/api/articles/{slug}/favorite", headers=auth(fan["token"])) for fan in fans)
    )

    assert [response.status_code for response in responses] == [200] * len(fans)
    assert (await get_article(client, slug))["favoritesCount"] == len(fans)
    page = (await client.get("/api/articles", params={"favorited": "fan3"})).json()
    assert [article["slug"] for article in page["articles"]] == [slug]

    responses = await asyncio.gather(
        *(
            client.delete(f"/api/articles/{slug}/favorite", headers=auth(fan["token"]))
            for fan in fans
        )
    )

    assert [response.status_code for response in responses] == [200] * len(fans)
    assert (await get_article(client, slug))["favoritesCount"] == 0


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_concurrent_favorites_by_one_user_count_once(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    responses = await asyncio.gather(
        *(
            client.post(f"/api/articles/{slug}/favorite", headers=auth(bob["token"]))
            for _ in range(6)
        )
    )

    assert [response.status_code for response in responses] == [200] * 6
    fetched = await get_article(client, slug, bob["token"])
    assert (fetched["favorited"], fetched["favoritesCount"]) == (True, 1)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_favorite_without_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], method: str
) -> None:
    created = await create_article(client, alice["token"])
    await favorite(client, alice["token"], created["slug"])

    response = await client.request(method, f"/api/articles/{created['slug']}/favorite")

    assert response.status_code == 401
    assert (await get_article(client, created["slug"]))["favoritesCount"] == 1


async def test_favorites_of_a_deleted_article_are_gone(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])
    await favorite(client, bob["token"], created["slug"])

    response = await client.delete(f"/api/articles/{created['slug']}", headers=auth(alice["token"]))
    assert response.status_code == 204

    page = (await client.get("/api/articles", params={"favorited": "bob"})).json()
    assert page == {"articles": [], "articlesCount": 0}
