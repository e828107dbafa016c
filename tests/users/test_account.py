"""Account management: password change, account deletion and export, over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

import fastboard.users.export
from fastboard.app import create_app
from fastboard.articles.models import ALL_ARTICLES, Article, ArticleCount, Favorite, Tag
from fastboard.comments.models import Comment
from fastboard.profiles.models import Follow
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.articles.conftest import favorite, follow
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"
NEW_PASSWORD = "battery-staple"
DEAD_TOKEN = {"errors": {"token": ["token is invalid or has expired"]}}


async def change_password(
    client: httpx.AsyncClient, token: str, current: Any = PASSWORD, new: Any = NEW_PASSWORD
) -> httpx.Response:
    body = {"user": {"currentPassword": current, "newPassword": new}}
    return await client.put("/api/user/password", json=body, headers=auth(token))


async def delete_account(
    client: httpx.AsyncClient, token: str, password: Any = PASSWORD
) -> httpx.Response:
    body = {"user": {"password": password}}
    return await client.request("DELETE", "/api/user", json=body, headers=auth(token))


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    body = {"user": {"email": email, "password": password}}
    return await client.post("/api/users/login", json=body)


async def reads_and_writes(client: httpx.AsyncClient, token: str, slug: str) -> list[int]:
    """The statuses of a token on each way the API checks one."""
    headers = auth(token)
    return [
        (await client.get("/api/user", headers=headers)).status_code,  # the user row
        (await client.get("/api/articles", headers=headers)).status_code,  # the flags query
        (await client.get("/api/articles/feed", headers=headers)).status_code,
        (await client.get(f"/api/articles/{slug}", headers=headers)).status_code,
        (await client.post(f"/api/articles/{slug}/favorite", headers=headers)).status_code,
    ]


# Password change ------------------------------------------------------------------------


async def test_a_password_change_spends_every_earlier_token_and_answers_a_fresh_one(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    other_session = (await login(client, "alice@example.com", PASSWORD)).json()["user"]["token"]
    # Both tokens verified and remembered by this process before the change.
    assert await reads_and_writes(client, other_session, slug) == [200] * 5

    response = await change_password(client, alice["token"])

    assert response.status_code == 200, response.text
    fresh = response.json()["user"]["token"]
    assert response.json()["user"]["username"] == "alice"
    for token in (alice["token"], other_session):
        assert await reads_and_writes(client, token, slug) == [401] * 5
        assert (await client.get("/api/user", headers=auth(token))).json() == DEAD_TOKEN
    assert await reads_and_writes(client, fresh, slug) == [200] * 5
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 401
    assert (await login(client, "alice@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_second_change_spends_the_first_changes_token(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    first = (await change_password(client, alice["token"])).json()["user"]["token"]

    second = await change_password(client, first, NEW_PASSWORD, "third-password")

    assert second.status_code == 200
    assert (await client.get("/api/user", headers=auth(first))).status_code == 401
    fresh = second.json()["user"]["token"]
    assert (await client.get("/api/user", headers=auth(fresh))).status_code == 200


async def test_a_wrong_current_password_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await change_password(client, alice["token"], current="wrong-horse")

    assert response.status_code == 422
    assert response.json() == {"errors": {"currentPassword": ["is not your current password"]}}
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 200
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currentPassword": PASSWORD, "newPassword": "short"}, "newPassword"),
        ({"currentPassword": PASSWORD, "newPassword": "x" * 257}, "newPassword"),
        ({"currentPassword": PASSWORD}, "newPassword"),
        ({"newPassword": NEW_PASSWORD}, "currentPassword"),
        ({"currentPassword": 5, "newPassword": NEW_PASSWORD}, "currentPassword"),
        ({"currentPassword": PASSWORD, "newPassword": "new\x00password"}, "newPassword"),
    ],
)
async def test_a_bad_password_change_is_422(
    client: httpx.AsyncClient, alice: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await client.put(
        "/api/user/password", json={"user": body}, headers=auth(alice["token"])
    )

    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 200


async def test_a_password_set_through_put_user_spends_earlier_tokens_too(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await client.put(
        "/api/user", json={"user": {"password": NEW_PASSWORD}}, headers=auth(alice["token"])
    )

    assert response.status_code == 200
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 401
    fresh = response.json()["user"]["token"]
    assert (await client.get("/api/user", headers=auth(fresh))).status_code == 200


@pytest.fixture
async def second_worker(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database, as another Gunicorn worker would be."""
    other = create_app(settings)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await other.state.live.close()
    await other.state.read_cache.close()
    await other.state.database.dispose()


