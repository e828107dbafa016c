"""Create, read, update and delete articles over HTTP (validation: test_validation.py)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from fastboard.articles import repository
from tests.articles.conftest import (
    ARTICLE_KEYS,
    PROFILE_KEYS,
    TIMESTAMP,
    VALID,
    articles_count,
    get_article,
    post_article,
    put_article,
)
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio

# Create ---------------------------------------------------------------------------------


async def test_create_article_returns_201_with_the_article_envelope(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    payload = {"article": {**VALID, "tagList": ["dragons", "training"]}}
    response = await post_article(client, alice["token"], payload)

    assert response.status_code == 201
    assert set(response.json()) == {"article"}
    article = response.json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert article["slug"] == "how-to-train-your-dragon"
    assert article["title"] == VALID["title"]
    assert article["description"] == VALID["description"]
    assert article["body"] == VALID["body"]
    assert article["tagList"] == ["dragons", "training"]
    assert article["favorited"] is False
    assert article["favoritesCount"] == 0
    assert TIMESTAMP.match(article["createdAt"]), article["createdAt"]
    assert TIMESTAMP.match(article["updatedAt"]), article["updatedAt"]
    assert article["createdAt"] == article["updatedAt"]
    assert set(article["author"]) == PROFILE_KEYS
    assert article["author"] == {
        "username": "alice",
        "bio": "",
        "image": "",
        "following": False,
        "role": "user",
    }


async def test_created_article_can_be_read_back_without_a_token(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["x"])

    response = await client.get(f"/api/articles/{created['slug']}")

    assert response.status_code == 200
    assert set(response.json()) == {"article"}
    assert response.json()["article"] == created


async def test_create_article_without_token_is_401_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await post_article(client, None, {"article": VALID})

    assert response.status_code == 401
    assert "errors" in response.json()
    assert await articles_count(client) == 0


async def test_create_article_with_an_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/articles", json={"article": VALID}, headers=auth("not-a-jwt")
    )

    assert response.status_code == 401


async def test_article_without_tags_has_an_empty_tag_list(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    assert created["tagList"] == []
    assert (await get_article(client, created["slug"]))["tagList"] == []


async def test_tag_list_is_alphabetical_without_duplicates(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(
        client, alice["token"], tagList=["zebra", "apple", "zebra", "mango", "apple"]
    )

    assert created["tagList"] == ["apple", "mango", "zebra"]
    assert (await get_article(client, created["slug"]))["tagList"] == ["apple", "mango", "zebra"]


# Read -----------------------------------------------------------------------------------


async def test_get_unknown_slug_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles/no-such-article")

    assert response.status_code == 404
    assert "errors" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/articles/missing"),
        ("PUT", "/api/articles/missing"),
        ("DELETE", "/api/articles/missing"),
        ("POST", "/api/articles/missing/favorite"),
        ("DELETE", "/api/articles/missing/favorite"),
        ("GET", "/api/articles/missing/comments"),
        ("POST", "/api/articles/missing/comments"),
        ("DELETE", "/api/articles/missing/comments/1"),
    ],
)
async def test_every_operation_on_an_unknown_slug_is_404(
    client: httpx.AsyncClient, alice: dict[str, Any], method: str, path: str
) -> None:
    payload = {"article": {"body": "new"}, "comment": {"body": "hi"}}
    json = payload if method in ("PUT", "POST") else None
    response = await client.request(method, path, json=json, headers=auth(alice["token"]))

    assert response.status_code == 404, response.text
    assert "errors" in response.json()


# Update ---------------------------------------------------------------------------------


async def test_updating_the_body_keeps_the_slug(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], title="Stable title", tagList=["a"])
    await anyio.sleep(0.002)  # timestamps have millisecond precision on the wire

    response = await put_article(
        client, created["slug"], alice["token"], {"article": {"body": "A new body"}}
    )

    assert response.status_code == 200
    updated = response.json()["article"]
    assert set(updated) == ARTICLE_KEYS
    assert updated["slug"] == created["slug"]
    assert updated["body"] == "A new body"
    assert updated["title"] == "Stable title"
    assert updated["description"] == created["description"]
    assert updated["tagList"] == ["a"]
    assert updated["createdAt"] == created["createdAt"]
    assert TIMESTAMP.match(updated["updatedAt"])
    assert updated["updatedAt"] > created["updatedAt"]
    assert await get_article(client, created["slug"]) == updated


async def test_updating_the_title_changes_the_slug_and_the_old_slug_is_gone(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], title="Old title")

    response = await put_article(
        client, created["slug"], alice["token"], {"article": {"title": "Brand new title"}}
    )

    assert response.status_code == 200
    updated = response.json()["article"]
    assert updated["slug"] == "brand-new-title"
    assert updated["title"] == "Brand new title"
    assert (await client.get("/api/articles/old-title")).status_code == 404
    assert (await get_article(client, "brand-new-title"))["body"] == created["body"]


async def test_updating_with_a_tag_list_replaces_the_tags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["one", "two"])

    response = await put_article(
        client, created["slug"], alice["token"], {"article": {"tagList": ["three", "one"]}}
    )

    assert response.status_code == 200
    assert response.json()["article"]["tagList"] == ["one", "three"]
    assert (await get_article(client, created["slug"]))["tagList"] == ["one", "three"]


async def test_updating_with_an_empty_tag_list_removes_all_tags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["one", "two"])

    response = await put_article(
        client, created["slug"], alice["token"], {"article": {"tagList": []}}
    )

    assert response.status_code == 200
    assert (await get_article(client, created["slug"]))["tagList"] == []


async def test_updating_without_a_tag_list_keeps_the_tags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["one", "two"])

    await put_article(
        client, created["slug"], alice["token"], {"article": {"description": "changed"}}
    )

    fetched = await get_article(client, created["slug"])
    assert fetched["description"] == "changed"
    assert fetched["tagList"] == ["one", "two"]


async def test_non_author_cannot_update_article(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["kept"])

    response = await put_article(
        client,
        created["slug"],
        bob["token"],
        {"article": {"title": "Hijacked", "body": "pwned", "tagList": []}},
    )

    assert response.status_code == 403
    assert "errors" in response.json()
    assert await get_article(client, created["slug"]) == created


async def test_update_without_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    response = await put_article(client, created["slug"], None, {"article": {"body": "changed"}})

    assert response.status_code == 401
    assert await get_article(client, created["slug"]) == created


# Delete ---------------------------------------------------------------------------------


async def test_author_can_delete_article(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    created = await create_article(client, alice["token"])
    kept = await create_article(client, alice["token"])

    response = await client.delete(f"/api/articles/{created['slug']}", headers=auth(alice["token"]))

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/articles/{created['slug']}")).status_code == 404
    listed = (await client.get("/api/articles")).json()
    assert [article["slug"] for article in listed["articles"]] == [kept["slug"]]
    assert listed["articlesCount"] == 1


async def test_deleting_an_article_deletes_its_comments(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])
    comments = f"/api/articles/{created['slug']}/comments"
    posted = await client.post(
        comments, json={"comment": {"body": "hi"}}, headers=auth(bob["token"])
    )
    assert posted.status_code == 200

    response = await client.delete(f"/api/articles/{created['slug']}", headers=auth(alice["token"]))

    assert response.status_code == 204
    assert (await client.get(comments)).status_code == 404
    # Re-using the slug starts from a clean slate: the old comments are gone for good.
    again = await create_article(client, alice["token"], title=created["title"])
    assert again["slug"] == created["slug"]
    assert (await client.get(comments)).json() == {"comments": []}


async def test_non_author_cannot_delete_article(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    response = await client.delete(f"/api/articles/{created['slug']}", headers=auth(bob["token"]))

    assert response.status_code == 403
    assert "errors" in response.json()
    assert await get_article(client, created["slug"]) == created


async def test_delete_without_token_is_401_and_keeps_the_article(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])

    response = await client.delete(f"/api/articles/{created['slug']}")

    assert response.status_code == 401
    assert await get_article(client, created["slug"]) == created


async def test_deleting_twice_is_404_the_second_time(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"])
    path = f"/api/articles/{created['slug']}"

    assert (await client.delete(path, headers=auth(alice["token"]))).status_code == 204
    assert (await client.delete(path, headers=auth(alice["token"]))).status_code == 404


async def test_deleting_a_user_s_article_leaves_other_articles_alone(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    carol = await register(client, "carol")
    mine = await create_article(client, alice["token"], tagList=["shared"])
    theirs = await create_article(client, carol["token"], tagList=["shared"])

    response = await client.delete(f"/api/articles/{mine['slug']}", headers=auth(alice["token"]))

    assert response.status_code == 204
    assert (await client.get(f"/api/articles/{mine['slug']}")).status_code == 404
    assert await get_article(client, theirs["slug"]) == theirs
    assert "shared" in (await client.get("/api/tags")).json()["tags"]


# Atomicity ------------------------------------------------------------------------------


async def test_a_create_that_fails_after_saving_the_article_leaves_nothing_behind(
    client: httpx.AsyncClient, alice: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The article row is saved in a savepoint before the tags; the request's transaction
    # must still undo it (on SQLite, too: a released savepoint is not a commit).
    async def failing_set_tags(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("tag storage failed")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "set_tags", failing_set_tags)
        with pytest.raises(RuntimeError, match="tag storage failed"):
            await post_article(client, alice["token"], {"article": {**VALID, "tagList": ["t"]}})

    assert await articles_count(client) == 0
