"""Roles: shown everywhere a user is, changed by admins only, never below one admin."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from fastboard.users.roles import Role
from tests.conftest import auth, create_article, register
from tests.moderation.conftest import Account, Promote, log_entries

pytestmark = pytest.mark.anyio


async def set_role(
    client: httpx.AsyncClient, token: str, username: str, role: Any, **extra: Any
) -> httpx.Response:
    return await client.put(
        f"/api/profiles/{username}/role", json={"role": role, **extra}, headers=auth(token)
    )


async def test_role_is_in_the_user_the_profile_and_the_author(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    slug = (await create_article(client, admin["token"]))["slug"]

    me = (await client.get("/api/user", headers=auth(admin["token"]))).json()["user"]
    profile = (await client.get("/api/profiles/alice")).json()["profile"]
    article = (await client.get(f"/api/articles/{slug}")).json()["article"]
    listed = (await client.get("/api/articles")).json()["articles"][0]

    assert me["role"] == "admin"
    assert profile["role"] == "user"
    assert article["author"]["role"] == listed["author"]["role"] == "admin"


async def test_an_admin_makes_a_moderator_and_the_log_says_so(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await set_role(client, admin["token"], "alice", "moderator", reason="trusted")

    assert response.status_code == 200, response.text
    assert response.json()["profile"]["role"] == "moderator"
    assert (await client.get("/api/profiles/alice")).json()["profile"]["role"] == "moderator"
    [entry] = (await log_entries(client, admin["token"]))["entries"]
    assert {key: entry[key] for key in ("moderator", "action", "targetType", "target")} == {
        "moderator": "root",
        "action": "set_role",
        "targetType": "user",
        "target": "alice",
    }
    assert (entry["detail"], entry["reason"]) == ("user -> moderator", "trusted")


async def test_setting_the_role_someone_has_changes_and_logs_nothing(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await set_role(client, admin["token"], "alice", "user")

    assert response.status_code == 200
    assert (await log_entries(client, admin["token"]))["entriesCount"] == 0


@pytest.mark.parametrize("role", ["superuser", "Admin", "", "x" * 100])
async def test_a_role_that_does_not_exist_is_422(
    client: httpx.AsyncClient, admin: Account, alice: Account, role: str
) -> None:
    response = await set_role(client, admin["token"], "alice", role)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["role"]
    assert (await client.get("/api/profiles/alice")).json()["profile"]["role"] == "user"


@pytest.mark.parametrize("body", [{"role": None}, {"role": 3}, {"role": ["admin"]}, {}, []])
async def test_a_role_that_is_no_string_is_422(
    client: httpx.AsyncClient, admin: Account, alice: Account, body: Any
) -> None:
    response = await client.put("/api/profiles/alice/role", json=body, headers=auth(admin["token"]))

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}


async def test_a_role_for_nobody_is_404(client: httpx.AsyncClient, admin: Account) -> None:
    response = await set_role(client, admin["token"], "nobody", "moderator")

    assert response.status_code == 404
    assert response.json() == {"errors": {"profile": ["profile not found"]}}


async def test_moderators_cannot_change_roles(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    response = await set_role(client, moderator["token"], "alice", "moderator")

    assert response.status_code == 403
    assert response.json() == {"errors": {"role": ["only admins may do this"]}}
    assert (await client.get("/api/profiles/alice")).json()["profile"]["role"] == "user"


async def test_an_admin_cannot_change_another_admins_role(
    client: httpx.AsyncClient, admin: Account, promote: Promote
) -> None:
    await register(client, "other")
    await promote("other", Role.ADMIN)

    response = await set_role(client, admin["token"], "other", "user")

    assert response.status_code == 403
    assert "equal or higher role" in response.json()["errors"]["role"][0]
    assert (await client.get("/api/profiles/other")).json()["profile"]["role"] == "admin"


async def test_the_last_admin_cannot_step_down(client: httpx.AsyncClient, admin: Account) -> None:
    response = await set_role(client, admin["token"], "root", "moderator")

    assert response.status_code == 422
    assert "last admin" in response.json()["errors"]["role"][0]
    assert (await client.get("/api/profiles/root")).json()["profile"]["role"] == "admin"


async def test_an_admin_steps_down_once_there_is_another(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    assert (await set_role(client, admin["token"], "alice", "admin")).status_code == 200

    response = await set_role(client, admin["token"], "root", "user")

    assert response.status_code == 200
    assert response.json()["profile"]["role"] == "user"
    # Stepped down for good: the same token may not change roles any more.
    assert (await set_role(client, admin["token"], "alice", "user")).status_code == 403


@pytest.mark.own_app  # two requests at once, each with a connection of its own
async def test_two_admins_stepping_down_at_once_leave_one_admin(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    assert (await set_role(client, admin["token"], "alice", "admin")).status_code == 200

    responses = await asyncio.gather(
        set_role(client, admin["token"], "root", "user"),
        set_role(client, alice["token"], "alice", "user"),
    )

    assert sorted(response.status_code for response in responses) == [200, 422]
    roles = [
        (await client.get(f"/api/profiles/{name}")).json()["profile"]["role"]
        for name in ("root", "alice")
    ]
    assert sorted(roles) == ["admin", "user"]


async def test_the_deleted_user_placeholder_cannot_be_given_a_role(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    await create_article(client, alice["token"])
    deleted = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers=auth(alice["token"]),
    )
    assert deleted.status_code == 204

    response = await set_role(client, admin["token"], "[deleted]", "admin")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["profile"]
