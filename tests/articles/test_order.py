"""GET /api/articles?order=new|top&since=: most favorited first, and a window in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from fastboard.articles.models import Article
from tests.articles.conftest import favorite
from tests.conftest import CachedReads, auth, create_article, register

pytestmark = pytest.mark.anyio


async def titles(client: httpx.AsyncClient, token: str | None = None, **params: Any) -> list[str]:
    headers = auth(token) if token else {}
    response = await client.get("/api/articles", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [article["title"] for article in response.json()["articles"]]


@pytest.fixture
async def board(client: httpx.AsyncClient, alice: dict[str, Any]) -> dict[str, str]:
    """Five articles, A oldest to E newest; favorites: B 3, D 3, A 1, C and E none."""
    fans = [await register(client, f"fan{n}") for n in range(3)]
    slugs = {}
    for title in "ABCDE":
        slugs[title] = (await create_article(client, alice["token"], title=title))["slug"]
    for title, count in (("B", 3), ("D", 3), ("A", 1)):
        for fan in fans[:count]:
            await favorite(client, fan["token"], slugs[title])
    return slugs


async def test_new_is_the_default_order(
    client: httpx.AsyncClient, board: dict[str, str], alice: dict[str, Any]
) -> None:
    assert await titles(client) == ["E", "D", "C", "B", "A"]
    assert await titles(client, order="new") == ["E", "D", "C", "B", "A"]
    assert await titles(client, alice["token"], order="new") == ["E", "D", "C", "B", "A"]


async def test_top_is_most_favorited_first_ties_newest_first(
    client: httpx.AsyncClient, board: dict[str, str], alice: dict[str, Any]
) -> None:
    assert await titles(client, order="top") == ["D", "B", "A", "E", "C"]
    # Signed in, and paged: the same order.
    assert await titles(client, alice["token"], order="top") == ["D", "B", "A", "E", "C"]
    assert await titles(client, order="top", limit=2, offset=1) == ["B", "A"]
    response = await client.get("/api/articles", params={"order": "top", "limit": 1})
    assert response.json()["articlesCount"] == 5


async def test_since_keeps_the_articles_created_from_then_on(
    app: FastAPI, client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    # Spread the articles a day apart: A ten days ago … E six days ago.
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    async with app.state.database.writer() as session:
        for index, title in enumerate("ABCDE"):
            when = start + timedelta(days=index)
            await session.execute(
                update(Article).where(Article.title == title).values(created_at=when)
            )
        await session.commit()

    assert await titles(client, since="2026-01-12") == ["E", "D", "C"]
    assert await titles(client, since="2026-01-12T12:00:00Z") == ["E", "D", "C"]
    # An offset counts: 21:00 at +09:00 is noon UTC.
    assert await titles(client, since="2026-01-12T21:00:00+09:00") == ["E", "D", "C"]
    assert await titles(client, since="2026-01-12T12:00:01") == ["E", "D"]
    assert await titles(client, since="2026-01-12", order="top") == ["D", "E", "C"]
    response = await client.get("/api/articles", params={"since": "2026-01-13", "limit": 1})
    assert response.json()["articlesCount"] == 2
    assert await titles(client, since="2030-01-01") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "garbage"}, "since"),
        ({"since": "1700000000"}, "since"),  # a Unix time is no ISO date
        ({"since": "2026-13-01"}, "since"),
        ({"since": ""}, "since"),
        ({"since": "9999-12-31T23:59:59-05:00"}, "since"),  # past what a datetime holds
        ({"since": "2026-01-01" * 10}, "since"),
        ({"order": "best"}, "order"),
        ({"order": ""}, "order"),
        ({"offset": 2**40}, "offset"),
    ],
)
async def test_bad_order_or_since_is_a_422_naming_it(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/articles", params=params)

    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]


async def test_a_favorite_evicts_the_cached_top_lists(
    cached_reads: CachedReads, client: httpx.AsyncClient, board: dict[str, str], bob: dict[str, Any]
) -> None:
    """Any favorite may move any article into a top page, even one the page does not show."""
    top, new = "/api/articles?order=top&limit=2", "/api/articles?limit=2"
    await cached_reads.warm(top, new)

    await favorite(client, bob["token"], board["C"])  # C is on neither page

    assert await cached_reads.served(top, new) == {top: False, new: True}
    response = await client.get(top)
    assert [a["title"] for a in response.json()["articles"]] == ["D", "B"]
    await favorite(client, (await register(client, "fan9"))["token"], board["C"])
    await favorite(client, (await register(client, "fan10"))["token"], board["C"])
    await favorite(client, (await register(client, "fan11"))["token"], board["C"])
    response = await client.get(top)
    assert [a["title"] for a in response.json()["articles"]] == ["C", "D"]
