"""What a new or updated article may contain: the 422s, the limits, the ignored fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.articles.conftest import (
    VALID,
    articles_count,
    get_article,
    post_article,
    put_article,
)
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio


async def test_surrounding_whitespace_is_stripped_from_title_and_tags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(
        client, alice["token"], title="  Spaced out  ", tagList=[" news ", "news"]
    )

    assert created["title"] == "Spaced out"
    assert created["tagList"] == ["news"]


async def test_ten_tags_and_maximal_lengths_are_accepted(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    tags = [f"tag{i}" for i in range(9)] + ["t" * 64]
    created = await create_article(
        client,
        alice["token"],
        title="T" * 255,
        description="d" * 1024,
        body="b" * 100_000,
        tagList=tags,
    )

    fetched = await get_article(client, created["slug"])
    assert fetched["tagList"] == tags
    assert fetched["title"] == "T" * 255
    assert len(fetched["body"]) == 100_000


@pytest.mark.parametrize(
    ("article", "field"),
    [
        pytest.param({"description": "d", "body": "b"}, "title", id="missing-title"),
        pytest.param({"title": "t", "body": "b"}, "description", id="missing-description"),
        pytest.param({"title": "t", "description": "d"}, "body", id="missing-body"),
        pytest.param({**VALID, "title": ""}, "title", id="empty-title"),
        pytest.param({**VALID, "title": "   "}, "title", id="blank-title"),
        pytest.param({**VALID, "description": " \n "}, "description", id="blank-description"),
        pytest.param({**VALID, "body": "\t"}, "body", id="blank-body"),
        pytest.param({**VALID, "title": "t" * 256}, "title", id="title-too-long"),
        pytest.param({**VALID, "description": "d" * 1025}, "description", id="description-long"),
        pytest.param({**VALID, "body": "b" * 100_001}, "body", id="body-too-long"),
        pytest.param({**VALID, "title": None}, "title", id="null-title"),
        pytest.param({**VALID, "title": 42}, "title", id="non-string-title"),
        pytest.param({**VALID, "tagList": [f"t{i}" for i in range(11)]}, "tagList", id="11-tags"),
        pytest.param({**VALID, "tagList": ["t" * 65]}, "tagList", id="tag-too-long"),
        pytest.param({**VALID, "tagList": ["  "]}, "tagList", id="blank-tag"),
        pytest.param({**VALID, "tagList": [1, 2]}, "tagList", id="non-string-tags"),
        pytest.param({**VALID, "tagList": [None]}, "tagList", id="null-tag"),
        pytest.param({**VALID, "tagList": "news"}, "tagList", id="tag-list-not-a-list"),
        pytest.param({**VALID, "title": "nul\x00title"}, "title", id="nul-in-title"),
        pytest.param({**VALID, "description": "nul\x00"}, "description", id="nul-in-description"),
        pytest.param({**VALID, "body": "\x00"}, "body", id="nul-in-body"),
        pytest.param({**VALID, "tagList": ["a\x00b"]}, "tagList", id="nul-in-tag"),
        pytest.param({**VALID, "tagList": ["a\x1fb"]}, "tagList", id="separator-in-tag"),
        # Found by `make fuzz` on PostgreSQL (text cannot hold NUL): was a 500.
        pytest.param({**VALID, "board": "gen\x00eral"}, "board", id="nul-in-board"),
        pytest.param({**VALID, "tagList": ["line\nbreak"]}, "tagList", id="newline-in-tag"),
    ],
)
async def test_invalid_new_article_is_422_and_creates_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], article: dict[str, Any], field: str
) -> None:
    response = await post_article(client, alice["token"], {"article": article})

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in errors, errors
    assert all(isinstance(message, str) for message in errors[field])
    assert await articles_count(client) == 0


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(VALID, id="no-envelope"),
        pytest.param({"article": "text"}, id="envelope-not-an-object"),
        pytest.param([VALID], id="array"),
    ],
)
async def test_new_article_without_the_article_object_is_422(
    client: httpx.AsyncClient, alice: dict[str, Any], payload: Any
) -> None:
    response = await post_article(client, alice["token"], payload)

    assert response.status_code == 422
    assert "errors" in response.json()
    assert await articles_count(client) == 0


async def test_malformed_json_is_422_in_the_error_envelope(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    headers = {**auth(alice["token"]), "Content-Type": "application/json"}
    response = await client.post("/api/articles", content=b'{"article": {', headers=headers)

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"article": {}}, id="empty-article"),
        pytest.param({}, id="empty-object"),
        pytest.param({"article": {"title": None}}, id="only-nulls"),
        pytest.param({"article": {"title": "  "}}, id="blank-title"),
        pytest.param({"article": {"body": ""}}, id="blank-body"),
        pytest.param({"article": {"title": "t" * 256}}, id="title-too-long"),
        pytest.param({"article": {"tagList": [str(i) for i in range(11)]}}, id="11-tags"),
        pytest.param({"article": {"body": "nul\x00"}}, id="nul-in-body"),
        pytest.param({"article": {"board": "\x00"}}, id="nul-in-board"),
    ],
)
async def test_invalid_update_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], payload: Any
) -> None:
    created = await create_article(client, alice["token"], tagList=["kept"])

    response = await put_article(client, created["slug"], alice["token"], payload)

    assert response.status_code == 422, response.text
    assert "errors" in response.json()
    assert await get_article(client, created["slug"]) == created


async def test_clients_cannot_set_server_owned_fields(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    owned = {"slug": "chosen", "favoritesCount": 99, "favorited": True, "author": {"username": "x"}}
    response = await post_article(client, alice["token"], {"article": {**VALID, **owned}})
    assert response.status_code == 201
    created = response.json()["article"]

    updated = await put_article(
        client, created["slug"], alice["token"], {"article": {"body": "edited", **owned}}
    )

    assert updated.status_code == 200
    for article in (created, updated.json()["article"]):
        assert article["slug"] == "how-to-train-your-dragon"
        assert (article["favoritesCount"], article["favorited"]) == (0, False)
        assert article["author"]["username"] == "alice"
    assert (await client.get("/api/articles/chosen")).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/favorite"), ("GET", "/comments")],
)
async def test_a_slug_longer_than_any_stored_one_is_422(
    client: httpx.AsyncClient, alice: dict[str, Any], method: str, suffix: str
) -> None:
    path = f"/api/articles/{'a' * 256}{suffix}"
    body = {"article": {"title": "x"}} if method == "PUT" else None
    response = await client.request(method, path, json=body, headers=auth(alice["token"]))
    assert response.status_code == 422
    assert "slug" in response.json()["errors"]


async def test_eleven_copies_of_one_tag_are_too_many_tags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """The tag limit counts what was sent, before duplicates collapse."""
    response = await post_article(
        client, alice["token"], {"article": {**VALID, "tagList": ["a"] * 11}}
    )
    assert response.status_code == 422
    assert "tagList" in response.json()["errors"]
    assert await articles_count(client) == 0
