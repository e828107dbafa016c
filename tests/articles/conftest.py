"""Fixtures and small helpers shared by the article tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import auth

# The RealWorld spec's date-time pattern (fractional seconds required, Z or an offset).
TIMESTAMP = re.compile(
    r"^\d{4,}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+(?:[+-][0-2]\d:[0-5]\d|Z)$"
)
PROFILE_KEYS = {"username", "bio", "image", "following", "role"}
SUMMARY_KEYS = {
    "slug",
    "title",
    "description",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
    "board",
}
ARTICLE_KEYS = SUMMARY_KEYS | {"body", "locked"}
# A complete, valid new article.
VALID = {
    "title": "How to train your dragon",
    "description": "Ever wonder how?",
    "body": "Very carefully.",
}


async def follow(client: httpx.AsyncClient, token: str, username: str) -> None:
    response = await client.post(f"/api/profiles/{username}/follow", headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["following"] is True


async def favorite(client: httpx.AsyncClient, token: str, slug: str) -> dict[str, Any]:
    response = await client.post(f"/api/articles/{slug}/favorite", headers=auth(token))
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def get_article(
    client: httpx.AsyncClient, slug: str, token: str | None = None
) -> dict[str, Any]:
    headers = auth(token) if token else {}
    response = await client.get(f"/api/articles/{slug}", headers=headers)
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def list_articles(
    client: httpx.AsyncClient, token: str | None = None, **params: Any
) -> dict[str, Any]:
    headers = auth(token) if token else {}
    response = await client.get("/api/articles", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def post_article(
    client: httpx.AsyncClient, token: str | None, payload: Any
) -> httpx.Response:
    headers = auth(token) if token else {}
    return await client.post("/api/articles", json=payload, headers=headers)


async def articles_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/articles")
    assert response.status_code == 200
    count: int = response.json()["articlesCount"]
    return count


async def put_article(
    client: httpx.AsyncClient, slug: str, token: str | None, payload: Any
) -> httpx.Response:
    headers = auth(token) if token else {}
    return await client.put(f"/api/articles/{slug}", json=payload, headers=headers)
