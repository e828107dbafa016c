"""Articles on boards: where they are posted, moved and listed, and the boards' counts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.articles.conftest import favorite, list_articles, post_article, put_article
from tests.boards.conftest import new_board
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio


async def counts(client: httpx.AsyncClient) -> dict[str, int]:
    """Every live board's articlesCount, by slug, as the tree shows them."""
    response = await client.get("/api/categories")
    assert response.status_code == 200
    categories = response.json()["categories"]
    return {b["slug"]: b["articlesCount"] for c in categories for b in c["boards"]}


@pytest.fixture
async def cooking(client: httpx.AsyncClient, admin: dict[str, Any]) -> str:
    """A second board, ``cooking``; answers the admin's token."""
    await new_board(client, admin["token"], "Cooking")
    token: str = admin["token"]
    return token


async def test_an_article_posted_without_a_board_lands_on_general(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"])
    explicit_null = await create_article(client, alice["token"], board=None)

    assert article["board"] == explicit_null["board"] == "general"
    assert await counts(client) == {"general": 2}
    listed = await list_articles(client)
    assert [a["board"] for a in listed["articles"]] == ["general", "general"]


async def test_an_article_goes_to_the_board_it_names(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="cooking")

    assert article["board"] == "cooking"
    assert await counts(client) == {"general": 0, "cooking": 1}
    read = await client.get(f"/api/articles/{article['slug']}")
    assert read.json()["article"]["board"] == "cooking"


@pytest.mark.parametrize(
    ("board", "message"),
    [
        ("nowhere", "no board has the slug 'nowhere'"),
        ("cooking", "is archived: it takes no new articles"),
        ("x" * 65, "String should have at most 64 characters"),
        ("", "String should have at least 1 character"),
        (7, "Input should be a valid string"),
    ],
)
async def test_posting_to_an_unknown_or_archived_board_is_a_422_naming_it(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any], board: Any, message: str
) -> None:
    await create_article(client, alice["token"], board="cooking")
    archived = await client.delete("/api/boards/cooking", headers=auth(cooking))
    assert archived.json()["board"]["archived"] is True
    payload = {"article": {"title": "T", "description": "D", "body": "B", "board": board}}

    response = await post_article(client, alice["token"], payload)

    assert response.status_code == 422
    assert response.json() == {"errors": {"board": [message]}}
    assert await counts(client) == {"general": 0}
    assert (await list_articles(client))["articlesCount"] == 1


async def test_an_update_moves_the_article_and_both_counts(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"])

    response = await put_article(
        client, article["slug"], alice["token"], {"article": {"board": "cooking"}}
    )

    assert response.status_code == 200
    assert response.json()["article"]["board"] == "cooking"
    assert response.json()["article"]["title"] == article["title"]
    assert await counts(client) == {"general": 0, "cooking": 1}
    assert (await list_articles(client, board="cooking"))["articlesCount"] == 1
    assert (await list_articles(client, board="general"))["articlesCount"] == 0


async def test_an_update_naming_the_same_board_changes_no_count(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"])

    response = await put_article(
        client, article["slug"], alice["token"], {"article": {"board": "general"}}
    )

    assert response.status_code == 200
    assert await counts(client) == {"general": 1}


async def test_an_article_on_an_archived_board_is_read_only_but_may_be_deleted(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="cooking")
    await client.delete("/api/boards/cooking", headers=auth(cooking))

    edit = await put_article(client, article["slug"], alice["token"], {"article": {"body": "X"}})
    move = await put_article(
        client, article["slug"], alice["token"], {"article": {"board": "general"}}
    )
    into = await put_article(
        client,
        (await create_article(client, alice["token"]))["slug"],
        alice["token"],
        {"article": {"board": "cooking"}},
    )

    for refused in (edit, move, into):
        assert refused.status_code == 422
        assert list(refused.json()["errors"]) == ["board"]
    gone = await client.delete(f"/api/articles/{article['slug']}", headers=auth(alice["token"]))
    assert gone.status_code == 204
    board = (await client.get("/api/boards/cooking")).json()["board"]
    assert board["articlesCount"] == 0
    assert await counts(client) == {"general": 1}


async def test_deleting_an_article_lowers_its_boards_count(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any]
) -> None:
    kept = await create_article(client, alice["token"], board="cooking")
    dropped = await create_article(client, alice["token"], board="cooking")

    response = await client.delete(f"/api/articles/{dropped['slug']}", headers=auth(alice["token"]))

    assert response.status_code == 204
    assert await counts(client) == {"general": 0, "cooking": 1}
    assert [a["slug"] for a in (await list_articles(client, board="cooking"))["articles"]] == [
        kept["slug"]
    ]


async def test_the_board_filter_combines_with_the_others(
    client: httpx.AsyncClient, cooking: str, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    made = {
        "alice-cooking-x": await create_article(
            client, alice["token"], board="cooking", tagList=["x"]
        ),
        "alice-general-x": await create_article(client, alice["token"], tagList=["x"]),
        "bob-cooking": await create_article(client, bob["token"], board="cooking"),
        "bob-cooking-x": await create_article(client, bob["token"], board="cooking", tagList=["x"]),
    }
    await favorite(client, alice["token"], made["bob-cooking"]["slug"])
    await favorite(client, alice["token"], made["alice-general-x"]["slug"])

    def named(page: dict[str, Any]) -> set[str]:
        slugs = {article["slug"] for article in page["articles"]}
        assert page["articlesCount"] == len(slugs)
        return {key for key, article in made.items() if article["slug"] in slugs}

    assert named(await list_articles(client, board="cooking")) == {
        "alice-cooking-x",
        "bob-cooking",
        "bob-cooking-x",
    }
    assert named(await list_articles(client, board="cooking", tag="x")) == {
        "alice-cooking-x",
        "bob-cooking-x",
    }
    assert named(await list_articles(client, board="cooking", author="bob")) == {
        "bob-cooking",
        "bob-cooking-x",
    }
    assert named(await list_articles(client, board="cooking", favorited="alice")) == {"bob-cooking"}
    assert named(await list_articles(client, board="general", tag="x", author="alice")) == {
        "alice-general-x"
    }
    signed_in = await list_articles(client, alice["token"], board="cooking", limit=2)
    assert signed_in["articlesCount"] == 3
    assert [a["slug"] for a in signed_in["articles"]] == [
        made["bob-cooking-x"]["slug"],
        made["bob-cooking"]["slug"],
    ]
    assert [a["favorited"] for a in signed_in["articles"]] == [False, True]


@pytest.mark.parametrize("board", ["nowhere", "x" * 64])
async def test_an_unknown_board_filter_lists_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], board: str
) -> None:
    await create_article(client, alice["token"])

    assert await list_articles(client, board=board) == {"articles": [], "articlesCount": 0}


async def test_an_overlong_board_filter_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles", params={"board": "x" * 65})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["board"]
