"""``comment.reply``: a comment reaches the ``me`` of everyone who commented there before."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect

from fastboard.db import Written
from fastboard.live import events
from fastboard.users.models import User
from tests.conftest import auth, create_article
from tests.conftest import register as register_user
from tests.live.conftest import receive, send, subscribe
from tests.live.test_live import http_client, post_article, register, ws_url

pytestmark = pytest.mark.anyio


async def signed_in(ws: ClientConnection, user: dict[str, Any]) -> None:
    await send(ws, {"type": "auth", "token": user["token"]})
    assert await receive(ws) == {"type": "authenticated", "username": user["username"]}
    await subscribe(ws, "me")


async def test_earlier_commenters_but_not_the_author_or_the_article_author_get_replies(
    live_server: str,
) -> None:
    url = ws_url(live_server)
    async with (
        http_client(live_server) as http,
        connect(url) as alice_ws,
        connect(url) as bob_ws,
        connect(url) as carol_ws,
        connect(url) as dave_ws,
    ):
        alice, bob, carol, dave = [
            await register(http, n) for n in ("alice", "bob", "carol", "dave")
        ]
        for ws, user in ((alice_ws, alice), (bob_ws, bob), (carol_ws, carol), (dave_ws, dave)):
            await signed_in(ws, user)
        slug = (await post_article(http, alice["token"], "Thread"))["slug"]

        async def comment(user: dict[str, Any], body: str) -> None:
            path = f"/api/articles/{slug}/comments"
            posted = await http.post(
                path, json={"comment": {"body": body}}, headers=auth(user["token"])
            )
            assert posted.status_code == 200, posted.text

        for user, body in ((bob, "c1"), (carol, "c2"), (dave, "c3"), (bob, "c4"), (carol, "c5")):
            await comment(user, body)
        to_alice = [await receive(alice_ws) for _ in range(5)]
        to_bob = [await receive(bob_ws) for _ in range(3)]
        to_carol = [await receive(carol_ws) for _ in range(2)]
        to_dave = await receive(dave_ws)

    # The article's author: "commented on your article", never also a reply.
    assert [(m["event"], m["data"]["body"]) for m in to_alice] == [
        ("comment.created", f"c{n}") for n in range(1, 6)
    ]
    # Replies after their first comment, none for their own (bob's c4, carol's c5).
    assert [(m["event"], m["data"]["body"]) for m in to_bob] == [
        ("comment.reply", "c2"),
        ("comment.reply", "c3"),
        ("comment.reply", "c5"),
    ]
    assert [m["data"]["body"] for m in to_carol] == ["c3", "c4"]
    assert (to_dave["event"], to_dave["data"]["body"]) == ("comment.reply", "c4")
    assert to_dave["topic"] == "me"
    assert to_dave["data"]["article"] == slug
    assert to_dave["data"]["author"]["username"] == "bob"


async def _user_id(session: AsyncSession, username: str) -> int:
    found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


@pytest.mark.own_app  # it adds an after-commit hook
async def test_replies_go_to_the_most_recent_commenters_only(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap: a thread with more commenters than it notifies reaches the most recent
    ones, never the article's author (who gets ``comment.created``) nor the new author."""
    monkeypatch.setattr(events, "MAX_REPLY_NOTIFICATIONS", 2)
    published: list[events.LiveEvent] = []

    async def capture(written: Written) -> None:
        published.extend(note for note in written.notes if isinstance(note, events.LiveEvent))

    app.state.database.after_commit(capture)
    owner, first, second, third, newest = [await register_user(client, f"cap{n}") for n in range(5)]
    slug = (await create_article(client, owner["token"]))["slug"]
    for user in (first, owner, second, third, newest, newest):
        published.clear()
        posted = await client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": "hi"}},
            headers=auth(user["token"]),
        )
        assert posted.status_code == 200, posted.text
    missing = await client.post(
        "/api/articles/no-such-article/comments",
        json={"comment": {"body": "hi"}},
        headers=auth(newest["token"]),
    )

    async with app.state.database.reader() as session:
        ids = {
            u["username"]: await _user_id(session, u["username"]) for u in (owner, second, third)
        }
    # newest's second comment: its own first one is no reason to notify it.
    assert [(event.topic, event.event) for event in published] == [
        (f"article:{slug}", "comment.created"),
        (f"user:{ids[owner['username']]}", "comment.created"),
        (f"user:{ids[third['username']]}", "comment.reply"),
        (f"user:{ids[second['username']]}", "comment.reply"),
    ]
    assert missing.status_code == 404
