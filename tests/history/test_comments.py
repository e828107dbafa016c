"""PUT /api/articles/{slug}/comments/{id} and the comment's history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard.cache import ReadCache
from fastboard.settings import Settings
from tests.articles.test_queries import run_counted
from tests.conftest import CachedReads, auth, create_article
from tests.history.conftest import Account, add_comment, edit_comment, read_history

pytestmark = pytest.mark.anyio


@pytest.fixture
async def slug(client: httpx.AsyncClient, alice: Account) -> str:
    created: str = (await create_article(client, alice["token"], title="Commented"))["slug"]
    return created


def history_path(slug: str, comment_id: int) -> str:
    return f"/api/articles/{slug}/comments/{comment_id}/history"


async def test_the_author_edits_a_comment_and_its_history_keeps_both(
    client: httpx.AsyncClient, slug: str, bob: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug, "Thanks")

    response = await edit_comment(client, bob["token"], slug, comment["id"], "Thank you so much!")

    assert response.status_code == 200, response.text
    edited = response.json()["comment"]
    assert edited["body"] == "Thank you so much!"
    assert edited["createdAt"] == comment["createdAt"]
    assert edited["updatedAt"] > comment["updatedAt"]
    assert {key: edited[key] for key in ("id", "author", "score", "myVote")} == {
        "id": comment["id"],
        "author": comment["author"],
        "score": 0,
        "myVote": None,
    }
    listed = (await client.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert listed == [{**edited, "author": {**edited["author"], "following": False}}]
    page = await read_history(client, history_path(slug, comment["id"]))
    assert page["versionsCount"] == 2
    newest, oldest = page["versions"]
    assert set(newest) == {"version", "createdAt", "editor", "body", "diff"}
    assert (newest["version"], newest["body"], newest["createdAt"]) == (
        2,
        "Thank you so much!",
        edited["updatedAt"],
    )
    assert (
        newest["diff"] == "--- version 1\n+++ version 2\n@@ -1 +1 @@\n-Thanks\n+Thank you so much!"
    )
    assert (oldest["version"], oldest["body"], oldest["createdAt"]) == (
        1,
        "Thanks",
        comment["createdAt"],
    )
    assert newest["editor"]["username"] == oldest["editor"]["username"] == "bob"


async def test_an_edit_to_the_same_body_adds_no_version(
    client: httpx.AsyncClient, slug: str, bob: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug, "Same")

    response = await edit_comment(client, bob["token"], slug, comment["id"], "Same")

    assert response.status_code == 200
    assert response.json()["comment"]["updatedAt"] == comment["updatedAt"]
    assert (await read_history(client, history_path(slug, comment["id"])))["versionsCount"] == 1


async def test_only_the_author_edits_a_comment(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account, moderator: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug)

    for other in (alice, moderator):  # the article's author; a moderator
        response = await edit_comment(client, other["token"], slug, comment["id"], "Mine now")
        assert response.status_code == 403
        assert response.json() == {"errors": {"comment": ["only the author may edit this comment"]}}
    listed = (await client.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert listed[0]["body"] == "First"


async def test_a_locked_articles_comments_cannot_be_edited(
    client: httpx.AsyncClient, slug: str, bob: Account, moderator: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug)
    locked = await client.post(f"/api/articles/{slug}/lock", headers=auth(moderator["token"]))
    assert locked.status_code == 200, locked.text

    response = await edit_comment(client, bob["token"], slug, comment["id"], "Sneaky")

    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["article"]


async def test_edits_to_what_is_not_there_are_404s(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug)
    other = (await create_article(client, alice["token"], title="Other"))["slug"]

    cases = [
        (slug, comment["id"] + 1000, "comment"),
        (other, comment["id"], "comment"),  # a comment of another article
        ("no-such-article", comment["id"], "article"),
    ]
    for article, comment_id, field in cases:
        response = await edit_comment(client, bob["token"], article, comment_id, "Edited")
        assert response.status_code == 404, (article, comment_id)
        assert list(response.json()["errors"]) == [field]
        response = await client.get(history_path(article, comment_id))
        assert response.status_code == 404, (article, comment_id)
        assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize(
    ("comment_id", "body", "field"),
    [
        ("abc", {"comment": {"body": "x"}}, "id"),
        ("0", {"comment": {"body": "x"}}, "id"),
        (str(2**63), {"comment": {"body": "x"}}, "id"),
        ("1", {"comment": {"body": " "}}, "body"),
        ("1", {"comment": {"body": "nul\x00"}}, "body"),
        ("1", {"comment": {}}, "body"),
        ("1", {}, "body"),  # the envelope missing
        ("1", {"comment": {"body": "x" * 100_001}}, "body"),
    ],
)
async def test_bad_edits_are_422s_naming_the_field(
    client: httpx.AsyncClient,
    slug: str,
    bob: Account,
    comment_id: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.put(
        f"/api/articles/{slug}/comments/{comment_id}", json=body, headers=auth(bob["token"])
    )

    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]


async def test_a_deleted_comments_history_is_for_moderators_only(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account, moderator: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug, "Regrettable")
    await edit_comment(client, bob["token"], slug, comment["id"], "Still regrettable")
    path = history_path(slug, comment["id"])
    removed = await client.delete(
        f"/api/articles/{slug}/comments/{comment['id']}", headers=auth(bob["token"])
    )
    assert removed.status_code == 204

    for token in (None, bob["token"], alice["token"]):
        response = await client.get(path, headers=auth(token) if token else {})
        assert response.status_code == 404
        assert response.json() == {"errors": {"comment": ["comment not found"]}}
    page = await read_history(client, path, moderator["token"])
    assert [v["body"] for v in page["versions"]] == ["Still regrettable", "Regrettable"]
    # A comment id that never was: a 404 for moderators too.
    response = await client.get(
        history_path(slug, comment["id"] + 99), headers=auth(moderator["token"])
    )
    assert response.status_code == 404


async def test_the_comments_of_a_deleted_article_keep_their_history_for_moderators(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account, moderator: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug, "On a doomed article")
    removed = await client.delete(f"/api/articles/{slug}", headers=auth(alice["token"]))
    assert removed.status_code == 204

    path = history_path(slug, comment["id"])
    assert (await client.get(path, headers=auth(bob["token"]))).status_code == 404
    page = await read_history(client, path, moderator["token"])
    assert [v["body"] for v in page["versions"]] == ["On a doomed article"]
    # A new article and comment never take the ids the history still knows.
    fresh = (await create_article(client, alice["token"], title="Commented"))["slug"]
    assert fresh == slug
    newer = await add_comment(client, bob["token"], fresh, "Newer")
    assert newer["id"] > comment["id"]
    page = await read_history(client, history_path(fresh, newer["id"]))
    assert [v["body"] for v in page["versions"]] == ["Newer"]


async def test_a_comment_history_page_costs_the_same_statements_whatever_its_size(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    count_queries: Any,
    slug: str,
    bob: Account,
) -> None:
    app.state.read_cache = ReadCache(settings.model_copy(update={"redis_url": None}))
    comment = await add_comment(client, bob["token"], slug, "v0")
    for number in range(1, 12):
        response = await edit_comment(client, bob["token"], slug, comment["id"], f"v{number}")
        assert response.status_code == 200

    counts = {}
    for limit in (1, 12):
        response, counts[limit] = await run_counted(
            client, count_queries, history_path(slug, comment["id"]), None, {"limit": limit}
        )
        assert len(response.json()["versions"]) == limit
        assert response.json()["versionsCount"] == 12

    assert counts[1] == counts[12] == 3  # the article, that the comment is there, the page


async def test_an_edit_evicts_the_articles_cached_comments_only(
    cached_reads: CachedReads, client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    comment = await add_comment(client, bob["token"], slug, "Before")
    other = (await create_article(client, alice["token"], title="Other"))["slug"]
    evicted = [f"/api/articles/{slug}/comments"]
    kept = [f"/api/articles/{other}/comments", f"/api/articles/{slug}", "/api/articles"]
    await cached_reads.warm(*evicted, *kept)

    response = await edit_comment(client, bob["token"], slug, comment["id"], "After")
    assert response.status_code == 200

    assert await cached_reads.served(*evicted, *kept) == {
        **dict.fromkeys(evicted, False),
        **dict.fromkeys(kept, True),
    }
    listed = (await client.get(evicted[0])).json()["comments"]
    assert [c["body"] for c in listed] == ["After"]
