"""Categories and boards over HTTP: the tree, one board, and what admins change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.boards.conftest import layout, new_board, new_category, tree
from tests.conftest import auth, create_article, promote, register

pytestmark = pytest.mark.anyio

BOARD_KEYS = {"slug", "name", "description", "position", "articlesCount"}
CATEGORY_KEYS = {"slug", "name", "description", "position", "boards"}


# Reading --------------------------------------------------------------------------------


async def test_a_fresh_board_has_one_category_with_the_general_board(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/categories")

    assert response.status_code == 200
    assert response.json() == {
        "categories": [
            {
                "slug": "community",
                "name": "Community",
                "description": "Boards for everyone",
                "position": 1,
                "boards": [
                    {
                        "slug": "general",
                        "name": "General",
                        "description": "Anything that has no board of its own",
                        "position": 1,
                        "articlesCount": 0,
                    }
                ],
            }
        ]
    }


async def test_one_board_names_its_category_and_whether_it_is_archived(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/boards/general")

    assert response.status_code == 200
    board = response.json()["board"]
    assert set(board) == BOARD_KEYS | {"category", "archived"}
    assert (board["slug"], board["category"], board["archived"]) == ("general", "community", False)


@pytest.mark.parametrize(
    ("slug", "status", "field"),
    [("nowhere", 404, "board"), ("x" * 65, 422, "slug")],
)
async def test_an_unknown_or_impossible_board_slug_is_an_error(
    client: httpx.AsyncClient, slug: str, status: int, field: str
) -> None:
    response = await client.get(f"/api/boards/{slug}")

    assert response.status_code == status
    assert list(response.json()["errors"]) == [field]


# Creating ---------------------------------------------------------------------------------


async def test_an_admin_creates_a_category_last_with_a_slug_from_its_name(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/categories",
        json={"category": {"name": "Hobbies & Crafts", "description": "After hours"}},
        headers=auth(admin["token"]),
    )

    assert response.status_code == 201
    category = response.json()["category"]
    assert category == {
        "slug": "hobbies-crafts",
        "name": "Hobbies & Crafts",
        "description": "After hours",
        "position": 2,
        "boards": [],
    }
    assert layout(await tree(client)) == [
        ("community", 1, [("general", 1)]),
        ("hobbies-crafts", 2, []),
    ]


async def test_a_category_created_at_a_position_moves_the_others_down(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    await new_category(client, admin["token"], "Second")
    await new_category(client, admin["token"], "First", position=1)

    assert [(c["slug"], c["position"]) for c in await tree(client)] == [
        ("first", 1),
        ("community", 2),
        ("second", 3),
    ]


async def test_an_admin_creates_boards_in_a_category(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    await new_category(client, admin["token"], "Hobbies")
    cooking = await new_board(client, admin["token"], "Cooking", "hobbies", description="Recipes")
    await new_board(client, admin["token"], "Baking", "hobbies", position=1)
    await new_board(client, admin["token"], "Off Topic", slug="ot")

    assert cooking == {
        "slug": "cooking",
        "name": "Cooking",
        "description": "Recipes",
        "position": 1,
        "articlesCount": 0,
        "category": "hobbies",
        "archived": False,
    }
    assert layout(await tree(client)) == [
        ("community", 1, [("general", 1), ("ot", 2)]),
        ("hobbies", 2, [("baking", 1), ("cooking", 2)]),
    ]
    assert all(set(board) == BOARD_KEYS for c in await tree(client) for board in c["boards"])


async def test_slugs_keep_non_ascii_letters(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    board = await new_board(client, admin["token"], "요리 이야기")

    assert board["slug"] == "요리-이야기"
    response = await client.get("/api/boards/요리-이야기")
    assert response.json()["board"]["name"] == "요리 이야기"


# Who may ---------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("POST", "/api/categories", {"category": {"name": "Hobbies"}}),
    ("PUT", "/api/categories/community", {"category": {"name": "Everyone"}}),
    ("DELETE", "/api/categories/community", None),
    ("POST", "/api/boards", {"board": {"name": "Cooking", "category": "community"}}),
    ("PUT", "/api/boards/general", {"board": {"name": "Lobby"}}),
    ("DELETE", "/api/boards/general", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_changing_categories_and_boards_takes_an_admin(
    app: FastAPI,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    user = await register(client, "someone")
    moderator = await register(client, "keeper")
    await promote(app, "keeper", "moderator")

    anonymous = await client.request(method, path, json=body)
    signed_in = await client.request(method, path, json=body, headers=auth(user["token"]))
    moderating = await client.request(method, path, json=body, headers=auth(moderator["token"]))

    assert anonymous.status_code == 401
    assert signed_in.status_code == 403
    assert moderating.status_code == 403
    assert signed_in.json() == {"errors": {"role": ["only admins may do this"]}}
    assert layout(await tree(client)) == [("community", 1, [("general", 1)])]
    assert (await tree(client))[0]["name"] == "Community"


# Bad input ------------------------------------------------------------------------------


async def _post(
    client: httpx.AsyncClient, token: str, path: str, body: Any
) -> tuple[int, dict[str, Any]]:
    response = await client.post(path, json=body, headers=auth(token))
    answer: dict[str, Any] = response.json() if response.content else {}
    return response.status_code, answer


@pytest.mark.parametrize(
    ("category", "field"),
    [
        pytest.param({}, "name", id="no-name"),
        pytest.param({"name": "   "}, "name", id="blank-name"),
        pytest.param({"name": "x" * 65}, "name", id="long-name"),
        pytest.param({"name": "a\x00b"}, "name", id="nul-in-name"),
        pytest.param({"name": "!!!"}, "name", id="name-without-letters"),
        pytest.param({"name": "Community"}, "name", id="name-taken"),
        pytest.param({"name": "COMMUNITY!"}, "slug", id="slug-of-name-taken"),
        pytest.param({"name": "Other", "slug": "community"}, "slug", id="slug-taken"),
        pytest.param({"name": "Other", "slug": "Not A Slug"}, "slug", id="bad-slug"),
        pytest.param({"name": "Other", "slug": "a" * 65}, "slug", id="long-slug"),
        pytest.param({"name": "Other", "description": "d" * 1025}, "description", id="long"),
        pytest.param({"name": "Other", "position": 0}, "position", id="position-0"),
        pytest.param({"name": "Other", "position": -3}, "position", id="negative"),
        pytest.param({"name": "Other", "position": "first"}, "position", id="not-a-number"),
        pytest.param({"name": "Other", "position": 2**40}, "position", id="huge"),
        pytest.param({"name": "Other", "position": 3}, "position", id="past-the-end"),
    ],
)
async def test_a_bad_new_category_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, Any], category: dict[str, Any], field: str
) -> None:
    status, answer = await _post(client, admin["token"], "/api/categories", {"category": category})

    assert status == 422, answer
    assert list(answer["errors"]) == [field]
    assert layout(await tree(client)) == [("community", 1, [("general", 1)])]


async def test_a_position_past_the_end_says_how_far_it_may_go(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    body = {"board": {"name": "Far", "category": "community", "position": 3}}

    status, answer = await _post(client, admin["token"], "/api/boards", body)

    assert (status, answer) == (422, {"errors": {"position": ["must be between 1 and 2"]}})


@pytest.mark.parametrize(
    ("board", "field"),
    [
        pytest.param({"name": "Cooking"}, "category", id="no-category"),
        pytest.param({"name": "Cooking", "category": "nowhere"}, "category", id="unknown"),
        pytest.param({"name": "General", "category": "community"}, "name", id="name-taken"),
        pytest.param({"name": "x", "slug": "general", "category": "community"}, "slug", id="slug"),
        pytest.param({"name": "y" * 65, "category": "community"}, "name", id="long-name"),
        pytest.param({"category": "community"}, "name", id="no-name"),
    ],
)
async def test_a_bad_new_board_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, Any], board: dict[str, Any], field: str
) -> None:
    status, answer = await _post(client, admin["token"], "/api/boards", {"board": board})

    assert status == 422, answer
    assert list(answer["errors"]) == [field]


@pytest.mark.parametrize("body", [None, [], {"board": "general"}, {"board": None}])
async def test_a_malformed_body_is_a_422(
    client: httpx.AsyncClient, admin: dict[str, Any], body: Any
) -> None:
    status, answer = await _post(client, admin["token"], "/api/boards", body)

    assert status == 422
    assert set(answer) == {"errors"}


# Changing categories ------------------------------------------------------------------------


async def test_renaming_a_category_keeps_its_slug_unless_one_is_given(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    renamed = await client.put(
        "/api/categories/community",
        json={"category": {"name": "Everyone", "description": "All welcome"}},
        headers=auth(admin["token"]),
    )
    reslugged = await client.put(
        "/api/categories/community",
        json={"category": {"slug": "everyone"}},
        headers=auth(admin["token"]),
    )

    assert renamed.status_code == 200
    assert renamed.json()["category"]["slug"] == "community"
    assert renamed.json()["category"]["boards"][0]["slug"] == "general"
    assert reslugged.json()["category"]["slug"] == "everyone"
    (category,) = await tree(client)
    assert (category["slug"], category["name"], category["description"]) == (
        "everyone",
        "Everyone",
        "All welcome",
    )


async def test_moving_a_category_shifts_the_ones_in_between(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    for name in ("B", "C", "D"):
        await new_category(client, admin["token"], name)

    up = await client.put(
        "/api/categories/d", json={"category": {"position": 2}}, headers=auth(admin["token"])
    )
    assert up.status_code == 200
    assert [c["slug"] for c in await tree(client)] == ["community", "d", "b", "c"]
    down = await client.put(
        "/api/categories/community",
        json={"category": {"position": 4}},
        headers=auth(admin["token"]),
    )
    assert down.json()["category"]["position"] == 4
    assert [(c["slug"], c["position"]) for c in await tree(client)] == [
        ("d", 1),
        ("b", 2),
        ("c", 3),
        ("community", 4),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/categories/nowhere", {"category": {"name": "X"}}, 404, "category"),
        ("/api/categories/community", {"category": {}}, 422, "category"),
        ("/api/categories/community", {"category": {"name": None}}, 422, "category"),
        ("/api/categories/community", {"category": {"position": 3}}, 422, "position"),
        ("/api/categories/community", {"category": {"name": "Hobbies"}}, 422, "name"),
        ("/api/categories/community", {"category": {"slug": "hobbies"}}, 422, "slug"),
    ],
)
async def test_a_bad_category_change_is_refused(
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    path: str,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    await new_category(client, admin["token"], "Hobbies")

    response = await client.put(path, json=body, headers=auth(admin["token"]))

    assert response.status_code == status
    assert list(response.json()["errors"]) == [field]


async def test_an_empty_category_is_deleted_and_the_others_close_up(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    await new_category(client, admin["token"], "Empty", position=1)
    await new_category(client, admin["token"], "Last")

    response = await client.delete("/api/categories/empty", headers=auth(admin["token"]))

    assert response.status_code == 204
    assert response.content == b""
    assert [(c["slug"], c["position"]) for c in await tree(client)] == [
        ("community", 1),
        ("last", 2),
    ]
    again = await client.delete("/api/categories/empty", headers=auth(admin["token"]))
    assert again.status_code == 404


async def test_a_category_holding_boards_archived_or_not_is_not_deleted(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    await new_category(client, admin["token"], "Hobbies")
    await new_board(client, admin["token"], "Cooking", "hobbies")
    await create_article(client, alice["token"], board="cooking")
    archived = await client.delete("/api/boards/cooking", headers=auth(admin["token"]))
    assert archived.status_code == 200

    for slug in ("community", "hobbies"):
        response = await client.delete(f"/api/categories/{slug}", headers=auth(admin["token"]))
        assert response.status_code == 422
        assert list(response.json()["errors"]) == ["category"]
    assert [c["slug"] for c in await tree(client)] == ["community", "hobbies"]


# Changing boards ----------------------------------------------------------------------------


async def _put_board(
    client: httpx.AsyncClient, token: str, at: str, **changes: Any
) -> httpx.Response:
    return await client.put(f"/api/boards/{at}", json={"board": changes}, headers=auth(token))


@pytest.fixture
async def three_boards(client: httpx.AsyncClient, admin: dict[str, Any]) -> str:
    """community: general, a, b; hobbies: c. Answers the admin's token."""
    token: str = admin["token"]
    await new_board(client, token, "A")
    await new_board(client, token, "B")
    await new_category(client, token, "Hobbies")
    await new_board(client, token, "C", "hobbies")
    return token


