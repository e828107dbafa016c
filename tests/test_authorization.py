"""The authorization matrix: every operation of the app, as every kind of caller, with the
status each must get.

Rows are keyed by (method, route template) and the app's route table is the list of
operations: a route without a row fails ``test_every_route_has_a_row``, and so does a row
whose route is gone. Every cell runs against a fresh world (one rolled-back transaction):

- ``owner`` wrote the article and the comment and is the profile the route is about;
- ``user`` is anybody else; ``moderator`` and ``admin`` have those roles (the only admin);
- ``suspended`` is a user suspended until tomorrow;
- ``deleted`` sends the token of an account deleted through ``DELETE /api/user``.

Bodies are valid, so each status says what the caller may do, not what they sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

import fastboard.security
from fastboard.db import utcnow
from fastboard.middleware import route_table
from fastboard.settings import Settings
from fastboard.users.models import User
from fastboard.users.roles import Role
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio

ACTORS = ("anonymous", "user", "owner", "moderator", "admin", "suspended", "deleted")
PASSWORD = "correct-horse"
IGNORED_METHODS = {"HEAD"}


@dataclass(frozen=True)
class World:
    tokens: dict[str, str]
    slug: str
    comment_id: int


def _everyone(status: int) -> tuple[int, ...]:
    return (status,) * len(ACTORS)


@dataclass(frozen=True)
class Row:
    # anonymous, user, owner, moderator, admin, suspended, deleted
    expect: tuple[int, ...]
    path: str | None = None  # the template filled in with the world's names, by default
    body: Callable[[World], dict[str, Any]] | None = None
    form: bool = False
    params: dict[str, str] | None = None


def _new_user(_world: World) -> dict[str, Any]:
    name = f"new{uuid4().hex[:10]}"
    return {"user": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}


def _owner_login(_world: World) -> dict[str, Any]:
    return {"user": {"email": "owner@example.com", "password": PASSWORD}}


def _owner_form(_world: World) -> dict[str, Any]:
    return {"username": "owner@example.com", "password": PASSWORD}


def _constant(body: dict[str, Any]) -> Callable[[World], dict[str, Any]]:
    return lambda _world: body


def _suspension(_world: World) -> dict[str, Any]:
    until = (utcnow() + timedelta(days=2)).isoformat()
    return {"suspension": {"until": until, "reason": "cool down"}}


# Statuses: anonymous, user, owner, moderator, admin, suspended, deleted.
MATRIX: dict[tuple[str, str], Row] = {
    # Signing up and in take no token: everyone gets through.
    ("POST", "/api/users/login"): Row(_everyone(200), body=_owner_login),
    ("POST", "/api/users"): Row(_everyone(201), body=_new_user),
    ("POST", "/api/users/token"): Row(_everyone(200), body=_owner_form, form=True),
    # The current user: reads for any live token, writes refused while suspended.
    ("GET", "/api/user"): Row((401, 200, 200, 200, 200, 200, 401)),
    ("PUT", "/api/user"): Row(
        (401, 200, 200, 200, 200, 403, 401), body=_constant({"user": {"bio": "hello"}})
    ),
    ("PUT", "/api/user/password"): Row(
        (401, 200, 200, 200, 200, 403, 401),
        body=_constant({"user": {"currentPassword": PASSWORD, "newPassword": "new-password"}}),
    ),
    # The admin is the only one: there is always an admin, so they cannot leave (422).
    ("DELETE", "/api/user"): Row(
        (401, 204, 204, 204, 422, 403, 401), body=_constant({"user": {"password": PASSWORD}})
    ),
    ("GET", "/api/user/export"): Row((401, 200, 200, 200, 200, 200, 401)),
    # Signing out everywhere spends every token; allowed while suspended (it secures the
    # account, it writes nothing anyone sees).
    ("POST", "/api/user/logout-all"): Row((401, 204, 204, 204, 204, 204, 401)),
    # Profiles and following; nobody follows themselves (422), unfollowing is idempotent.
    ("GET", "/api/profiles/{username}"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("POST", "/api/profiles/{username}/follow"): Row((401, 200, 422, 200, 200, 403, 401)),
    ("DELETE", "/api/profiles/{username}/follow"): Row((401, 200, 200, 200, 200, 403, 401)),
    # Articles: moderators delete what a lower role wrote, but edit nobody's.
    ("GET", "/api/articles/feed"): Row((401, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/articles"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("POST", "/api/articles"): Row(
        (401, 201, 201, 201, 201, 403, 401),
        body=_constant({"article": {"title": "New", "description": "d", "body": "b"}}),
    ),
    ("GET", "/api/articles/{slug}"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("PUT", "/api/articles/{slug}"): Row(
        (401, 403, 200, 403, 403, 403, 401), body=_constant({"article": {"body": "edited"}})
    ),
    ("DELETE", "/api/articles/{slug}"): Row((401, 403, 204, 204, 204, 403, 401)),
    ("POST", "/api/articles/{slug}/favorite"): Row((401, 200, 200, 200, 200, 403, 401)),
    ("DELETE", "/api/articles/{slug}/favorite"): Row((401, 200, 200, 200, 200, 403, 401)),
    ("GET", "/api/articles/{slug}/comments"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("POST", "/api/articles/{slug}/comments"): Row(
        (401, 200, 200, 200, 200, 403, 401), body=_constant({"comment": {"body": "Me too"}})
    ),
    ("DELETE", "/api/articles/{slug}/comments/{id}"): Row((401, 403, 204, 204, 204, 403, 401)),
    # Comments are edited by their author only; anyone signed in votes (suspended: no).
    ("PUT", "/api/articles/{slug}/comments/{id}"): Row(
        (401, 403, 200, 403, 403, 403, 401), body=_constant({"comment": {"body": "Edited"}})
    ),
    ("PUT", "/api/articles/{slug}/comments/{id}/vote"): Row(
        (401, 200, 200, 200, 200, 403, 401), body=_constant({"vote": {"value": -1}})
    ),
    ("DELETE", "/api/articles/{slug}/comments/{id}/vote"): Row((401, 200, 200, 200, 200, 403, 401)),
    # The history of what is there is public (a dead token is still refused).
    ("GET", "/api/articles/{slug}/history"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/articles/{slug}/history.csv"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/articles/{slug}/comments/{id}/history"): Row((200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/articles/{slug}/comments/{id}/history.csv"): Row(
        (200, 200, 200, 200, 200, 200, 401)
    ),
    ("GET", "/api/tags"): Row(_everyone(200)),  # takes no token at all
    # Moderation: roles are the admins', the rest the moderators' and admins'.
    ("PUT", "/api/profiles/{username}/role"): Row(
        (401, 403, 403, 403, 200, 403, 401), body=_constant({"role": "moderator"})
    ),
    ("POST", "/api/profiles/{username}/suspension"): Row(
        (401, 403, 403, 200, 200, 403, 401), body=_suspension
    ),
    ("DELETE", "/api/profiles/{username}/suspension"): Row((401, 403, 403, 200, 200, 403, 401)),
    ("POST", "/api/articles/{slug}/lock"): Row((401, 403, 403, 200, 200, 403, 401)),
    ("DELETE", "/api/articles/{slug}/lock"): Row((401, 403, 403, 200, 200, 403, 401)),
    ("GET", "/api/moderation/log"): Row((401, 403, 403, 200, 200, 403, 401)),
    # Boards: anyone reads the tree (no token read at all), only admins change it. The
    # world has the default category and board, and an empty spare of each to delete.
    ("GET", "/api/categories"): Row(_everyone(200)),
    ("GET", "/api/boards/{slug}"): Row(_everyone(200), path="/api/boards/general"),
    ("POST", "/api/categories"): Row(
        (401, 403, 403, 403, 201, 403, 401), body=_constant({"category": {"name": "Hobbies"}})
    ),
    ("PUT", "/api/categories/{slug}"): Row(
        (401, 403, 403, 403, 200, 403, 401),
        path="/api/categories/community",
        body=_constant({"category": {"description": "Everything else"}}),
    ),
    ("DELETE", "/api/categories/{slug}"): Row(
        (401, 403, 403, 403, 204, 403, 401), path="/api/categories/spare"
    ),
    ("POST", "/api/boards"): Row(
        (401, 403, 403, 403, 201, 403, 401),
        body=_constant({"board": {"name": "Cooking", "category": "community"}}),
    ),
    ("PUT", "/api/boards/{slug}"): Row(
        (401, 403, 403, 403, 200, 403, 401),
        path="/api/boards/general",
        body=_constant({"board": {"description": "Anything goes"}}),
    ),
    ("DELETE", "/api/boards/{slug}"): Row(
        (401, 403, 403, 403, 204, 403, 401), path="/api/boards/spare-board"
    ),
    # Search reads for anyone; a dead token is refused as on the lists.
    ("GET", "/api/search"): Row((200, 200, 200, 200, 200, 200, 401), params={"q": "first"}),
    # Operations and documentation read no token.
    ("GET", "/health"): Row(_everyone(200)),
    ("GET", "/ready"): Row(_everyone(200)),
    ("GET", "/metrics"): Row(_everyone(200)),
    ("GET", "/openapi.json"): Row(_everyone(200)),
    ("GET", "/docs"): Row(_everyone(200)),
    ("GET", "/docs/oauth2-redirect"): Row(_everyone(200)),
    ("GET", "/redoc"): Row(_everyone(200)),
    # The web UI's pages are no routes: the router's default handler answers them with
    # index.html for everyone (fastboard/webui.py; tests/test_web.py).
}


def app_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, template) of every route the app answers (mounted static files aside)."""
    return {
        (method, template)
        for template, route in route_table(app)
        for method in getattr(route, "methods", None) or ()
        if method not in IGNORED_METHODS
    }


