"""GET /api/articles (filters, pagination) and GET /api/articles/feed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.security import create_token
from fastboard.settings import Settings
from tests.articles.conftest import (
    PROFILE_KEYS,
    SUMMARY_KEYS,
    TIMESTAMP,
    favorite,
    follow,
    list_articles,
)
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio


def slugs_of(page: dict[str, Any]) -> list[str]:
    return [article["slug"] for article in page["articles"]]


async def create_many(client: httpx.AsyncClient, token: str, count: int) -> list[str]:
    """Create ``count`` articles; returns their slugs newest first."""
    slugs = [(await create_article(client, token, title=f"Post {i}"))["slug"] for i in range(count)]
    return slugs[::-1]


# The global list ------------------------------------------------------------------------


async def test_empty_list_has_no_articles_and_count_zero(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles")

    assert response.status_code == 200
    assert response.json() == {"articles": [], "articlesCount": 0}


async def test_list_items_have_every_field_but_the_body(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await create_article(client, alice["token"], tagList=["b", "a"])

    page = await list_articles(client)

    assert set(page) == {"articles", "articlesCount"}
    assert page["articlesCount"] == 1
    [item] = page["articles"]
    assert set(item) == SUMMARY_KEYS
    assert "body" not in item
    assert set(item["author"]) == PROFILE_KEYS
    assert TIMESTAMP.match(item["createdAt"])
    assert TIMESTAMP.match(item["updatedAt"])
    # The single article also says whether it is locked; lists leave that out.
    assert item == {key: value for key, value in created.items() if key not in ("body", "locked")}


async def test_list_is_newest_first(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    newest_first = await create_many(client, alice["token"], 4)

    page = await list_articles(client)

    assert slugs_of(page) == newest_first
    created_at = [article["createdAt"] for article in page["articles"]]
    assert created_at == sorted(created_at, reverse=True)


async def test_updating_an_article_does_not_move_it_in_the_list(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    newest_first = await create_many(client, alice["token"], 3)

    oldest = newest_first[-1]
    response = await client.put(
        f"/api/articles/{oldest}",
        json={"article": {"body": "edited"}},
        headers=auth(alice["token"]),
    )
    assert response.status_code == 200

    assert slugs_of(await list_articles(client)) == newest_first


async def test_limit_defaults_to_twenty(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    newest_first = await create_many(client, alice["token"], 22)

    page = await list_articles(client)

    assert slugs_of(page) == newest_first[:20]
    assert page["articlesCount"] == 22


async def test_limit_and_offset_page_through_in_order(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    newest_first = await create_many(client, alice["token"], 7)

    pages = [await list_articles(client, limit=3, offset=offset) for offset in (0, 3, 6)]

    assert [slugs_of(page) for page in pages] == [
        newest_first[0:3],
        newest_first[3:6],
        newest_first[6:7],
    ]
    assert [page["articlesCount"] for page in pages] == [7, 7, 7]


async def test_offset_past_the_end_is_an_empty_page_with_the_total(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await create_many(client, alice["token"], 2)

    assert await list_articles(client, offset=2) == {"articles": [], "articlesCount": 2}
    assert await list_articles(client, offset=2**31 - 1) == {"articles": [], "articlesCount": 2}


async def test_limit_of_one_hundred_is_accepted(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    newest_first = await create_many(client, alice["token"], 2)

    assert slugs_of(await list_articles(client, limit=100)) == newest_first


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/articles", {"limit": "0"}, "limit"),
        ("/api/articles", {"limit": "101"}, "limit"),
        ("/api/articles", {"limit": "-1"}, "limit"),
        ("/api/articles", {"limit": "abc"}, "limit"),
        ("/api/articles", {"limit": "1.5"}, "limit"),
        ("/api/articles", {"offset": "-1"}, "offset"),
        ("/api/articles", {"offset": "abc"}, "offset"),
        ("/api/articles", {"offset": str(2**31)}, "offset"),
        ("/api/articles", {"offset": "99999999999999999999"}, "offset"),
        ("/api/articles", {"tag": "t" * 65}, "tag"),
        ("/api/articles", {"author": "a" * 65}, "author"),
        ("/api/articles", {"favorited": "f" * 65}, "favorited"),
        ("/api/articles/feed", {"limit": "0"}, "limit"),
        ("/api/articles/feed", {"limit": "101"}, "limit"),
        ("/api/articles/feed", {"offset": "-1"}, "offset"),
        ("/api/articles/feed", {"limit": "abc"}, "limit"),
    ],
)
async def test_invalid_list_parameters_are_422(
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = await client.get(path, params=params, headers=auth(alice["token"]))

    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]


@pytest.mark.parametrize("param", ["tag", "author", "favorited"])
async def test_nul_byte_in_a_filter_is_422(client: httpx.AsyncClient, param: str) -> None:
    response = await client.get("/api/articles", params={param: "a\x00b"})

    assert response.status_code == 422
    assert "errors" in response.json()


# Filters --------------------------------------------------------------------------------


@pytest.fixture
async def catalogue(client: httpx.AsyncClient) -> dict[str, Any]:
    """alice writes a1 (dragons), a2 (dragons, cats), a3 (cats); bob writes b1 (dragons).

    carol favorites a1 and b1; bob favorites a2.
    """
    users = {name: await register(client, name) for name in ("alice", "bob", "carol")}
    slugs = {
        "a1": (await create_article(client, users["alice"]["token"], tagList=["dragons"]))["slug"],
        "a2": (await create_article(client, users["alice"]["token"], tagList=["dragons", "cats"]))[
            "slug"
        ],
        "a3": (await create_article(client, users["alice"]["token"], tagList=["cats"]))["slug"],
        "b1": (await create_article(client, users["bob"]["token"], tagList=["dragons"]))["slug"],
    }
    await favorite(client, users["carol"]["token"], slugs["a1"])
    await favorite(client, users["carol"]["token"], slugs["b1"])
    await favorite(client, users["bob"]["token"], slugs["a2"])
    return {"users": users, "slugs": slugs}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, ["b1", "a3", "a2", "a1"], id="no-filter"),
        pytest.param({"tag": "dragons"}, ["b1", "a2", "a1"], id="tag"),
        pytest.param({"tag": "cats"}, ["a3", "a2"], id="other-tag"),
        pytest.param({"author": "alice"}, ["a3", "a2", "a1"], id="author"),
        pytest.param({"author": "bob"}, ["b1"], id="other-author"),
        pytest.param({"favorited": "carol"}, ["b1", "a1"], id="favorited"),
        pytest.param({"favorited": "bob"}, ["a2"], id="favorited-by-bob"),
        pytest.param({"favorited": "alice"}, [], id="favorited-nothing"),
        pytest.param({"tag": "dragons", "author": "alice"}, ["a2", "a1"], id="tag+author"),
        pytest.param({"tag": "cats", "favorited": "bob"}, ["a2"], id="tag+favorited"),
        pytest.param({"author": "alice", "favorited": "carol"}, ["a1"], id="author+favorited"),
        pytest.param(
            {"tag": "dragons", "author": "bob", "favorited": "carol"}, ["b1"], id="all-three"
        ),
        pytest.param({"tag": "cats", "author": "bob"}, [], id="no-overlap"),
    ],
)
async def test_filters_select_matching_articles_newest_first(
    client: httpx.AsyncClient,
    catalogue: dict[str, Any],
    params: dict[str, str],
    expected: list[str],
) -> None:
    page = await list_articles(client, **params)

    assert slugs_of(page) == [catalogue["slugs"][name] for name in expected]
    assert page["articlesCount"] == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"tag": "unicorns"}, id="unknown-tag"),
        pytest.param({"author": "nobody"}, id="unknown-author"),
        pytest.param({"favorited": "nobody"}, id="unknown-favoriter"),
        pytest.param({"tag": "DRAGONS"}, id="tag-is-case-sensitive"),
        pytest.param({"tag": ""}, id="empty-tag"),
        pytest.param({"author": "%"}, id="wildcard-author"),
    ],
)
async def test_unknown_filter_values_give_an_empty_list(
    client: httpx.AsyncClient, catalogue: dict[str, Any], params: dict[str, str]
) -> None:
    assert await list_articles(client, **params) == {"articles": [], "articlesCount": 0}


async def test_articles_count_is_the_filtered_total_ignoring_limit_and_offset(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    slugs = catalogue["slugs"]

    page = await list_articles(client, tag="dragons", limit=1, offset=1)

    assert slugs_of(page) == [slugs["a2"]]
    assert page["articlesCount"] == 3


async def test_favorited_and_following_flags_are_per_viewer(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    users, slugs = catalogue["users"], catalogue["slugs"]
    await follow(client, users["carol"]["token"], "alice")

    def flags(page: dict[str, Any]) -> dict[str, tuple[bool, bool, int]]:
        return {
            article["slug"]: (
                article["favorited"],
                article["author"]["following"],
                article["favoritesCount"],
            )
            for article in page["articles"]
        }

    as_carol = flags(await list_articles(client, users["carol"]["token"]))
    as_bob = flags(await list_articles(client, users["bob"]["token"]))
    anonymous = flags(await list_articles(client))

    assert as_carol == {
        slugs["a1"]: (True, True, 1),
        slugs["a2"]: (False, True, 1),
        slugs["a3"]: (False, True, 0),
        slugs["b1"]: (True, False, 1),
    }
    assert as_bob == {
        slugs["a1"]: (False, False, 1),
        slugs["a2"]: (True, False, 1),
        slugs["a3"]: (False, False, 0),
        slugs["b1"]: (False, False, 1),
    }
    assert all(value[:2] == (False, False) for value in anonymous.values())


async def test_list_items_carry_their_own_tags_alphabetically(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    slugs = catalogue["slugs"]

    page = await list_articles(client)

    tags = {article["slug"]: article["tagList"] for article in page["articles"]}
    assert tags == {
        slugs["a1"]: ["dragons"],
        slugs["a2"]: ["cats", "dragons"],
        slugs["a3"]: ["cats"],
        slugs["b1"]: ["dragons"],
    }


# Feed -----------------------------------------------------------------------------------


async def test_feed_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles/feed")

    assert response.status_code == 401
    assert "errors" in response.json()


async def test_feed_is_empty_when_following_nobody(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await create_article(client, bob["token"])
    await create_article(client, alice["token"])

    response = await client.get("/api/articles/feed", headers=auth(alice["token"]))

    assert response.status_code == 200
    assert response.json() == {"articles": [], "articlesCount": 0}


async def test_feed_lists_only_followed_authors_newest_first(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    users, slugs = catalogue["users"], catalogue["slugs"]
    dave = await register(client, "dave")
    await create_article(client, dave["token"])  # not followed
    await create_article(client, users["carol"]["token"])  # the reader's own article
    await follow(client, users["carol"]["token"], "alice")
    await follow(client, users["carol"]["token"], "bob")

    response = await client.get("/api/articles/feed", headers=auth(users["carol"]["token"]))

    assert response.status_code == 200
    page = response.json()
    assert slugs_of(page) == [slugs["b1"], slugs["a3"], slugs["a2"], slugs["a1"]]
    assert page["articlesCount"] == 4
    for item in page["articles"]:
        assert set(item) == SUMMARY_KEYS
        assert item["author"]["following"] is True
    assert [item["favorited"] for item in page["articles"]] == [True, False, False, True]


async def test_feed_pages_with_limit_and_offset(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    users, slugs = catalogue["users"], catalogue["slugs"]
    await follow(client, users["carol"]["token"], "alice")

    response = await client.get(
        "/api/articles/feed",
        params={"limit": 1, "offset": 1},
        headers=auth(users["carol"]["token"]),
    )

    assert slugs_of(response.json()) == [slugs["a2"]]
    assert response.json()["articlesCount"] == 3


async def test_unfollowing_removes_the_author_from_the_feed(
    client: httpx.AsyncClient, catalogue: dict[str, Any]
) -> None:
    users, slugs = catalogue["users"], catalogue["slugs"]
    token = users["carol"]["token"]
    await follow(client, token, "alice")
    await follow(client, token, "bob")

    response = await client.delete("/api/profiles/alice/follow", headers=auth(token))
    assert response.status_code == 200

    feed = await client.get("/api/articles/feed", headers=auth(token))
    assert feed.json()["articlesCount"] == 1
    assert slugs_of(feed.json()) == [slugs["b1"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/articles",
        "/api/articles?offset=50",
        "/api/articles?tag=nothing-has-it",
        "/api/articles/feed",
        "/api/articles/{slug}",
        "/api/articles/{slug}/comments",
        "/api/profiles/alice",
    ],
)
async def test_a_token_whose_user_is_gone_reads_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any], settings: Settings, path: str
) -> None:
    # Lists check the account in the page's own query, and with a query of its own when
    # the page is empty: an empty page or an unknown tag must not let the token through.
    slug = (await create_article(client, alice["token"]))["slug"]
    ghost = create_token(987_654, settings)

    response = await client.get(path.format(slug=slug), headers=auth(ghost))

    assert response.status_code == 401, response.text
    assert response.json() == {"errors": {"token": ["token is invalid or has expired"]}}
