"""Builders for the history, votes and CSV tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.users.roles import Role
from tests.conftest import auth, promote, register

Account = dict[str, Any]


async def edit_article(
    client: httpx.AsyncClient, token: str, slug: str, **fields: Any
) -> dict[str, Any]:
    response = await client.put(
        f"/api/articles/{slug}", json={"article": fields}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def add_comment(
    client: httpx.AsyncClient, token: str, slug: str, body: str = "First"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    comment: dict[str, Any] = response.json()["comment"]
    return comment


async def edit_comment(
    client: httpx.AsyncClient, token: str, slug: str, comment_id: int, body: str
) -> httpx.Response:
    return await client.put(
        f"/api/articles/{slug}/comments/{comment_id}",
        json={"comment": {"body": body}},
        headers=auth(token),
    )


async def read_history(
    client: httpx.AsyncClient, path: str, token: str | None = None, **params: Any
) -> dict[str, Any]:
    """The JSON page of ``path`` (an article's or a comment's ``…/history``)."""
    response = await client.get(path, params=params, headers=auth(token) if token else {})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"versions", "versionsCount"}
    page: dict[str, Any] = response.json()
    return page


@pytest.fixture
async def moderator(app: Any, client: httpx.AsyncClient) -> Account:
    account = await register(client, "mod")
    await promote(app, "mod", Role.MODERATOR)
    return account
