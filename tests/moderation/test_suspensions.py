"""Suspensions: writes refused at once for every token the user holds, reads open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from fastboard.users.models import User
from fastboard.users.roles import Role
from tests.conftest import auth, create_article, register
from tests.moderation.conftest import Account, Promote, log_entries

pytestmark = pytest.mark.anyio


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def suspend(
    client: httpx.AsyncClient, token: str, username: str, until: Any, reason: Any = "spam"
) -> httpx.Response:
    body = {"suspension": {"until": until, "reason": reason}}
    return await client.post(f"/api/profiles/{username}/suspension", json=body, headers=auth(token))


async def lift(client: httpx.AsyncClient, token: str, username: str) -> httpx.Response:
    return await client.delete(f"/api/profiles/{username}/suspension", headers=auth(token))


async def test_a_suspended_users_tokens_stop_writing_at_once_but_still_read(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    # A token already verified and remembered by this worker: the account still decides.
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 200

    response = await suspend(client, moderator["token"], "alice", later(days=3))

    assert response.status_code == 200, response.text
    suspension = response.json()["suspension"]
    assert (suspension["username"], suspension["reason"]) == ("alice", "spam")
    refused = await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "still here"}},
        headers=auth(alice["token"]),
    )
    assert refused.status_code == 403
    [message] = refused.json()["errors"]["user"]
    assert message.startswith("your account is suspended until ")
    assert message.endswith("(spam)")
    for path in ("/api/user", "/api/articles", "/api/articles/feed", f"/api/articles/{slug}"):
        assert (await client.get(path, headers=auth(alice["token"]))).status_code == 200, path
    # A fresh login is no way around it.
    login = await client.post(
        "/api/users/login",
        json={"user": {"email": "alice@example.com", "password": "correct-horse"}},
    )
    fresh = login.json()["user"]["token"]
    assert (await create_or_status(client, fresh)) == 403


async def create_or_status(client: httpx.AsyncClient, token: str) -> int:
    article = {"title": "t", "description": "d", "body": "b"}
    response = await client.post("/api/articles", json={"article": article}, headers=auth(token))
    return response.status_code


async def test_lifting_a_suspension_lets_the_user_write_again_and_is_logged(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    await suspend(client, moderator["token"], "alice", later(hours=1))

    response = await lift(client, moderator["token"], "alice")

    assert response.status_code == 200
    assert response.json() == {"suspension": {"username": "alice", "until": None, "reason": None}}
    assert await create_or_status(client, alice["token"]) == 201
    actions = [
        entry["action"] for entry in (await log_entries(client, moderator["token"]))["entries"]
    ]
    assert actions == ["unsuspend_user", "suspend_user"]


async def test_a_suspension_that_has_ended_refuses_nothing(
    client: httpx.AsyncClient, moderator: Account, alice: Account, app: Any
) -> None:
    await suspend(client, moderator["token"], "alice", later(hours=1))
    async with app.state.database.writer() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(
            update(User).where(User.username == "alice").values(suspended_until=past)
        )
        await session.commit()

    assert await create_or_status(client, alice["token"]) == 201


@pytest.mark.parametrize(
    ("until", "field"),
    [
        pytest.param(later(minutes=-1), "until", id="past"),
        pytest.param(later(days=3651), "until", id="absurdly-far"),
        pytest.param("9999-12-31T23:59:59Z", "until", id="year-9999"),
        pytest.param("2030-01-01T00:00:00", "until", id="no-offset"),
        pytest.param("tomorrow", "until", id="not-a-time"),
        pytest.param(None, "until", id="missing"),
    ],
)
async def test_a_suspension_at_a_bad_time_is_422(
    client: httpx.AsyncClient, moderator: Account, alice: Account, until: Any, field: str
) -> None:
    response = await suspend(client, moderator["token"], "alice", until)

    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]
    assert await create_or_status(client, alice["token"]) == 201


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 1001, "a\x00b"])
async def test_a_suspension_needs_a_reason(
    client: httpx.AsyncClient, moderator: Account, alice: Account, reason: Any
) -> None:
    response = await suspend(client, moderator["token"], "alice", later(days=1), reason)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["reason"]


@pytest.mark.parametrize(
    ("actor_role", "target_role"),
    [
        (Role.MODERATOR, Role.MODERATOR),
        (Role.MODERATOR, Role.ADMIN),
        (Role.ADMIN, Role.ADMIN),
    ],
)
async def test_nobody_suspends_an_equal_or_higher_role(
    client: httpx.AsyncClient, promote: Promote, actor_role: Role, target_role: Role
) -> None:
    actor = await register(client, "actor")
    await register(client, "target")
    await promote("actor", actor_role)
    await promote("target", target_role)

    response = await suspend(client, actor["token"], "target", later(days=1))

    assert response.status_code == 403
    assert "equal or higher role" in response.json()["errors"]["user"][0]


async def test_nobody_suspends_themselves(client: httpx.AsyncClient, moderator: Account) -> None:
    response = await suspend(client, moderator["token"], "mod", later(days=1))

    assert response.status_code == 403


async def test_an_admin_suspends_a_moderator_who_then_cannot_moderate(
    client: httpx.AsyncClient, admin: Account, moderator: Account, alice: Account
) -> None:
    assert (await suspend(client, admin["token"], "mod", later(days=1))).status_code == 200

    response = await suspend(client, moderator["token"], "alice", later(days=1))

    assert response.status_code == 403
    assert "suspended" in response.json()["errors"]["user"][0]
    # Reading the log is a read: still open to a suspended moderator.
    assert (await log_entries(client, moderator["token"]))["entriesCount"] == 1


async def test_suspending_nobody_is_404(client: httpx.AsyncClient, moderator: Account) -> None:
    response = await suspend(client, moderator["token"], "nobody", later(days=1))

    assert response.status_code == 404


@pytest.mark.own_app  # the app's own engine: on PostgreSQL the writes go alone, unbound
async def test_a_refused_write_stores_nothing(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    """A favorite and a comment check the token's account inside their one statement;
    the answer says 403 or 401, and the statement must have written nothing either."""
    slug = (await create_article(client, moderator["token"]))["slug"]
    spent = alice["token"]
    assert (await client.post("/api/user/logout-all", headers=auth(spent))).status_code == 204
    login = await client.post(
        "/api/users/login",
        json={"user": {"email": "alice@example.com", "password": "correct-horse"}},
    )
    suspended = login.json()["user"]["token"]
    assert (await suspend(client, moderator["token"], "alice", later(days=1))).status_code == 200

    for token, status in [(spent, 401), (suspended, 403)]:
        favorite = await client.post(f"/api/articles/{slug}/favorite", headers=auth(token))
        comment = await client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": "refused"}},
            headers=auth(token),
        )
        assert (favorite.status_code, comment.status_code) == (status, status), token

    # Read for the first time only now: nothing cached from before the refusals.
    article = (await client.get(f"/api/articles/{slug}")).json()["article"]
    assert article["favoritesCount"] == 0
    assert (await client.get(f"/api/articles/{slug}/comments")).json()["comments"] == []
    favorited = await client.get("/api/articles", params={"favorited": "alice"})
    assert favorited.json()["articlesCount"] == 0
