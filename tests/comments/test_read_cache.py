"""The read cache and comments: a comment evicts its article's cached comments only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import CachedReads, auth, create_article

pytestmark = pytest.mark.anyio


async def comment(client: httpx.AsyncClient, token: str, slug: str, body: str) -> int:
    response = await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


async def test_a_comment_evicts_its_articles_comments_and_nothing_else(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    first = (await create_article(client, alice["token"], title="First"))["slug"]
    second = (await create_article(client, alice["token"], title="Second"))["slug"]
    evicted = [f"/api/articles/{first}/comments"]
    kept = [
        f"/api/articles/{second}/comments",
        f"/api/articles/{first}",
        "/api/articles",
        "/api/tags",
    ]
    await cached_reads.warm(*evicted, *kept)

    comment_id = await comment(client, bob["token"], first, "Nice")

    assert await cached_reads.served(*evicted, *kept) == {
        **dict.fromkeys(evicted, False),
        **dict.fromkeys(kept, True),
    }
    comments = (await client.get(f"/api/articles/{first}/comments")).json()["comments"]
    assert [c["body"] for c in comments] == ["Nice"]

    await cached_reads.warm(*evicted, *kept)
    response = await client.delete(
        f"/api/articles/{first}/comments/{comment_id}", headers=auth(bob["token"])
    )
    assert response.status_code == 204

    assert await cached_reads.served(*evicted, *kept) == {
        **dict.fromkeys(evicted, False),
        **dict.fromkeys(kept, True),
    }
    assert (await client.get(f"/api/articles/{first}/comments")).json() == {"comments": []}


async def test_a_refused_comment_evicts_nothing(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    comment_id = await comment(client, bob["token"], slug, "Mine")
    path = f"/api/articles/{slug}/comments"
    await cached_reads.warm(path)

    response = await client.delete(f"{path}/{comment_id}", headers=auth(alice["token"]))
    assert response.status_code == 403

    assert await cached_reads.served(path) == {path: True}
