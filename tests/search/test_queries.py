"""Statement counts: a page of search results costs the same whatever its size.

The totals (and, with a token, whether the account exists) are one statement; each kind
of result is one more, authors, tags, boards and the viewer's flags joined in. A page
past a kind's total is not read."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.articles.conftest import favorite, follow
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio

TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
SEARCH_STATEMENTS = 3  # totals, articles, comments
MATCHES = 12


@pytest.fixture
async def reader(client: httpx.AsyncClient) -> dict[str, Any]:
    """Twelve articles and twelve comments that match, by three authors, tagged; the
    reader follows one author and has favorited some articles."""
    user = await register(client, "reader")
    authors = [await register(client, name) for name in ("ann", "ben", "cat")]
    for index in range(MATCHES):
        author = authors[index % len(authors)]
        tags = ["common", f"own{index}"]
        body = f"서버를 {index}번 재시작했다"
        slug = (await create_article(client, author["token"], body=body, tagList=tags))["slug"]
        response = await client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": f"서버를 또 재시작했다 {index}"}},
            headers=auth(author["token"]),
        )
        assert response.status_code == 200
        if index % 2:
            await favorite(client, user["token"], slug)
    await follow(client, user["token"], "ann")
    return user


async def counted(
    client: httpx.AsyncClient, count_queries: Any, params: dict[str, Any], token: str | None
) -> tuple[dict[str, Any], int]:
    headers = auth(token) if token else {}
    with count_queries() as counter:
        response = await client.get("/api/search", params=params, headers=headers)
    assert response.status_code == 200, response.text
    statements = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    found: dict[str, Any] = response.json()
    return found, len(statements)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "token"])
@pytest.mark.parametrize(
    "q", ["서버", "재시작했다", "서버 OR nothing"], ids=["short", "long", "or"]
)
async def test_a_page_of_results_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient,
    count_queries: Any,
    reader: dict[str, Any],
    signed_in: bool,
    q: str,
) -> None:
    token = reader["token"] if signed_in else None

    small, small_count = await counted(client, count_queries, {"q": q, "limit": 1}, token)
    large, large_count = await counted(client, count_queries, {"q": q, "limit": 50}, token)

    assert len(small["articles"]) == 1
    assert len(large["articles"]) == large["articlesCount"] == MATCHES
    assert len(large["comments"]) == large["commentsCount"] == MATCHES
    assert all(len(article["tagList"]) == 2 for article in large["articles"])
    if signed_in:
        assert sum(article["favorited"] for article in large["articles"]) == MATCHES // 2
        following = {a["author"]["username"] for a in large["articles"] if a["author"]["following"]}
        assert following == {"ann"}
    assert small_count == large_count == SEARCH_STATEMENTS


async def test_a_page_past_the_results_reads_only_the_totals(
    client: httpx.AsyncClient, count_queries: Any, reader: dict[str, Any]
) -> None:
    found, count = await counted(client, count_queries, {"q": "서버", "offset": 100}, None)

    assert found["articles"] == []
    assert found["articlesCount"] == MATCHES
    assert count == 1
