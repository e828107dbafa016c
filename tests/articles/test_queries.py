"""Statement counts: a page costs the same whatever its size (no N+1).

A list page is one statement: author, tags, total count and, signed in, the viewer's
flags and whether their account exists. Other reads load the viewer's user row (when a
token is sent), then: one statement for a single article; one joined query for comments.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard.cache import ReadCache
from fastboard.settings import Settings
from tests.articles.conftest import favorite, follow
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def without_read_cache(app: FastAPI, settings: Settings) -> None:
    """What the database is asked when the read cache does not answer (tests/test_cache.py
    counts what it saves); the app gets its own cache back after the test."""
    app.state.read_cache = ReadCache(settings.model_copy(update={"redis_url": None}))


ARTICLES_PER_AUTHOR = 8
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
# The page: author, tags, total, the viewer's flags and account, all in one.
LIST_STATEMENTS = 1
ANONYMOUS_LIST_STATEMENTS = 1
ARTICLE_STATEMENTS = 2  # user + article (author, favorited, following, tags in one)
COMMENTS_STATEMENTS = 2  # user + comments (article and authors joined in)


@pytest.fixture
async def viewer(client: httpx.AsyncClient) -> dict[str, Any]:
    """Three authors with eight tagged articles each. The viewer follows two of them and
    has favorited every other article; one author has favorited one article too."""
    user = await register(client, "viewer")
    authors = [await register(client, name) for name in ("ann", "ben", "cat")]
    slugs: list[str] = []
    for index in range(ARTICLES_PER_AUTHOR * len(authors)):
        author = authors[index % len(authors)]
        tags = ["common", f"tag{index % 4}", f"own{index}"]
        slugs.append((await create_article(client, author["token"], tagList=tags))["slug"])
    for slug in slugs[::2]:
        await favorite(client, user["token"], slug)
    await favorite(client, authors[0]["token"], slugs[1])
    for name in ("ann", "ben"):
        await follow(client, user["token"], name)
    return user


async def run_counted(
    client: httpx.AsyncClient,
    count_queries: Any,
    path: str,
    token: str | None,
    params: dict[str, Any] | None = None,
) -> tuple[httpx.Response, int]:
    headers = auth(token) if token else {}
    with count_queries() as counter:
        response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    # Transaction control is not a query (and only some drivers send it as a statement).
    queries = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    return response, len(queries)


@pytest.mark.parametrize(
    ("path", "params", "total"),
    [
        pytest.param("/api/articles", {}, 24, id="all"),
        pytest.param("/api/articles/feed", {}, 16, id="feed"),
        pytest.param("/api/articles", {"tag": "common"}, 24, id="tag"),
        pytest.param("/api/articles", {"author": "ann"}, 8, id="author"),
        pytest.param("/api/articles", {"favorited": "viewer"}, 12, id="favorited"),
        pytest.param("/api/articles", {"board": "general"}, 24, id="board"),
        pytest.param("/api/articles", {"board": "general", "tag": "tag1"}, 6, id="board-tag"),
        pytest.param("/api/articles", {"board": "general", "author": "ben"}, 8, id="board-author"),
        pytest.param("/api/articles", {"order": "top"}, 24, id="top"),
        pytest.param("/api/articles", {"since": "2000-01-01"}, 24, id="since"),
        pytest.param(
            "/api/articles",
            {"order": "top", "tag": "common", "since": "2000-01-01T09:00:00+09:00"},
            24,
            id="top-tag-since",
        ),
        pytest.param("/api/articles", {"order": "top", "board": "general"}, 24, id="top-board"),
    ],
)
async def test_a_list_page_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient,
    count_queries: Any,
    viewer: dict[str, Any],
    path: str,
    params: dict[str, str],
    total: int,
) -> None:
    token = viewer["token"]

    small, small_count = await run_counted(
        client, count_queries, path, token, {**params, "limit": 1}
    )
    large, large_count = await run_counted(
        client, count_queries, path, token, {**params, "limit": 20}
    )

    assert len(small.json()["articles"]) == 1
    assert len(large.json()["articles"]) == min(total, 20)
    assert large.json()["articlesCount"] == total
    assert all(len(article["tagList"]) == 3 for article in large.json()["articles"])
    assert small_count == large_count == LIST_STATEMENTS
    if path != "/api/articles/feed":
        # Without a token the page costs the same one statement.
        _, anonymous_small = await run_counted(
            client, count_queries, path, None, {**params, "limit": 1}
        )
        _, anonymous_large = await run_counted(client, count_queries, path, None, params)
        assert anonymous_small == anonymous_large == ANONYMOUS_LIST_STATEMENTS


async def test_a_page_past_the_end_still_reports_the_total(
    client: httpx.AsyncClient, count_queries: Any, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])

    response, count = await run_counted(
        client, count_queries, "/api/articles", alice["token"], {"offset": 1}
    )

    assert response.json() == {"articles": [], "articlesCount": 1}
    assert count == 3  # the empty page + a count of its own + the viewer's account


async def test_reading_one_article_costs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, count_queries: Any, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    slug = (await create_article(client, alice["token"], tagList=["a", "b", "c"]))["slug"]
    await favorite(client, bob["token"], slug)
    await follow(client, bob["token"], "alice")

    response, count = await run_counted(
        client, count_queries, f"/api/articles/{slug}", bob["token"]
    )

    article = response.json()["article"]
    assert (article["favorited"], article["author"]["following"]) == (True, True)
    assert len(article["tagList"]) == 3
    assert count == ARTICLE_STATEMENTS
    _, anonymous = await run_counted(client, count_queries, f"/api/articles/{slug}", None)
    assert anonymous == ARTICLE_STATEMENTS - 1


async def test_comments_cost_the_same_statements_for_one_or_fifteen(
    client: httpx.AsyncClient, count_queries: Any
) -> None:
    reader = await register(client, "reader")
    commenters = [await register(client, name) for name in ("ann", "ben")]
    await follow(client, reader["token"], "ann")
    few = (await create_article(client, reader["token"]))["slug"]
    many = (await create_article(client, reader["token"]))["slug"]
    for index in range(16):
        slug = few if index == 0 else many
        token = commenters[index % 2]["token"]
        response = await client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": f"comment {index}"}},
            headers=auth(token),
        )
        assert response.status_code == 200

    one, one_count = await run_counted(
        client, count_queries, f"/api/articles/{few}/comments", reader["token"]
    )
    fifteen, fifteen_count = await run_counted(
        client, count_queries, f"/api/articles/{many}/comments", reader["token"]
    )

    assert len(one.json()["comments"]) == 1
    assert len(fifteen.json()["comments"]) == 15
    following = {
        c["author"]["username"]: c["author"]["following"] for c in fifteen.json()["comments"]
    }
    assert following == {"ann": True, "ben": False}
    assert one_count == fifteen_count == COMMENTS_STATEMENTS


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_a_favorite_is_one_statement_on_postgresql(
    client: httpx.AsyncClient,
    count_queries: Any,
    settings: Settings,
    alice: dict[str, Any],
    bob: dict[str, Any],
    method: str,
) -> None:
    """The token's account, the write, the counter and the answer's article in one: no
    load of the user first, no read of the article after."""
    slug = (await create_article(client, alice["token"]))["slug"]
    if method == "DELETE":
        await favorite(client, bob["token"], slug)
    with count_queries() as counter:
        response = await client.request(
            method, f"/api/articles/{slug}/favorite", headers=auth(bob["token"])
        )
    assert response.status_code == 200, response.text
    assert response.json()["article"]["favorited"] is (method == "POST")
    queries = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    # SQLite cannot write inside a WITH: the account, the write, the counter, the article.
    assert len(queries) == (4 if settings.is_sqlite else 1), queries