async def test_a_renamed_board_keeps_its_slug_and_articles(
    client: httpx.AsyncClient, three_boards: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="a")

    response = await _put_board(client, three_boards, "a", name="Apples", description="Red")

    assert response.status_code == 200
    board = response.json()["board"]
    assert (board["slug"], board["name"], board["description"]) == ("a", "Apples", "Red")
    assert board["articlesCount"] == 1
    read = await client.get(f"/api/articles/{article['slug']}")
    assert read.json()["article"]["board"] == "a"


async def test_a_new_slug_is_what_articles_then_carry(
    client: httpx.AsyncClient, three_boards: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="a")

    response = await _put_board(client, three_boards, "a", slug="apples")

    assert response.json()["board"]["slug"] == "apples"
    assert (await client.get("/api/boards/a")).status_code == 404
    read = await client.get(f"/api/articles/{article['slug']}")
    assert read.json()["article"]["board"] == "apples"


async def test_moving_a_board_within_its_category_shifts_its_neighbours(
    client: httpx.AsyncClient, three_boards: str
) -> None:
    response = await _put_board(client, three_boards, "b", position=1)

    assert response.json()["board"]["position"] == 1
    assert layout(await tree(client))[0] == ("community", 1, [("b", 1), ("general", 2), ("a", 3)])
    await _put_board(client, three_boards, "b", position=3)
    assert layout(await tree(client))[0] == ("community", 1, [("general", 1), ("a", 2), ("b", 3)])


