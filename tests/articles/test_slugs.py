"""Slugs: derived from the title, readable in any script, unique even under races."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from fastboard.articles import slugs
from tests.articles.conftest import get_article
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio

# Letters (any script), digits and single hyphens; nothing a URL path would have to escape
# apart from the letters themselves.
SLUG_SHAPE = re.compile(r"^[^\W_]+(?:-[^\W_]+)*$")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("How to train your dragon", "how-to-train-your-dragon"),
        ("  Hello,   World!  ", "hello-world"),
        ("C'est déjà l'été", "c-est-déjà-l-été"),
        ("안녕하세요 세계", "안녕하세요-세계"),
        ("Привет, мир", "привет-мир"),
        ("path/../traversal?q=1#frag", "path-traversal-q-1-frag"),
        ("2024: a year", "2024-a-year"),
    ],
)
async def test_slug_is_derived_from_the_title(
    client: httpx.AsyncClient, alice: dict[str, Any], title: str, slug: str
) -> None:
    created = await create_article(client, alice["token"], title=title)

    assert created["slug"] == slug
    fetched = await get_article(client, slug)
    assert fetched["title"] == title.strip()


async def test_korean_title_keeps_its_hangul_in_the_slug(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], title="안녕하세요 세계")

    assert created["slug"] == "안녕하세요-세계"
    response = await client.get(
        "/api/articles/%EC%95%88%EB%85%95%ED%95%98%EC%84%B8%EC%9A%94-%EC%84%B8%EA%B3%84"
    )
    assert response.status_code == 200
    assert response.json()["article"]["title"] == "안녕하세요 세계"


@pytest.mark.parametrize("title", ["🎉🚀✨", "!!!", "—", "🐉 🐲"])
async def test_title_without_letters_gets_a_usable_slug(
    client: httpx.AsyncClient, alice: dict[str, Any], title: str
) -> None:
    first = await create_article(client, alice["token"], title=title)
    second = await create_article(client, alice["token"], title=title)

    assert first["slug"] == "article"
    assert second["slug"].startswith("article-")
    for created in (first, second):
        assert SLUG_SHAPE.match(created["slug"]), created["slug"]
        assert (await get_article(client, created["slug"]))["title"] == title


async def test_same_title_twice_gives_two_distinct_slugs(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    first = await create_article(client, alice["token"], title="Same title", body="first")
    second = await create_article(client, bob["token"], title="Same title", body="second")
    third = await create_article(client, alice["token"], title="Same title", body="third")

    assert first["slug"] == "same-title"
    assert len({first["slug"], second["slug"], third["slug"]}) == 3
    for created in (second, third):
        assert created["slug"].startswith("same-title-")
        assert SLUG_SHAPE.match(created["slug"])
    bodies = [(await get_article(client, c["slug"]))["body"] for c in (first, second, third)]
    assert bodies == ["first", "second", "third"]


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_concurrent_creates_with_the_same_title_all_succeed_with_distinct_slugs(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    tokens = [alice["token"], bob["token"]] * 3
    payloads = [
        {"article": {"title": "Race", "description": "d", "body": f"body {i}", "tagList": ["r"]}}
        for i in range(len(tokens))
    ]

    responses = await asyncio.gather(
        *(
            client.post("/api/articles", json=payload, headers=auth(token))
            for payload, token in zip(payloads, tokens, strict=True)
        )
    )

    assert [response.status_code for response in responses] == [201] * len(tokens), [
        response.text for response in responses
    ]
    created = [response.json()["article"] for response in responses]
    assert len({article["slug"] for article in created}) == len(tokens)
    assert "race" in {article["slug"] for article in created}
    for index, article in enumerate(created):
        fetched = await get_article(client, article["slug"])
        assert fetched["body"] == f"body {index}"
        assert fetched["tagList"] == ["r"]
    listed = (await client.get("/api/articles")).json()
    assert listed["articlesCount"] == len(tokens)


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_two_concurrent_creates_with_the_same_title_both_succeed(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    payload = {"article": {"title": "Photo finish", "description": "d", "body": "b"}}

    first, second = await asyncio.gather(
        client.post("/api/articles", json=payload, headers=auth(alice["token"])),
        client.post("/api/articles", json=payload, headers=auth(bob["token"])),
    )

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    slugs_made = {first.json()["article"]["slug"], second.json()["article"]["slug"]}
    assert len(slugs_made) == 2
    assert "photo-finish" in slugs_made


async def test_renaming_to_a_taken_title_gets_a_distinct_slug(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    taken = await create_article(client, alice["token"], title="Taken")
    other = await create_article(client, alice["token"], title="Other")

    response = await client.put(
        f"/api/articles/{other['slug']}",
        json={"article": {"title": "Taken"}},
        headers=auth(alice["token"]),
    )

    assert response.status_code == 200
    renamed = response.json()["article"]["slug"]
    assert renamed.startswith("taken-")
    assert (await get_article(client, taken["slug"]))["body"] == taken["body"]
    assert (await get_article(client, renamed))["title"] == "Taken"


async def test_updating_to_the_same_title_keeps_the_slug(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], title="Unchanged")

    response = await client.put(
        f"/api/articles/{created['slug']}",
        json={"article": {"title": "Unchanged", "body": "new body"}},
        headers=auth(alice["token"]),
    )

    assert response.status_code == 200
    assert response.json()["article"]["slug"] == "unchanged"


async def test_longest_title_gives_a_bounded_working_slug(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    title = "word " * 51  # 255 characters once stripped
    first = await create_article(client, alice["token"], title=title)
    second = await create_article(client, alice["token"], title=title)

    for created in (first, second):
        assert len(created["slug"]) <= 255
        assert SLUG_SHAPE.match(created["slug"])
        assert (await get_article(client, created["slug"]))["title"] == title.strip()
    assert first["slug"] != second["slug"]


@pytest.mark.parametrize("title", ["Feed", "feed"])
async def test_article_titled_like_a_route_is_still_reachable_by_its_slug(
    client: httpx.AsyncClient, alice: dict[str, Any], title: str
) -> None:
    created = await create_article(client, alice["token"], title=title)

    response = await client.get(f"/api/articles/{created['slug']}")

    assert created["slug"] != "feed"
    assert response.status_code == 200, response.text
    assert response.json()["article"]["title"] == title
    # The feed route itself is untouched.
    assert (await client.get("/api/articles/feed")).status_code == 401


def test_with_suffix_makes_distinct_slugs_from_one_base() -> None:
    made = {slugs.with_suffix("base") for _ in range(50)}

    assert len(made) == 50
    assert all(slug.startswith("base-") and SLUG_SHAPE.match(slug) for slug in made)
