"""GET /api/search through HTTP, on every backend the suite runs: what is found, in which
order, with which highlight, and that no query string breaks it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.articles.conftest import SUMMARY_KEYS, favorite, follow
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio


async def search(
    client: httpx.AsyncClient, q: str, token: str | None = None, **params: Any
) -> dict[str, Any]:
    headers = auth(token) if token else {}
    response = await client.get("/api/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def slugs(found: dict[str, Any]) -> list[str]:
    return [article["slug"] for article in found["articles"]]


async def comment(client: httpx.AsyncClient, token: str, slug: str, body: str) -> int:
    response = await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


async def test_a_korean_word_is_found_inside_a_longer_run(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    server = await create_article(
        client, alice["token"], title="설치 안내", body="먼저 서버를 설치합니다."
    )
    await create_article(client, alice["token"], title="다른 글", body="클라이언트 이야기")

    found = await search(client, "서버")
    longer = await search(client, "서버를 설치")

    assert slugs(found) == [server["slug"]]
    assert found["articlesCount"] == 1
    assert "<mark>서버</mark>를" in found["articles"][0]["highlight"]
    assert slugs(longer) == [server["slug"]]


async def test_an_article_is_the_list_s_article_with_a_highlight(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = await create_article(
        client, alice["token"], title="Tuning PostgreSQL", body="Pools and indexes", tagList=["db"]
    )
    await favorite(client, bob["token"], created["slug"])
    await follow(client, bob["token"], "alice")

    found = await search(client, "postgresql", bob["token"])
    listed = (await client.get("/api/articles", headers=auth(bob["token"]))).json()

    article = found["articles"][0]
    assert set(article) == SUMMARY_KEYS | {"highlight"}
    assert {k: v for k, v in article.items() if k != "highlight"} == listed["articles"][0]
    assert article["favorited"] is True
    assert article["author"]["following"] is True
    assert article["highlight"] == "Tuning <mark>PostgreSQL</mark>"


async def test_user_text_comes_back_escaped_in_the_highlight(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    body = 'Before <script>alert("x")</script> & after, the needle <b>here</b>'
    created = await create_article(client, alice["token"], body=body)
    await comment(client, alice["token"], created["slug"], "<img src=x onerror=alert(1)> needle")

    found = await search(client, "needle")

    highlight = found["articles"][0]["highlight"]
    assert "<script>" not in highlight
    assert "<b>" not in highlight
    assert "alert(&quot;x&quot;)&lt;/script&gt; &amp; after" in highlight
    assert "<mark>needle</mark> &lt;b&gt;here&lt;/b&gt;" in highlight
    assert found["comments"][0]["highlight"] == (
        "&lt;img src=x onerror=alert(1)&gt; <mark>needle</mark>"
    )


async def test_a_marked_term_that_is_html_is_escaped_too(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"], body="see <script> tags")

    found = await search(client, '"<script>"')

    assert found["articles"][0]["highlight"] == "see <mark>&lt;script&gt;</mark> tags"


async def test_a_title_match_ranks_above_a_body_only_match(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    in_title = await create_article(
        client, alice["token"], title="Kubernetes in practice", body="Clusters and nodes"
    )
    # Newer, so a plain newest-first order would put it first.
    in_body = await create_article(
        client, alice["token"], title="Weekend notes", body="Spent the weekend on kubernetes."
    )
    korean_title = await create_article(client, alice["token"], title="서버를 고치다", body="...")
    korean_body = await create_article(client, alice["token"], title="일기", body="서버를 고쳤다")

    assert slugs(await search(client, "kubernetes")) == [in_title["slug"], in_body["slug"]]
    assert slugs(await search(client, "서버")) == [korean_title["slug"], korean_body["slug"]]


async def test_websearch_syntax_phrases_exclusions_and_or(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    pool = await create_article(client, alice["token"], body="the connection pool of asyncpg")
    apart = await create_article(client, alice["token"], body="a pool for every connection")
    other = await create_article(client, alice["token"], body="uvicorn workers and gunicorn")

    assert slugs(await search(client, '"connection pool"')) == [pool["slug"]]
    assert set(slugs(await search(client, "connection pool"))) == {pool["slug"], apart["slug"]}
    assert slugs(await search(client, "connection -asyncpg")) == [apart["slug"]]
    either = await search(client, "asyncpg OR gunicorn")
    assert set(slugs(either)) == {pool["slug"], other["slug"]}
    assert either["articlesCount"] == 2


async def test_comments_are_found_as_their_own_kind(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], title="Questions", body="Ask away")
    comment_id = await comment(client, bob["token"], article["slug"], "Does 서버를 restart?")
    await comment(client, bob["token"], article["slug"], "Unrelated remark")

    found = await search(client, "서버")

    assert found["articles"] == []
    assert found["articlesCount"] == 0
    assert found["commentsCount"] == 1
    hit = found["comments"][0]
    assert hit["id"] == comment_id
    assert hit["article"] == {"slug": article["slug"], "title": "Questions"}
    assert hit["author"]["username"] == "bob"
    assert hit["body"] == "Does 서버를 restart?"
    assert hit["highlight"] == "Does <mark>서버</mark>를 restart?"


async def test_edits_and_deletions_are_searched_at_once(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], body="an old word: zeppelin")
    comment_id = await comment(client, alice["token"], created["slug"], "zeppelin too")
    edited = await client.put(
        f"/api/articles/{created['slug']}",
        json={"article": {"body": "a new word: dirigible"}},
        headers=auth(alice["token"]),
    )
    assert edited.status_code == 200

    assert (await search(client, "zeppelin"))["articles"] == []
    assert slugs(await search(client, "dirigible")) == [created["slug"]]
    response = await client.delete(
        f"/api/articles/{created['slug']}/comments/{comment_id}", headers=auth(alice["token"])
    )
    assert response.status_code == 204
    assert (await search(client, "zeppelin"))["comments"] == []
    deleted = await client.delete(f"/api/articles/{created['slug']}", headers=auth(alice["token"]))
    assert deleted.status_code == 204
    assert (await search(client, "dirigible"))["articles"] == []


async def test_the_board_filter(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    response = await client.post(
        "/api/boards",
        json={"board": {"name": "Cooking", "category": "community"}},
        headers=auth(admin["token"]),
    )
    assert response.status_code == 201, response.text
    cooking = await create_article(client, admin["token"], body="a recipe", board="cooking")
    general = await create_article(client, admin["token"], body="a recipe too")
    await comment(client, admin["token"], cooking["slug"], "great recipe")

    in_cooking = await search(client, "recipe", board="cooking")
    in_general = await search(client, "recipe", board="general")
    nowhere = await search(client, "recipe", board="no-such-board")

    assert slugs(in_cooking) == [cooking["slug"]]
    assert [hit["article"]["slug"] for hit in in_cooking["comments"]] == [cooking["slug"]]
    assert slugs(in_general) == [general["slug"]]
    assert in_general["comments"] == []
    assert nowhere == {"articles": [], "articlesCount": 0, "comments": [], "commentsCount": 0}


async def test_pages_of_results(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    created = [
        (await create_article(client, alice["token"], body=f"walrus number {n}"))["slug"]
        for n in range(5)
    ]

    first = await search(client, "walrus", limit=2)
    second = await search(client, "walrus", limit=2, offset=2)
    last = await search(client, "walrus", limit=2, offset=4)
    past = await search(client, "walrus", limit=2, offset=5)

    # Equal ranks: newest first.
    assert slugs(first) + slugs(second) + slugs(last) == created[::-1]
    assert first["articlesCount"] == past["articlesCount"] == 5
    assert past["articles"] == []


async def test_short_terms_are_found_too(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    short = await create_article(client, alice["token"], body="written in Go, mostly")
    await create_article(client, alice["token"], body="written in Rust")

    assert slugs(await search(client, "go")) == [short["slug"]]
    assert slugs(await search(client, "go rust")) == []
    assert len(slugs(await search(client, "go OR rust"))) == 2
    assert slugs(await search(client, "written -go")) != [short["slug"]]


async def test_a_deleted_account_s_token_is_refused(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"], body="anything")
    response = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers=auth(alice["token"]),
    )
    assert response.status_code == 204

    refused = await client.get(
        "/api/search", params={"q": "anything"}, headers=auth(alice["token"])
    )

    assert refused.status_code == 401
    assert refused.json() == {"errors": {"token": ["token is invalid or has expired"]}}


async def test_the_sqlite_indexes_stay_in_step_with_the_rows(
    app: Any, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """Inserts, edits, deletions and the cascade of an article's comments leave the FTS5
    tables agreeing with their tables (FTS5's own integrity check)."""
    if app.state.settings.database_url.startswith("postgresql"):
        pytest.skip("FTS5 is SQLite's; PostgreSQL's search columns are generated")
    first = await create_article(client, alice["token"], body="first body")
    second = await create_article(client, alice["token"], body="second body")
    await comment(client, alice["token"], first["slug"], "on the first")
    await comment(client, alice["token"], second["slug"], "on the second")
    edited = await client.put(
        f"/api/articles/{second['slug']}",
        json={"article": {"title": "Renamed", "body": "edited"}},
        headers=auth(alice["token"]),
    )
    assert edited.status_code == 200
    response = await client.delete(f"/api/articles/{first['slug']}", headers=auth(alice["token"]))
    assert response.status_code == 204
    await comment(client, alice["token"], edited.json()["article"]["slug"], "a later one")

    async with app.state.database.reader() as session:
        for table in ("articles_search", "comments_search"):
            # Raises (SQLITE_CORRUPT_VTAB) when the index disagrees with the rows.
            await session.execute(
                text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")  # noqa: S608
            )
        await session.rollback()

    assert (await search(client, "on the first"))["comments"] == []
    assert [hit["body"] for hit in (await search(client, "the second"))["comments"]] == [
        "on the second"
    ]


async def test_an_article_of_the_largest_size_is_written_and_found(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """The search columns and indexes take whatever an article may hold (100,000
    characters of distinct words and of Korean)."""
    words = " ".join(f"w{n}" for n in range(20_000))[:60_000]
    body = (words + " " + "가나다라마바사" * 6_000)[: 100_000 - len(" needle")] + " needle"
    assert len(body) == 100_000
    created = await create_article(client, alice["token"], body=body)

    found = await search(client, "needle")

    assert slugs(found) == [created["slug"]]
    assert found["articles"][0]["highlight"].endswith("<mark>needle</mark>")
