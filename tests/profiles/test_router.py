"""Profiles and following, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fastboard.profiles.models import Follow
from tests.conftest import auth, register

pytestmark = pytest.mark.anyio


async def follow(client: httpx.AsyncClient, username: str, token: str) -> httpx.Response:
    return await client.post(f"/api/profiles/{username}/follow", headers=auth(token))


async def unfollow(client: httpx.AsyncClient, username: str, token: str) -> httpx.Response:
    return await client.delete(f"/api/profiles/{username}/follow", headers=auth(token))


async def profile(
    client: httpx.AsyncClient, username: str, token: str | None = None
) -> dict[str, Any]:
    response = await client.get(f"/api/profiles/{username}", headers=auth(token) if token else {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["profile"]
    return body


async def follow_count(app: FastAPI) -> int:
    async with app.state.database.writer() as session:
        count = await session.scalar(select(func.count()).select_from(Follow))
    return int(count or 0)


async def test_get_profile_anonymously_is_200_with_the_profile_envelope(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await client.put(
        "/api/user",
        json={"user": {"bio": "Tea.", "image": "https://i.test/a.png"}},
        headers=auth(alice["token"]),
    )

    body = await profile(client, "alice")

    assert body == {
        "profile": {
            "username": "alice",
            "bio": "Tea.",
            "image": "https://i.test/a.png",
            "following": False,
            "role": "user",
        }
    }


async def test_profile_has_empty_strings_for_unset_bio_and_image(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    body = await profile(client, "alice")

    assert body == {
        "profile": {"username": "alice", "bio": "", "image": "", "following": False, "role": "user"}
    }


async def test_get_unknown_profile_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/profiles/nobody")

    assert response.status_code == 404
    assert response.json() == {"errors": {"profile": ["profile not found"]}}


async def test_follow_is_200_with_following_true(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    response = await follow(client, "bob", alice["token"])

    assert response.status_code == 200
    assert response.json() == {
        "profile": {"username": "bob", "bio": "", "image": "", "following": True, "role": "user"}
    }
    assert await follow_count(app) == 1


async def test_following_depends_on_the_viewer(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    carol = await register(client, "carol")
    assert (await follow(client, "bob", alice["token"])).status_code == 200

    assert (await profile(client, "bob", alice["token"]))["profile"]["following"] is True
    assert (await profile(client, "bob", carol["token"]))["profile"]["following"] is False
    assert (await profile(client, "bob"))["profile"]["following"] is False
    # Following is one-way.
    assert (await profile(client, "alice", bob["token"]))["profile"]["following"] is False


async def test_follow_twice_is_idempotent(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    first = await follow(client, "bob", alice["token"])
    second = await follow(client, "bob", alice["token"])

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.json()["profile"]["following"] is True
    assert await follow_count(app) == 1


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_concurrent_follows_store_one_follow(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    responses = await asyncio.gather(*(follow(client, "bob", alice["token"]) for _ in range(3)))

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert all(response.json()["profile"]["following"] for response in responses)
    assert await follow_count(app) == 1


async def test_unfollow_is_200_with_following_false(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await follow(client, "bob", alice["token"])

    response = await unfollow(client, "bob", alice["token"])

    assert response.status_code == 200
    assert response.json() == {
        "profile": {"username": "bob", "bio": "", "image": "", "following": False, "role": "user"}
    }
    assert (await profile(client, "bob", alice["token"]))["profile"]["following"] is False
    assert await follow_count(app) == 0


async def test_unfollow_someone_not_followed_is_200(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    response = await unfollow(client, "bob", alice["token"])

    assert response.status_code == 200
    assert response.json()["profile"]["following"] is False
    assert await follow_count(app) == 0


async def test_unfollow_removes_only_that_follow(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await follow(client, "bob", alice["token"])
    await follow(client, "alice", bob["token"])

    await unfollow(client, "bob", alice["token"])

    assert (await profile(client, "alice", bob["token"]))["profile"]["following"] is True
    assert await follow_count(app) == 1


async def test_follow_yourself_is_422(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any]
) -> None:
    response = await follow(client, "alice", alice["token"])

    assert response.status_code == 422
    assert response.json() == {"errors": {"profile": ["you cannot follow yourself"]}}
    assert await follow_count(app) == 0


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_follow_or_unfollow_unknown_user_is_404(
    client: httpx.AsyncClient, alice: dict[str, Any], method: str
) -> None:
    response = await client.request(
        method, "/api/profiles/nobody/follow", headers=auth(alice["token"])
    )

    assert response.status_code == 404
    assert response.json() == {"errors": {"profile": ["profile not found"]}}


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_follow_or_unfollow_without_token_is_401(
    client: httpx.AsyncClient, app: FastAPI, bob: dict[str, Any], method: str
) -> None:
    response = await client.request(method, "/api/profiles/bob/follow")

    assert response.status_code == 401
    assert set(response.json()["errors"]) == {"token"}
    assert await follow_count(app) == 0


async def test_get_profile_with_an_invalid_token_is_401(
    client: httpx.AsyncClient, bob: dict[str, Any]
) -> None:
    """Optional authentication still rejects a token that is present but bad."""
    response = await client.get("/api/profiles/bob", headers=auth("not.a.jwt"))

    assert response.status_code == 401
    assert set(response.json()["errors"]) == {"token"}


async def test_profile_follows_a_username_change(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await follow(client, "bob", alice["token"])
    renamed = await client.put(
        "/api/user", json={"user": {"username": "robert"}}, headers=auth(bob["token"])
    )
    assert renamed.status_code == 200

    assert (await profile(client, "robert", alice["token"]))["profile"]["following"] is True
    assert (await client.get("/api/profiles/bob")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/profiles/a%00b"),
        ("POST", "/api/profiles/a%00b/follow"),
        ("DELETE", "/api/profiles/a%00b/follow"),
        ("GET", "/api/profiles/alice?x=%00"),
    ],
    ids=["get-path", "follow-path", "unfollow-path", "query"],
)
async def test_nul_in_path_or_query_is_422(
    client: httpx.AsyncClient, alice: dict[str, Any], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=auth(alice["token"]))

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["must not contain NUL characters"]}}


async def test_too_long_username_in_path_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/profiles/" + "a" * 65)

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"username"}