async def test_moving_a_board_to_another_category_puts_it_last_or_where_asked(
    client: httpx.AsyncClient, three_boards: str
) -> None:
    last = await _put_board(client, three_boards, "general", category="hobbies")
    first = await _put_board(client, three_boards, "b", category="hobbies", position=1)

    assert last.json()["board"]["category"] == "hobbies"
    assert first.json()["board"]["position"] == 1
    assert layout(await tree(client)) == [
        ("community", 1, [("a", 1)]),
        ("hobbies", 2, [("b", 1), ("c", 2), ("general", 3)]),
    ]


async def test_an_archived_board_leaves_the_tree_and_comes_back_last(
    client: httpx.AsyncClient, three_boards: str
) -> None:
    archived = await _put_board(client, three_boards, "a", archived=True)

    assert archived.json()["board"] == {**archived.json()["board"], "archived": True}
    assert archived.json()["board"]["position"] == 0
    assert layout(await tree(client))[0] == ("community", 1, [("general", 1), ("b", 2)])
    restored = await _put_board(client, three_boards, "a", archived=False)
    assert restored.json()["board"]["archived"] is False
    assert layout(await tree(client))[0] == ("community", 1, [("general", 1), ("b", 2), ("a", 3)])


@pytest.mark.parametrize(
    ("slug", "changes", "status", "field"),
    [
        ("nowhere", {"name": "X"}, 404, "board"),
        ("a", {}, 422, "board"),
        ("a", {"position": 4}, 422, "position"),
        ("a", {"position": 0}, 422, "position"),
        ("a", {"name": "B"}, 422, "name"),
        ("a", {"slug": "b"}, 422, "slug"),
        ("a", {"category": "nowhere"}, 422, "category"),
        ("a", {"archived": True, "position": 1}, 422, "position"),
        ("a", {"archived": "maybe"}, 422, "archived"),
        ("general", {"slug": "lobby"}, 422, "slug"),
        ("general", {"archived": True}, 422, "archived"),
    ],
)
async def test_a_bad_board_change_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    three_boards: str,
    slug: str,
    changes: dict[str, Any],
    status: int,
    field: str,
) -> None:
    before = await tree(client)

    response = await _put_board(client, three_boards, slug, **changes)

    assert response.status_code == status
    assert list(response.json()["errors"]) == [field]
    assert await tree(client) == before


