"""Live updates when things go wrong, with real processes: Redis goes away and comes back,
and Gunicorn reloads its workers (HUP) while a writer keeps writing.

Redis sits behind a TCP forwarder the test cuts, so the outage is real for the stack
(connections cut, new ones refused) without touching the machine's Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dev.stack import RunningStack
from tests.conftest import require_redis
from tests.stack.conftest import StackFactory, app_errors, app_log, register
from tests.stack.forwarder import TcpForwarder
from tests.stack.live_clients import Follower, closed_with, live_url, receive, subscribe
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

CLIENTS = 4
# Writes while Redis is down: far more than the warnings the outage may log.
WRITES_WHILE_DOWN = 20
MAX_LIVE_WARNINGS_PER_WORKER = 3


async def new_article(client: httpx.AsyncClient, token: str, title: str) -> str:
    article = {"article": {"title": title, "description": "d", "body": "b"}}
    created = await client.post(
        "/api/articles", json=article, headers={"Authorization": f"Token {token}"}
    )
    assert created.status_code == 201, created.text
    slug: str = created.json()["article"]["slug"]
    return slug


async def comment(client: httpx.AsyncClient, token: str, slug: str, body: str) -> httpx.Response:
    return await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": body}},
        headers={"Authorization": f"Token {token}"},
    )


async def committed_comments(client: httpx.AsyncClient, token: str, slug: str) -> list[int]:
    """The article's comments in the database, oldest first (signed in: never cached)."""
    listed = await client.get(
        f"/api/articles/{slug}/comments", headers={"Authorization": f"Token {token}"}
    )
    assert listed.status_code == 200, listed.text
    return sorted(c["id"] for c in listed.json()["comments"])


def live_warnings(stack: RunningStack) -> list[dict[str, Any]]:
    return [
        record
        for record in app_log(stack)
        if record.get("level") == "WARNING"
        and str(record.get("logger")).startswith("fastboard.live")
    ]


async def until_live(
    client: httpx.AsyncClient, token: str, slug: str, ws: ClientConnection
) -> tuple[list[int], list[dict[str, Any]]]:
    """Comment until one of the comments arrives on ``ws`` and a resync has too (each
    worker's publishing comes back once its background retry finds Redis, and says what
    it dropped). Returns the comments written and the messages received."""
    afters: list[int] = []
    messages: list[dict[str, Any]] = []

    def done() -> bool:
        live = any(m["type"] == "event" for m in messages)
        return live and any(m["type"] == "resync" for m in messages)

    while not done():
        written = await comment(client, token, slug, "after")
        assert written.status_code == 200, written.text
        afters.append(written.json()["comment"]["id"])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while not done():
                    messages.append(orjson.loads(await ws.recv()))
    return afters, messages


async def test_redis_down_closes_live_with_1013_the_api_answers_and_live_comes_back(
    make_stack: StackFactory, redis_forwarder: tuple[TcpForwarder, str]
) -> None:
    forwarder, through = redis_forwarder
    stack = make_stack(workers=2, FASTBOARD_REDIS_URL=through)
    url = live_url(stack.url)
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as client,
        contextlib.AsyncExitStack() as opened,
    ):
        _, token = await register(client)
        slug = await new_article(client, token, "Redis goes away")
        topic = f"article:{slug}"
        clients = [await opened.enter_async_context(connect(url)) for _ in range(CLIENTS)]
        for ws in clients:
            await subscribe(ws, topic)
        first = await comment(client, token, slug, "before")
        assert first.status_code == 200
        seen = [await receive(ws) for ws in clients]
        last_id = seen[0]["id"]

        forwarder.stop()
        codes = [await closed_with(ws) for ws in clients]

        statuses = []
        for n in range(WRITES_WHILE_DOWN):
            statuses.append((await comment(client, token, slug, f"while down {n}")).status_code)
            statuses.append((await client.get(f"/api/articles/{slug}/comments")).status_code)
            statuses.append((await client.get(f"/api/articles/{slug}")).status_code)
        # A new client is told the same, whichever worker takes it.
        turned_away = []
        for _ in range(CLIENTS):
            async with connect(url) as ws:
                turned_away.append(await closed_with(ws))
        warnings_while_down = live_warnings(stack)

        forwarder.start()
        # Live comes back by itself: a client retrying (as 1013 tells it to) gets in.
        async with asyncio.timeout(30):
            while True:
                async with connect(url) as ws:
                    try:
                        await subscribe(ws, topic, since=last_id)
                    except ConnectionClosed:
                        await asyncio.sleep(0.2)  # 1013 again: not yet
                        continue
                    afters, messages = await until_live(client, token, slug, ws)
                    break
        committed = await committed_comments(client, token, slug)

    assert codes == [1013] * CLIENTS
    assert turned_away == [1013] * CLIENTS
    # Writes and reads kept working: every write stored and answered.
    assert statuses == [200, 200, 200] * WRITES_WHILE_DOWN
    assert len(committed) == 1 + WRITES_WHILE_DOWN + len(afters)
    # What was written meanwhile never reached Redis: the client is told to refetch.
    assert {"type": "resync", "topic": topic} in messages
    events = [m for m in messages if m["type"] == "event"]
    assert {m["event"] for m in events} == {"comment.created"}
    assert {m["data"]["id"] for m in events} <= set(afters)
    assert all(m["id"] > last_id for m in events)
    # No log line per request: a few warnings per worker for the whole outage, no errors.
    pids = {record["pid"] for record in warnings_while_down}
    assert len(warnings_while_down) <= MAX_LIVE_WARNINGS_PER_WORKER * max(len(pids), 1)
    assert app_errors(stack) == []


WRITES = 40
HUP_AFTER = 10


async def test_clients_reconnecting_with_since_after_a_hup_get_every_event_once(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    stack = make_stack(workers=2)
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        _, token = await register(client)
        slug = await new_article(client, token, "Reload while writing")
        followers = [Follower(live_url(stack.url), f"article:{slug}") for _ in range(CLIENTS)]
        tasks = [asyncio.create_task(follower.run()) for follower in followers]
        try:
            async with asyncio.timeout(15):
                for follower in followers:
                    await follower.subscribed.wait()
            # A first event each, so every client has an id to come back with.
            assert (await comment(client, token, slug, "first")).status_code == 200
            await until(lambda: all(f.events for f in followers), seconds=15)

            succeeded = []
            for n in range(WRITES):
                if n == HUP_AFTER:
                    stack.gunicorn.send_signal(signal.SIGHUP)
                try:
                    written = await comment(client, token, slug, f"comment {n}")
                except httpx.HTTPError:
                    continue
                if written.status_code == 200:
                    succeeded.append(written.json()["comment"]["id"])
                await asyncio.sleep(0.05)
            committed = await committed_comments(client, token, slug)

            def all_delivered() -> bool:
                return all(len(f.events) >= len(committed) for f in followers)

            await until(all_delivered, seconds=30)
            # Anything more would be a duplicate: give it a moment to show up.
            await asyncio.sleep(1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    assert set(succeeded) <= set(committed)
    assert len(succeeded) >= WRITES - 2  # the reload costs a write or two at most
    for follower in followers:
        assert 1012 in follower.closes  # the old worker closed it: it reconnected
        assert follower.connections >= 2
        assert follower.others == []  # no resync: nothing was lost
        assert [e["data"]["id"] for e in follower.events] == committed  # each once, in order
        ids = [e["id"] for e in follower.events]
        assert ids == sorted(set(ids))
