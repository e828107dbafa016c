"""GET /api/tags: the tags articles use, most used first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio


async def tags(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/api/tags")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"tags"}
    found: list[str] = response.json()["tags"]
    return found


async def test_no_articles_means_no_tags(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tags")

    assert response.status_code == 200
    assert response.json() == {"tags": []}


async def test_tags_list_every_used_tag_once_most_used_first(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await create_article(client, alice["token"], tagList=["rare", "common", "middle"])
    await create_article(client, bob["token"], tagList=["common", "middle"])
    await create_article(client, alice["token"], tagList=["common"])
    await create_article(client, bob["token"])

    assert await tags(client) == ["common", "middle", "rare"]


async def test_tags_need_no_token_and_ignore_one(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"], tagList=["solo"])

    response = await client.get("/api/tags", headers=auth(alice["token"]))

    assert response.json() == {"tags": ["solo"]}
    assert await tags(client) == ["solo"]


async def test_deleting_the_last_article_with_a_tag_removes_it_from_the_list(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    only = await create_article(client, alice["token"], tagList=["only-here", "shared"])
    await create_article(client, alice["token"], tagList=["shared"])

    response = await client.delete(f"/api/articles/{only['slug']}", headers=auth(alice["token"]))
    assert response.status_code == 204

    assert await tags(client) == ["shared"]


async def test_replacing_an_article_s_tags_updates_the_list(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["old"])

    response = await client.put(
        f"/api/articles/{created['slug']}",
        json={"article": {"tagList": ["new"]}},
        headers=auth(alice["token"]),
    )
    assert response.status_code == 200

    assert await tags(client) == ["new"]


async def test_a_tag_shared_by_articles_is_stored_once_and_filters_both(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    first = await create_article(client, alice["token"], tagList=["shared"])
    second = await create_article(client, bob["token"], tagList=["shared"])

    assert await tags(client) == ["shared"]
    page = (await client.get("/api/articles", params={"tag": "shared"})).json()
    assert [article["slug"] for article in page["articles"]] == [second["slug"], first["slug"]]


async def test_unicode_tags_round_trip(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    created = await create_article(client, alice["token"], tagList=["파이썬", "café"])

    assert created["tagList"] == ["café", "파이썬"]
    assert sorted(await tags(client)) == sorted(["파이썬", "café"])
    page = (await client.get("/api/articles", params={"tag": "파이썬"})).json()
    assert [article["slug"] for article in page["articles"]] == [created["slug"]]