@pytest.mark.own_app  # two apps, so real commits
async def test_another_worker_refuses_the_old_token_at_once(
    client: httpx.AsyncClient, second_worker: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    assert await reads_and_writes(second_worker, alice["token"], slug) == [200] * 5

    assert (await change_password(client, alice["token"])).status_code == 200

    assert await reads_and_writes(second_worker, alice["token"], slug) == [401] * 5


# Account deletion -----------------------------------------------------------------------


async def count(app: FastAPI, query: Any) -> Any:
    async with app.state.database.writer() as session:
        return await session.scalar(query)


async def census(app: FastAPI) -> dict[str, Any]:
    """What the database holds, in the figures the API keeps."""
    async with app.state.database.writer() as session:
        tags = dict((await session.execute(select(Tag.name, Tag.articles_count))).all())
        favorites = dict(
            (await session.execute(select(Article.slug, Article.favorites_count))).all()
        )
        stored = await session.scalar(
            select(ArticleCount.articles).where(ArticleCount.scope == ALL_ARTICLES)
        )
        true_favorites = dict(
            (
                await session.execute(
                    select(Article.slug, func.count(Favorite.user_id))
                    .outerjoin(Favorite, Favorite.article_id == Article.id)
                    .group_by(Article.slug)
                )
            ).all()
        )
        return {
            "articles": await session.scalar(select(func.count()).select_from(Article)),
            "stored_total": stored,
            "comments": await session.scalar(select(func.count()).select_from(Comment)),
            "tags": tags,
            "favorites_count": favorites,
            "favorites": true_favorites,
            "follows": await session.scalar(select(func.count()).select_from(Follow)),
        }


@pytest.fixture
async def board(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> dict[str, str]:
    """Alice and Bob write, comment on, favorite and follow each other's articles."""
    own = (await create_article(client, alice["token"], tagList=["shared", "alices"]))["slug"]
    theirs = (await create_article(client, bob["token"], tagList=["shared"]))["slug"]
    for token, slug, text in [
        (bob["token"], own, "Bob on Alice's"),
        (alice["token"], own, "Alice on her own"),
        (alice["token"], theirs, "Alice on Bob's"),
    ]:
        response = await client.post(
            f"/api/articles/{slug}/comments", json={"comment": {"body": text}}, headers=auth(token)
        )
        assert response.status_code == 200
    for token in (alice["token"], bob["token"]):
        await favorite(client, token, own)
        await favorite(client, token, theirs)
    await follow(client, alice["token"], "bob")
    await follow(client, bob["token"], "alice")
    return {"own": own, "theirs": theirs}


async def test_deleting_an_account_keeps_its_content_under_the_placeholder_and_the_counts_right(
    client: httpx.AsyncClient,
    app: FastAPI,
    alice: dict[str, Any],
    bob: dict[str, Any],
    board: dict[str, str],
) -> None:
    before = await census(app)

    response = await delete_account(client, alice["token"])

    assert response.status_code == 204, response.text
    after = await census(app)
    # Nothing but Alice's favorites and follows is gone.
    assert after["articles"] == before["articles"] == after["stored_total"] == 2
    assert after["comments"] == before["comments"] == 3
    assert after["tags"] == before["tags"] == {"shared": 2, "alices": 1}
    assert after["favorites_count"] == after["favorites"] == {board["own"]: 1, board["theirs"]: 1}
    assert after["follows"] == 0
    own = (await client.get(f"/api/articles/{board['own']}")).json()["article"]
    assert own["author"]["username"] == "[deleted]"
    comments = (await client.get(f"/api/articles/{board['own']}/comments")).json()["comments"]
    assert sorted((c["author"]["username"], c["body"]) for c in comments) == [
        ("[deleted]", "Alice on her own"),
        ("bob", "Bob on Alice's"),
    ]
    theirs = (await client.get(f"/api/articles/{board['theirs']}/comments")).json()["comments"]
    assert [(c["author"]["username"], c["body"]) for c in theirs] == [
        ("[deleted]", "Alice on Bob's")
    ]
    assert (await client.get("/api/articles")).json()["articlesCount"] == 2
    assert (await client.get("/api/profiles/alice")).status_code == 404
    # Bob's articles, comments and favorite are all still his.
    bobs = (await client.get(f"/api/articles/{board['theirs']}", headers=auth(bob["token"]))).json()
    assert bobs["article"]["author"]["username"] == "bob"
    assert bobs["article"]["favorited"] is True


async def test_a_deleted_accounts_tokens_are_gone_at_once(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    slug = (await create_article(client, bob["token"]))["slug"]
    assert await reads_and_writes(client, alice["token"], slug) == [200] * 5

    assert (await delete_account(client, alice["token"])).status_code == 204

    assert await reads_and_writes(client, alice["token"], slug) == [401] * 5
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 401


async def test_the_name_is_free_again_and_the_placeholder_is_reused(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])
    await create_article(client, bob["token"])
    assert (await delete_account(client, alice["token"])).status_code == 204
    assert (await delete_account(client, bob["token"])).status_code == 204

    again = await register(client, "alice")

    assert again["username"] == "alice"
    placeholders = await count(app, select(func.count()).where(User.username == "[deleted]"))
    assert placeholders == 1
    page = (await client.get("/api/articles", params={"author": "[deleted]"})).json()
    assert page["articlesCount"] == 2


async def test_nobody_signs_in_as_the_placeholder(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    await delete_account(client, alice["token"])

    attempts = [
        await login(client, "deleted-user", "!"),
        await client.post("/api/users/token", data={"username": "deleted-user", "password": "!"}),
        await client.post(
            "/api/users",
            json={
                "user": {"username": "[deleted]", "email": "x@example.com", "password": PASSWORD}
            },
        ),
    ]

    assert [response.status_code for response in attempts] == [422, 422, 422]


async def test_a_wrong_password_deletes_nothing(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await delete_account(client, alice["token"], "wrong-horse")

    assert response.status_code == 422
    assert response.json() == {"errors": {"password": ["is not your current password"]}}
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 200


@pytest.mark.parametrize("body", [{}, {"user": {}}, {"user": {"password": 1}}, None])
async def test_a_deletion_without_a_password_is_422(
    client: httpx.AsyncClient, alice: dict[str, Any], body: Any
) -> None:
    response = await client.request("DELETE", "/api/user", json=body, headers=auth(alice["token"]))

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 200


# Export ---------------------------------------------------------------------------------


async def test_the_export_holds_the_users_own_data_and_nobody_elses(
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    board: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chunks of two rows: every part needs more than one.
    monkeypatch.setattr(fastboard.users.export, "CHUNK", 2)
    extra = [(await create_article(client, alice["token"]))["slug"] for _ in range(2)]

    response = await client.get("/api/user/export", headers=auth(alice["token"]))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "content-length" not in response.headers  # streamed, not built whole first
    assert response.headers["content-disposition"].startswith("attachment;")
    export = json.loads(response.content)["export"]
    assert set(export) == {"exportedAt", "user", "articles", "comments", "favorites", "following"}
    assert export["user"]["username"] == "alice"
    assert export["user"]["email"] == "alice@example.com"
    assert export["user"]["role"] == "user"
    assert [a["slug"] for a in export["articles"]] == [board["own"], *extra]
    assert export["articles"][0]["tagList"] == ["alices", "shared"]
    assert export["articles"][0]["body"] == "The body"
    assert sorted((c["article"], c["body"]) for c in export["comments"]) == sorted(
        [(board["own"], "Alice on her own"), (board["theirs"], "Alice on Bob's")]
    )
    assert sorted(f["article"] for f in export["favorites"]) == sorted(board.values())
    assert [f["username"] for f in export["following"]] == ["bob"]


async def test_an_empty_account_exports_empty_lists(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await client.get("/api/user/export", headers=auth(alice["token"]))

    export = response.json()["export"]
    assert [export[part] for part in ("articles", "comments", "favorites", "following")] == [[]] * 4


async def test_the_export_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/user/export")).status_code == 401
