"""Moderators delete articles and comments of lower roles, and lock articles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.users.roles import Role
from tests.conftest import auth, create_article, register
from tests.moderation.conftest import Account, Promote, log_entries

pytestmark = pytest.mark.anyio


async def comment(
    client: httpx.AsyncClient, token: str, slug: str, body: str = "hi"
) -> httpx.Response:
    return await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )


async def test_a_moderator_deletes_a_users_article_with_a_reason_in_the_log(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"], tagList=["gone"]))["slug"]

    response = await client.delete(
        f"/api/articles/{slug}", params={"reason": "off topic"}, headers=auth(moderator["token"])
    )

    assert response.status_code == 204
    assert (await client.get(f"/api/articles/{slug}")).status_code == 404
    assert (await client.get("/api/tags")).json()["tags"] == []
    assert (await client.get("/api/articles")).json()["articlesCount"] == 0
    [entry] = (await log_entries(client, moderator["token"]))["entries"]
    assert (entry["action"], entry["target"], entry["reason"]) == (
        "delete_article",
        slug,
        "off topic",
    )


async def test_a_moderator_deletes_a_users_comment(
    client: httpx.AsyncClient, moderator: Account, alice: Account, bob: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    comment_id = (await comment(client, bob["token"], slug)).json()["comment"]["id"]

    response = await client.delete(
        f"/api/articles/{slug}/comments/{comment_id}", headers=auth(moderator["token"])
    )

    assert response.status_code == 204
    assert (await client.get(f"/api/articles/{slug}/comments")).json() == {"comments": []}
    [entry] = (await log_entries(client, moderator["token"]))["entries"]
    assert (entry["action"], entry["targetType"], entry["target"]) == (
        "delete_comment",
        "comment",
        str(comment_id),
    )
    assert entry["detail"] == f"on {slug}"
    assert entry["reason"] is None


async def test_authors_deleting_their_own_content_is_not_moderation(
    client: httpx.AsyncClient, moderator: Account
) -> None:
    slug = (await create_article(client, moderator["token"]))["slug"]

    assert (
        await client.delete(f"/api/articles/{slug}", headers=auth(moderator["token"]))
    ).status_code == 204

    assert (await log_entries(client, moderator["token"]))["entriesCount"] == 0


@pytest.mark.parametrize(
    ("actor_role", "author_role"),
    [(Role.MODERATOR, Role.MODERATOR), (Role.MODERATOR, Role.ADMIN), (Role.ADMIN, Role.ADMIN)],
)
async def test_nobody_moderates_the_content_of_an_equal_or_higher_role(
    client: httpx.AsyncClient, promote: Promote, actor_role: Role, author_role: Role
) -> None:
    actor = await register(client, "actor")
    author = await register(client, "author")
    await promote("actor", actor_role)
    await promote("author", author_role)
    slug = (await create_article(client, author["token"]))["slug"]
    comment_id = (await comment(client, author["token"], slug)).json()["comment"]["id"]

    responses = [
        await client.delete(
            f"/api/articles/{slug}/comments/{comment_id}", headers=auth(actor["token"])
        ),
        await client.delete(f"/api/articles/{slug}", headers=auth(actor["token"])),
        await client.post(f"/api/articles/{slug}/lock", headers=auth(actor["token"])),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert all("equal or higher role" in str(r.json()["errors"]) for r in responses)
    assert (await client.get(f"/api/articles/{slug}")).status_code == 200
    assert len((await client.get(f"/api/articles/{slug}/comments")).json()["comments"]) == 1


async def test_a_locked_article_takes_no_comments_until_unlocked(
    client: httpx.AsyncClient, moderator: Account, alice: Account, bob: Account
) -> None:
    created = await create_article(client, alice["token"])
    slug = created["slug"]
    assert created["locked"] is False
    assert (await comment(client, bob["token"], slug, "before")).status_code == 200

    locked = await client.post(
        f"/api/articles/{slug}/lock",
        json={"lock": {"reason": "heated"}},
        headers=auth(moderator["token"]),
    )

    assert locked.status_code == 200, locked.text
    assert locked.json()["lock"]["slug"] == slug
    assert locked.json()["lock"]["locked"] is True
    refused = await comment(client, bob["token"], slug, "after")
    assert refused.status_code == 403
    assert refused.json() == {
        "errors": {"article": ["this article is locked: it takes no new comments"]}
    }
    # The author and moderators are held to it as well; reading and favoriting go on.
    assert (await comment(client, alice["token"], slug)).status_code == 403
    assert (await comment(client, moderator["token"], slug)).status_code == 403
    assert len((await client.get(f"/api/articles/{slug}/comments")).json()["comments"]) == 1
    assert (
        await client.post(f"/api/articles/{slug}/favorite", headers=auth(bob["token"]))
    ).status_code == 200

    # The article says so, to anyone reading it: a page knows at once to offer no form.
    assert (await client.get(f"/api/articles/{slug}")).json()["article"]["locked"] is True
    as_bob = await client.get(f"/api/articles/{slug}", headers=auth(bob["token"]))
    assert as_bob.json()["article"]["locked"] is True

    unlocked = await client.delete(f"/api/articles/{slug}/lock", headers=auth(moderator["token"]))

    assert unlocked.json() == {"lock": {"slug": slug, "locked": False, "lockedAt": None}}
    assert (await client.get(f"/api/articles/{slug}")).json()["article"]["locked"] is False
    assert (await comment(client, bob["token"], slug, "after")).status_code == 200
    entries = (await log_entries(client, moderator["token"]))["entries"]
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("unlock_article", None),
        ("lock_article", "heated"),
    ]


async def test_locking_twice_is_one_lock_and_one_log_entry(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    first = await client.post(f"/api/articles/{slug}/lock", headers=auth(moderator["token"]))
    second = await client.post(f"/api/articles/{slug}/lock", headers=auth(moderator["token"]))

    assert first.json() == second.json()
    assert (await log_entries(client, moderator["token"]))["entriesCount"] == 1


async def test_a_comment_on_a_missing_article_is_still_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert (await comment(client, alice["token"], "no-such-article")).status_code == 404


async def test_locking_a_missing_article_is_404(
    client: httpx.AsyncClient, moderator: Account
) -> None:
    response = await client.post("/api/articles/nope/lock", headers=auth(moderator["token"]))

    assert response.status_code == 404


@pytest.mark.parametrize("body", [{"lock": {"reason": ""}}, {"lock": "x"}, [1]])
async def test_a_lock_with_a_bad_body_is_422(
    client: httpx.AsyncClient, moderator: Account, alice: Account, body: Any
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    response = await client.post(
        f"/api/articles/{slug}/lock", json=body, headers=auth(moderator["token"])
    )

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}
