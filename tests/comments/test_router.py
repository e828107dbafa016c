"""GET, POST and DELETE /api/articles/{slug}/comments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.articles.conftest import PROFILE_KEYS, TIMESTAMP
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio

COMMENT_KEYS = {"id", "createdAt", "updatedAt", "body", "author", "score", "myVote"}


@pytest.fixture
async def article(client: httpx.AsyncClient, alice: dict[str, Any]) -> dict[str, Any]:
    return await create_article(client, alice["token"], title="Commented on")


def comments_path(slug: str) -> str:
    return f"/api/articles/{slug}/comments"


async def add_comment(
    client: httpx.AsyncClient, token: str, slug: str, body: str = "Nice post"
) -> dict[str, Any]:
    response = await client.post(
        comments_path(slug), json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    comment: dict[str, Any] = response.json()["comment"]
    return comment


async def list_comments(
    client: httpx.AsyncClient, slug: str, token: str | None = None
) -> list[dict[str, Any]]:
    response = await client.get(comments_path(slug), headers=auth(token) if token else {})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"comments"}
    comments: list[dict[str, Any]] = response.json()["comments"]
    return comments


# Create ---------------------------------------------------------------------------------


async def test_adding_a_comment_answers_200_with_the_comment_envelope(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    response = await client.post(
        comments_path(article["slug"]),
        json={"comment": {"body": "Thank you so much!"}},
        headers=auth(bob["token"]),
    )

    assert response.status_code == 200
    assert set(response.json()) == {"comment"}
    comment = response.json()["comment"]
    assert set(comment) == COMMENT_KEYS
    assert isinstance(comment["id"], int)
    assert comment["body"] == "Thank you so much!"
    assert TIMESTAMP.match(comment["createdAt"]), comment["createdAt"]
    assert TIMESTAMP.match(comment["updatedAt"]), comment["updatedAt"]
    assert set(comment["author"]) == PROFILE_KEYS
    assert comment["author"] == {
        "username": "bob",
        "bio": "",
        "image": "",
        "following": False,
        "role": "user",
    }
    assert await list_comments(client, article["slug"]) == [comment]


async def test_comment_author_profile_shows_bio_and_image(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    response = await client.put(
        "/api/user",
        json={"user": {"bio": "I comment", "image": "https://example.com/bob.png"}},
        headers=auth(bob["token"]),
    )
    assert response.status_code == 200

    comment = await add_comment(client, bob["token"], article["slug"])

    assert comment["author"]["bio"] == "I comment"
    assert comment["author"]["image"] == "https://example.com/bob.png"
    [listed] = await list_comments(client, article["slug"])
    assert listed["author"] == comment["author"]


async def test_adding_a_comment_without_token_is_401(
    client: httpx.AsyncClient, article: dict[str, Any]
) -> None:
    response = await client.post(
        comments_path(article["slug"]), json={"comment": {"body": "anonymous"}}
    )

    assert response.status_code == 401
    assert "errors" in response.json()
    assert await list_comments(client, article["slug"]) == []


async def test_commenting_on_an_unknown_article_is_404(
    client: httpx.AsyncClient, bob: dict[str, Any]
) -> None:
    response = await client.post(
        comments_path("missing"), json={"comment": {"body": "hi"}}, headers=auth(bob["token"])
    )

    assert response.status_code == 404
    assert "errors" in response.json()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"comment": {}}, id="missing-body"),
        pytest.param({"comment": {"body": ""}}, id="empty-body"),
        pytest.param({"comment": {"body": "  \n"}}, id="blank-body"),
        pytest.param({"comment": {"body": None}}, id="null-body"),
        pytest.param({"comment": {"body": 7}}, id="non-string-body"),
        pytest.param({"comment": {"body": "x" * 100_001}}, id="body-too-long"),
        pytest.param({"comment": {"body": "nul\x00byte"}}, id="nul-in-body"),
        pytest.param({"body": "no envelope"}, id="no-envelope"),
        pytest.param({}, id="empty-object"),
    ],
)
async def test_invalid_comment_is_422_and_adds_nothing(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], payload: Any
) -> None:
    response = await client.post(
        comments_path(article["slug"]), json=payload, headers=auth(alice["token"])
    )

    assert response.status_code == 422, response.text
    assert "body" in response.json()["errors"]
    assert await list_comments(client, article["slug"]) == []


async def test_malformed_json_comment_is_422(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any]
) -> None:
    response = await client.post(
        comments_path(article["slug"]),
        content=b'{"comment": ',
        headers={**auth(alice["token"]), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}


# List -----------------------------------------------------------------------------------


async def test_article_without_comments_has_an_empty_list(
    client: httpx.AsyncClient, article: dict[str, Any]
) -> None:
    response = await client.get(comments_path(article["slug"]))

    assert response.status_code == 200
    assert response.json() == {"comments": []}


async def test_listing_comments_of_an_unknown_article_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(comments_path("missing"))

    assert response.status_code == 404
    assert "errors" in response.json()


async def test_comments_are_listed_newest_first_and_only_for_their_article(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    other = await create_article(client, alice["token"], title="Elsewhere")
    first = await add_comment(client, bob["token"], article["slug"], "first")
    await add_comment(client, bob["token"], other["slug"], "on the other article")
    second = await add_comment(client, alice["token"], article["slug"], "second")
    third = await add_comment(client, bob["token"], article["slug"], "third")

    listed = await list_comments(client, article["slug"])

    assert [comment["id"] for comment in listed] == [third["id"], second["id"], first["id"]]
    assert [comment["body"] for comment in listed] == ["third", "second", "first"]
    assert [comment["author"]["username"] for comment in listed] == ["bob", "alice", "bob"]
    assert all(set(comment) == COMMENT_KEYS for comment in listed)
    assert len({first["id"], second["id"], third["id"]}) == 3


async def test_comment_author_following_flag_is_per_viewer(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    carol = await register(client, "carol")
    await add_comment(client, bob["token"], article["slug"])
    response = await client.post("/api/profiles/bob/follow", headers=auth(carol["token"]))
    assert response.status_code == 200

    def following(comments: list[dict[str, Any]]) -> bool:
        [comment] = comments
        assert comment["author"]["username"] == "bob"
        flag: bool = comment["author"]["following"]
        return flag

    assert following(await list_comments(client, article["slug"], carol["token"])) is True
    assert following(await list_comments(client, article["slug"], alice["token"])) is False
    assert following(await list_comments(client, article["slug"], bob["token"])) is False
    assert following(await list_comments(client, article["slug"])) is False


# Delete ---------------------------------------------------------------------------------


def comment_path(slug: str, comment_id: int | str) -> str:
    return f"{comments_path(slug)}/{comment_id}"


async def test_author_can_delete_their_comment(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    gone = await add_comment(client, bob["token"], article["slug"], "gone")
    kept = await add_comment(client, bob["token"], article["slug"], "kept")

    response = await client.delete(
        comment_path(article["slug"], gone["id"]), headers=auth(bob["token"])
    )

    assert response.status_code == 204
    assert response.content == b""
    assert [comment["id"] for comment in await list_comments(client, article["slug"])] == [
        kept["id"]
    ]


async def test_deleting_a_comment_twice_is_404_the_second_time(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    comment = await add_comment(client, bob["token"], article["slug"])
    path = comment_path(article["slug"], comment["id"])

    assert (await client.delete(path, headers=auth(bob["token"]))).status_code == 204
    assert (await client.delete(path, headers=auth(bob["token"]))).status_code == 404


async def test_non_author_cannot_delete_comment(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    carol = await register(client, "carol")
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(
        comment_path(article["slug"], comment["id"]), headers=auth(carol["token"])
    )

    assert response.status_code == 403
    assert "errors" in response.json()
    assert await list_comments(client, article["slug"]) == [comment]


async def test_deleting_a_comment_without_token_is_401(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(comment_path(article["slug"], comment["id"]))

    assert response.status_code == 401
    assert await list_comments(client, article["slug"]) == [comment]


async def test_deleting_an_unknown_comment_is_404(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(
        comment_path(article["slug"], comment["id"] + 1000), headers=auth(bob["token"])
    )

    assert response.status_code == 404
    assert "errors" in response.json()
    assert await list_comments(client, article["slug"]) == [comment]


async def test_deleting_a_comment_through_another_article_is_404(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    other = await create_article(client, alice["token"], title="Another one")
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(
        comment_path(other["slug"], comment["id"]), headers=auth(bob["token"])
    )

    assert response.status_code == 404
    assert await list_comments(client, article["slug"]) == [comment]


async def test_deleting_a_comment_of_an_unknown_article_is_404(
    client: httpx.AsyncClient, article: dict[str, Any], bob: dict[str, Any]
) -> None:
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(
        comment_path("missing", comment["id"]), headers=auth(bob["token"])
    )

    assert response.status_code == 404
    assert await list_comments(client, article["slug"]) == [comment]


@pytest.mark.parametrize(
    "comment_id",
    ["99999999999999999999", str(2**63), "0", "-1", "abc", "1.5"],
)
async def test_malformed_or_out_of_range_comment_id_is_422(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], comment_id: str
) -> None:
    response = await client.delete(
        comment_path(article["slug"], comment_id), headers=auth(alice["token"])
    )

    assert response.status_code == 422, response.text
    assert "id" in response.json()["errors"]


async def test_largest_comment_id_is_a_plain_404(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any]
) -> None:
    response = await client.delete(
        comment_path(article["slug"], 2**63 - 1), headers=auth(alice["token"])
    )

    assert response.status_code == 404


async def test_deleting_the_article_takes_its_comments_with_it(
    client: httpx.AsyncClient, article: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    comment = await add_comment(client, bob["token"], article["slug"])

    response = await client.delete(f"/api/articles/{article['slug']}", headers=auth(alice["token"]))
    assert response.status_code == 204

    assert (await client.get(comments_path(article["slug"]))).status_code == 404
    gone = await client.delete(
        comment_path(article["slug"], comment["id"]), headers=auth(bob["token"])
    )
    assert gone.status_code == 404