async def test_every_route_has_a_row_and_every_row_a_route(shared_app: FastAPI) -> None:
    operations = app_operations(shared_app)

    assert operations, "the route table is empty: route_table() no longer sees the routes"
    assert sorted(operations - set(MATRIX)) == [], "routes without a row in MATRIX"
    assert sorted(set(MATRIX) - operations) == [], "rows for routes the app does not have"
    assert all(len(row.expect) == len(ACTORS) for row in MATRIX.values())


async def _users(app: FastAPI) -> dict[str, User]:
    """Every actor's account, straight into the database: one hash for all of them."""
    password_hash = fastboard.security._hasher.hash(PASSWORD)
    roles = {"moderator": Role.MODERATOR, "admin": Role.ADMIN}
    async with app.state.database.writer() as session:
        users = {
            name: User(
                username=name,
                email=f"{name}@example.com",
                password_hash=password_hash,
                role=roles.get(name, Role.USER),
                suspended_until=utcnow() + timedelta(days=1) if name == "suspended" else None,
                suspension_reason="spam" if name == "suspended" else None,
            )
            for name in ACTORS
            if name != "anonymous"
        }
        session.add_all(users.values())
        await session.commit()
    return users


async def build_world(client: httpx.AsyncClient, app: FastAPI, settings: Settings) -> World:
    users = await _users(app)
    tokens = {
        name: fastboard.security.create_token(user.id, settings) for name, user in users.items()
    }
    gone = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": PASSWORD}},
        headers=auth(tokens["deleted"]),
    )
    assert gone.status_code == 204, gone.text
    slug = (await create_article(client, tokens["owner"], tagList=["matrix"]))["slug"]
    comment = await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "First"}},
        headers=auth(tokens["owner"]),
    )
    assert comment.status_code == 200, comment.text
    for path, body in (
        ("/api/categories", {"category": {"name": "Spare"}}),
        ("/api/boards", {"board": {"name": "Spare board", "category": "community"}}),
    ):
        spare = await client.post(path, json=body, headers=auth(tokens["admin"]))
        assert spare.status_code == 201, spare.text
    return World(tokens, slug, comment.json()["comment"]["id"])


def _cells() -> list[Any]:
    return [
        pytest.param(key, actor, row.expect[index], id=f"{key[0]} {key[1]} as {actor}")
        for key, row in MATRIX.items()
        for index, actor in enumerate(ACTORS)
    ]


@pytest.mark.parametrize(("operation", "actor", "expected"), _cells())
async def test_authorization(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    operation: tuple[str, str],
    actor: str,
    expected: int,
) -> None:
    world = await build_world(client, app, settings)
    method, template = operation
    row = MATRIX[operation]
    path = (row.path or template).format(slug=world.slug, username="owner", id=world.comment_id)
    headers = auth(world.tokens[actor]) if actor != "anonymous" else {}
    body = row.body(world) if row.body else None
    sent: dict[str, Any] = {"data": body} if row.form else {"json": body}

    response = await client.request(method, path, headers=headers, params=row.params, **sent)

    assert response.status_code == expected, response.text
    if expected >= 400 and template != "/metrics":
        # Every refusal in the RealWorld envelope; a suspension or a dead token says so.
        errors = response.json()["errors"]
        if actor == "suspended" and expected == 403 and method != "GET":
            assert "suspended" in errors["user"][0]
        if actor == "deleted":
            assert errors == {"token": ["token is invalid or has expired"]}
