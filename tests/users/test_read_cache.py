"""The read cache and users: a profile change evicts the answers that show that user."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import CachedReads, auth, create_article

pytestmark = pytest.mark.anyio


async def update_user(client: httpx.AsyncClient, token: str, **fields: Any) -> None:
    response = await client.put("/api/user", json={"user": fields}, headers=auth(token))
    assert response.status_code == 200, response.text


async def test_a_new_bio_evicts_every_answer_that_shows_its_user(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    by_alice = (await create_article(client, alice["token"], title="By Alice"))["slug"]
    by_bob = (await create_article(client, bob["token"], title="By Bob"))["slug"]
    response = await client.post(
        f"/api/articles/{by_bob}/comments",
        json={"comment": {"body": "Hi"}},
        headers=auth(alice["token"]),
    )
    assert response.status_code == 200
    shows_alice = [
        "/api/articles",
        f"/api/articles/{by_alice}",
        f"/api/articles/{by_bob}/comments",  # she commented there
        "/api/articles?author=alice",
    ]
    kept = [f"/api/articles/{by_bob}", "/api/articles?limit=1", "/api/tags"]  # Bob's is newer
    await cached_reads.warm(*shows_alice, *kept)

    await update_user(client, alice["token"], bio="Now with a bio")

    assert await cached_reads.served(*shows_alice, *kept) == {
        **dict.fromkeys(shows_alice, False),
        **dict.fromkeys(kept, True),
    }
    article = (await client.get(f"/api/articles/{by_alice}")).json()["article"]
    assert article["author"]["bio"] == "Now with a bio"
    comments = (await client.get(f"/api/articles/{by_bob}/comments")).json()["comments"]
    assert comments[0]["author"]["bio"] == "Now with a bio"


async def test_a_new_username_evicts_the_lists_filtered_by_name(
    cached_reads: CachedReads,
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    """Lists by an author's or a fan's name: the name may now be someone else's."""
    slug = (await create_article(client, bob["token"]))["slug"]
    response = await client.post(f"/api/articles/{slug}/favorite", headers=auth(alice["token"]))
    assert response.status_code == 200
    by_name = ["/api/articles?author=carol", "/api/articles?favorited=carol"]
    await cached_reads.warm(*by_name, "/api/articles?author=bob")

    await update_user(client, alice["token"], username="carol")

    assert await cached_reads.served(*by_name) == dict.fromkeys(by_name, False)
    favorites = (await client.get("/api/articles?favorited=carol")).json()
    assert [article["slug"] for article in favorites["articles"]] == [slug]
    await update_user(client, bob["token"], username="dave")
    assert (await client.get("/api/articles?author=bob")).json()["articlesCount"] == 0
    assert (await client.get("/api/articles?author=dave")).json()["articlesCount"] == 1
