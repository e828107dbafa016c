"""/api/live end to end: the message contract, authentication, origins, delivery after
commit only, replays with ``since`` and workers sharing Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from fastboard.db import SessionDep, utcnow
from fastboard.errors import Invalid
from fastboard.live import events as live
from fastboard.responses import JSONBytes
from fastboard.users.models import User
from tests.conftest import auth
from tests.live.conftest import LiveApps, quiet, receive, send, serving, subscribe

pytestmark = pytest.mark.anyio

FASTBOARD = Subprotocol("fastboard")


async def register(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    payload = {"user": {"username": name, "email": f"{name}@example.com", "password": "pw-pw-pw"}}
    response = await http.post("/api/users", json=payload)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def post_article(http: httpx.AsyncClient, token: str, title: str) -> dict[str, Any]:
    article = {"title": title, "description": "d", "body": "b", "tagList": ["live"]}
    response = await http.post("/api/articles", json={"article": article}, headers=auth(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["article"]
    return created


def http_client(address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://{address}", timeout=15)


def ws_url(address: str) -> str:
    return f"ws://{address}/api/live"


async def test_new_articles_reach_their_board_and_articles_as_the_api_shows_them(
    live_server: str,
) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as ws:
        alice = await register(http, "alice")
        await subscribe(ws, "board:general", "articles")
        created = await post_article(http, alice["token"], "Hello live")
        first, second = await receive(ws), await receive(ws)
        shown = (await http.get(f"/api/articles/{created['slug']}")).json()["article"]

    assert {first["topic"], second["topic"]} == {"board:general", "articles"}
    for message in (first, second):
        assert message["type"] == "event"
        assert message["event"] == "article.created"
        assert message["data"] == shown
    assert second["id"] == first["id"] + 1


async def test_comments_reach_the_article_and_its_authors_me(live_server: str) -> None:
    async with (
        http_client(live_server) as http,
        connect(ws_url(live_server)) as reader,
        connect(ws_url(live_server)) as author,
    ):
        alice, bob = await register(http, "alice"), await register(http, "bob")
        slug = (await post_article(http, alice["token"], "Talk"))["slug"]
        await subscribe(reader, f"article:{slug}")
        await send(author, {"type": "auth", "token": alice["token"]})
        assert await receive(author) == {"type": "authenticated", "username": "alice"}
        await subscribe(author, "me")

        comment = {"comment": {"body": "First!"}}
        path = f"/api/articles/{slug}/comments"
        posted = await http.post(path, json=comment, headers=auth(bob["token"]))
        assert posted.status_code == 200, posted.text
        on_article, on_me = await receive(reader), await receive(author)
        listed = (await http.get(path)).json()["comments"]

        removed = await http.delete(f"{path}/{listed[0]['id']}", headers=auth(bob["token"]))
        assert removed.status_code in (200, 204)
        deleted = await receive(reader)

    assert on_article["topic"] == f"article:{slug}"
    assert on_article["event"] == "comment.created"
    assert on_article["data"] == {**listed[0], "article": slug}
    assert on_me["topic"] == "me"
    assert on_me["data"] == on_article["data"]
    assert deleted["event"] == "comment.deleted"
    assert deleted["data"] == {"id": listed[0]["id"], "article": slug}


async def test_a_korean_slug_is_a_topic_like_any_other(live_server: str) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as reader:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        slug = (await post_article(http, alice["token"], "안녕하세요 세계"))["slug"]
        assert slug.startswith("안녕하세요-세계")
        await subscribe(reader, f"article:{slug}")
        path = f"/api/articles/{slug}/comments"
        comment = {"comment": {"body": "반가워요"}}
        posted = await http.post(path, json=comment, headers=auth(bob["token"]))
        assert posted.status_code == 200, posted.text
        event = await receive(reader)

    assert event["topic"] == f"article:{slug}"
    assert event["event"] == "comment.created"
    assert event["data"]["body"] == "반가워요"


async def test_a_retitled_article_tells_the_readers_of_its_old_slug(live_server: str) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as reader:
        alice = await register(http, "alice")
        old = (await post_article(http, alice["token"], "첫 제목"))["slug"]
        await subscribe(reader, f"article:{old}")
        change = {"article": {"title": "새 제목"}}
        edited = await http.put(f"/api/articles/{old}", json=change, headers=auth(alice["token"]))
        assert edited.status_code == 200, edited.text
        event = await receive(reader)
        await quiet(reader)  # once, on the old topic

    new = edited.json()["article"]["slug"]
    assert new.startswith("새-제목")
    assert event["topic"] == f"article:{old}"
    assert event["event"] == "article.updated"
    assert event["data"]["slug"] == new
    assert event["data"]["title"] == "새 제목"


async def test_a_follow_reaches_the_followed_users_me_only(live_server: str) -> None:
    async with (
        http_client(live_server) as http,
        connect(ws_url(live_server), subprotocols=[FASTBOARD, Subprotocol("token.x")]) as stranger,
    ):
        alice, bob = await register(http, "alice"), await register(http, "bob")
        # A token offered as a subprotocol signs in; the server accepts "fastboard".
        protocols = [FASTBOARD, Subprotocol(f"token.{alice['token']}")]
        async with connect(ws_url(live_server), subprotocols=protocols) as followed:
            assert followed.subprotocol == "fastboard"
            assert await receive(followed) == {"type": "authenticated", "username": "alice"}
            await subscribe(followed, "me")
            response = await http.post("/api/profiles/alice/follow", headers=auth(bob["token"]))
            assert response.status_code == 200
            event = await receive(followed)
        # An invalid token offered the same way closes with 4401.
        with pytest.raises(ConnectionClosed) as closed:
            await receive(stranger)

    assert event["topic"] == "me"
    assert event["event"] == "profile.followed"
    assert event["data"]["username"] == "bob"
    assert event["data"]["following"] is False
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "messages are JSON objects"),
        ("[1, 2]", "messages are JSON objects"),
        ('{"topics": ["articles"]}', "a message needs a type"),
        ('{"type": "shout"}', "unknown message type 'shout'"),
        ('{"type": "subscribe"}', "topics must be a non-empty list of topic names"),
        ('{"type": "subscribe", "topics": []}', "topics must be a non-empty list of topic names"),
        ('{"type": "subscribe", "topics": ["board:"]}', "unknown topic 'board:'"),
        ('{"type": "subscribe", "topics": ["board:-x"]}', "unknown topic 'board:-x'"),
        ('{"type": "subscribe", "topics": ["article:a b"]}', "unknown topic 'article:a b'"),
        ('{"type": "subscribe", "topics": [7]}', "unknown topic '…'"),
        ('{"type": "subscribe", "topics": ["articles"], "since": -1}', "since must be"),
        ('{"type": "subscribe", "topics": ["articles"], "since": "5"}', "since must be"),
        ('{"type": "subscribe", "topics": ["me"]}', "me needs a signed-in connection"),
        ('{"type": "auth"}', "auth needs a token"),
        ('{"type": "unsubscribe", "topics": "articles"}', "topics must be a non-empty list"),
    ],
)
async def test_a_message_outside_the_contract_gets_an_error_and_the_connection_stays(
    live_server: str, message: str, error: str
) -> None:
    async with connect(ws_url(live_server)) as ws:
        await ws.send(message)
        answer = await receive(ws)
        await quiet(ws)  # still open and answering

    assert answer["type"] == "error"
    assert answer["message"].startswith(error)


async def test_a_binary_frame_gets_an_error(live_server: str) -> None:
    async with connect(ws_url(live_server)) as ws:
        await ws.send(b'{"type": "ping"}')
        assert (await receive(ws))["type"] == "error"
        await quiet(ws)


async def test_bad_tokens_and_suspended_accounts_are_closed_with_their_codes(
    live_app: FastAPI, live_server: str
) -> None:
    async with http_client(live_server) as http:
        alice = await register(http, "alice")
        async with connect(ws_url(live_server)) as ws:
            await send(ws, {"type": "auth", "token": alice["token"] + "x"})
            with pytest.raises(ConnectionClosed) as invalid:
                await receive(ws)
        # An engine of the test's own: the app's belongs to the server's event loop.
        engine = create_async_engine(live_app.state.settings.database_url)
        try:
            async with engine.begin() as connection:
                until = utcnow().replace(year=utcnow().year + 1)
                await connection.execute(update(User).values(suspended_until=until))
        finally:
            await engine.dispose()
        async with connect(ws_url(live_server)) as ws:
            await send(ws, {"type": "auth", "token": alice["token"]})
            with pytest.raises(ConnectionClosed) as suspended:
                await receive(ws)

    assert invalid.value.rcvd is not None
    assert invalid.value.rcvd.code == 4401
    assert suspended.value.rcvd is not None
    assert suspended.value.rcvd.code == 4403


async def test_only_the_same_origin_and_cors_origins_may_connect(
    live_apps: LiveApps,
) -> None:
    app = live_apps(cors_origins=["https://client.example"])
    with serving(app) as address:
        for origin in (f"http://{address}", "https://client.example"):
            async with connect(ws_url(address), origin=origin) as ws:  # type: ignore[arg-type]
                await quiet(ws)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(address), origin="https://evil.example"):  # type: ignore[arg-type]
                pass

    assert refused.value.response.status_code == 403


async def test_a_rolled_back_write_publishes_nothing(live_app: FastAPI) -> None:
    @live_app.post("/test/publish")
    async def publishing(session: SessionDep, fail: bool = False) -> JSONBytes:
        live.publish(session, "articles", "test.event", {"fail": fail})
        await session.execute(update(User).values(bio="written"))
        if fail:
            raise Invalid("rolled back", field="body")
        return JSONBytes({})

    with serving(live_app) as address:
        async with http_client(address) as http, connect(ws_url(address)) as ws:
            await register(http, "alice")
            await subscribe(ws, "articles")
            failed = await http.post("/test/publish", params={"fail": "true"})
            succeeded = await http.post("/test/publish")
            event = await receive(ws)

    assert failed.status_code == 422
    assert succeeded.status_code == 200
    # The first event to arrive is the committed one's: the rolled-back one never went out.
    assert event["data"] == {"fail": False}


async def test_since_replays_what_a_client_missed_or_asks_it_to_resync(
    live_server: str,
) -> None:
    async with http_client(live_server) as http:
        alice = await register(http, "alice")
        async with connect(ws_url(live_server)) as ws:
            await subscribe(ws, "articles")
            await post_article(http, alice["token"], "Seen")
            seen = (await receive(ws))["id"]
        missed = [await post_article(http, alice["token"], f"Missed {n}") for n in range(2)]
        async with connect(ws_url(live_server)) as ws:
            await subscribe(ws, "articles", "board:general", since=seen)
            replayed = [await receive(ws) for _ in range(4)]
            await post_article(http, alice["token"], "Live")
            after = [await receive(ws) for _ in range(2)]
        async with connect(ws_url(live_server)) as ws:
            await subscribe(ws, "articles", since=1)  # older than any backlog
            resync = await receive(ws)

    assert [m["data"]["slug"] for m in replayed if m["topic"] == "articles"] == [
        article["slug"] for article in missed
    ]
    ids = [m["id"] for m in replayed]
    assert ids == sorted(ids)
    assert ids[0] > seen
    assert {m["data"]["title"] for m in after} == {"Live"}
    assert all(m["id"] > ids[-1] for m in after)
    assert resync == {"type": "resync", "topic": "articles"}


async def test_a_write_served_by_one_worker_reaches_clients_of_another(
    live_apps: LiveApps, session_settings: Any, redis_url: str | None
) -> None:
    first, second = live_apps(), live_apps()
    if first.state.settings.redis_url is None:
        pytest.skip("workers share events through Redis only")
    await first.state.database.dispose()
    with serving(first) as reader_address, serving(second) as writer_address:
        async with (
            http_client(writer_address) as http,
            connect(ws_url(reader_address)) as ws,
        ):
            alice = await register(http, "alice")
            await subscribe(ws, "articles")
            created = await post_article(http, alice["token"], "Across")
            event = await receive(ws)

    assert event["event"] == "article.created"
    assert event["data"]["slug"] == created["slug"]


async def test_unsubscribed_topics_stop_arriving(live_server: str) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as ws:
        alice = await register(http, "alice")
        await subscribe(ws, "articles", "board:general")
        await send(ws, {"type": "unsubscribe", "topics": ["articles"]})
        assert await receive(ws) == {"type": "unsubscribed", "topics": ["articles"]}
        await post_article(http, alice["token"], "Only the board")
        event = await receive(ws)
        await post_article(http, alice["token"], "Again")
        again = await receive(ws)

    assert (event["topic"], again["topic"]) == ("board:general", "board:general")