async def test_the_default_board_may_be_renamed_and_moved(
    client: httpx.AsyncClient, three_boards: str
) -> None:
    response = await _put_board(client, three_boards, "general", name="Lobby", position=3)

    assert response.status_code == 200
    assert layout(await tree(client))[0] == ("community", 1, [("a", 1), ("b", 2), ("general", 3)])


# Deleting boards ---------------------------------------------------------------------------


async def test_an_empty_board_is_deleted(client: httpx.AsyncClient, three_boards: str) -> None:
    response = await client.delete("/api/boards/a", headers=auth(three_boards))

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get("/api/boards/a")).status_code == 404
    assert layout(await tree(client))[0] == ("community", 1, [("general", 1), ("b", 2)])


async def test_a_board_with_articles_is_archived_not_deleted(
    client: httpx.AsyncClient, three_boards: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="a")

    response = await client.delete("/api/boards/a", headers=auth(three_boards))
    again = await client.delete("/api/boards/a", headers=auth(three_boards))

    assert response.status_code == again.status_code == 200
    board = response.json()["board"]
    assert (board["archived"], board["position"], board["articlesCount"]) == (True, 0, 1)
    assert (await client.get("/api/boards/a")).json() == response.json()
    assert layout(await tree(client))[0] == ("community", 1, [("general", 1), ("b", 2)])
    read = await client.get(f"/api/articles/{article['slug']}")
    assert read.status_code == 200
    assert read.json()["article"]["board"] == "a"
    listed = await client.get("/api/articles", params={"board": "a"})
    assert listed.json()["articlesCount"] == 1


async def test_an_archived_board_is_deleted_once_its_last_article_is(
    client: httpx.AsyncClient, three_boards: str, alice: dict[str, Any]
) -> None:
    article = await create_article(client, alice["token"], board="a")
    await client.delete("/api/boards/a", headers=auth(three_boards))
    removed = await client.delete(f"/api/articles/{article['slug']}", headers=auth(alice["token"]))
    assert removed.status_code == 204
    assert (await client.get("/api/boards/a")).json()["board"]["articlesCount"] == 0

    response = await client.delete("/api/boards/a", headers=auth(three_boards))

    assert response.status_code == 204
    assert (await client.get("/api/boards/a")).status_code == 404


@pytest.mark.parametrize(("slug", "status"), [("general", 422), ("nowhere", 404)])
async def test_the_default_or_an_unknown_board_is_not_deleted(
    client: httpx.AsyncClient, admin: dict[str, Any], slug: str, status: int
) -> None:
    response = await client.delete(f"/api/boards/{slug}", headers=auth(admin["token"]))

    assert response.status_code == status
    assert list(response.json()["errors"]) == ["board"]
    assert layout(await tree(client)) == [("community", 1, [("general", 1)])]
