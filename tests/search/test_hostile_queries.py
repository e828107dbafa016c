"""No query string breaks search: operators, quotes, backslashes, NUL, LIKE wildcards,
FTS5 and tsquery syntax, very long strings. Each is a 422 or a result, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.search.query import MAX_QUERY_LENGTH
from tests.conftest import create_article

pytestmark = pytest.mark.anyio

EMPTY = {"articles": [], "articlesCount": 0, "comments": [], "commentsCount": 0}

HOSTILE = [
    "\\",
    "\\\\ \\' \\\"",
    "'",
    "''; DROP TABLE articles; --",
    '"',
    '"unclosed phrase',
    '""',
    "%",
    "_",
    "%%%_%",
    "*",
    "NEAR(a b)",
    "title:abc",
    "^abc",
    "a AND b NOT c",
    "(((",
    "!!! & | <-> :* !",
    "a:* & b | !c <-> d",
    "-",
    "- - -",
    "-word",
    "OR",
    "or or OR",
    "OR abc OR",
    "the a an of",
    "   ",
    "\t\n",
    "😀",
    "\uff46\uff55\uff4c\uff4c"  # fullwidth letters,
    "\u202e\u200b",
    "x" * MAX_QUERY_LENGTH,
    "서" * MAX_QUERY_LENGTH,
    " ".join(["ab"] * (MAX_QUERY_LENGTH // 3)),
]


@pytest.fixture
async def corpus(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    await create_article(
        client, alice["token"], title="100% done_right", body="a\\b 'quoted' \"x\""
    )
    await create_article(client, alice["token"], title="서버 설치", body="the end, or not")


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
async def test_any_query_string_is_answered(
    client: httpx.AsyncClient, corpus: None, q: str
) -> None:
    response = await client.get("/api/search", params={"q": q})

    assert response.status_code == 200, response.text
    found = response.json()
    assert set(found) == set(EMPTY)


@pytest.mark.parametrize("q", ["", "x" * (MAX_QUERY_LENGTH + 1), "x" * 8_000])
async def test_an_empty_or_overlong_query_is_a_422(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/api/search", params={"q": q})

    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == ["q"]


@pytest.mark.parametrize("q", ["x" * 10_000, "서" * 3_000])
async def test_a_query_string_past_the_apps_limit_is_a_414(
    client: httpx.AsyncClient, q: str
) -> None:
    """10,000 characters (or 3,000 Korean ones, 9 bytes each percent-encoded) make a query
    string over the app's 8 KiB bound (NGINX has one too): refused before the search reads
    it, in the envelope, as a URL too long."""
    response = await client.get("/api/search", params={"q": q})

    assert response.status_code == 414, response.text
    assert list(response.json()["errors"]) == ["query"]


@pytest.mark.parametrize("q", ["a\x00b", "\x00"])
async def test_nul_is_refused_at_the_edge(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/api/search", params={"q": q})

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["must not contain NUL characters"]}}


async def test_a_missing_query_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/search")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["q"]


@pytest.mark.parametrize("q", ["!!!", "- -", "-excluded", "   ", '""'])
async def test_nothing_to_look_for_finds_nothing(
    client: httpx.AsyncClient, corpus: None, q: str
) -> None:
    response = await client.get("/api/search", params={"q": q})

    assert response.json() == EMPTY


async def test_wildcards_are_literal(client: httpx.AsyncClient, corpus: None) -> None:
    percent = (await client.get("/api/search", params={"q": "100%"})).json()
    underscore = (await client.get("/api/search", params={"q": "done_right"})).json()
    lone = (await client.get("/api/search", params={"q": "%"})).json()
    backslash = (await client.get("/api/search", params={"q": "a\\b"})).json()

    assert [a["title"] for a in percent["articles"]] == ["100% done_right"]
    assert [a["title"] for a in underscore["articles"]] == ["100% done_right"]
    assert lone == EMPTY  # no letter or digit: nothing to look for
    assert [a["title"] for a in backslash["articles"]] == ["100% done_right"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x"])
async def test_a_bad_page_is_a_422(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/api/search", params={"q": "abc", "limit": limit})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["limit"]
